import { createReadStream, mkdirSync, realpathSync } from 'node:fs'
import { lstat, mkdir, readdir, realpath, rename, rm, statfs, truncate } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { basename, isAbsolute, join, relative, sep } from 'node:path'
import type { GatewayConfig } from '../../core/config.js'
import { inTransaction, restrictMode, type Db } from '../../core/db.js'
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js'
import type { EventBus } from '../../core/events.js'
import { scopeOf, subtreeRange, SYSTEM_SCOPE, type Principal } from '../../core/scope.js'
import { runToBuffer } from '../../lib/ffmpeg/process.js'
import { probeArgs } from '../../lib/ffmpeg/recording-args.js'
import { fragmentedLayout } from '../../lib/mp4/index.js'
import type { AuditLog } from '../audit/index.js'
import type { Camera, RegistryService } from '../registry/index.js'
import type { OrgService } from '../org/index.js'
import type { StreamName, StreamSubscriber } from '../media/index.js'
import { CameraRecorder, type FinishedSegment } from './recorder.js'
import { RecordingStore, type LockRow, type RecordingMode, type SegmentRow, type SettingsRow } from './store.js'

export type RecordingSettings = GatewayConfig['recordings']

declare module '../../core/events.js' {
  interface GatewayEvents {
    'recording.storage': { state: 'full' | 'recovered'; freeBytes: number; usedBytes: number; message: string }
  }
}

/** What the recordings feature needs from the live relay: attach to a camera's shared upstream. */
export interface UpstreamSource {
  subscribeSystem(cameraId: number, stream: StreamName, subscriber: StreamSubscriber): () => void
}

/** What it needs from cases (evidence lock): a case's state, for system jobs. */
export interface CaseLookup {
  getUnscoped(id: number): { state: string; archivedAt: string | null; number: string; unitPath?: string } | undefined
}

/** Raises the storage alarm (the alarms feature's ingest when wired). */
export type StorageAlarm = (info: { message: string; cameraId: number | null; unitId: number | null }) => Promise<void> | void

interface Logger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface SegmentView {
  id: number
  cameraId: number
  start: string
  end: string
  durationMs: number
  size: number
  sha256: string
  recovered: boolean
  /**
   * The camera's clock minus the gateway's (ms) when the segment was written, as health checks
   * measured it; null when not known. start/end are gateway times: add this to read the time the
   * camera's own on-screen clock shows.
   */
  cameraClockOffsetMs: number | null
  keyframesMs: number[]
  locked: boolean
  url: string
}

export interface GapView {
  from: string
  to: string
  durationMs: number
}

export interface CameraTimeline {
  cameraId: number
  name: string
  segments: SegmentView[]
  gaps: GapView[]
}

export interface SettingsView {
  cameraId: number
  mode: RecordingMode
  stream: StreamName
  preSeconds: number
  postSeconds: number
  state: string
  updatedBy: string | null
  updatedAt: string | null
}

const iso = (ms: number) => new Date(ms).toISOString()

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export async function probeDuration(ffprobe: string, file: string): Promise<number> {
  const out = await runToBuffer(ffprobe, probeArgs(file), null, 30_000)
  const j = JSON.parse(out.toString('utf8')) as { format?: { duration?: string }; streams?: { codec_type?: string }[] }
  const d = Number(j.format?.duration)
  if (!Number.isFinite(d) || !(j.streams ?? []).some((s) => s.codec_type === 'video')) throw new Error('no video')
  return d
}

/**
 * Recording modes per camera, the segment index, crash recovery, retention and the disk guard,
 * evidence locks, the timeline and HLS playback.
 */
export class RecordingService {
  readonly store: RecordingStore
  readonly root: string
  readonly settings: RecordingSettings
  readonly #registry: RegistryService
  readonly #org: OrgService
  readonly #audit: AuditLog
  readonly #upstream: UpstreamSource
  readonly #bus: EventBus
  readonly #log: Logger
  readonly #ffmpeg: string
  #cases: CaseLookup | null
  #storageAlarm: StorageAlarm | null
  readonly #recorders = new Map<number, CameraRecorder>()
  readonly #indexing = new Set<Promise<void>>()
  #guardTimer: NodeJS.Timeout | undefined
  #guardRunning: Promise<void> | undefined
  #guardQueued: Promise<void> | undefined
  #storageFull = false
  #closed = false
  #offBus: (() => void)[] = []
  readonly counters = { segments: 0, recovered: 0, quarantined: 0, evicted: 0, retentionDeleted: 0 }

  constructor(deps: { db: Db; registry: RegistryService; org: OrgService; audit: AuditLog; upstream: UpstreamSource; bus: EventBus; settings: RecordingSettings; ffmpegPath: string; dataDir: string; log: Logger; cases?: CaseLookup | null; storageAlarm?: StorageAlarm | null }) {
    this.store = new RecordingStore(deps.db)
    this.settings = deps.settings
    this.#registry = deps.registry
    this.#org = deps.org
    this.#audit = deps.audit
    this.#upstream = deps.upstream
    this.#bus = deps.bus
    this.#log = deps.log
    this.#ffmpeg = deps.ffmpegPath
    this.#cases = deps.cases ?? null
    this.#storageAlarm = deps.storageAlarm ?? null
    const root = deps.settings.root ? (isAbsolute(deps.settings.root) ? deps.settings.root : join(deps.dataDir, deps.settings.root)) : join(deps.dataDir, 'recordings')
    mkdirSync(root, { recursive: true, mode: 0o700 })
    restrictMode(root, 0o700) // footage is evidence: the gateway's account only
    // every path check compares against the real path of the root
    this.root = realpathSync(root)
  }

  get storageFull(): boolean {
    return this.#storageFull
  }

  setCases(cases: CaseLookup | null): void {
    this.#cases = cases
  }

  setStorageAlarm(alarm: StorageAlarm | null): void {
    this.#storageAlarm = alarm
  }

  /** Recovers what a crash left, then starts the recorders and the guard. */
  async start(): Promise<void> {
    await this.recover()
    for (const s of this.store.allSettings()) this.#apply(s)
    this.#offBus.push(
      this.#bus.on('alarm.received', (e) => {
        if (e.cameraId !== null) this.#recorders.get(e.cameraId)?.trigger()
      }),
      this.#bus.on('camera.deleted', (e) => void this.#stopRecorder(e.cameraId)),
      this.#bus.on('camera.updated', (e) => {
        const s = this.store.settings(e.cameraId)
        if (s && s.mode !== 'off' && (e.changed.includes('streams') || e.changed.includes('enabled'))) this.#apply(s)
      }),
    )
    this.#guardTimer = setInterval(() => void this.guard(), this.settings.guardIntervalSeconds * 1000)
    this.#guardTimer.unref()
    void this.guard()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#guardTimer) clearInterval(this.#guardTimer)
    for (const off of this.#offBus) off()
    await Promise.allSettled([...this.#recorders.values()].map((r) => r.stop()))
    this.#recorders.clear()
    while (this.#indexing.size) await Promise.allSettled([...this.#indexing])
    await this.#guardRunning?.catch(() => undefined)
    await this.#guardQueued?.catch(() => undefined)
  }

  /** Settles pending indexing (tests). */
  async settle(): Promise<void> {
    // sessions that have ended still announce their last segment (ffmpeg finishing it)
    await Promise.allSettled([...this.#recorders.values()].map((r) => r.ended()))
    while (this.#indexing.size) await Promise.allSettled([...this.#indexing])
  }

  /** Recorders running now (status endpoint). */
  /**
   * Whether the caller may read a camera in the registry (its subtree, 内保外用), remembered per id
   * for one list. A camera deleted since is not shown.
   */
  visibleCameraFilter(principal: Principal): (cameraId: number) => boolean {
    return this.#registry.visibleFilter(principal)
  }

  /** Recorders of the cameras the caller may see. */
  recorderStates(principal: Principal): { cameraId: number; state: string; frames: number; bytes: number; sessions: number }[] {
    const sees = this.visibleCameraFilter(principal)
    return [...this.#recorders.entries()].filter(([cameraId]) => sees(cameraId)).map(([cameraId, r]) => ({ cameraId, state: r.state, frames: r.counters.frames, bytes: r.counters.bytes, sessions: r.counters.sessions }))
  }

  recorder(cameraId: number): CameraRecorder | undefined {
    return this.#recorders.get(cameraId)
  }

  // --- settings -------------------------------------------------------------------------------

  getSettings(principal: Principal, cameraId: number): SettingsView {
    this.#registry.getForUse(scopeOf(principal), cameraId)
    return this.#view(cameraId, this.store.settings(cameraId))
  }

  putSettings(principal: Principal, cameraId: number, input: { mode: RecordingMode; stream?: StreamName; preSeconds?: number; postSeconds?: number }, client?: string): SettingsView {
    const { camera } = this.#registry.getForUse(scopeOf(principal), cameraId)
    const stream = input.stream ?? 'main'
    if (input.mode !== 'off' && !camera.streams[stream]) throw ValidationError.field('body.stream', `camera ${cameraId} has no ${stream} stream`)
    const row: SettingsRow = {
      camera_id: cameraId,
      mode: input.mode,
      stream,
      pre_seconds: input.preSeconds ?? this.settings.preSecondsDefault,
      post_seconds: input.postSeconds ?? this.settings.postSecondsDefault,
      updated_by: principal.username,
      updated_at: new Date().toISOString(),
    }
    inTransaction(this.store.db, () => {
      this.store.putSettings(row)
      this.#audit.record({ actor: principal, action: 'recording.settings', target: { type: 'camera', id: cameraId }, unitPath: this.#unitPath(camera.unitId), client: client ?? null, detail: { mode: row.mode, stream, preSeconds: row.pre_seconds, postSeconds: row.post_seconds } })
    })
    this.#apply(row)
    return this.#view(cameraId, row)
  }

  #view(cameraId: number, s: SettingsRow | undefined): SettingsView {
    return {
      cameraId,
      mode: s?.mode ?? 'off',
      stream: s?.stream ?? 'main',
      preSeconds: s?.pre_seconds ?? this.settings.preSecondsDefault,
      postSeconds: s?.post_seconds ?? this.settings.postSecondsDefault,
      state: this.#storageFull && s && s.mode !== 'off' ? 'stopped_storage' : (this.#recorders.get(cameraId)?.state ?? 'off'),
      updatedBy: s?.updated_by ?? null,
      updatedAt: s?.updated_at ?? null,
    }
  }

  #apply(s: SettingsRow): void {
    if (this.#closed) return
    const old = this.#recorders.get(s.camera_id)
    this.#recorders.delete(s.camera_id)
    const stopping = old?.stop()
    if (s.mode === 'off' || this.#storageFull) return
    const rec = new CameraRecorder({
      cameraId: s.camera_id,
      mode: s.mode,
      preSeconds: s.pre_seconds,
      postSeconds: s.post_seconds,
      segmentSeconds: this.settings.segmentSeconds,
      root: this.root,
      ffmpegPath: this.#ffmpeg,
      subscribe: (sub) => this.#upstream.subscribeSystem(s.camera_id, s.stream, sub),
      onSegment: (seg) => this.#track(this.#index(seg)),
      previousEndMs: () => this.store.lastEndMs(s.camera_id),
      onOrphan: (file, cameraId, session, seq) => this.#track(this.#recoverFile(file, cameraId, session, seq).then(() => undefined)),
      log: this.#log,
    })
    this.#recorders.set(s.camera_id, rec)
    // the old recorder's last segment is finished before the new one writes
    void (stopping ?? Promise.resolve()).then(() => {
      if (this.#recorders.get(s.camera_id) === rec) rec.start()
    })
  }

  async #stopRecorder(cameraId: number): Promise<void> {
    const r = this.#recorders.get(cameraId)
    this.#recorders.delete(cameraId)
    await r?.stop()
  }

  #track(p: Promise<void>): void {
    const q = p.catch((err: Error) => this.#log.error({ error: err.message }, 'recording: indexing failed'))
    this.#indexing.add(q)
    void q.finally(() => this.#indexing.delete(q))
  }

  // --- indexing and recovery -------------------------------------------------------------------

  /** The camera's clock offset as health checks keep it in the registry; null if unknown or the camera is gone. */
  #clockOffsetOf(cameraId: number): number | null {
    try {
      const offset = this.#registry.getForUse(SYSTEM_SCOPE, cameraId).camera.clockOffsetMs
      return typeof offset === 'number' ? Math.round(offset) : null
    } catch {
      return null // footage outlives its camera row
    }
  }

  #rel(abs: string): string {
    return relative(this.root, abs).split(sep).join('/')
  }

  async #index(seg: FinishedSegment): Promise<void> {
    const rel = this.#rel(seg.file)
    const layout = await fragmentedLayout(seg.file)
    if (!layout.initSize || !layout.fragments) {
      await this.#quarantine(seg.file, 'no complete fragment')
      return
    }
    const sha256 = await sha256File(seg.file)
    if (this.store.segmentByPath(rel)) return
    this.store.insertSegment({ camera_id: seg.cameraId, session: seg.session, seq: seg.seq, start_ms: seg.startMs, end_ms: seg.endMs, path: rel, size: layout.fileSize, sha256, init_size: layout.initSize, codec: seg.codec, keyframes: JSON.stringify(seg.keyframesMs), recovered: 0, camera_clock_offset_ms: this.#clockOffsetOf(seg.cameraId) })
    this.counters.segments++
    if (this.settings.maxBytes > 0 && this.store.totalBytes() > this.settings.maxBytes) void this.guard()
  }

  /**
   * A segment file nobody announced (ffmpeg killed mid-segment, gateway crash): trimmed to its
   * last complete fragment, probed, and indexed with its start taken from the previous segment
   * of its session (or the session start); a file with no playable fragment is quarantined.
   */
  async #recoverFile(file: string, cameraId: number, session: number, seq: number): Promise<boolean> {
    const rel = this.#rel(file)
    if (this.store.segmentByPath(rel)) return true
    try {
      const layout = await fragmentedLayout(file)
      if (!layout.initSize || !layout.fragments) {
        await this.#quarantine(file, 'no complete fragment')
        return false
      }
      if (layout.completeSize < layout.fileSize) await truncate(file, layout.completeSize)
      const duration = await probeDuration(this.settings.ffprobePath, file)
      const prev = this.store.previousInSession(cameraId, session, seq)
      const startMs = prev && prev.seq === seq - 1 ? prev.end_ms : seq === 0 ? session : (prev?.end_ms ?? session)
      const sha256 = await sha256File(file)
      const codec = (await runToBuffer(this.settings.ffprobePath, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', file], null, 30_000)).toString().trim() === 'hevc' ? 'h265' : 'h264'
      if (this.store.segmentByPath(rel)) return true
      // The offset then is not known: this may run long after the segment was written.
      this.store.insertSegment({ camera_id: cameraId, session, seq, start_ms: startMs, end_ms: Math.round(startMs + duration * 1000), path: rel, size: layout.completeSize, sha256, init_size: layout.initSize, codec, keyframes: '[]', recovered: 1, camera_clock_offset_ms: null })
      this.counters.recovered++
      this.#log.warn({ camera: cameraId, file: rel, durationSeconds: duration }, 'recording: unfinished segment recovered and indexed')
      return true
    } catch (err) {
      await this.#quarantine(file, (err as Error).message)
      return false
    }
  }

  async #quarantine(file: string, why: string): Promise<void> {
    const dir = join(this.root, '.quarantine')
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const target = join(dir, `${Date.now()}-${basename(file)}`)
    await rename(file, target).catch(() => undefined)
    this.counters.quarantined++
    this.#log.warn({ file: this.#rel(file), why, to: this.#rel(target) }, 'recording: segment quarantined')
  }

  /**
   * Start-up scan of the last `sinceDays` (a crash leaves its traces next to the newest footage;
   * older days were checked by the start after their crash): unindexed files are probed and
   * indexed or quarantined; rows without a file go.
   */
  async recover(sinceDays = 2): Promise<{ recovered: number; quarantined: number; missing: number }> {
    const before = { r: this.counters.recovered, q: this.counters.quarantined }
    const cutoffMs = Date.now() - sinceDays * 86_400_000
    const cutoffDay = new Date(cutoffMs).toISOString().slice(0, 10)
    let missing = 0
    for (const { id, path } of this.store.db.prepare('SELECT id, path FROM recording_segments WHERE start_ms >= ?').all(cutoffMs) as { id: number; path: string }[]) {
      try {
        await lstat(join(this.root, path))
      } catch {
        this.store.deleteSegment(id)
        missing++
        this.#log.warn({ segment: id, file: path }, 'recording: indexed segment file missing; removed from the index')
      }
    }
    let cameras: string[] = []
    try {
      cameras = await readdir(this.root)
    } catch {
      /* empty root */
    }
    for (const cam of cameras.filter((c) => /^\d+$/.test(c))) {
      for (const day of await readdir(join(this.root, cam)).catch(() => [] as string[])) {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || day < cutoffDay) continue
        const files = (await readdir(join(this.root, cam, day)).catch(() => [] as string[])).sort()
        for (const f of files) {
          const m = /^(\d+)-(\d{5})\.mp4$/.exec(f)
          if (!m) continue
          const abs = join(this.root, cam, day, f)
          if (this.store.segmentByPath(this.#rel(abs))) continue
          await this.#recoverFile(abs, Number(cam), Number(m[1]), Number(m[2]))
        }
      }
    }
    return { recovered: this.counters.recovered - before.r, quarantined: this.counters.quarantined - before.q, missing }
  }

  // --- search and playback -------------------------------------------------------------------

  /** `part`: where the caller's request carried the range, so an error names the field it sent. */
  #checkRange(from: string, to: string, part: 'query' | 'body' = 'query'): { fromMs: number; toMs: number } {
    const fromMs = Date.parse(from)
    const toMs = Date.parse(to)
    if (!Number.isFinite(fromMs)) throw ValidationError.field(`${part}.from`, 'not a date-time')
    if (!Number.isFinite(toMs)) throw ValidationError.field(`${part}.to`, 'not a date-time')
    if (toMs <= fromMs) throw ValidationError.field(`${part}.to`, 'must be after from')
    return { fromMs, toMs }
  }

  timeline(principal: Principal, cameraIds: number[], from: string, to: string): { from: string; to: string; cameras: CameraTimeline[] } {
    const { fromMs, toMs } = this.#checkRange(from, to)
    const scope = scopeOf(principal)
    const cameras = cameraIds.map((id) => {
      const { camera } = this.#registry.getForUse(scope, id)
      return this.#timelineOf(camera, fromMs, toMs)
    })
    return { from: iso(fromMs), to: iso(toMs), cameras }
  }

  #timelineOf(camera: Camera, fromMs: number, toMs: number): CameraTimeline {
    const rows = this.store.segments(camera.id, fromMs, toMs)
    const locks = this.store.locksOf(camera.id, fromMs, toMs)
    return { cameraId: camera.id, name: camera.name, segments: rows.map((r) => this.#segView(r, locks)), gaps: this.gapsOf(rows, fromMs, Math.min(toMs, Date.now())) }
  }

  gapsOf(rows: Pick<SegmentRow, 'start_ms' | 'end_ms'>[], fromMs: number, toMs: number): GapView[] {
    const gaps: GapView[] = []
    const tol = this.settings.gapToleranceMs
    let cursor = fromMs
    for (const r of rows) {
      if (r.start_ms - cursor > tol) gaps.push({ from: iso(cursor), to: iso(r.start_ms), durationMs: r.start_ms - cursor })
      cursor = Math.max(cursor, r.end_ms)
    }
    if (toMs - cursor > tol) gaps.push({ from: iso(cursor), to: iso(toMs), durationMs: toMs - cursor })
    return gaps
  }

  #segView(r: SegmentRow, locks: LockRow[]): SegmentView {
    return {
      id: r.id,
      cameraId: r.camera_id,
      start: iso(r.start_ms),
      end: iso(r.end_ms),
      durationMs: r.end_ms - r.start_ms,
      size: r.size,
      sha256: r.sha256,
      recovered: r.recovered === 1,
      cameraClockOffsetMs: r.camera_clock_offset_ms,
      keyframesMs: JSON.parse(r.keyframes) as number[],
      locked: locks.some((l) => l.camera_id === r.camera_id && l.from_ms < r.end_ms && l.to_ms > r.start_ms),
      url: `/api/recordings/segments/${r.id}`,
    }
  }

  /** HLS (version 7, fMP4): each segment file carries its own init part (EXT-X-MAP byte range). */
  playlist(principal: Principal, cameraId: number, from: string, to: string, client?: string): string {
    const { fromMs, toMs } = this.#checkRange(from, to)
    const { camera } = this.#registry.getForUse(scopeOf(principal), cameraId)
    const rows = this.store.segments(cameraId, fromMs, toMs)
    const target = Math.max(1, ...rows.map((r) => Math.ceil((r.end_ms - r.start_ms) / 1000)))
    const lines = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-INDEPENDENT-SEGMENTS']
    const tol = this.settings.gapToleranceMs
    let prevEnd: number | undefined
    for (const r of rows) {
      const url = `/api/recordings/segments/${r.id}`
      // every segment restarts its media timeline (own moov): a discontinuity before each
      if (prevEnd !== undefined) {
        if (r.start_ms - prevEnd > tol) lines.push(`## gap ${iso(prevEnd)} ${iso(r.start_ms)}`)
        lines.push('#EXT-X-DISCONTINUITY')
      }
      lines.push(`#EXT-X-MAP:URI="${url}",BYTERANGE="${r.init_size}@0"`)
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(r.start_ms)}`)
      lines.push(`#EXTINF:${((r.end_ms - r.start_ms) / 1000).toFixed(3)},`)
      lines.push(`#EXT-X-BYTERANGE:${r.size - r.init_size}@${r.init_size}`)
      lines.push(url)
      prevEnd = r.end_ms
    }
    lines.push('#EXT-X-ENDLIST')
    this.#audit.record({ actor: principal, action: 'recording.playback', target: { type: 'camera', id: cameraId }, unitPath: this.#unitPath(camera.unitId), client: client ?? null, detail: { from: iso(fromMs), to: iso(toMs), segments: rows.length } })
    return lines.join('\n') + '\n'
  }

  /** A segment file by id, scoped through its camera; the path comes from the index and is checked against the root. */
  async openSegment(principal: Principal, id: number): Promise<{ path: string; size: number; row: SegmentRow }> {
    const row = this.store.segment(id)
    if (!row) throw new NotFoundError('segment', id)
    try {
      this.#registry.getForUse(scopeOf(principal), row.camera_id)
    } catch {
      throw new NotFoundError('segment', id)
    }
    const path = await this.resolveInRoot(row.path)
    const st = await lstat(path)
    return { path, size: st.size, row }
  }

  /** Absolute path of a root-relative path; refuses `..`, absolute paths and anything a symlink would take outside. */
  async resolveInRoot(rel: string): Promise<string> {
    const bad = () => new NotFoundError('file')
    if (!rel || rel.includes('\0') || isAbsolute(rel) || rel.split(/[\\/]/).some((p) => p === '..' || p === '')) throw bad()
    const abs = join(this.root, rel)
    let real: string
    try {
      real = await realpath(abs)
    } catch {
      throw bad()
    }
    if (real !== abs || !real.startsWith(this.root + sep)) throw bad()
    const st = await lstat(real)
    if (!st.isFile()) throw bad()
    return real
  }

  // --- evidence locks ---------------------------------------------------------------------------

  /** Locks footage of a camera (a case's evidence, or a manual hold). Audited. */
  lock(actor: Principal, input: { cameraId: number; from: string; to: string; reason: string; caseId?: number | null; exportId?: string | null }, client?: string, checkScope = true): number {
    const { fromMs, toMs } = this.#checkRange(input.from, input.to, 'body')
    const { camera } = this.#registry.getForUse(checkScope ? scopeOf(actor) : SYSTEM_SCOPE, input.cameraId)
    const unitPath = this.#unitPath(camera.unitId)
    return inTransaction(this.store.db, () => {
      const id = this.store.insertLock({ camera_id: camera.id, from_ms: fromMs, to_ms: toMs, case_id: input.caseId ?? null, export_id: input.exportId ?? null, reason: input.reason, unit_path: unitPath, created_by: actor.username, created_at: new Date().toISOString() })
      this.#audit.record({ actor, action: 'recording.lock', target: { type: 'camera', id: camera.id }, unitPath, client: client ?? null, detail: { lock: id, from: iso(fromMs), to: iso(toMs), caseId: input.caseId ?? null, exportId: input.exportId ?? null, reason: input.reason } })
      return id
    })
  }

  /** Releases a manual lock; case locks end with the case (archived + evidence retention). */
  unlock(actor: Principal, id: number, client?: string): void {
    const lock = this.store.lock(id)
    const { lo, hi } = subtreeRange(actor.unitPath)
    if (!lock || lock.released_at || !(lock.unit_path >= lo && lock.unit_path < hi)) throw new NotFoundError('lock', id)
    if (lock.case_id !== null && this.#lockActive(lock)) throw new ConflictError(`lock ${id} holds evidence of case ${lock.case_id}: it ends when the case is archived and its retention has run out`)
    inTransaction(this.store.db, () => {
      this.store.releaseLock(id, actor.username)
      this.#audit.record({ actor, action: 'recording.unlock', target: { type: 'camera', id: lock.camera_id }, unitPath: lock.unit_path, client: client ?? null, detail: { lock: id, caseId: lock.case_id } })
    })
  }

  locks(principal: Principal, cameraId?: number): { id: number; cameraId: number; from: string; to: string; caseId: number | null; exportId: string | null; reason: string; createdBy: string; createdAt: string }[] {
    const { lo, hi } = subtreeRange(principal.unitPath)
    const sees = this.visibleCameraFilter(principal)
    return this.store
      .activeLocks()
      .filter((l) => l.unit_path >= lo && l.unit_path < hi && (cameraId === undefined || l.camera_id === cameraId) && sees(l.camera_id))
      .map((l) => ({ id: l.id, cameraId: l.camera_id, from: iso(l.from_ms), to: iso(l.to_ms), caseId: l.case_id, exportId: l.export_id, reason: l.reason, createdBy: l.created_by, createdAt: l.created_at }))
  }

  /** True while a case's evidence must be kept: until the case is archived and evidenceRetentionDays have passed. */
  caseEvidenceHeld(caseId: number, now = Date.now()): boolean {
    return this.#lockActive({ case_id: caseId } as LockRow, now)
  }

  #lockActive(l: LockRow, now = Date.now()): boolean {
    if (l.case_id === null) return true
    const c = this.#cases?.getUnscoped(l.case_id)
    if (!c) return true // unknown case: keep (conservative)
    if (c.state !== 'archived' || !c.archivedAt) return true
    return Date.parse(c.archivedAt) + this.settings.evidenceRetentionDays * 86_400_000 > now
  }

  /** Active locks; case locks whose case was archived and whose retention ran out are released (audited). */
  #activeLocks(): LockRow[] {
    const out: LockRow[] = []
    for (const l of this.store.activeLocks()) {
      if (this.#lockActive(l)) {
        out.push(l)
        continue
      }
      inTransaction(this.store.db, () => {
        this.store.releaseLock(l.id, 'system:retention')
        this.#audit.record({ actor: { system: 'retention' }, action: 'recording.unlock', target: { type: 'camera', id: l.camera_id }, unitPath: l.unit_path, detail: { lock: l.id, caseId: l.case_id, why: 'case archived and evidence retention over' } })
      })
    }
    return out
  }

  // --- retention and the disk guard -----------------------------------------------------------

  retentionRules(): { defaultDays: number; evidenceRetentionDays: number; rules: { kind: 'unit' | 'class'; key: number; days: number }[] } {
    return { defaultDays: this.settings.retentionDays, evidenceRetentionDays: this.settings.evidenceRetentionDays, rules: this.store.retentionRules() }
  }

  putRetention(actor: Principal, kind: 'unit' | 'class', key: number, days: number | null, client?: string): void {
    if (kind === 'unit') this.#org.get(scopeOf(actor), key)
    else if (![1, 2, 3].includes(key)) throw ValidationError.field('body.key', 'camera class is 1, 2 or 3')
    inTransaction(this.store.db, () => {
      this.store.putRetention(kind, key, days)
      this.#audit.record({ actor, action: 'recording.retention', ...(kind === 'unit' ? { target: { type: 'unit', id: key } } : {}), client: client ?? null, detail: { kind, key, days } })
    })
  }

  #retentionDays(cameraId: number, rules: { kind: string; key: number; days: number }[], cache: Map<number, number>): number {
    const hit = cache.get(cameraId)
    if (hit !== undefined) return hit
    let days = this.settings.retentionDays
    try {
      const { camera } = this.#registry.getForUse(SYSTEM_SCOPE, cameraId)
      const unitIds = this.#unitPath(camera.unitId).split('/').filter(Boolean).map(Number).reverse()
      const unitRule = unitIds.map((u) => rules.find((r) => r.kind === 'unit' && r.key === u)).find(Boolean)
      const classRule = rules.find((r) => r.kind === 'class' && r.key === camera.class)
      days = unitRule?.days ?? classRule?.days ?? days
    } catch {
      /* camera gone: default retention */
    }
    cache.set(cameraId, days)
    return days
  }

  async #freeBytes(): Promise<number> {
    const s = await statfs(this.root)
    return Number(s.bavail) * Number(s.bsize)
  }

  /** Retention, then the free-space floor and the quota: oldest unlocked footage first. */
  guard(): Promise<void> {
    if (this.#guardRunning) {
      // The run under way may have read locks and sizes before the caller's change (a case just
      // archived, a quota just lowered): one more run follows it, shared by every caller meanwhile.
      this.#guardQueued ??= this.#guardRunning.then(() => {
        this.#guardQueued = undefined
        return this.guard()
      })
      return this.#guardQueued
    }
    this.#guardRunning = this.#guard()
      .catch((err: Error) => this.#log.error({ error: err.message }, 'recording: disk guard failed'))
      .finally(() => (this.#guardRunning = undefined))
    return this.#guardRunning
  }

  async #guard(): Promise<void> {
    if (this.#closed) return
    const now = Date.now()
    const locks = this.#activeLocks()
    const isLocked = (r: SegmentRow) => locks.some((l) => l.camera_id === r.camera_id && l.from_ms < r.end_ms && l.to_ms > r.start_ms)
    const rules = this.store.retentionRules()
    const cache = new Map<number, number>()
    // retention
    let after = 0
    for (;;) {
      const batch = this.store.oldestSegments(after, now, 500)
      if (!batch.length) break
      for (const r of batch) {
        after = r.id
        if (r.end_ms > now - this.#retentionDays(r.camera_id, rules, cache) * 86_400_000 || isLocked(r)) continue
        await this.#deleteSegment(r, 'retention')
        this.counters.retentionDeleted++
      }
      if (batch.length < 500) break
    }
    // bounds
    const floor = this.settings.freeSpaceFloorMb * 1024 * 1024
    const quota = this.settings.maxBytes
    const over = async () => (quota > 0 && this.store.totalBytes() > quota) || (floor > 0 && (await this.#freeBytes()) < floor)
    if (await over()) {
      let cursor = 0
      let evicted = 0
      outer: for (;;) {
        const batch = this.#oldestFirst(cursor, 200)
        if (!batch.length) break
        for (const r of batch) {
          cursor = r.id
          if (isLocked(r)) continue
          // never the segment being written next to: only finished (indexed) ones are here
          await this.#deleteSegment(r, 'disk guard')
          evicted++
          this.counters.evicted++
          if (!(await over())) break outer
        }
      }
      if (evicted) this.#log.warn({ evicted }, 'recording: oldest unlocked footage evicted (disk guard)')
    }
    const stillOver = await over()
    if (stillOver && !this.#storageFull) await this.#enterStorageFull()
    else if (!stillOver && this.#storageFull) {
      const freeOk = floor === 0 || (await this.#freeBytes()) > floor * 1.1
      const quotaOk = quota === 0 || this.store.totalBytes() < quota * 0.9
      if (freeOk && quotaOk) this.#leaveStorageFull()
    }
  }

  /** Segments by start time, oldest first, paging by (start, id) through a cursor on the row set. */
  #oldestFirst(cursorId: number, limit: number): SegmentRow[] {
    return this.store.db
      .prepare('SELECT * FROM recording_segments WHERE (start_ms, id) > (SELECT COALESCE((SELECT start_ms FROM recording_segments WHERE id = ?), -1), ?) ORDER BY start_ms, id LIMIT ?')
      .all(cursorId, cursorId, limit) as SegmentRow[]
  }

  async #deleteSegment(r: SegmentRow, why: string): Promise<void> {
    this.store.deleteSegment(r.id)
    await rm(join(this.root, r.path), { force: true }).catch(() => undefined)
    this.#log.info({ segment: r.id, camera: r.camera_id, why }, 'recording: segment deleted')
  }

  async #enterStorageFull(): Promise<void> {
    this.#storageFull = true
    const used = this.store.totalBytes()
    const free = await this.#freeBytes()
    const message = `recording stopped: storage full (free ${Math.round(free / 1048576)} MiB, footage ${Math.round(used / 1048576)} MiB, all of it locked evidence or current)`
    this.#log.error({ freeBytes: free, usedBytes: used }, message)
    const ids = [...this.#recorders.keys()]
    await Promise.allSettled([...this.#recorders.values()].map((r) => r.stop()))
    this.#recorders.clear()
    this.#bus.emit('recording.storage', { state: 'full', freeBytes: free, usedBytes: used, message })
    let unitId: number | null = null
    try {
      if (ids[0] !== undefined) unitId = this.#registry.getForUse(SYSTEM_SCOPE, ids[0]).camera.unitId
    } catch {
      /* no unit */
    }
    try {
      await this.#storageAlarm?.({ message, cameraId: ids[0] ?? null, unitId })
    } catch (err) {
      this.#log.warn({ error: (err as Error).message }, 'recording: storage alarm not raised')
    }
  }

  #leaveStorageFull(): void {
    this.#storageFull = false
    this.#log.info({}, 'recording: storage below its bounds again; recording resumes')
    this.#bus.emit('recording.storage', { state: 'recovered', freeBytes: 0, usedBytes: this.store.totalBytes(), message: 'recording resumed' })
    for (const s of this.store.allSettings()) this.#apply(s)
  }

  #unitPath(unitId: number): string {
    try {
      return this.#org.getUnscoped(unitId)?.path ?? '/'
    } catch {
      return '/'
    }
  }

  unitPathOf(unitId: number): string {
    return this.#unitPath(unitId)
  }

  isLockedRange(cameraId: number, fromMs: number, toMs: number): boolean {
    return this.store.locksOf(cameraId, fromMs, toMs).length > 0
  }
}
