import { GopCache, timelineBreak } from '../../lib/media/index.js'
import type { FrameSource, FrameSourceHandlers, FrameSourceInfo, VideoFrame } from './frame-source.js'

/**
 * One upstream per (camera, stream): however many viewers, one FrameSource. Starts with the first
 * subscriber, stops after an idle time when the last leaves (unless pinned), restarts a stalled
 * source, retries a failed one with capped exponential backoff and jitter while subscribers stay
 * attached. Timestamps handed to subscribers are continuous across upstream restarts, so a
 * viewer's RTP timeline never jumps back.
 */

export interface StreamSubscriber {
  onFrame(frame: VideoFrame): void
  /** The upstream restarted: what follows starts with a keyframe; drop until then. */
  onDiscontinuity?(): void
}

export interface LiveStreamSettings {
  idleTimeoutMs: number
  stallTimeoutMs: number
  backoffMinMs: number
  backoffMaxMs: number
  gopCacheBytes: number
  keyframeRequestMinIntervalMs: number
}

export interface LiveStreamEvents {
  started?(info: FrameSourceInfo): void
  restart?(reason: string): void
  error?(err: Error): void
  /** The upstream stopped for lack of viewers. */
  idle?(): void
  closed?(): void
}

export type LiveStreamState = 'idle' | 'starting' | 'running' | 'backoff' | 'closed'

export class LiveStream {
  readonly key: string
  readonly cameraId: number
  readonly streamName: string
  readonly #factory: (handlers: FrameSourceHandlers) => FrameSource
  readonly #settings: LiveStreamSettings
  readonly #events: LiveStreamEvents
  readonly #subscribers = new Set<StreamSubscriber>()
  readonly #gop: GopCache<VideoFrame>
  #holds = 0
  #pinned = false
  #state: LiveStreamState = 'idle'
  #source: FrameSource | undefined
  #generation = 0
  #info: FrameSourceInfo | undefined
  #idleTimer: NodeJS.Timeout | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #stallTimer: NodeJS.Timeout | undefined
  #attempt = 0
  #lastFrameAt = 0
  #lastKeyframeAt = 0
  #lastKeyRequest = 0
  // continuous output timeline
  #tsOffset: number | undefined
  #lastOutTs = 0
  #lastOutAt = 0
  /** the upstream's last frame as it came (timeline breaks are judged on the source's own clock) */
  #lastIn: { timestamp: number; receivedAt: number } | undefined
  #lostBefore = 0
  /** Close of the last dropped source, awaited by close(). */
  #releasing: Promise<void> | undefined
  /** Set when a new upstream starts: its first frame rebases the output timeline. */
  #needsRebase = false
  #keyWaiters = new Set<(f: VideoFrame) => void>()
  readonly counters = { frames: 0, bytes: 0, keyframes: 0, restarts: 0, keyframeIntervalMs: 0, packetsLost: 0, lastError: '', fps: 0, bitrateBps: 0, timelineBreaks: 0 }
  #win = { start: 0, frames: 0, bytes: 0 }

  constructor(opts: { key: string; cameraId: number; streamName: string; factory: (handlers: FrameSourceHandlers) => FrameSource; settings: LiveStreamSettings; events?: LiveStreamEvents }) {
    this.key = opts.key
    this.cameraId = opts.cameraId
    this.streamName = opts.streamName
    this.#factory = opts.factory
    this.#settings = opts.settings
    this.#events = opts.events ?? {}
    this.#gop = new GopCache<VideoFrame>(opts.settings.gopCacheBytes)
  }

  get state(): LiveStreamState {
    return this.#state
  }

  get info(): FrameSourceInfo | undefined {
    return this.#info
  }

  /** Ms since the last frame (Infinity before the first). */
  get msSinceFrame(): number {
    return this.#lastFrameAt ? Date.now() - this.#lastFrameAt : Infinity
  }

  get subscriberCount(): number {
    return this.#subscribers.size
  }

  get pinned(): boolean {
    return this.#pinned
  }

  /** Frames from the last keyframe on (fast start); empty when none is cached. */
  gop(): readonly VideoFrame[] {
    return this.#gop.frames()
  }

  get wanted(): boolean {
    return this.#state !== 'closed' && (this.#subscribers.size > 0 || this.#holds > 0 || this.#pinned)
  }

  subscribe(sub: StreamSubscriber): () => void {
    if (this.#state === 'closed') throw new Error('live stream closed')
    this.#subscribers.add(sub)
    this.#wake()
    let done = false
    return () => {
      if (done) return
      done = true
      this.#subscribers.delete(sub)
      this.#maybeIdle()
    }
  }

  setPinned(pinned: boolean): void {
    if (this.#state === 'closed') return
    this.#pinned = pinned
    if (pinned) this.#wake()
    else this.#maybeIdle()
  }

  /** Resolves with the next keyframe (the cached one if any), starting the upstream if needed. */
  nextKeyframe(timeoutMs: number): Promise<VideoFrame> {
    const cached = this.#gop.frames()[0]
    if (cached && this.#state === 'running') return Promise.resolve(cached)
    this.#holds++
    this.#wake()
    return new Promise<VideoFrame>((resolve, reject) => {
      const release = () => {
        this.#keyWaiters.delete(waiter)
        clearTimeout(timer)
        this.#holds--
        this.#maybeIdle()
      }
      const waiter = (f: VideoFrame) => {
        release()
        resolve(f)
      }
      const timer = setTimeout(() => {
        release()
        reject(new Error(this.counters.lastError || 'no keyframe in time'))
      }, timeoutMs)
      this.#keyWaiters.add(waiter)
    })
  }

  /** A viewer asked for a keyframe: forwarded to the source, rate-limited. */
  requestKeyframe(): boolean {
    const now = Date.now()
    if (now - this.#lastKeyRequest < this.#settings.keyframeRequestMinIntervalMs) return false
    this.#lastKeyRequest = now
    return this.#source?.requestKeyframe() ?? false
  }

  /** Drops the current upstream and starts a new one soon (camera settings changed). */
  restart(reason: string): void {
    if (this.#state === 'closed' || this.#state === 'idle') return
    this.#attempt = 0
    this.#failed(new Error(reason), true)
  }

  /** Stops the upstream and detaches everyone. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#clearTimers()
    this.#subscribers.clear()
    for (const w of [...this.#keyWaiters]) this.#keyWaiters.delete(w)
    const src = this.#source
    this.#source = undefined
    this.#generation++
    this.#gop.clear()
    await src?.close().catch(() => undefined)
    // a source dropped just before (idle stop, failure) must be gone too before close() resolves
    await this.#releasing
    this.#events.closed?.()
  }

  // --- internals -------------------------------------------------------------------------------

  #wake(): void {
    if (this.#idleTimer) {
      clearTimeout(this.#idleTimer)
      this.#idleTimer = undefined
    }
    if (this.#state === 'idle') void this.#start()
  }

  #maybeIdle(): void {
    if (this.#state === 'closed' || this.wanted || this.#idleTimer) return
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined
      if (!this.wanted) void this.#stop()
    }, this.#settings.idleTimeoutMs)
    this.#idleTimer.unref()
  }

  async #stop(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'idle') return
    this.#clearTimers()
    this.#state = 'idle'
    this.#attempt = 0
    const src = this.#source
    this.#source = undefined
    this.#generation++
    this.#gop.clear()
    this.#info = undefined
    this.#releasing = src?.close().catch(() => undefined)
    this.#events.idle?.()
    await this.#releasing
  }

  async #start(): Promise<void> {
    if (this.#state === 'closed' || !this.wanted) return
    this.#state = 'starting'
    const gen = ++this.#generation
    let source: FrameSource
    try {
      source = this.#factory({
        onFrame: (f) => {
          if (gen === this.#generation) this.#onFrame(f)
        },
        onEnd: (err) => {
          if (gen === this.#generation) this.#failed(err, true)
        },
      })
    } catch (err) {
      this.#failed(err as Error, false)
      return
    }
    this.#source = source
    this.#lostBefore = 0
    this.#needsRebase = true
    try {
      const info = await source.start()
      if (gen !== this.#generation) {
        await source.close().catch(() => undefined)
        return
      }
      this.#info = info
      this.#state = 'running'
      this.#lastFrameAt = Date.now()
      this.#armStallTimer()
      this.#events.started?.(info)
    } catch (err) {
      await source.close().catch(() => undefined)
      if (gen === this.#generation) this.#failed(err as Error, false)
    }
  }

  #failed(err: Error, wasRunning: boolean): void {
    if (this.#state === 'closed') return
    this.counters.lastError = err.message
    this.#events.error?.(err)
    const src = this.#source
    this.#source = undefined
    this.#generation++
    if (this.#stallTimer) clearInterval(this.#stallTimer)
    this.#stallTimer = undefined
    this.#gop.clear()
    this.#releasing = src?.close().catch(() => undefined)
    if (wasRunning || this.#state === 'running') {
      this.counters.restarts++
      this.#events.restart?.(err.message)
      for (const s of this.#subscribers) s.onDiscontinuity?.()
    }
    if (!this.wanted) {
      this.#state = 'idle'
      this.#attempt = 0
      return
    }
    this.#state = 'backoff'
    const base = Math.min(this.#settings.backoffMaxMs, this.#settings.backoffMinMs * 2 ** this.#attempt)
    this.#attempt++
    // Full jitter on the upper half: spreads a street's worth of cameras returning at once.
    const delay = Math.round(base / 2 + Math.random() * (base / 2))
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      if (this.#state === 'backoff') {
        this.#state = 'idle'
        if (this.wanted) void this.#start()
      }
    }, delay)
    this.#retryTimer.unref()
  }

  #armStallTimer(): void {
    if (this.#stallTimer) clearInterval(this.#stallTimer)
    const period = Math.max(100, Math.min(1000, this.#settings.stallTimeoutMs / 4))
    this.#stallTimer = setInterval(() => {
      if (this.#state !== 'running') return
      if (Date.now() - this.#lastFrameAt > this.#settings.stallTimeoutMs) {
        this.#failed(new Error(`no video for ${Math.round(this.#settings.stallTimeoutMs / 1000)} s`), true)
      }
    }, period)
    this.#stallTimer.unref()
  }

  #clearTimers(): void {
    for (const t of [this.#idleTimer, this.#retryTimer]) if (t) clearTimeout(t)
    if (this.#stallTimer) clearInterval(this.#stallTimer)
    this.#idleTimer = this.#retryTimer = this.#stallTimer = undefined
  }

  #onFrame(frame: VideoFrame): void {
    if (this.#state !== 'running' && this.#state !== 'starting') return
    const now = Date.now()
    this.#lastFrameAt = now
    this.#attempt = 0
    // Map the source's timeline onto ours: the first frame of a new upstream, and the first after
    // a break in the upstream's timeline (a camera clock step, an encoder restart, a paused
    // host), continues from the last one sent, advanced by the wall-clock time in between. So
    // viewers' players and the recorder see one timeline that never runs backwards.
    if (this.#lastIn && !this.#needsRebase && timelineBreak(this.#lastIn, frame)) {
      this.counters.timelineBreaks++
      this.#needsRebase = true
    }
    this.#lastIn = { timestamp: frame.timestamp, receivedAt: frame.receivedAt }
    if (this.#tsOffset === undefined || this.#needsRebase) {
      const target = this.#lastOutAt ? (this.#lastOutTs + Math.max(1, Math.round((now - this.#lastOutAt) * 90))) >>> 0 : frame.timestamp
      this.#tsOffset = (target - frame.timestamp) >>> 0
      this.#needsRebase = false
    }
    const out: VideoFrame = { ...frame, timestamp: (frame.timestamp + this.#tsOffset) >>> 0 }
    this.#lastOutTs = out.timestamp
    this.#lastOutAt = now
    this.counters.frames++
    this.counters.bytes += frame.bytes
    // ingest rates over ~1 s windows
    if (!this.#win.start) this.#win.start = now
    this.#win.frames++
    this.#win.bytes += frame.bytes
    if (now - this.#win.start >= 1000) {
      const seconds = (now - this.#win.start) / 1000
      this.counters.fps = Math.round((this.#win.frames / seconds) * 10) / 10
      this.counters.bitrateBps = Math.round((this.#win.bytes * 8) / seconds)
      this.#win = { start: now, frames: 0, bytes: 0 }
    }
    if (frame.keyframe) {
      if (this.#lastKeyframeAt) this.counters.keyframeIntervalMs = now - this.#lastKeyframeAt
      this.#lastKeyframeAt = now
      this.counters.keyframes++
      for (const w of [...this.#keyWaiters]) w(out)
    }
    const lost = this.#source?.stats().packetsLost ?? 0
    if (lost > this.#lostBefore) {
      this.counters.packetsLost += lost - this.#lostBefore
      this.#lostBefore = lost
    }
    this.#gop.push(out)
    for (const s of this.#subscribers) {
      try {
        s.onFrame(out)
      } catch {
        // a broken viewer must not stop the others
      }
    }
  }

}
