import { H264Depacketizer, H264ParameterSets, type VideoDepacketizer } from '../../lib/h264/index.js'
import { H265Depacketizer, H265ParameterSets } from '../../lib/h265/index.js'
import { buildPli } from '../../lib/rtp/index.js'
import type { RtpPacket } from '../../lib/rtp/index.js'
import { RtspClient, RtspProtocolError, RtspUdpUnavailableError, type RtspTransportKind } from '../../lib/rtsp/index.js'
import type { SdpMedia } from '../../lib/sdp/index.js'
import type { ConnectGuard } from '../../lib/net/index.js'
import type { FrameSource, FrameSourceHandlers, FrameSourceInfo, VideoCodec } from './frame-source.js'
import { nalBytes } from './frame-source.js'

export interface RtspSourceOptions {
  /** A stream that stops delivering for this long ends the source (the relay restarts it). */
  noDataTimeoutMs: number
  requestTimeoutMs: number
  /** Default 'tcp'. 'udp' falls back to TCP within start() when UDP turns out unusable. */
  transport?: RtspTransportKind
  /** UDP: client port range (default ephemeral ports). */
  udpPortRange?: [number, number]
  /** UDP: how long after PLAY the first datagram may take before falling back to TCP. */
  udpFirstDataTimeoutMs?: number
  /** UDP was unusable for this camera (bind failure, or nothing arrived): TCP was used instead. */
  onUdpUnavailable?(err: RtspUdpUnavailableError): void
  /** the camera address policy, checked at every connect */
  connectGuard?: ConnectGuard
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
 * A camera's RTSP stream (TCP interleaved, or UDP with TCP as the fallback; Digest/Basic from the
 * registry), H.264 or H.265 as the SDP says, depacketized into access units with parameter sets
 * in-band before every keyframe.
 */
export class RtspFrameSource implements FrameSource {
  readonly kind = 'rtsp' as const
  #client: RtspClient
  readonly #handlers: FrameSourceHandlers
  readonly #uri: string
  readonly #credentials: { username: string; password: string } | null
  readonly #opts: RtspSourceOptions
  #pipeline: Pipeline | undefined
  #track: number | undefined
  #ssrc: number | undefined
  #closed = false
  #started = false

  constructor(uri: string, credentials: { username: string; password: string } | null, handlers: FrameSourceHandlers, opts: RtspSourceOptions) {
    this.#handlers = handlers
    this.#uri = uri
    this.#credentials = credentials
    this.#opts = opts
    this.#client = this.#makeClient(opts.transport ?? 'tcp')
  }

  #makeClient(transport: RtspTransportKind): RtspClient {
    const { credentials, opts } = { credentials: this.#credentials, opts: this.#opts }
    const client = new RtspClient({
      url: this.#uri,
      ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
      transport,
      timeoutMs: opts.requestTimeoutMs,
      noDataTimeoutMs: opts.noDataTimeoutMs,
      ...(opts.udpPortRange ? { udpPortRange: opts.udpPortRange } : {}),
      ...(opts.udpFirstDataTimeoutMs !== undefined ? { udpFirstDataTimeoutMs: opts.udpFirstDataTimeoutMs } : {}),
      // a camera does not send the gateway (or its credentials) elsewhere
      followRedirects: false,
      ...(opts.connectGuard ? { connectGuard: opts.connectGuard } : {}),
    })
    client.on('rtp', (track, packet) => {
      if (client === this.#client) this.#onRtp(track, packet)
    })
    client.on('close', (err) => {
      if (this.#closed || !this.#started || client !== this.#client) return
      this.#handlers.onEnd(err ?? new Error('RTSP session ended'))
    })
    return client
  }

  /** Plays over the configured transport; UDP that proves unusable is replaced by TCP at once. */
  async start(): Promise<FrameSourceInfo> {
    try {
      return await this.#startClient()
    } catch (err) {
      if (!(err instanceof RtspUdpUnavailableError) || this.#closed) throw err
      this.#opts.onUdpUnavailable?.(err)
      const failed = this.#client
      this.#client = this.#makeClient('tcp')
      await failed.close()
      return await this.#startClient()
    }
  }

  async #startClient(): Promise<FrameSourceInfo> {
    const client = this.#client
    const sdp = await client.describe()
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
    this.#ssrc = undefined
    // H.264 read natively comes as whole frames (the reader depacketizes it); else as packets.
    if (pipeline.codec === 'h264') {
      client.assembleH264(media.index, (nalus, timestamp, keyframe, ssrc) => {
        if (client === this.#client) this.#onAssembledFrame(nalus, timestamp, keyframe, ssrc)
      })
    }
    // Over UDP, started means a first packet came: a firewall dropping it shows here (the client
    // closes with RtspUdpUnavailableError after its first-data window) and TCP takes over.
    let cleanup = (): void => undefined
    const firstPacket = new Promise<void>((resolve, reject) => {
      const onRtp = (): void => resolve()
      const onClose = (err?: Error): void => reject(err ?? new Error('RTSP session ended during start'))
      client.once('rtp', onRtp)
      client.once('close', onClose)
      cleanup = () => {
        client.off('rtp', onRtp)
        client.off('close', onClose)
      }
    })
    firstPacket.catch(() => undefined)
    try {
      const { tracks } = await client.play([media.index])
      if (tracks.some((t) => t.transport === 'udp')) await firstPacket
    } finally {
      cleanup()
    }
    this.#started = true
    if (client.state === 'closed') throw new Error('RTSP session ended during start')
    return { codec: pipeline.codec, ...(media.width ? { width: media.width } : {}), ...(media.height ? { height: media.height } : {}), ...pipeline.info() }
  }

  requestKeyframe(): boolean {
    if (this.#track === undefined || this.#ssrc === undefined) return false
    const track = this.#client.tracks.find((t) => t.index === this.#track)
    // Over TCP on the interleaved RTCP channel, over UDP to the camera's RTCP port.
    return this.#client.sendRtcp(this.#track, buildPli(this.#client.ssrc, track?.ssrc ?? this.#ssrc))
  }

  stats() {
    const assembled = this.#track === undefined ? undefined : this.#client.assembledFrameStats(this.#track)
    return { packetsLost: (this.#pipeline?.depacketizer.stats.lostPackets ?? 0) + (assembled?.lostPackets ?? 0) }
  }

  /** The transport in use: 'udp' until a fallback, or when the server chose otherwise per track. */
  get transport(): RtspTransportKind {
    return this.#client.tracks.find((t) => t.index === this.#track)?.transport ?? (this.#opts.transport ?? 'tcp')
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#client.close()
  }

  #onAssembledFrame(nalus: Buffer[], timestamp: number, keyframe: boolean, ssrc: number): void {
    const p = this.#pipeline
    if (this.#closed || !p) return
    this.#ssrc = ssrc
    this.#emit(p, nalus, timestamp, keyframe)
  }

  #emit(p: Pipeline, depacketized: Buffer[], timestamp: number, keyframe: boolean): void {
    const nalus = p.process(depacketized)
    this.#handlers.onFrame({ codec: p.codec, nalus, timestamp, keyframe, bytes: nalBytes(nalus), receivedAt: Date.now() })
  }

  #onRtp(track: number, packet: RtpPacket): void {
    const p = this.#pipeline
    if (this.#closed || !p || track !== this.#track) return
    if (this.#ssrc !== undefined && packet.ssrc !== this.#ssrc) p.depacketizer.reset() // encoder restarted
    this.#ssrc = packet.ssrc
    for (const au of p.depacketizer.push(packet)) this.#emit(p, au.nalus, au.timestamp, au.keyframe)
  }
}
