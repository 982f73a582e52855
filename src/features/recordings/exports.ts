import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import { inTransaction } from '../../core/db.js'
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js'
import { hasRole, scopeOf, subtreeRange, type Principal } from '../../core/scope.js'
import { SupervisedProcess } from '../../lib/ffmpeg/process.js'
import { concatList, exportArgs } from '../../lib/ffmpeg/recording-args.js'
import { ZipWriter } from '../../lib/zip/index.js'
import type { AuditLog } from '../audit/index.js'
import type { StreamPublisher } from '../events/index.js'
import type { OrgService } from '../org/index.js'
import type { Camera, RegistryService } from '../registry/index.js'
import type { RecordingService } from './service.js'
import { signDetached, type EvidenceKey } from './signing.js'
import type { ExportRow, SegmentRow } from './store.js'
import { MANIFEST, PUBLIC_KEY, SIGNATURE, verifyExportZip, type VerifyReport } from './verify.js'

declare module '../events/index.js' {
  interface StreamEventTypes {
    'export.progress': { exportId: string; state: string; progress: number; error?: string | null }
  }
}

/** Attaches an export to a case (the cases feature) and reads a case in the caller's scope. */
export interface CaseLink {
  get(principal: Principal, id: number): { id: number; number: string; state: string; unitId?: number }
  addFootage(caseId: number, ref: { recordingId?: number | string; cameraId: number; from: string; to: string }, actor: { name: string; id: number | null }): number
}

export interface ExportRequest {
  cameraIds: number[]
  from: string
  to: string
  caseId?: number
  reason?: string
  frameExact?: boolean
}

export interface ExportView {
  id: string
  state: ExportRow['state']
  progress: number
  cameraIds: number[]
  from: string
  to: string
  caseId: number | null
  reason: string | null
  frameExact: boolean
  createdBy: string
  createdAt: string
  finishedAt: string | null
  size: number | null
  sha256: string | null
  error: string | null
  download: string | null
}

const iso = (ms: number) => new Date(ms).toISOString()

interface Part {
  camera: Camera
  unit: { id: number; path: string; name: string } | null
  segments: SegmentRow[]
}

/**
 * Evidence export jobs: per camera one MP4 cut from the indexed segments by ffmpeg (stream copy
 * from the keyframe at or before `from`, or a libx264 re-encode for frame-exact cuts), a manifest
 * signed with the gateway's Ed25519 key, all in one zip. Jobs run ffmpeg children and async I/O,
 * a few at a time; progress goes to the row and the live event stream.
 */
export class ExportService {
  readonly #rec: RecordingService
  readonly #registry: RegistryService
  readonly #org: OrgService
  readonly #audit: AuditLog
  readonly #stream: StreamPublisher
  readonly #key: EvidenceKey
  readonly #version: string
  readonly #ffmpeg: string
  #cases: CaseLink | null
  readonly #queue: string[] = []
  readonly #running = new Map<string, Promise<void>>()
  readonly #procs = new Set<SupervisedProcess>()
  #closed = false
  readonly dir: string

  constructor(deps: { recordings: RecordingService; registry: RegistryService; org: OrgService; audit: AuditLog; stream: StreamPublisher; key: EvidenceKey; version: string; ffmpegPath: string; cases?: CaseLink | null }) {
    this.#rec = deps.recordings
    this.#registry = deps.registry
    this.#org = deps.org
    this.#audit = deps.audit
    this.#stream = deps.stream
    this.#key = deps.key
    this.#version = deps.version
    this.#ffmpeg = deps.ffmpegPath
    this.#cases = deps.cases ?? null
    this.dir = join(this.#rec.root, '.exports')
  }

  setCases(cases: CaseLink | null): void {
    this.#cases = cases
  }

  get publicKeyPem(): string {
    return this.#key.publicKeyPem
  }

  get fingerprint(): string {
    return this.#key.fingerprint
  }

  start(): void {
    // jobs a crash interrupted are failed (their partial zips were never recorded as files)
    this.#rec.store.failInterrupted()
    void rm(join(this.dir, 'work'), { recursive: true, force: true })
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#queue.length = 0
    await Promise.allSettled([...this.#procs].map((p) => p.close()))
    await Promise.allSettled([...this.#running.values()])
  }

  /** Resolves when every queued and running export has finished (tests, bench). */
  async settle(): Promise<void> {
    while (this.#running.size || this.#queue.length) await Promise.allSettled([...this.#running.values()])
  }

  create(principal: Principal, req: ExportRequest, client?: string): ExportView {
    const s = this.#rec.settings
    if (hasRole(principal, 'researcher') && !hasRole(principal, 'admin')) {
      if (req.caseId === undefined) throw ValidationError.field('body.caseId', 'required for researchers: footage is pulled for a case')
      if (!req.reason?.trim()) throw ValidationError.field('body.reason', 'required for researchers: why the footage is exported')
    }
    const fromMs = Date.parse(req.from)
    const toMs = Date.parse(req.to)
    if (!Number.isFinite(fromMs)) throw ValidationError.field('body.from', 'not a date-time')
    if (!Number.isFinite(toMs)) throw ValidationError.field('body.to', 'not a date-time')
    if (toMs <= fromMs) throw ValidationError.field('body.to', 'must be after from')
    if (toMs - fromMs > s.exportMaxHours * 3_600_000) throw ValidationError.field('body.to', `an export covers at most ${s.exportMaxHours} h`)
    const ids = [...new Set(req.cameraIds)]
    if (!ids.length) throw ValidationError.field('body.cameraIds', 'at least one camera')
    const scope = scopeOf(principal)
    for (const id of ids) this.#registry.getForUse(scope, id)
    let caseNumber: string | null = null
    if (req.caseId !== undefined) {
      if (!this.#cases) throw ValidationError.field('body.caseId', 'cases are not available on this gateway')
      const c = this.#cases.get(principal, req.caseId)
      if (c.state === 'archived') throw new ConflictError(`case ${c.number} is archived and read-only`)
      caseNumber = c.number
    }
    const id = randomUUID()
    const row: ExportRow = {
      id,
      state: 'queued',
      progress: 0,
      camera_ids: JSON.stringify(ids),
      from_ms: fromMs,
      to_ms: toMs,
      case_id: req.caseId ?? null,
      reason: req.reason?.trim() || null,
      frame_exact: req.frameExact ? 1 : 0,
      created_by_id: principal.userId > 0 ? principal.userId : null,
      created_by: principal.username,
      unit_path: principal.unitPath,
      file: null,
      size: null,
      sha256: null,
      error: null,
      created_at: new Date().toISOString(),
      finished_at: null,
    }
    inTransaction(this.#rec.store.db, () => {
      this.#rec.store.insertExport(row)
      this.#audit.record({ actor: principal, action: 'recording.export', target: { type: 'export', id }, client: client ?? null, detail: { cameraIds: ids, from: iso(fromMs), to: iso(toMs), caseId: row.case_id, caseNumber, reason: row.reason, frameExact: !!row.frame_exact } })
    })
    // evidence of a case: locked from retention at once (before the job reads it)
    if (req.caseId !== undefined) {
      for (const cam of ids) {
        this.#rec.lock(principal, { cameraId: cam, from: iso(fromMs), to: iso(toMs), reason: `export ${id} for case ${caseNumber}`, caseId: req.caseId, exportId: id }, client)
        this.#cases!.addFootage(req.caseId, { recordingId: id, cameraId: cam, from: iso(fromMs), to: iso(toMs) }, { name: principal.username, id: principal.userId > 0 ? principal.userId : null })
      }
    }
    this.#queue.push(id)
    this.#pump(principal)
    return this.#view(row)
  }

  get(principal: Principal, id: string): ExportView {
    return this.#view(this.#visible(principal, id))
  }

  #visible(principal: Principal, id: string): ExportRow {
    const row = this.#rec.store.export(id)
    const { lo, hi } = subtreeRange(principal.unitPath)
    // the exporter, an administrator, or someone whose unit's subtree holds the exporter's unit
    if (!row || !(row.created_by_id === principal.userId || hasRole(principal, 'admin') || (row.unit_path >= lo && row.unit_path < hi))) throw new NotFoundError('export', id)
    // every camera of the export must be in the caller's scope
    const scope = scopeOf(principal)
    try {
      for (const c of JSON.parse(row.camera_ids) as number[]) this.#registry.getForUse(scope, c)
    } catch {
      throw new NotFoundError('export', id)
    }
    return row
  }

  /** The zip of a finished export (download): path resolved under the recording root. */
  async file(principal: Principal, id: string, client?: string): Promise<{ path: string; size: number; name: string }> {
    const row = this.#visible(principal, id)
    if (row.state !== 'done' || !row.file) throw new ConflictError(`export ${id} is ${row.state}`)
    const path = await this.#rec.resolveInRoot(row.file)
    this.#audit.record({ actor: principal, action: 'recording.export_download', target: { type: 'export', id }, client: client ?? null, detail: { sha256: row.sha256, size: row.size } })
    return { path, size: row.size ?? 0, name: `export-${id}.zip` }
  }

  async verifyById(principal: Principal, id: string): Promise<VerifyReport> {
    const row = this.#visible(principal, id)
    if (row.state !== 'done' || !row.file) throw new ConflictError(`export ${id} is ${row.state}`)
    return verifyExportZip(await this.#rec.resolveInRoot(row.file), this.#key.publicKey)
  }

  async verifyFile(path: string): Promise<VerifyReport> {
    return verifyExportZip(path, this.#key.publicKey)
  }

  #view(r: ExportRow): ExportView {
    return {
      id: r.id,
      state: r.state,
      progress: r.progress,
      cameraIds: JSON.parse(r.camera_ids) as number[],
      from: iso(r.from_ms),
      to: iso(r.to_ms),
      caseId: r.case_id,
      reason: r.reason,
      frameExact: r.frame_exact === 1,
      createdBy: r.created_by,
      createdAt: r.created_at,
      finishedAt: r.finished_at,
      size: r.size,
      sha256: r.sha256,
      error: r.error,
      download: r.state === 'done' ? `/api/exports/${r.id}/download` : null,
    }
  }

  #pump(principal: Principal): void {
    while (!this.#closed && this.#queue.length && this.#running.size < this.#rec.settings.exportConcurrency) {
      const id = this.#queue.shift()!
      const p = this.#run(id, principal).finally(() => {
        this.#running.delete(id)
        this.#pump(principal)
      })
      this.#running.set(id, p)
    }
  }

  #progress(row: ExportRow, fields: Partial<ExportRow>): void {
    Object.assign(row, fields)
    try {
      inTransaction(this.#rec.store.db, () => {
        this.#rec.store.updateExport(row.id, fields)
        this.#stream.publish('export.progress', row.unit_path, { exportId: row.id, state: row.state, progress: row.progress, error: row.error })
      })
    } catch {
      /* database closed during shutdown */
    }
  }

  async #run(id: string, principal: Principal): Promise<void> {
    const row = this.#rec.store.export(id)
    if (!row) return
    const work = join(this.dir, 'work', id)
    await mkdir(work, { recursive: true, mode: 0o700 })
    const zipRel = `.exports/${id}.zip`
    const zipPath = join(this.#rec.root, zipRel)
    let zip: ZipWriter | undefined
    try {
      this.#progress(row, { state: 'running', progress: 1 })
      const cameraIds = JSON.parse(row.camera_ids) as number[]
      const parts: Part[] = cameraIds.map((cid) => {
        // the camera was in scope when the job was created; it may have been deleted since
        const camera = this.#registry.getForUse({ unitId: 0, unitPath: '/', seesPrivateSiteCameras: true }, cid).camera
        const unit = this.#org.getUnscoped(camera.unitId)
        return { camera, unit: unit ? { id: unit.id, path: unit.path, name: unit.name } : null, segments: this.#rec.store.segments(cid, row.from_ms, row.to_ms) }
      })
      const totalMs = parts.reduce((n, p) => n + Math.max(0, Math.min(row.to_ms, p.segments.at(-1)?.end_ms ?? 0) - Math.max(row.from_ms, p.segments[0]?.start_ms ?? 0)), 0) || 1
      let doneMs = 0
      const files: Record<string, unknown>[] = []
      for (const part of parts) {
        const { camera, segments } = part
        const gaps = this.#rec.gapsOf(segments, row.from_ms, row.to_ms)
        const entry: Record<string, unknown> = {
          camera: { id: camera.id, name: camera.name, class: camera.class },
          unit: part.unit,
          requested: { from: iso(row.from_ms), to: iso(row.to_ms) },
          gaps,
          segments: segments.map((s) => ({ id: s.id, start: iso(s.start_ms), end: iso(s.end_ms), sha256: s.sha256, size: s.size, recovered: s.recovered === 1, cameraClockOffsetMs: s.camera_clock_offset_ms })),
        }
        if (!segments.length) {
          files.push({ ...entry, name: null, delivered: null, note: 'no footage in the requested range' })
          continue
        }
        const wantFrom = Math.max(row.from_ms, segments[0]!.start_ms)
        const wantTo = Math.min(row.to_ms, segments.at(-1)!.end_ms)
        const first = segments[0]!
        const last = segments.at(-1)!
        const exact = row.frame_exact === 1
        // stream copy starts at the keyframe at or before `from` (known from the index when the
        // recorder wrote the segment; a recovered one starts at its top)
        let deliveredFrom = wantFrom
        if (!exact) {
          const kfs = (JSON.parse(first.keyframes) as number[]).filter((k) => first.start_ms + k <= wantFrom + 20)
          deliveredFrom = kfs.length ? first.start_ms + kfs[kfs.length - 1]! : first.start_ms
        }
        const resolved: { path: string; inpoint?: number; outpoint?: number }[] = []
        for (const seg of segments) resolved.push({ path: await this.#rec.resolveInRoot(seg.path) })
        // in/out points in each file's own media time (each segment starts at 0)
        if (!exact && wantFrom > first.start_ms) resolved[0]!.inpoint = (wantFrom - first.start_ms) / 1000
        if (wantTo < last.end_ms) resolved[resolved.length - 1]!.outpoint = (wantTo - last.start_ms) / 1000
        const list = join(work, `camera-${camera.id}.txt`)
        await writeFile(list, concatList(resolved))
        // footage time between the cut points (gaps collapse in the concatenation)
        const durationMs = segments.reduce((n, seg) => n + Math.max(0, Math.min(wantTo, seg.end_ms) - Math.max(exact ? wantFrom : deliveredFrom, seg.start_ms)), 0)
        const name = `camera-${camera.id}.mp4`
        // ffmpeg's output streams straight into the zip: footage read once, written once
        zip ??= new ZipWriter(zipPath)
        const progressFile = join(work, `camera-${camera.id}.progress`)
        const expectedBytes = segments.reduce((n, s) => n + s.size, 0) * (durationMs / Math.max(1, segments.reduce((n, s) => n + s.end_ms - s.start_ms, 0)))
        // an upper estimate for the zip entry: at 4 GiB or more its local header declares ZIP64 up front
        // (a stream copy stays close to its source; a libx264 re-encode at CRF 18 may grow it several times)
        const sizeHint = Math.ceil(expectedBytes * (exact ? 4 : 1.25))
        let streamed = 0
        const { sha256, size, outMs } = await this.#ffmpegToZip(
          zip,
          name,
          sizeHint,
          exportArgs({ listFile: list, progressFile, ...(exact ? { exact: { offsetSeconds: Math.max(0, wantFrom - first.start_ms) / 1000, durationSeconds: durationMs / 1000 } } : {}) }),
          progressFile,
          (n) => {
            streamed += n
            const frac = row.frame_exact ? 0 : Math.min(1, streamed / Math.max(1, expectedBytes))
            const p = Math.min(97, Math.round(((doneMs + frac * durationMs) / totalMs) * 97))
            if (p > row.progress + 4) this.#progress(row, { progress: p })
          },
          (ms) => {
            if (!row.frame_exact) return
            const p = Math.min(97, Math.round(((doneMs + Math.min(ms, durationMs)) / totalMs) * 97))
            if (p > row.progress + 4) this.#progress(row, { progress: p })
          },
        )
        doneMs += durationMs
        files.push({ ...entry, name, sha256, size, delivered: { from: iso(deliveredFrom), to: iso(wantTo), durationSeconds: Math.round(outMs) / 1000 }, frameExact: row.frame_exact === 1 })
      }
      zip ??= new ZipWriter(zipPath)
      const c = row.case_id !== null ? this.#cases?.get(principal, row.case_id) : null
      const manifest = {
        format: 'sharp-eyes-gateway/export/1',
        exportId: row.id,
        gateway: { name: 'sharp-eyes-gateway', version: this.#version, publicKeyFingerprint: this.#key.fingerprint },
        createdAt: new Date().toISOString(),
        exporter: { userId: row.created_by_id, username: row.created_by, unitPath: row.unit_path },
        case: row.case_id !== null ? { id: row.case_id, number: c?.number ?? null } : null,
        reason: row.reason,
        requested: { from: iso(row.from_ms), to: iso(row.to_ms), cameraIds },
        frameExact: row.frame_exact === 1,
        cutting: row.frame_exact ? 'libx264 re-encode, frame-exact' : 'stream copy, starts at the keyframe at or before "from"',
        clock:
          "wall-clock times are the gateway clock at frame arrival, aligned to the stream timestamps; a segment's cameraClockOffsetMs is the camera's clock minus the gateway's when it was written (ONVIF GetSystemDateAndTime, kept by the health checks; null: not known): add it to a time here to get what the camera's on-screen clock showed",
        files: files.filter((f) => f.name !== null),
        camerasWithoutFootage: files.filter((f) => f.name === null),
      }
      const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n')
      await zip.addBuffer(MANIFEST, manifestBytes)
      await zip.addBuffer(SIGNATURE, Buffer.from(signDetached(this.#key, manifestBytes).toString('base64') + '\n'))
      await zip.addBuffer(PUBLIC_KEY, Buffer.from(this.#key.publicKeyPem))
      const size = await zip.finish()
      const sha256 = zip.sha256!
      zip = undefined
      // evidence is durable before the job says done
      const fh = await open(zipPath, 'r')
      await fh.sync().finally(() => fh.close())
      this.#progress(row, { state: 'done', progress: 100, file: zipRel, size, sha256, finished_at: new Date().toISOString() })
    } catch (err) {
      zip?.destroy()
      await rm(zipPath, { force: true })
      const message = this.#closed ? 'interrupted by shutdown' : (err as Error).message.slice(0, 500)
      this.#progress(row, { state: 'failed', error: message, finished_at: new Date().toISOString() })
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }

  /** Runs an export ffmpeg with its stdout streamed into a zip entry; resolves with the entry's hash and the output duration. */
  async #ffmpegToZip(zip: ZipWriter, name: string, sizeHint: number, args: string[], progressFile: string, onBytes: (n: number) => void, onOutMs: (ms: number) => void): Promise<{ sha256: string; size: number; outMs: number }> {
    if (this.#closed) throw new Error('shutting down')
    const proc = new SupervisedProcess({ command: this.#ffmpeg, args, killTimeoutMs: 2000 })
    this.#procs.add(proc)
    let outMs = 0
    const readProgress = async () => {
      const text = await readFile(progressFile, 'utf8').catch(() => '')
      const all = [...text.matchAll(/^out_time_us=(\d+)/gm)]
      const last = all.at(-1)
      if (last) {
        outMs = Number(last[1]) / 1000
        onOutMs(outMs)
      }
    }
    const poll = setInterval(() => void readProgress(), 500)
    try {
      const entry = zip.addStream(name, proc.stdout as Readable, onBytes, { sizeHint })
      const [result, exit] = await Promise.all([entry, proc.exited])
      if (exit.code !== 0) throw new Error(`ffmpeg failed (${exit.code ?? exit.signal}): ${exit.stderr.slice(-300)}`)
      await readProgress()
      return { ...result, outMs }
    } catch (err) {
      await proc.close()
      throw err
    } finally {
      clearInterval(poll)
      this.#procs.delete(proc)
    }
  }

  /** Deletes export zips after exportRetentionDays; those of a case only once its evidence lock has ended. */
  async sweep(): Promise<number> {
    const before = new Date(Date.now() - this.#rec.settings.exportRetentionDays * 86_400_000).toISOString()
    let n = 0
    for (const r of this.#rec.store.exportsBefore(before)) {
      // a case's export is evidence: kept until the case is archived and its retention ran out
      if (r.case_id !== null && this.#rec.caseEvidenceHeld(r.case_id)) continue
      await rm(join(this.#rec.root, r.file!), { force: true })
      this.#rec.store.updateExport(r.id, { file: null })
      n++
    }
    return n
  }
}

/** Streams a request body to a file, refusing more than maxBytes. */
export async function bodyToFile(body: Readable, path: string, maxBytes: number): Promise<number> {
  let n = 0
  await pipeline(
    body,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        n += chunk.length
        if (n > maxBytes) throw new ValidationError(`upload larger than ${maxBytes} bytes`, [{ field: 'body', message: 'too large' }])
        yield chunk
      }
    },
    createWriteStream(path, { mode: 0o600 }),
  )
  return n
}
