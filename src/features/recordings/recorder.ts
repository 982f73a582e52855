import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { SupervisedProcess } from '../../lib/ffmpeg/process.js'
import { segmenterArgs } from '../../lib/ffmpeg/recording-args.js'
import { timelineBreak } from '../../lib/media/index.js'
import type { StreamSubscriber, VideoFrame } from '../media/index.js'

/**
 * One camera's recorder. It attaches to the camera's shared upstream (the live relay's one
 * session, kept running while attached), and pipes the access units as Annex-B into an ffmpeg
 * segmenter (stream copy) that writes fragmented-MP4 segments. Each finished segment is handed
 * to `onSegment` with its wall-clock times; a session ended by an upstream cut, a date change, the
 * end of an alarm window or stop() finishes its last segment cleanly, and a session whose ffmpeg
 * died leaves its partial segment to `onOrphan` (probed and indexed by the service).
 *
 * Wall clock: the gateway's arrival time of each frame, smoothed over the segment with the
 * 90 kHz stream timestamps (the earliest arrival-implied start wins, since network delay only
 * ever adds), so segment durations come from the stream and not from arrival jitter.
 *
 * Footage is evidence, so its index never lies about time: a break in the stream's timeline (a
 * timestamp that jumps back or ahead, a paused camera or host, see lib/media timelineBreak) ends
 * the session at the last frame before it and a new one starts at the next keyframe; a camera's
 * segments never start before the previous one ended, and never end before they start.
 */

export interface FinishedSegment {
  cameraId: number
  session: number
  seq: number
  /** absolute path */
  file: string
  startMs: number
  endMs: number
  codec: 'h264' | 'h265'
  keyframesMs: number[]
}

export interface RecorderOptions {
  cameraId: number
  mode: 'continuous' | 'on_alarm'
  preSeconds: number
  postSeconds: number
  segmentSeconds: number
  /** absolute recording root */
  root: string
  ffmpegPath: string
  subscribe: (sub: StreamSubscriber) => () => void
  onSegment: (seg: FinishedSegment) => void
  onOrphan: (file: string, cameraId: number, session: number, seq: number) => void
  log: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void }
  /**
   * End of the camera's footage indexed before this recorder (ms): its first segment starts no
   * earlier. Asked when the first segment is finished, so a recorder replacing another sees the
   * other's last segment.
   */
  previousEndMs?: () => number
  /** restart the subscription when no frame arrived for this long */
  watchdogMs?: number
}

interface Frame {
  /** unwrapped 90 kHz */
  ts: number
  receivedAt: number
  keyframe: boolean
  data: Buffer | null
}

const START_CODE = Buffer.from([0, 0, 0, 1])
const MAX_PENDING_WRITE = 64 * 1024 * 1024

function annexB(frame: VideoFrame): Buffer {
  const parts: Buffer[] = []
  for (const n of frame.nalus) parts.push(START_CODE, n)
  return Buffer.concat(parts)
}

const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10)

class Session {
  readonly id: number
  readonly dir: string
  readonly proc: SupervisedProcess
  readonly date: string
  /** frames written and not yet attributed to a finished segment; frames[0] has index `base` */
  frames: Frame[] = []
  base = 0
  written = 0
  prevEnd = 0
  seen = new Set<number>()
  ended = false
  #announced: Promise<void>

  constructor(
    readonly rec: CameraRecorder,
    readonly codec: 'h264' | 'h265',
    /** 90 kHz ticks per frame */
    readonly tick: number,
    startMs: number,
    opts: RecorderOptions,
    /** settles when the previous session of this camera has announced its last segment */
    previous: Promise<void>,
  ) {
    this.id = startMs
    this.date = utcDate(startMs)
    this.dir = join(opts.root, String(opts.cameraId), this.date)
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const pattern = join(this.dir, `${this.id}-%05d.mp4`)
    // fps as the exact rational of the measured frame interval
    this.proc = new SupervisedProcess({ command: opts.ffmpegPath, args: segmenterArgs({ codec, fps: `90000/${tick}`, segmentSeconds: opts.segmentSeconds, pattern }), stdin: true, killTimeoutMs: 3000 })
    // A session's segments are indexed after every segment of the session before it, so the
    // floor they are kept above (the camera's last segment end) is that session's, whatever order
    // the two ffmpeg processes announce in.
    this.#announced = previous
    const lines = createInterface({ input: this.proc.stdout })
    lines.on('line', (line) => {
      this.#announced = this.#announced
        .then(() => this.#onListLine(line))
        .catch((err: Error) => this.rec.opts.log.warn({ camera: this.rec.opts.cameraId, err }, 'recording: segment not announced'))
    })
  }

  write(f: Frame): void {
    if (this.ended) return
    const stdin = this.proc.stdin
    if (!stdin || !this.proc.running) return
    if (stdin.writableLength > MAX_PENDING_WRITE) {
      this.rec.opts.log.warn({ camera: this.rec.opts.cameraId }, 'recording: ffmpeg is not keeping up; session restarted')
      this.ended = true
      void this.proc.close()
      return
    }
    stdin.write(f.data!)
    this.frames.push({ ts: f.ts, receivedAt: f.receivedAt, keyframe: f.keyframe, data: null })
    this.written++
  }

  /** Graceful end: ffmpeg finishes the last segment and announces it. */
  async end(timeoutMs = 10_000): Promise<void> {
    this.ended = true
    this.proc.stdin?.end()
    const timer = setTimeout(() => void this.proc.close(), timeoutMs)
    await this.proc.exited
    clearTimeout(timer)
    // let the last list lines arrive, then their segments be announced
    await new Promise((r) => setImmediate(r))
    await this.#announced
    this.#collectOrphans()
  }

  #collectOrphans(): void {
    let names: string[] = []
    try {
      names = readdirSync(this.dir)
    } catch {
      return
    }
    const prefix = `${this.id}-`
    for (const n of names.sort()) {
      const m = /^(\d+)-(\d{5})\.mp4$/.exec(n)
      if (!m || !n.startsWith(prefix)) continue
      const seq = Number(m[2])
      if (!this.seen.has(seq)) this.rec.opts.onOrphan(join(this.dir, n), this.rec.opts.cameraId, this.id, seq)
    }
  }

  #onListLine(line: string): void {
    const m = /^(\d+)-(\d{5})\.mp4,([\d.]+),([\d.]+)$/.exec(line.trim())
    if (!m) return
    const seq = Number(m[2])
    this.seen.add(seq)
    const fps = 90000 / this.tick
    const startIdx = Math.round(Number(m[3]) * fps)
    const endIdx = Math.round(Number(m[4]) * fps)
    const from = Math.max(0, startIdx - this.base)
    const to = Math.min(this.frames.length, endIdx - this.base)
    const frames = this.frames.slice(from, to)
    const next = this.frames[to]
    if (!frames.length) return
    const t0 = frames[0]!.ts
    let start = Infinity
    for (const f of frames) start = Math.min(start, f.receivedAt - (f.ts - t0) / 90)
    // segments of one session abut: absorb small estimation differences
    if (this.prevEnd && Math.abs(start - this.prevEnd) < 1000) start = this.prevEnd
    // ... and no segment of the camera starts before the previous one ended (a session started
    // after a break estimates its start from arrival times, which a burst can place too early)
    start = Math.max(start, this.rec.floorMs())
    const endTs = next ? next.ts : frames[frames.length - 1]!.ts + this.tick
    // The session holds no timeline break, so its stream time runs forward; should it not, the
    // file's own length (frames at the segmenter's fixed rate) is what the segment holds.
    let durationMs = (endTs - t0) / 90
    if (!(durationMs > 0)) durationMs = (frames.length * this.tick) / 90
    const startMs = Math.round(start)
    const endMs = Math.max(startMs + 1, Math.round(start + durationMs))
    this.prevEnd = endMs
    this.rec.lastEndMs = Math.max(this.rec.lastEndMs, endMs)
    const keyframesMs = frames.filter((f) => f.keyframe).map((f) => Math.round((f.ts - t0) / 90))
    this.frames = this.frames.slice(to)
    this.base += to
    this.rec.opts.onSegment({ cameraId: this.rec.opts.cameraId, session: this.id, seq, file: join(this.dir, `${m[1]}-${m[2]}.mp4`), startMs, endMs, codec: this.codec, keyframesMs })
  }
}

export type RecorderState = 'waiting' | 'buffering' | 'recording' | 'stopped'

export class CameraRecorder {
  readonly opts: RecorderOptions
  #unsubscribe: (() => void) | undefined
  #session: Session | undefined
  #ending = new Set<Promise<void>>()
  /** settles when the last session ended has announced all its segments */
  #lastEnding: Promise<void> = Promise.resolve()
  /** GOPs kept in memory: pre-alarm buffer, and the first frames while the frame rate is measured */
  #buffer: Frame[] = []
  #lastRaw: number | undefined
  #lastReceivedAt = 0
  #unwrapped = 0
  /** end of the camera's last indexed segment (ms): the next one starts no earlier */
  lastEndMs = 0
  #recordUntil = 0
  #lastFrameAt = 0
  #watchdog: NodeJS.Timeout | undefined
  #stopped = false
  #tick: number | undefined
  #codec: 'h264' | 'h265' = 'h264'
  readonly counters = { frames: 0, bytes: 0, sessions: 0, segments: 0, timelineBreaks: 0 }

  constructor(opts: RecorderOptions) {
    this.opts = opts
  }

  /** Settles when every session already ended has announced its last segment. */
  async ended(): Promise<void> {
    await Promise.allSettled([...this.#ending])
  }

  /** The earliest start the next segment may have. */
  floorMs(): number {
    if (!this.lastEndMs && this.opts.previousEndMs) this.lastEndMs = this.opts.previousEndMs()
    return this.lastEndMs
  }

  get state(): RecorderState {
    if (this.#stopped) return 'stopped'
    if (this.#session && !this.#session.ended) return 'recording'
    if (this.#lastFrameAt) return 'buffering'
    return 'waiting'
  }

  get sessionPid(): number | undefined {
    return this.#session?.proc.pid
  }

  start(): void {
    this.#attach()
    const ms = this.opts.watchdogMs ?? 15_000
    this.#watchdog = setInterval(() => {
      if (this.#stopped) return
      if (Date.now() - this.#lastFrameAt > ms) {
        // the upstream may have been replaced (camera edited): attach again
        this.#unsubscribe?.()
        this.#lastFrameAt = Date.now()
        this.#attach()
      }
      if (this.#session && !this.#session.ended && !this.#session.proc.running) this.#endSession('ffmpeg exited')
    }, Math.min(ms, 2000))
    this.#watchdog.unref()
  }

  #attach(): void {
    try {
      this.#unsubscribe = this.opts.subscribe({
        onFrame: (f) => this.#onFrame(f),
        onDiscontinuity: () => this.#cut('upstream restarted'),
      })
    } catch (err) {
      this.opts.log.warn({ camera: this.opts.cameraId, error: (err as Error).message }, 'recording: camera not usable')
    }
  }

  /** An alarm: record from the pre-alarm buffer until postSeconds after the last trigger. */
  trigger(): void {
    this.#recordUntil = Math.max(this.#recordUntil, Date.now() + this.opts.postSeconds * 1000)
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#watchdog) clearInterval(this.#watchdog)
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#buffer = []
    this.#endSession('stopped')
    await Promise.allSettled([...this.#ending])
  }

  /** Test hook: kills the running ffmpeg the hard way. */
  killFfmpeg(): number | undefined {
    const pid = this.#session?.proc.pid
    if (pid) process.kill(pid, 'SIGKILL')
    return pid
  }

  #cut(reason: string): void {
    this.#buffer = []
    this.#lastRaw = undefined
    this.#endSession(reason)
  }

  #endSession(reason: string): void {
    const s = this.#session
    if (!s) return
    this.#session = undefined
    const p = s.end().catch((err: Error) => this.opts.log.warn({ camera: this.opts.cameraId, err, reason }, 'recording: session end failed'))
    this.#lastEnding = p
    this.#ending.add(p)
    void p.finally(() => this.#ending.delete(p))
  }

  #onFrame(vf: VideoFrame): void {
    if (this.#stopped) return
    this.#lastFrameAt = Date.now()
    this.counters.frames++
    this.counters.bytes += vf.bytes
    this.#codec = vf.codec
    if (this.#lastRaw !== undefined) {
      const brk = timelineBreak({ timestamp: this.#lastRaw, receivedAt: this.#lastReceivedAt }, vf, undefined, this.#tick === undefined ? 0 : this.#tick / 90)
      if (brk) {
        this.counters.timelineBreaks++
        this.opts.log.warn({ camera: this.opts.cameraId, break: brk, fromTimestamp: this.#lastRaw, toTimestamp: vf.timestamp, arrivalGapMs: vf.receivedAt - this.#lastReceivedAt }, 'recording: stream timeline broke; segment ended there')
        this.#cut(`timeline ${brk}`)
      }
    }
    this.#lastReceivedAt = vf.receivedAt
    if (this.#lastRaw === undefined) this.#unwrapped = vf.timestamp
    else this.#unwrapped += (vf.timestamp - this.#lastRaw) | 0
    this.#lastRaw = vf.timestamp
    const frame: Frame = { ts: this.#unwrapped, receivedAt: vf.receivedAt, keyframe: vf.keyframe, data: annexB(vf) }
    const wantRecording = this.opts.mode === 'continuous' || Date.now() < this.#recordUntil
    const s = this.#session
    if (s) {
      if (s.ended) {
        this.#session = undefined
      } else if (!wantRecording || (vf.keyframe && utcDate(vf.receivedAt) !== s.date)) {
        this.#endSession(wantRecording ? 'date changed' : 'alarm window over')
      } else if (!s.proc.running) {
        this.#endSession('ffmpeg exited')
      } else {
        s.write(frame)
        return
      }
    }
    // no session: keep GOPs in memory (from a keyframe on)
    if (vf.keyframe) {
      const keepMs = (this.opts.mode === 'on_alarm' ? this.opts.preSeconds : 0) * 1000
      this.#buffer.push(frame)
      // drop whole GOPs older than the pre-alarm window (keep the one that straddles it)
      const horizon = this.#unwrapped - keepMs * 90
      let cut = 0
      for (let i = 1; i < this.#buffer.length; i++) if (this.#buffer[i]!.keyframe && this.#buffer[i]!.ts <= horizon) cut = i
      if (cut) this.#buffer = this.#buffer.slice(cut)
    } else if (this.#buffer.length) {
      this.#buffer.push(frame)
    } else {
      return
    }
    if (!wantRecording) return
    if (this.#tick === undefined) {
      if (this.#buffer.length < 6) return
      const deltas = this.#buffer.slice(1).map((f, i) => f.ts - this.#buffer[i]!.ts).filter((d) => d > 0).sort((a, b) => a - b)
      const median = deltas[Math.floor(deltas.length / 2)] ?? 3600
      this.#tick = Math.min(90000, Math.max(750, median))
    }
    const first = this.#buffer[0]!
    const session = new Session(this, this.#codec, this.#tick, first.receivedAt, this.opts, this.#lastEnding)
    this.counters.sessions++
    session.proc.on('exit', (exit) => {
      if (!exit.requested && !session.ended && exit.code !== 0) this.opts.log.warn({ camera: this.opts.cameraId, code: exit.code, signal: exit.signal, stderr: exit.stderr.slice(-300) }, 'recording: ffmpeg exited')
    })
    this.#session = session
    for (const f of this.#buffer) session.write(f)
    this.#buffer = []
  }
}
