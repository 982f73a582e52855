import type { Db } from '../../core/db.js'

export type RecordingMode = 'continuous' | 'on_alarm' | 'off'

export interface SettingsRow {
  camera_id: number
  mode: RecordingMode
  stream: 'main' | 'sub'
  pre_seconds: number
  post_seconds: number
  updated_by: string
  updated_at: string
}

export interface SegmentRow {
  id: number
  camera_id: number
  session: number
  seq: number
  start_ms: number
  end_ms: number
  path: string
  size: number
  sha256: string
  init_size: number
  codec: string
  keyframes: string
  recovered: number
  /** The camera's clock minus the gateway's when the segment was indexed; null: not known. */
  camera_clock_offset_ms: number | null
  created_at: string
}

export type NewSegment = Omit<SegmentRow, 'id' | 'created_at'>

export interface LockRow {
  id: number
  camera_id: number
  from_ms: number
  to_ms: number
  case_id: number | null
  export_id: string | null
  reason: string
  unit_path: string
  created_by: string
  created_at: string
  released_at: string | null
  released_by: string | null
}

export interface ExportRow {
  id: string
  state: 'queued' | 'running' | 'done' | 'failed'
  progress: number
  camera_ids: string
  from_ms: number
  to_ms: number
  case_id: number | null
  reason: string | null
  frame_exact: number
  created_by_id: number | null
  created_by: string
  unit_path: string
  file: string | null
  size: number | null
  sha256: string | null
  error: string | null
  created_at: string
  finished_at: string | null
}

export class RecordingStore {
  constructor(readonly db: Db) {}

  settings(cameraId: number): SettingsRow | undefined {
    return this.db.prepare('SELECT * FROM recording_settings WHERE camera_id = ?').get(cameraId) as SettingsRow | undefined
  }

  allSettings(): SettingsRow[] {
    return this.db.prepare("SELECT * FROM recording_settings WHERE mode != 'off'").all() as SettingsRow[]
  }

  putSettings(row: SettingsRow): void {
    this.db
      .prepare(
        `INSERT INTO recording_settings (camera_id, mode, stream, pre_seconds, post_seconds, updated_by, updated_at)
         VALUES (@camera_id, @mode, @stream, @pre_seconds, @post_seconds, @updated_by, @updated_at)
         ON CONFLICT (camera_id) DO UPDATE SET mode = excluded.mode, stream = excluded.stream, pre_seconds = excluded.pre_seconds,
           post_seconds = excluded.post_seconds, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      )
      .run(row)
  }

  insertSegment(s: NewSegment): number {
    return Number(
      this.db
        .prepare(
          `INSERT INTO recording_segments (camera_id, session, seq, start_ms, end_ms, path, size, sha256, init_size, codec, keyframes, recovered, camera_clock_offset_ms, created_at)
           VALUES (@camera_id, @session, @seq, @start_ms, @end_ms, @path, @size, @sha256, @init_size, @codec, @keyframes, @recovered, @camera_clock_offset_ms, @created_at)`,
        )
        .run({ ...s, created_at: new Date().toISOString() }).lastInsertRowid,
    )
  }

  segment(id: number): SegmentRow | undefined {
    return this.db.prepare('SELECT * FROM recording_segments WHERE id = ?').get(id) as SegmentRow | undefined
  }

  segmentByPath(path: string): SegmentRow | undefined {
    return this.db.prepare('SELECT * FROM recording_segments WHERE path = ?').get(path) as SegmentRow | undefined
  }

  previousInSession(cameraId: number, session: number, seq: number): SegmentRow | undefined {
    return this.db.prepare('SELECT * FROM recording_segments WHERE camera_id = ? AND session = ? AND seq < ? ORDER BY seq DESC LIMIT 1').get(cameraId, session, seq) as SegmentRow | undefined
  }

  /** End of the camera's latest segment (ms), 0 when it has none: its next segment starts no earlier. */
  lastEndMs(cameraId: number): number {
    const row = this.db.prepare('SELECT end_ms FROM recording_segments WHERE camera_id = ? ORDER BY start_ms DESC LIMIT 1').get(cameraId) as { end_ms: number } | undefined
    return row?.end_ms ?? 0
  }

  /** Segments of a camera overlapping [from, to), oldest first. */
  segments(cameraId: number, fromMs: number, toMs: number): SegmentRow[] {
    return this.db
      .prepare('SELECT * FROM recording_segments WHERE camera_id = ? AND start_ms < ? AND end_ms > ? ORDER BY start_ms, seq')
      .all(cameraId, toMs, fromMs) as SegmentRow[]
  }

  /** Oldest first, in batches (eviction). */
  oldestSegments(afterId: number, beforeStartMs: number, limit: number): SegmentRow[] {
    return this.db.prepare('SELECT * FROM recording_segments WHERE start_ms < ? AND id > ? ORDER BY start_ms, id LIMIT ?').all(beforeStartMs, afterId, limit) as SegmentRow[]
  }

  allSegmentPaths(): { id: number; path: string }[] {
    return this.db.prepare('SELECT id, path FROM recording_segments').all() as { id: number; path: string }[]
  }

  deleteSegment(id: number): void {
    this.db.prepare('DELETE FROM recording_segments WHERE id = ?').run(id)
  }

  totalBytes(): number {
    return (this.db.prepare('SELECT COALESCE(SUM(size), 0) AS n FROM recording_segments').get() as { n: number }).n
  }

  // --- locks ----------------------------------------------------------------------------------

  insertLock(l: Omit<LockRow, 'id' | 'released_at' | 'released_by'>): number {
    return Number(
      this.db
        .prepare(
          `INSERT INTO recording_locks (camera_id, from_ms, to_ms, case_id, export_id, reason, unit_path, created_by, created_at)
           VALUES (@camera_id, @from_ms, @to_ms, @case_id, @export_id, @reason, @unit_path, @created_by, @created_at)`,
        )
        .run(l).lastInsertRowid,
    )
  }

  lock(id: number): LockRow | undefined {
    return this.db.prepare('SELECT * FROM recording_locks WHERE id = ?').get(id) as LockRow | undefined
  }

  activeLocks(): LockRow[] {
    return this.db.prepare('SELECT * FROM recording_locks WHERE released_at IS NULL').all() as LockRow[]
  }

  locksOf(cameraId: number, fromMs: number, toMs: number): LockRow[] {
    return this.db.prepare('SELECT * FROM recording_locks WHERE released_at IS NULL AND camera_id = ? AND from_ms < ? AND to_ms > ?').all(cameraId, toMs, fromMs) as LockRow[]
  }

  releaseLock(id: number, by: string): void {
    this.db.prepare('UPDATE recording_locks SET released_at = ?, released_by = ? WHERE id = ? AND released_at IS NULL').run(new Date().toISOString(), by, id)
  }

  // --- retention rules ---------------------------------------------------------------------------

  retentionRules(): { kind: 'unit' | 'class'; key: number; days: number }[] {
    return this.db.prepare('SELECT kind, key, days FROM recording_retention ORDER BY kind, key').all() as { kind: 'unit' | 'class'; key: number; days: number }[]
  }

  putRetention(kind: 'unit' | 'class', key: number, days: number | null): void {
    if (days === null) this.db.prepare('DELETE FROM recording_retention WHERE kind = ? AND key = ?').run(kind, key)
    else this.db.prepare('INSERT INTO recording_retention (kind, key, days) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET days = excluded.days').run(kind, key, days)
  }

  // --- exports ------------------------------------------------------------------------------------

  insertExport(e: ExportRow): void {
    this.db
      .prepare(
        `INSERT INTO recording_exports (id, state, progress, camera_ids, from_ms, to_ms, case_id, reason, frame_exact, created_by_id, created_by, unit_path, file, size, sha256, error, created_at, finished_at)
         VALUES (@id, @state, @progress, @camera_ids, @from_ms, @to_ms, @case_id, @reason, @frame_exact, @created_by_id, @created_by, @unit_path, @file, @size, @sha256, @error, @created_at, @finished_at)`,
      )
      .run(e)
  }

  export(id: string): ExportRow | undefined {
    return this.db.prepare('SELECT * FROM recording_exports WHERE id = ?').get(id) as ExportRow | undefined
  }

  updateExport(id: string, fields: Partial<Omit<ExportRow, 'id'>>): void {
    const keys = Object.keys(fields)
    if (!keys.length) return
    this.db.prepare(`UPDATE recording_exports SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`).run({ ...fields, id })
  }

  /** Exports left running by a crash. */
  failInterrupted(): number {
    return this.db.prepare("UPDATE recording_exports SET state = 'failed', error = 'interrupted by a restart', finished_at = ? WHERE state IN ('queued', 'running')").run(new Date().toISOString()).changes
  }

  exportsBefore(iso: string): ExportRow[] {
    return this.db.prepare('SELECT * FROM recording_exports WHERE created_at < ? AND file IS NOT NULL').all(iso) as ExportRow[]
  }
}
