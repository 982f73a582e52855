import { H264Depacketizer, H264ParameterSets, type VideoDepacketizer } from '../../lib/h264/index.js'
import { H265Depacketizer, H265ParameterSets } from '../../lib/h265/index.js'
import { buildPli } from '../../lib/rtp/index.js'
import type { RtpPacket } from '../../lib/rtp/index.js'
import { RtspClient, RtspProtocolError } from '../../lib/rtsp/index.js'
import type { SdpMedia } from '../../lib/sdp/index.js'
import type { FrameSource, FrameSourceHandlers, FrameSourceInfo, VideoCodec } from './frame-source.js'
import { nalBytes } from './frame-source.js'

export interface RtspSourceOptions {
  /** A stream that stops delivering for this long ends the source (the relay restarts it). */
  noDataTimeoutMs: number
  requestTimeoutMs: number
}

interface Pipeline {
  codec: VideoCodec
  depacketizer: VideoDepacketizer
  process(nalus: Buffer[]): Buffer[]
  info(): Partial<FrameSourceInfo>
}

function pipelineFor(media: SdpMedia): Pipeline | null {
  if (media.codec === 'H264') {
    const ps = new H264ParameterSets(media.h264 ? [...media.h264.sps, ...media.h264.pps] : [])
    return {
      codec: 'h264',
      depacketizer: new H264Depacketizer(),
      process: (n) => ps.process(n.filter((x) => (x[0]! & 0x1f) !== 9 && (x[0]! & 0x1f) !== 12)),
      info: () => (ps.spsInfo ? { width: ps.spsInfo.width, height: ps.spsInfo.height, profileLevelId: ps.spsInfo.codec.slice(5) } : {}),
    }
  }
  if (media.codec === 'H265' || media.codec === 'HEVC') {
    const ps = new H265ParameterSets(media.h265 ? [...media.h265.vps, ...media.h265.sps, ...media.h265.pps] : [])
    return {
      codec: 'h265',
      depacketizer: new H265Depacketizer(),
      // AUD (35) and filler (38) dropped
      process: (n) => ps.process(n.filter((x) => ((x[0]! >> 1) & 0x3f) !== 35 && ((x[0]! >> 1) & 0x3f) !== 38)),
      info: () => (ps.spsInfo ? { width: ps.spsInfo.width, height: ps.spsInfo.height } : {}),
    }
  }
  return null
}

/**
 * A camera's RTSP stream (TCP interleaved, Digest/Basic from the registry), H.264 or H.265 as the
 * SDP says, depacketized into access units with parameter sets in-band before every keyframe.
 */
export class RtspFrameSource implements FrameSource {
  readonly kind = 'rtsp' as const
  readonly #client: RtspClient
  readonly #handlers: FrameSourceHandlers
  #pipeline: Pipeline | undefined
  #track: number | undefined
  #ssrc: number | undefined
  #closed = false
  #started = false

  constructor(uri: string, credentials: { username: string; password: string } | null, handlers: FrameSourceHandlers, opts: RtspSourceOptions) {
    this.#handlers = handlers
    this.#client = new RtspClient({
      url: uri,
      ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
      transport: 'tcp',
      timeoutMs: opts.requestTimeoutMs,
      noDataTimeoutMs: opts.noDataTimeoutMs,
    })
    this.#client.on('rtp', (track, packet) => this.#onRtp(track, packet))
    this.#client.on('close', (err) => {
      if (this.#closed || !this.#started) return
      this.#handlers.onEnd(err ?? new Error('RTSP session ended'))
    })
  }

  async start(): Promise<FrameSourceInfo> {
    const sdp = await this.#client.describe()
    let media: SdpMedia | undefined
    let pipeline: Pipeline | null = null
    for (const m of sdp.media) {
      if (m.type !== 'video') continue
      pipeline = pipelineFor(m)
      if (pipeline) {
        media = m
        break
      }
    }
    if (!media || !pipeline) throw new RtspProtocolError(`${this.#client.url}: no H.264 or H.265 video track in the SDP`)
    this.#pipeline = pipeline
    this.#track = media.index
    await this.#client.play([media.index])
    this.#started = true
    if (this.#client.state === 'closed') throw new Error('RTSP session ended during start')
    return { codec: pipeline.codec, ...(media.width ? { width: media.width } : {}), ...(media.height ? { height: media.height } : {}), ...pipeline.info() }
  }

  requestKeyframe(): boolean {
    if (this.#track === undefined || this.#ssrc === undefined) return false
    const track = this.#client.tracks.find((t) => t.index === this.#track)
    return this.#client.sendRtcp(this.#track, buildPli(0, track?.ssrc ?? this.#ssrc))
  }

  stats() {
    return { packetsLost: this.#pipeline?.depacketizer.stats.lostPackets ?? 0 }
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#client.close()
  }

  #onRtp(track: number, packet: RtpPacket): void {
    const p = this.#pipeline
    if (this.#closed || !p || track !== this.#track) return
    if (this.#ssrc !== undefined && packet.ssrc !== this.#ssrc) p.depacketizer.reset() // encoder restarted
    this.#ssrc = packet.ssrc
    for (const au of p.depacketizer.push(packet)) {
      const nalus = p.process(au.nalus)
      this.#handlers.onFrame({ codec: p.codec, nalus, timestamp: au.timestamp, keyframe: au.keyframe, bytes: nalBytes(nalus), receivedAt: Date.now() })
    }
  }
}
