import type { Db } from '../../core/db.js'
import { cameraVisibilityParams, cameraVisibleSql, subtreeRange, type Scope } from '../../core/scope.js'
import { TRANSITIONS, UNRESOLVED_STATES, type AlarmKind, type AttachmentView, type CaseState, type CaseView, type Priority, type TimelineEntry, type TimelineType } from './model.js'

export interface CaseRow {
  id: number
  number: string
  kind: AlarmKind
  priority: Priority
  state: CaseState
  title: string
  description: string | null
  unit_id: number
  unit_path: string
  unit_code: string
  unit_name: string
  assignee_id: number | null
  assignee_username: string | null
  assignee_name: string | null
  camera_id: number | null
  source_alarm_id: number | null
  occurrences: number
  first_seen_at: string
  last_seen_at: string
  notify_street: number
  location: string | null
  ack_due_at: string
  resolve_due_at: string
  acknowledged_at: string | null
  resolved_at: string | null
  closed_at: string | null
  archived_at: string | null
  overdue_notified: number
  created_by: string
  created_at: string
  updated_at: string
}

const SELECT = `SELECT c.*, u.path AS unit_path, u.code AS unit_code, u.name AS unit_name,
  a.username AS assignee_username, a.display_name AS assignee_name
  FROM cases c JOIN units u ON u.id = c.unit_id LEFT JOIN users a ON a.id = c.assignee_id`

const UNRESOLVED_SQL = UNRESOLVED_STATES.map((s) => `'${s}'`).join(', ')
/** SQL: the case is overdue at @now (acknowledge or resolve deadline passed in a state where it still runs). */
export const OVERDUE_SQL = `((c.state = 'registered' AND c.ack_due_at < @now) OR (c.state IN (${UNRESOLVED_SQL}) AND c.resolve_due_at < @now))`

export function overdueOf(r: Pick<CaseRow, 'state' | 'ack_due_at' | 'resolve_due_at'>, now: string): CaseView['overdue'] {
  const acknowledge = r.state === 'registered' && r.ack_due_at < now
  const resolve = UNRESOLVED_STATES.includes(r.state) && r.resolve_due_at < now
  return { acknowledge, resolve, any: acknowledge || resolve }
}

export interface CaseFilter {
  state?: CaseState
  kind?: AlarmKind
  priority?: Priority
  underPath?: string
  overdue?: boolean
}

export interface NewCaseRow {
  number: string
  kind: AlarmKind
  priority: Priority
  title: string
  description: string | null
  unitId: number
  assigneeId: number | null
  cameraId: number | null
  sourceAlarmId: number | null
  at: string
  notifyStreet: boolean
  location: string | null
  ackDueAt: string
  resolveDueAt: string
  createdBy: string
}

export class CaseStore {
  readonly #db: Db
  readonly #get
  readonly #getScoped
  readonly #nextNumber
  readonly #insert
  readonly #insertCamera
  readonly #timeline
  readonly #cameras
  readonly #mergeable
  readonly #occurrence
  readonly #hiddenCameras
  readonly #sitePrivateCamera
  constructor(db: Db) {
    this.#db = db
    this.#get = db.prepare(`${SELECT} WHERE c.id = ?`)
    this.#getScoped = db.prepare(`${SELECT} WHERE c.id = @id AND u.path >= @lo AND u.path < @hi`)
    this.#nextNumber = db
      .prepare('INSERT INTO case_counters (year, last) VALUES (?, 1) ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last')
      .pluck()
    this.#insert = db.prepare(`INSERT INTO cases (number, kind, priority, state, title, description, unit_id, assignee_id, camera_id, source_alarm_id,
        occurrences, first_seen_at, last_seen_at, notify_street, location, ack_due_at, resolve_due_at, created_by, created_at, updated_at)
      VALUES (@number, @kind, @priority, 'registered', @title, @description, @unitId, @assigneeId, @cameraId, @sourceAlarmId,
        1, @at, @at, @notifyStreet, @location, @ackDueAt, @resolveDueAt, @createdBy, @at, @at)`)
    this.#insertCamera = db.prepare('INSERT OR IGNORE INTO case_cameras (case_id, camera_id, camera_name) VALUES (?, ?, ?)')
    this.#timeline = db.prepare('INSERT INTO case_timeline (case_id, at, actor, actor_id, type, detail) VALUES (?, ?, ?, ?, ?, ?)')
    this.#cameras = db.prepare('SELECT camera_id AS id, camera_name AS name FROM case_cameras WHERE case_id = ? ORDER BY camera_id')
    this.#mergeable = db.prepare(
      `SELECT id, unit_id, occurrences, number FROM cases WHERE camera_id = ? AND kind = ? AND state IN ('registered', 'dispatched', 'in_progress') AND last_seen_at >= ? ORDER BY id DESC LIMIT 1`,
    )
    this.#occurrence = db.prepare('UPDATE cases SET occurrences = occurrences + @n, last_seen_at = max(last_seen_at, @at), updated_at = @now WHERE id = @id')
    // Every camera the case names (its cameras, its attachments' cameras, the camera it merges on)
    // that exists and that the scope may not see. A deleted camera is not in the registry to be
    // private any more; what the case recorded of it stays with the case.
    this.#hiddenCameras = db
      .prepare(
        `SELECT c.id FROM cameras c JOIN units u ON u.id = c.unit_id
        WHERE c.id IN (SELECT camera_id FROM case_cameras WHERE case_id = @caseId
          UNION SELECT camera_id FROM case_attachments WHERE case_id = @caseId AND camera_id IS NOT NULL
          UNION SELECT camera_id FROM cases WHERE id = @caseId AND camera_id IS NOT NULL)
        AND NOT ${cameraVisibleSql('c', 'u')}`,
      )
      .pluck()
    this.#sitePrivateCamera = db.prepare("SELECT 1 FROM cameras c JOIN units u ON u.id = c.unit_id WHERE c.id = ? AND u.tier = 'site' AND c.shared_upward = 0").pluck()
  }

  /** Cameras this case names that `scope` may not see (内保外用): their names, pictures and footage are withheld. */
  hiddenCameras(scope: Scope, caseId: number): Set<number> {
    return new Set(this.#hiddenCameras.all({ caseId, ...cameraVisibilityParams(scope) }) as number[])
  }

  /** A site camera not shared upward: only its site and the maintainers above may see it. */
  isSitePrivateCamera(cameraId: number): boolean {
    return this.#sitePrivateCamera.get(cameraId) === 1
  }

  nextNumber(year: number): string {
    const n = this.#nextNumber.get(year) as number
    return `${year}-${String(n).padStart(6, '0')}`
  }

  insert(c: NewCaseRow): number {
    return Number(this.#insert.run({ ...c, notifyStreet: c.notifyStreet ? 1 : 0 }).lastInsertRowid)
  }

  addCamera(caseId: number, cameraId: number, name: string): void {
    this.#insertCamera.run(caseId, cameraId, name)
  }

  get(id: number): CaseRow | undefined {
    return this.#get.get(id) as CaseRow | undefined
  }

  getScoped(scope: Scope, id: number): CaseRow | undefined {
    const { lo, hi } = subtreeRange(scope.unitPath)
    return this.#getScoped.get({ id, lo, hi }) as CaseRow | undefined
  }

  list(scope: Scope, filter: CaseFilter, beforeId: number | undefined, limit: number, now: string): CaseRow[] {
    const { lo, hi } = subtreeRange(scope.unitPath)
    const where = ['u.path >= @lo AND u.path < @hi']
    const params: Record<string, unknown> = { lo, hi, limit, now }
    if (filter.underPath) {
      const r = subtreeRange(filter.underPath)
      where.push('u.path >= @ulo AND u.path < @uhi')
      Object.assign(params, { ulo: r.lo, uhi: r.hi })
    }
    for (const k of ['state', 'kind', 'priority'] as const) {
      if (filter[k] !== undefined) {
        where.push(`c.${k} = @${k}`)
        params[k] = filter[k]
      }
    }
    if (filter.overdue !== undefined) where.push(filter.overdue ? OVERDUE_SQL : `NOT ${OVERDUE_SQL}`)
    if (beforeId !== undefined) {
      where.push('c.id < @beforeId')
      params.beforeId = beforeId
    }
    return this.#db.prepare(`${SELECT} WHERE ${where.join(' AND ')} ORDER BY c.id DESC LIMIT @limit`).all(params) as CaseRow[]
  }

  /** The open case of this camera and kind last seen at or after `since`, if any. */
  mergeable(cameraId: number, kind: AlarmKind, since: string): { id: number; unit_id: number; occurrences: number; number: string } | undefined {
    return this.#mergeable.get(cameraId, kind, since) as { id: number; unit_id: number; occurrences: number; number: string } | undefined
  }

  addOccurrences(id: number, n: number, at: string): void {
    this.#occurrence.run({ id, n, at, now: new Date().toISOString() })
  }

  update(id: number, fields: Record<string, unknown>): void {
    const sets = Object.keys(fields).map((k) => `${k} = @${k}`)
    this.#db.prepare(`UPDATE cases SET ${[...sets, 'updated_at = @updated_at'].join(', ')} WHERE id = @id`).run({ ...fields, id, updated_at: new Date().toISOString() })
  }

  appendTimeline(caseId: number, actor: { name: string; id: number | null }, type: TimelineType, detail: Record<string, unknown>, at = new Date().toISOString()): void {
    this.#timeline.run(caseId, at, actor.name, actor.id, type, JSON.stringify(detail))
  }

  timeline(caseId: number): TimelineEntry[] {
    return (this.#db.prepare('SELECT id, at, actor, type, detail FROM case_timeline WHERE case_id = ? ORDER BY id').all(caseId) as { id: number; at: string; actor: string; type: TimelineType; detail: string }[]).map((r) => ({
      ...r,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
    }))
  }

  cameras(caseId: number): { id: number; name: string }[] {
    return this.#cameras.all(caseId) as { id: number; name: string }[]
  }

  alarmIds(caseId: number, hidden: Set<number> = new Set()): number[] {
    const rows = this.#db.prepare('SELECT id, camera_id FROM alarms WHERE case_id = ? ORDER BY id LIMIT 1000').all(caseId) as { id: number; camera_id: number | null }[]
    return rows.filter((r) => r.camera_id === null || !hidden.has(r.camera_id)).map((r) => r.id)
  }

  insertAttachment(a: { caseId: number; kind: 'snapshot' | 'footage'; contentType: string | null; data: Buffer | null; sha256: string | null; ref: Record<string, unknown> | null; cameraId: number | null; takenAt: string }): number {
    return Number(
      this.#db
        .prepare('INSERT INTO case_attachments (case_id, kind, content_type, size, sha256, data, ref, camera_id, taken_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(a.caseId, a.kind, a.contentType, a.data?.length ?? null, a.sha256, a.data, a.ref ? JSON.stringify(a.ref) : null, a.cameraId, a.takenAt, new Date().toISOString()).lastInsertRowid,
    )
  }

  attachments(caseId: number): AttachmentView[] {
    return (this.#db.prepare('SELECT id, kind, content_type, size, sha256, camera_id, ref, taken_at FROM case_attachments WHERE case_id = ? ORDER BY id').all(caseId) as {
      id: number
      kind: 'snapshot' | 'footage'
      content_type: string | null
      size: number | null
      sha256: string | null
      camera_id: number | null
      ref: string | null
      taken_at: string
    }[]).map((r) => ({ id: r.id, kind: r.kind, contentType: r.content_type, size: r.size, sha256: r.sha256, cameraId: r.camera_id, ref: r.ref ? (JSON.parse(r.ref) as Record<string, unknown>) : null, takenAt: r.taken_at }))
  }

  attachment(caseId: number, id: number): { kind: string; content_type: string | null; data: Buffer | null; sha256: string | null; ref: string | null; camera_id: number | null } | undefined {
    return this.#db.prepare('SELECT kind, content_type, data, sha256, ref, camera_id FROM case_attachments WHERE case_id = ? AND id = ?').get(caseId, id) as never
  }

  countOpenInUnit(unitId: number): number {
    return this.#db.prepare(`SELECT count(*) FROM cases WHERE unit_id = ? AND state NOT IN ('closed', 'archived')`).pluck().get(unitId) as number
  }

  countDoneInUnit(unitId: number): number {
    return this.#db.prepare(`SELECT count(*) FROM cases WHERE unit_id = ? AND state IN ('closed', 'archived')`).pluck().get(unitId) as number
  }

  /** Overdue cases not yet announced. */
  overdueUnnotified(now: string, limit: number): CaseRow[] {
    return this.#db.prepare(`${SELECT} WHERE c.overdue_notified = 0 AND c.state IN (${UNRESOLVED_SQL}) AND ${OVERDUE_SQL} LIMIT @limit`).all({ now, limit }) as CaseRow[]
  }

  /** Cases opened in [from, to) in the subtree, counted by kind. */
  countByKind(path: string, from: string, to: string): Record<string, number> {
    const { lo, hi } = subtreeRange(path)
    const rows = this.#db
      .prepare('SELECT c.kind, count(*) AS n FROM cases c JOIN units u ON u.id = c.unit_id WHERE u.path >= ? AND u.path < ? AND c.created_at >= ? AND c.created_at < ? GROUP BY c.kind')
      .all(lo, hi, from, to) as { kind: string; n: number }[]
    return Object.fromEntries(rows.map((r) => [r.kind, r.n]))
  }
}

export function toView(r: CaseRow, cameras: { id: number; name: string }[], now: string): CaseView {
  return {
    id: r.id,
    number: r.number,
    kind: r.kind,
    priority: r.priority,
    state: r.state,
    title: r.title,
    description: r.description,
    unit: { id: r.unit_id, code: r.unit_code, name: r.unit_name },
    assignee: r.assignee_id === null ? null : { id: r.assignee_id, username: r.assignee_username ?? '', displayName: r.assignee_name ?? '' },
    cameras,
    sourceAlarmId: r.source_alarm_id,
    occurrences: r.occurrences,
    firstSeenAt: r.first_seen_at,
    lastSeenAt: r.last_seen_at,
    notifyStreet: r.notify_street === 1,
    location: r.location ? (JSON.parse(r.location) as CaseView['location']) : null,
    deadlines: { acknowledgeBy: r.ack_due_at, resolveBy: r.resolve_due_at },
    acknowledgedAt: r.acknowledged_at,
    resolvedAt: r.resolved_at,
    closedAt: r.closed_at,
    archivedAt: r.archived_at,
    overdue: overdueOf(r, now),
    allowedTransitions: [...TRANSITIONS[r.state]],
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}
