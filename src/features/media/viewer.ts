import { ByteArena } from '../../lib/bytes/index.js'
import { packetizeH264 } from '../../lib/h264/index.js'
import { packetizeH265 } from '../../lib/h265/index.js'
import { Pacer } from '../../lib/media/index.js'
import type { OutgoingRtp, WebRtcSendPeer } from '../../lib/webrtc/werift-peer.js'
import type { VideoFrame } from './frame-source.js'
import type { LiveStream, StreamSubscriber } from './live-stream.js'

/** RTP payload bound: 1200-byte packets minus the 12-byte header. */
const MAX_PAYLOAD = 1200 - 12

const payloadCache = new WeakMap<VideoFrame, Buffer[]>()
/** Every stream's FU-A/STAP-A payloads are cut from shared slabs: see ByteArena. */
const payloadArena = new ByteArena(256 * 1024)
const allocPayload = (length: number): Buffer => payloadArena.alloc(length)

/** RTP payloads of a frame, computed once and shared by every viewer of the stream. */
export function payloadsOf(frame: VideoFrame): Buffer[] {
  let p = payloadCache.get(frame)
  if (!p) {
    p = frame.codec === 'h265' ? packetizeH265(frame.nalus, MAX_PAYLOAD, allocPayload) : packetizeH264(frame.nalus, MAX_PAYLOAD, allocPayload)
    payloadCache.set(frame, p)
  }
  return p
}

/**
 * Fast start: packets sent back to back before pacing. A receiver's default socket buffer holds
 * about 90 of them, so 24 leaves it room for a ~90 ms stall at the catch-up rate.
 */
const FAST_START_BURST = 24
/** Floor of the catch-up rate, packets per ms (≈ 7 Mbit/s of 1200-byte packets). */
const MIN_CATCH_UP_RATE = 0.75

/** Catch-up rate for a GOP: three times its own packet rate, at least MIN_CATCH_UP_RATE. */
export function catchUpRate(gop: readonly VideoFrame[]): number {
  if (gop.length < 2) return MIN_CATCH_UP_RATE
  let packets = 0
  for (const f of gop) packets += payloadsOf(f).length
  const spanMs = ((gop[gop.length - 1]!.timestamp - gop[0]!.timestamp) >>> 0) / 90
  if (spanMs < 100 || spanMs > 60_000) return MIN_CATCH_UP_RATE
  return Math.max(MIN_CATCH_UP_RATE, (3 * packets) / spanMs)
}

export interface ViewerHooks {
  /** First frame sent to the peer (ms since the session was requested). */
  firstFrame?(ms: number): void
  /** The viewer is gone (peer closed/failed, DELETE, shutdown). */
  ended?(reason: string): void
}

/**
 * One WHEP session: a WebRTC peer fed from a LiveStream. On connect it gets the cached GOP at once
 * (timestamps squeezed so it plays immediately), then live frames; sequence numbers and
 * timestamps are its own and continuous whatever happens upstream.
 */
export class Viewer implements StreamSubscriber {
  readonly id: string
  readonly startedAt = Date.now()
  readonly #peer: WebRtcSendPeer
  readonly #stream: LiveStream
  readonly #hooks: ViewerHooks
  readonly #requestedAt: number
  #unsubscribe: (() => void) | undefined
  #connected = false
  #needKeyframe = true
  #seq = Math.floor(Math.random() * 0x10000)
  #tsOffset: number | undefined
  #lastTs = 0
  #closed = false
  #connectTimer: NodeJS.Timeout | undefined
  #firstSent = false
  framesSent = 0

  #lostTimer: NodeJS.Timeout | undefined

  constructor(opts: { id: string; peer: WebRtcSendPeer; stream: LiveStream; hooks?: ViewerHooks; requestedAt: number; connectTimeoutMs?: number; disconnectGraceMs?: number }) {
    this.id = opts.id
    this.#peer = opts.peer
    this.#stream = opts.stream
    this.#hooks = opts.hooks ?? {}
    this.#requestedAt = opts.requestedAt
    this.#unsubscribe = this.#stream.subscribe(this)
    this.#peer.on('state', (s) => {
      if (this.#lostTimer) clearTimeout(this.#lostTimer)
      this.#lostTimer = undefined
      if (s === 'connected') this.#onConnected()
      else if (s === 'failed' || s === 'closed') void this.close(`peer ${s}`)
      else if (s === 'disconnected') {
        // A browser that vanished (tab killed, network gone) never says goodbye: ICE consent
        // checks fail and the peer goes 'disconnected'; give it a while to come back.
        this.#lostTimer = setTimeout(() => void this.close('peer disconnected'), opts.disconnectGraceMs ?? 10_000)
        this.#lostTimer.unref()
      }
    })
    this.#peer.on('keyframeRequest', () => {
      this.#stream.requestKeyframe()
    })
    this.#connectTimer = setTimeout(() => {
      if (!this.#connected) void this.close('ICE/DTLS did not connect')
    }, opts.connectTimeoutMs ?? 20_000)
    this.#connectTimer.unref()
  }

  get peer(): WebRtcSendPeer {
    return this.#peer
  }

  get stream(): LiveStream {
    return this.#stream
  }

  get closed(): boolean {
    return this.#closed
  }

  onFrame(frame: VideoFrame): void {
    if (!this.#connected || this.#closed) return
    // The negotiated codec is fixed for the session; a camera that changed codec needs a new one.
    if (frame.codec !== this.#peer.video.codec) return
    if (this.#needKeyframe) {
      if (!frame.keyframe) return
      this.#needKeyframe = false
    }
    if (this.#tsOffset === undefined) this.#tsOffset = (this.#lastTs + 3000 - frame.timestamp) >>> 0
    this.#send(frame, (frame.timestamp + this.#tsOffset) >>> 0)
  }

  onDiscontinuity(): void {
    this.#needKeyframe = true
  }

  /** Idempotent. */
  async close(reason = 'closed'): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#connectTimer) clearTimeout(this.#connectTimer)
    if (this.#lostTimer) clearTimeout(this.#lostTimer)
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#endCatchUp()
    this.#hooks.ended?.(reason)
    await this.#peer.close()
  }

  #onConnected(): void {
    if (this.#connected || this.#closed) return
    this.#connected = true
    if (this.#connectTimer) clearTimeout(this.#connectTimer)
    const gop = this.#stream.gop()
    if (gop.length === 0) {
      this.#needKeyframe = true
      this.#stream.requestKeyframe()
      return
    }
    // Fast start: the cached GOP goes out at once. Its frames get timestamps one tick apart ending
    // at the newest, so the jitter buffer plays them out immediately instead of replaying the GOP's
    // duration as delay; live frames then continue the source's own spacing from the newest.
    const base = Math.floor(Math.random() * 0x7fffffff)
    const last = gop[gop.length - 1]!
    this.#tsOffset = (base - last.timestamp) >>> 0
    this.#needKeyframe = false
    // Paced: a GOP is hundreds of packets, and back to back they overflow the receiver's socket
    // buffer before it has read the keyframe. The keyframe mostly fits the burst; the rest leaves at
    // a few times the stream's own packet rate, and live frames arriving meanwhile queue behind it.
    // Once the queue has drained, packets go straight out again, as the camera sent them.
    this.#pacer = new Pacer<OutgoingRtp>({
      burst: FAST_START_BURST,
      ratePerMs: catchUpRate(gop),
      send: (packet) => this.#peer.sendRtp(packet),
      drained: () => this.#endCatchUp(),
    })
    for (let i = 0; i < gop.length; i++) this.#send(gop[i]!, (base - (gop.length - 1 - i)) >>> 0)
    if (this.#pacer.queued === 0) this.#endCatchUp()
  }

  #endCatchUp(): void {
    this.#pacer?.close()
    this.#pacer = undefined
  }

  /** Set while the fast-start GOP is being paced out. */
  #pacer: Pacer<OutgoingRtp> | undefined

  #send(frame: VideoFrame, timestamp: number): void {
    const payloads = payloadsOf(frame)
    const pacer = this.#pacer
    if (pacer) {
      const lastIdx = payloads.length - 1
      for (let i = 0; i <= lastIdx; i++) {
        pacer.push({ sequenceNumber: this.#seq, timestamp, marker: i === lastIdx, payload: payloads[i]! })
        this.#seq = (this.#seq + 1) & 0xffff
      }
    } else {
      this.#peer.sendFrame(this.#seq, timestamp, payloads)
      this.#seq = (this.#seq + payloads.length) & 0xffff
    }
    this.#lastTs = timestamp
    this.framesSent++
    if (!this.#firstSent) {
      this.#firstSent = true
      this.#hooks.firstFrame?.(Date.now() - this.#requestedAt)
    }
  }
}
