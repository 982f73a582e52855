import { EventEmitter } from 'node:events'
import type { AccessUnit } from '../h264/access-unit.js'
import { H264Depacketizer, type DepacketizerStats } from '../h264/depacketizer.js'
import { H264ParameterSets } from '../h264/parameter-sets.js'
import { H264RtpPacketizer, type H264RtpPacketizerOptions } from '../h264/packetizer.js'
import { buildPli, isSenderReport, RtpWallClock } from '../rtp/rtcp.js'
import type { RtpPacket } from '../rtp/packet.js'
import { RtspClient, type RtspClientOptions } from '../rtsp/client.js'
import { RtspProtocolError } from '../rtsp/errors.js'
import type { SdpMedia } from '../sdp/types.js'
import { GopCache } from './gop-cache.js'

export interface VideoFrame extends AccessUnit {
  /** Date.now() when the last packet of the frame arrived. */
  receivedAt: number
  /** Capture time from the camera's RTCP sender reports, once one arrived. */
  wallClockMs?: number
}

export interface H264StreamInfo {
  trackIndex: number
  media: SdpMedia
  clockRate: number
  /** From the SPS (SDP first, then in-band); undefined until one is known. */
  width?: number
  height?: number
  /** RFC 6381 codec string, e.g. "avc1.42c01e". */
  codec?: string
}

export interface H264FrameSourceOptions extends RtspClientOptions {
  /** SDP media index to play; default the first H.264 video track. */
  trackIndex?: number
  /** Bound of the GOP cache in bytes. Default 8 MiB. */
  gopCacheBytes?: number
}

export interface H264FrameSourceEvents {
  /** A complete access unit; IDRs carry SPS/PPS in-band. */
  frame: [frame: VideoFrame]
  close: [error?: Error]
}

/**
 * Camera → frames: RTSP client, H.264 depacketizer, SPS/PPS injection, GOP cache. Viewers each
 * get their own H264RtpPacketizer (createPacketizer) so their sequence numbers stay continuous
 * whenever they join; the GOP cache gives them a decodable start immediately.
 */
export class H264FrameSource extends EventEmitter<H264FrameSourceEvents> {
  readonly client: RtspClient
  readonly gop: GopCache<VideoFrame>
  #depacketizer = new H264Depacketizer()
  #parameterSets = new H264ParameterSets()
  #clock = new RtpWallClock(90000)
  #info: H264StreamInfo | undefined
  #ssrc: number | undefined
  readonly #trackIndex: number | undefined

  constructor(opts: H264FrameSourceOptions) {
    super()
    const { trackIndex, gopCacheBytes, ...clientOpts } = opts
    this.#trackIndex = trackIndex
    this.gop = new GopCache<VideoFrame>(gopCacheBytes)
    this.client = new RtspClient(clientOpts)
    this.client.on('rtp', (track, packet) => this.#onRtp(track, packet))
    this.client.on('rtcp', (track, packets) => {
      if (track !== this.#info?.trackIndex) return
      for (const p of packets) if (isSenderReport(p)) this.#clock.update(p)
    })
    this.client.on('close', (err) => this.emit('close', err))
  }

  get info(): H264StreamInfo | undefined {
    if (!this.#info) return undefined
    const sps = this.#parameterSets.spsInfo
    return sps ? { ...this.#info, width: sps.width, height: sps.height, codec: sps.codec } : this.#info
  }

  get stats(): DepacketizerStats {
    return this.#depacketizer.stats
  }

  /** DESCRIBE, pick the H.264 track, SETUP and PLAY. */
  async start(): Promise<H264StreamInfo> {
    const sdp = await this.client.describe()
    const media =
      this.#trackIndex !== undefined
        ? sdp.media[this.#trackIndex]
        : sdp.media.find((m) => m.type === 'video' && m.codec === 'H264')
    if (!media || media.codec !== 'H264') {
      throw new RtspProtocolError(`${this.client.url}: no H.264 video track in the SDP`)
    }
    if (media.h264) this.#parameterSets = new H264ParameterSets([...media.h264.sps, ...media.h264.pps])
    this.#clock = new RtpWallClock(media.clockRate ?? 90000)
    this.#info = { trackIndex: media.index, media, clockRate: media.clockRate ?? 90000 }
    await this.client.play([media.index])
    return this.info!
  }

  /** A packetizer for one viewer: ≤ maxPacketSize (default 1200) packets, marker on the frame's last. */
  createPacketizer(opts: H264RtpPacketizerOptions = {}): H264RtpPacketizer {
    return new H264RtpPacketizer(opts)
  }

  /** Asks the camera for a keyframe with an RTCP PLI; false when not playing. Many cameras ignore it. */
  requestKeyframe(): boolean {
    const info = this.#info
    if (!info || this.#ssrc === undefined) return false
    const track = this.client.tracks.find((t) => t.index === info.trackIndex)
    return this.client.sendRtcp(info.trackIndex, buildPli(0, track?.ssrc ?? this.#ssrc))
  }

  close(): Promise<void> {
    return this.client.close()
  }

  #onRtp(track: number, packet: RtpPacket): void {
    if (track !== this.#info?.trackIndex) return
    if (this.#ssrc !== undefined && packet.ssrc !== this.#ssrc) {
      // New SSRC: the camera restarted its encoder; sequence numbers start over.
      this.#depacketizer.reset()
      this.gop.clear()
    }
    this.#ssrc = packet.ssrc
    for (const au of this.#depacketizer.push(packet)) {
      const frame: VideoFrame = {
        nalus: this.#parameterSets.process(au.nalus),
        timestamp: au.timestamp,
        keyframe: au.keyframe,
        receivedAt: Date.now(),
      }
      const wall = this.#clock.toUnixMs(au.timestamp)
      if (wall !== undefined) frame.wallClockMs = wall
      this.gop.push(frame)
      this.emit('frame', frame)
    }
  }
}
