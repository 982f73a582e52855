import { createHash } from 'node:crypto'
import { inTransaction, type Db } from '../../core/db.js'
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../../core/errors.js'
import type { EventBus } from '../../core/events.js'
import { decodeCursor, encodeCursor } from '../../core/http/cursor.js'
import { scopeOf, SYSTEM_SCOPE, type Principal, type Scope } from '../../core/scope.js'
import type { AuditLog } from '../audit/index.js'
import type { AuthService, PublicUser } from '../auth/index.js'
import type { StreamPublisher } from '../events/index.js'
import type { OrgService, Unit } from '../org/index.js'
import type { RegistryService } from '../registry/index.js'
import { isOneButton, TRANSITIONS, type AlarmKind, type CaseDetail, type CaseState, type CaseView, type DeadlineSettings, type Priority, type SnapshotSource } from './model.js'
import { CaseStore, toView, type CaseFilter, type CaseRow } from './store.js'

export interface CaseActor {
  name: string
  id: number | null
}
export const actorOf = (p: Principal): CaseActor => ({ name: p.username, id: p.userId > 0 ? p.userId : null })

export interface OpenCaseInput {
  kind: AlarmKind
  priority: Priority
  title: string
  description?: string | null
  unit: Pick<Unit, 'id' | 'path'>
  cameras: { id: number; name: string }[]
  /** the camera repeated alarms merge on (null for boxes and manual cases) */
  mergeCameraId: number | null
  sourceAlarmId: number | null
  notifyStreet: boolean
  location?: { lat: number | null; lon: number | null; address: string | null } | null
  assigneeId?: number | null
  at: string
  actor: CaseActor
}

export interface CaseSettings {
  deadlines: DeadlineSettings
  pageSizeMax: number
}

/** 409 `case_closed`: a closed or archived case is done with; it is not handed up any more. */
export class CaseClosedError extends ConflictError {
  override readonly code: string = 'case_closed'
}

/** A backstop: the snapshot source has its own deadlines (media: snapshotTimeoutSeconds). */
const SNAPSHOT_TIMEOUT_MS = 30_000

/**
 * Cases: numbering, the workflow, escalation, assignment, the timeline, attachments and deadlines.
 * Every change writes its timeline row and its push-stream event in the same transaction.
 */
export class CasesService {
  readonly #db: Db
  readonly #store: CaseStore
  readonly #org: OrgService
  readonly #auth: AuthService
  readonly #registry: RegistryService
  readonly #audit: AuditLog
  readonly #bus: EventBus
  readonly #stream: StreamPublisher
  readonly #settings: CaseSettings
  #snapshots: SnapshotSource | null = null
  readonly #pending = new Set<Promise<void>>()
  readonly #deferred: (() => void)[] = []

  constructor(deps: { db: Db; org: OrgService; auth: AuthService; registry: RegistryService; audit: AuditLog; bus: EventBus; stream: StreamPublisher; settings: CaseSettings; snapshots?: SnapshotSource | null }) {
    this.#db = deps.db
    this.#store = new CaseStore(deps.db)
    this.#org = deps.org
    this.#auth = deps.auth
    this.#registry = deps.registry
    this.#audit = deps.audit
    this.#bus = deps.bus
    this.#stream = deps.stream
    this.#settings = deps.settings
    this.#snapshots = deps.snapshots ?? null
    deps.org.registerUsage({ what: 'open cases', count: (unitId) => this.#store.countOpenInUnit(unitId) })
    // closed and archived cases keep their unit (case history is evidence): they block deletion too, with a clear 409
    deps.org.registerUsage({ what: 'closed or archived cases', count: (unitId) => this.#store.countDoneInUnit(unitId) })
  }

  /** Where snapshots at alarm time come from; null: none (the timeline says so). */
  setSnapshotSource(source: SnapshotSource | null): void {
    this.#snapshots = source
  }

  // --- reading ------------------------------------------------------------------------------

  list(principal: Principal, filter: Omit<CaseFilter, 'underPath'> & { unitId?: number }, cursor: string | undefined, limit: number): { items: CaseView[]; nextCursor: string | null } {
    const scope = scopeOf(principal)
    const underPath = filter.unitId === undefined ? undefined : this.#org.get(scope, filter.unitId).path
    const size = Math.min(limit, this.#settings.pageSizeMax)
    const now = new Date().toISOString()
    const rows = this.#store.list(scope, { ...filter, underPath }, decodeCursor('case', cursor), size + 1, now)
    const items = rows.slice(0, size).map((r) => {
      const hidden = this.#store.hiddenCameras(scope, r.id)
      return toView(r, this.#store.cameras(r.id).filter((c) => !hidden.has(c.id)), now)
    })
    return { items, nextCursor: rows.length > size ? encodeCursor('case', items.at(-1)!.id) : null }
  }

  get(principal: Principal, id: number): CaseDetail {
    const scope = scopeOf(principal)
    return this.#detail(this.#row(scope, id), scope)
  }

  /** For the system (tests, alarms): no scope. */
  getUnscoped(id: number): CaseDetail | undefined {
    const row = this.#store.get(id)
    return row && this.#detail(row, SYSTEM_SCOPE)
  }

  attachment(principal: Principal, caseId: number, attachmentId: number, client?: string): { contentType: string; data: Buffer; sha256: string | null } {
    const scope = scopeOf(principal)
    const row = this.#row(scope, caseId)
    const a = this.#store.attachment(caseId, attachmentId)
    // a picture or footage of a camera the caller may not see (内保外用) does not exist for them
    if (!a || (a.camera_id !== null && this.#store.hiddenCameras(scope, caseId).has(a.camera_id))) throw new NotFoundError('attachment', attachmentId)
    this.#audit.record({ actor: principal, action: 'case.attachment_export', target: { type: 'case', id: caseId }, unitPath: row.unit_path, client, detail: { number: row.number, attachmentId, kind: a.kind, sha256: a.sha256 } })
    if (a.kind === 'footage' || !a.data) return { contentType: 'application/json', data: Buffer.from(a.ref ?? '{}'), sha256: null }
    return { contentType: a.content_type ?? 'application/octet-stream', data: a.data, sha256: a.sha256 }
  }

  // --- opening (the alarms feature calls these inside its own transaction) --------------------

  /** Opens a case. Must run inside a transaction; the caller calls afterOpen() once committed. */
  openInTransaction(input: OpenCaseInput): CaseRow {
    const at = input.at
    const d = this.#settings.deadlines[input.priority]
    const created = Date.parse(at)
    const number = this.#store.nextNumber(new Date(created).getUTCFullYear())
    const id = this.#store.insert({
      number,
      kind: input.kind,
      priority: input.priority,
      title: input.title,
      description: input.description ?? null,
      unitId: input.unit.id,
      assigneeId: input.assigneeId ?? null,
      cameraId: input.mergeCameraId,
      sourceAlarmId: input.sourceAlarmId,
      at,
      notifyStreet: input.notifyStreet,
      location: input.location ? JSON.stringify(input.location) : null,
      ackDueAt: new Date(created + d.acknowledgeMinutes * 60_000).toISOString(),
      resolveDueAt: new Date(created + d.resolveMinutes * 60_000).toISOString(),
      createdBy: input.actor.name,
    })
    for (const c of input.cameras) this.#store.addCamera(id, c.id, c.name)
    this.#store.appendTimeline(id, input.actor, 'registered', { kind: input.kind, priority: input.priority, unitId: input.unit.id, sourceAlarmId: input.sourceAlarmId, assigneeId: input.assigneeId ?? null }, at)
    const row = this.#store.get(id)!
    this.#stream.publish('case.created', row.unit_path, { case: this.#summary(row), notifyStreet: input.notifyStreet })
    return row
  }

  /** Merges `n` more occurrences into an open case (debounce / rate-limited flood). In a transaction. */
  addOccurrencesInTransaction(caseId: number, n: number, at: string, actor: CaseActor, detail: Record<string, unknown> = {}): void {
    this.#store.addOccurrences(caseId, n, at)
    this.#store.appendTimeline(caseId, actor, 'occurrence', { added: n, ...detail })
    const row = this.#store.get(caseId)!
    this.#stream.publish('case.updated', row.unit_path, { case: this.#summary(row), change: 'occurrence', added: n })
  }

  mergeable(cameraId: number, kind: AlarmKind, since: string): { id: number; unit_id: number; occurrences: number; number: string } | undefined {
    if (isOneButton(kind)) return undefined
    return this.#store.mergeable(cameraId, kind, since)
  }

  /** Open case of this camera and kind regardless of age (camera_offline: online after the case adds a note). */
  openCaseOf(cameraId: number, kind: AlarmKind): number | undefined {
    return this.#store.mergeable(cameraId, kind, '')?.id
  }

  noteInTransaction(caseId: number, actor: CaseActor, text: string, detail: Record<string, unknown> = {}): void {
    this.#store.appendTimeline(caseId, actor, 'note', { text, ...detail })
    this.#store.update(caseId, {})
    const row = this.#store.get(caseId)!
    this.#stream.publish('case.updated', row.unit_path, { case: this.#summary(row), change: 'note' })
  }

  /** A system note in its own transaction (e.g. the camera came back online). */
  noteWithTransaction(caseId: number, actor: CaseActor, text: string, detail: Record<string, unknown> = {}): void {
    inTransaction(this.#db, () => this.noteInTransaction(caseId, actor, text, detail))
  }

  /** After the opening transaction committed: announce, and take the snapshot (never awaited by the opener). */
  afterOpen(row: CaseRow, snapshotCameraId: number | null): void {
    this.#bus.emit('case.opened', { caseId: row.id, number: row.number, kind: row.kind, priority: row.priority, unitId: row.unit_id })
    if (snapshotCameraId !== null) this.#takeSnapshot(row.id, snapshotCameraId)
  }

  /** Resolves when every snapshot in flight has been stored or noted (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#pending.size || this.#deferred.length) {
      await Promise.allSettled([...this.#pending])
      await new Promise((r) => setImmediate(r))
    }
  }

  /** A footage reference (recordings feature): a recording id or a camera and time range. */
  addFootage(caseId: number, ref: { recordingId?: number | string; cameraId: number; from: string; to: string }, actor: CaseActor): number {
    return inTransaction(this.#db, () => {
      const row = this.#store.get(caseId)
      if (!row) throw new NotFoundError('case', caseId)
      this.#assertWritable(row)
      const id = this.#store.insertAttachment({ caseId, kind: 'footage', contentType: null, data: null, sha256: null, ref, cameraId: ref.cameraId, takenAt: new Date().toISOString() })
      this.#store.appendTimeline(caseId, actor, 'attachment', { attachmentId: id, kind: 'footage', ...ref })
      this.#stream.publish('case.updated', row.unit_path, { case: this.#summary(row), change: 'attachment' })
      return id
    })
  }

  // --- manual cases ---------------------------------------------------------------------------

  create(actor: Principal, input: { kind: AlarmKind; priority?: Priority; title: string; description?: string | null; unitId?: number; cameraIds?: number[]; snapshot?: boolean; assigneeId?: number | null }, client?: string): CaseDetail {
    const scope = scopeOf(actor)
    const cameras = (input.cameraIds ?? []).map((id, i) => {
      try {
        return this.#registry.getForUse(scope, id).camera
      } catch {
        throw new UnprocessableError(`camera ${id} not found`, [{ field: `body.cameraIds.${i}`, message: 'no such camera in your scope' }])
      }
    })
    const unitId = input.unitId ?? actor.unitId ?? cameras[0]?.unitId
    if (unitId === undefined || unitId === null) throw ValidationError.field('body.unitId', 'is required for a user not bound to a unit')
    let unit: Unit
    try {
      unit = this.#org.get(scope, unitId)
    } catch {
      throw new UnprocessableError(`unit ${unitId} not found`, [{ field: 'body.unitId', message: 'no such unit in your scope' }])
    }
    const row = inTransaction(this.#db, () => {
      if (input.assigneeId) this.#assertAssignable(scope, input.assigneeId, unit.path, 'body.assigneeId')
      const row = this.openInTransaction({
        kind: input.kind,
        priority: input.priority ?? 'normal',
        title: input.title,
        description: input.description ?? null,
        unit,
        cameras: cameras.map((c) => ({ id: c.id, name: c.name })),
        mergeCameraId: null,
        sourceAlarmId: null,
        notifyStreet: isOneButton(input.kind),
        assigneeId: input.assigneeId ?? null,
        at: new Date().toISOString(),
        actor: actorOf(actor),
      })
      this.#audit.record({ actor, action: 'case.create', target: { type: 'case', id: row.id }, unitPath: unit.path, client, detail: { number: row.number, kind: row.kind } })
      return row
    })
    this.afterOpen(row, input.snapshot && cameras[0] ? cameras[0].id : null)
    return this.#detail(this.#store.get(row.id)!, scope)
  }

  // --- workflow ---------------------------------------------------------------------------------

  transition(actor: Principal, id: number, to: CaseState, options: { comment?: string; assigneeId?: number }, client?: string): CaseDetail {
    let from = ''
    const row = inTransaction(this.#db, () => {
      const row = this.#row(scopeOf(actor), id)
      this.#assertWritable(row)
      const allowed = TRANSITIONS[row.state]
      if (!allowed.includes(to)) {
        throw new ConflictError(`a ${row.state} case cannot go to ${to}; allowed: ${allowed.join(', ') || 'none'}`, [{ field: 'body.to', message: `must be one of: ${allowed.join(', ') || '(none)'}` }], { from: row.state, allowed: [...allowed] })
      }
      from = row.state
      const now = new Date().toISOString()
      const fields: Record<string, unknown> = { state: to }
      if (to === 'dispatched' && !row.acknowledged_at) fields.acknowledged_at = now
      if (to === 'resolved') fields.resolved_at = now
      if (to === 'in_progress' && row.state === 'resolved') fields.resolved_at = null
      if (to === 'closed') fields.closed_at = now
      if (to === 'archived') fields.archived_at = now
      if (options.assigneeId !== undefined) {
        this.#assertAssignable(scopeOf(actor), options.assigneeId, row.unit_path, 'body.assigneeId')
        fields.assignee_id = options.assigneeId
      }
      this.#store.update(id, fields)
      this.#store.appendTimeline(id, actorOf(actor), 'transition', { from: row.state, to, ...(options.comment ? { comment: options.comment } : {}), ...(options.assigneeId !== undefined ? { assigneeId: options.assigneeId } : {}) }, now)
      const after = this.#store.get(id)!
      this.#stream.publish('case.transition', after.unit_path, { case: this.#summary(after), from: row.state, to })
      this.#audit.record({ actor, action: 'case.transition', target: { type: 'case', id }, unitPath: after.unit_path, client, detail: { number: row.number, from: row.state, to, comment: options.comment ?? null } })
      return after
    })
    this.#bus.emit('case.transition', { caseId: id, from, to, unitId: row.unit_id })
    return this.#detail(row, scopeOf(actor))
  }

  escalate(actor: Principal, id: number, reason: string, client?: string): CaseDetail {
    const { row, fromUnitId } = inTransaction(this.#db, () => {
      const row = this.#row(scopeOf(actor), id)
      if (row.state === 'closed' || row.state === 'archived') throw new CaseClosedError(`case ${row.number} is ${row.state}; only an open case can be escalated`, [], { state: row.state, allowed: [] })
      this.#assertWritable(row)
      const unit = this.#org.getUnscoped(row.unit_id)!
      if (unit.parentId === null) throw new ConflictError(`case ${row.number} is already at the street (${unit.code}); it cannot go higher`, [], { allowed: [] })
      const parent = this.#org.getUnscoped(unit.parentId)!
      // the assignee sat in the old unit's subtree and may no longer see the case
      this.#store.update(id, { unit_id: parent.id, assignee_id: null, overdue_notified: 0 })
      this.#store.appendTimeline(id, actorOf(actor), 'escalation', { reason, fromUnitId: unit.id, fromUnit: unit.code, toUnitId: parent.id, toUnit: parent.code, previousAssigneeId: row.assignee_id })
      const after = this.#store.get(id)!
      this.#stream.publish('case.escalated', parent.path, { case: this.#summary(after), fromUnitId: unit.id, toUnitId: parent.id, reason })
      this.#audit.record({ actor, action: 'case.escalate', target: { type: 'case', id }, unitPath: parent.path, client, detail: { number: row.number, from: unit.code, to: parent.code, reason } })
      return { row: after, fromUnitId: unit.id }
    })
    this.#bus.emit('case.escalated', { caseId: id, fromUnitId, toUnitId: row.unit_id })
    return this.#detail(row, scopeOf(actor))
  }

  update(actor: Principal, id: number, changes: { assigneeId?: number | null; priority?: Priority; title?: string; description?: string | null }, client?: string): CaseDetail {
    const row = inTransaction(this.#db, () => {
      const row = this.#row(scopeOf(actor), id)
      this.#assertWritable(row)
      const fields: Record<string, unknown> = {}
      const who = actorOf(actor)
      if (changes.assigneeId !== undefined && changes.assigneeId !== row.assignee_id) {
        if (changes.assigneeId !== null) this.#assertAssignable(scopeOf(actor), changes.assigneeId, row.unit_path, 'body.assigneeId')
        fields.assignee_id = changes.assigneeId
        this.#store.appendTimeline(id, who, 'assignment', { from: row.assignee_id, to: changes.assigneeId })
        this.#audit.record({ actor, action: 'case.assign', target: { type: 'case', id }, unitPath: row.unit_path, client, detail: { number: row.number, from: row.assignee_id, to: changes.assigneeId } })
      }
      const edits: Record<string, unknown> = {}
      if (changes.priority !== undefined && changes.priority !== row.priority) {
        const d = this.#settings.deadlines[changes.priority]
        const created = Date.parse(row.created_at)
        fields.priority = changes.priority
        fields.ack_due_at = new Date(created + d.acknowledgeMinutes * 60_000).toISOString()
        fields.resolve_due_at = new Date(created + d.resolveMinutes * 60_000).toISOString()
        fields.overdue_notified = 0
        edits.priority = { from: row.priority, to: changes.priority }
      }
      if (changes.title !== undefined && changes.title !== row.title) {
        fields.title = changes.title
        edits.title = { from: row.title, to: changes.title }
      }
      if (changes.description !== undefined && changes.description !== row.description) {
        fields.description = changes.description
        edits.description = true
      }
      if (Object.keys(edits).length) this.#store.appendTimeline(id, who, 'update', edits)
      if (!Object.keys(fields).length) return row
      this.#store.update(id, fields)
      const after = this.#store.get(id)!
      this.#stream.publish('case.updated', after.unit_path, { case: this.#summary(after), change: 'edit', fields: Object.keys(fields) })
      return after
    })
    return this.#detail(row, scopeOf(actor))
  }

  comment(actor: Principal, id: number, text: string): CaseDetail {
    const row = inTransaction(this.#db, () => {
      const row = this.#row(scopeOf(actor), id)
      this.#assertWritable(row)
      this.#store.appendTimeline(id, actorOf(actor), 'comment', { text })
      this.#store.update(id, {})
      const after = this.#store.get(id)!
      this.#stream.publish('case.updated', after.unit_path, { case: this.#summary(after), change: 'comment' })
      return after
    })
    return this.#detail(row, scopeOf(actor))
  }

  /** Announces newly overdue cases, once each. Returns how many. */
  sweepOverdue(now = new Date()): number {
    const iso = now.toISOString()
    return inTransaction(this.#db, () => {
      const rows = this.#store.overdueUnnotified(iso, 500)
      for (const r of rows) {
        const overdue = toView(r, [], iso).overdue
        this.#store.update(r.id, { overdue_notified: 1 })
        this.#store.appendTimeline(r.id, { name: 'system:deadlines', id: null }, 'overdue', { acknowledge: overdue.acknowledge, resolve: overdue.resolve })
        this.#stream.publish('case.overdue', r.unit_path, { case: this.#summary(r), overdue })
      }
      return rows.length
    })
  }

  /** Technicians of a unit, for fault cases. */
  technicianOf(unitId: number): number | null {
    const techs = this.#auth.list(SYSTEM_SCOPE, { unitId, role: 'technician' }).filter((u) => !u.disabled)
    return techs[0]?.id ?? null
  }

  countByKind(path: string, from: string, to: string): Record<string, number> {
    return this.#store.countByKind(path, from, to)
  }

  // --- helpers ----------------------------------------------------------------------------------

  #row(scope: Scope, id: number): CaseRow {
    const row = this.#store.getScoped(scope, id)
    if (!row) throw new NotFoundError('case', id)
    return row
  }

  #assertWritable(row: CaseRow): void {
    if (row.state === 'archived') throw new ConflictError(`case ${row.number} is archived and read-only`, [], { allowed: [] })
  }

  /**
   * The assignee must be an enabled user who can see the case: their unit is the case's unit or
   * above it. A user the caller may not see (outside the caller's subtree) who cannot be assigned
   * is "not found", exactly like an id that does not exist: the answer names no one and does not
   * tell which ids exist elsewhere.
   */
  #assertAssignable(callerScope: Scope, userId: number, casePath: string, field: string): void {
    const notFound = () => new UnprocessableError(`user ${userId} not found`, [{ field, message: 'no such user' }])
    let u: PublicUser | undefined
    try {
      u = this.#auth.get(SYSTEM_SCOPE, userId)
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
    }
    if (!u || u.disabled) throw notFound()
    const path = u.unitId === null ? '/' : this.#org.getUnscoped(u.unitId)?.path
    if (path !== undefined && casePath.startsWith(path)) return
    try {
      this.#auth.get(callerScope, userId)
    } catch (err) {
      if (err instanceof NotFoundError) throw notFound()
      throw err
    }
    throw new UnprocessableError(`user ${u.username} cannot see this case`, [{ field, message: 'the user must belong to the case unit or a unit above it' }])
  }

  /**
   * What the push stream says about a case. It goes to everyone who sees the case's unit, so a site
   * camera that is not shared upward is not named (the case itself is still theirs to handle).
   */
  #summary(r: CaseRow): Record<string, unknown> {
    const cameraId = r.camera_id !== null && this.#store.isSitePrivateCamera(r.camera_id) ? null : r.camera_id
    return { id: r.id, number: r.number, kind: r.kind, priority: r.priority, state: r.state, title: r.title, unitId: r.unit_id, cameraId, occurrences: r.occurrences, lastSeenAt: r.last_seen_at, assigneeId: r.assignee_id }
  }

  /**
   * A case as `scope` sees it. A case on a camera the caller may not see (a site camera not shared
   * upward, seen from a patrol or research role above the site) is still shown — its unit handles
   * it — but without what comes from the camera: its name in `cameras`, its snapshots and footage
   * (attachments and their timeline entries) and the camera's alarms.
   */
  #detail(row: CaseRow, scope: Scope): CaseDetail {
    const now = new Date().toISOString()
    const hidden = this.#store.hiddenCameras(scope, row.id)
    const names = (detail: Record<string, unknown>) => typeof detail.cameraId === 'number' && hidden.has(detail.cameraId)
    return {
      ...toView(row, this.#store.cameras(row.id).filter((c) => !hidden.has(c.id)), now),
      timeline: this.#store.timeline(row.id).map((e) => (names(e.detail) ? { ...e, detail: { cameraHidden: true } } : e)),
      attachments: this.#store.attachments(row.id).filter((a) => a.cameraId === null || !hidden.has(a.cameraId)),
      alarmIds: this.#store.alarmIds(row.id, hidden),
    }
  }

  /** A site camera not shared upward (内保外用): cases opened on it are not titled with its name. */
  isSitePrivateCamera(cameraId: number): boolean {
    return this.#store.isSitePrivateCamera(cameraId)
  }

  /**
   * Writes that follow a committed change (snapshot results, their notes) are grouped: everything
   * queued in one tick commits in one transaction, so a burst of new cases costs one fsync, not one each.
   */
  #later(fn: () => void): void {
    this.#deferred.push(fn)
    if (this.#deferred.length === 1) {
      setImmediate(() => {
        const fns = this.#deferred.splice(0)
        try {
          inTransaction(this.#db, () => {
            for (const f of fns) f()
          })
        } catch {
          // one failed: write the others alone
          for (const f of fns) {
            try {
              inTransaction(this.#db, f)
            } catch {
              /* the gateway is closing, or the case is gone */
            }
          }
        }
      })
    }
  }

  #takeSnapshot(caseId: number, cameraId: number): void {
    const actor = { name: 'system:snapshot', id: null }
    const source = this.#snapshots
    const note = (detail: Record<string, unknown>) =>
      this.#later(() => {
        const row = this.#store.get(caseId)
        if (!row) return
        this.#store.appendTimeline(caseId, actor, 'snapshot', detail)
        this.#stream.publish('case.updated', row.unit_path, { case: this.#summary(row), change: 'snapshot' })
      })
    if (!source) {
      note({ ok: false, cameraId, reason: 'no snapshot source' })
      return
    }
    const takenAt = new Date().toISOString()
    let timer: NodeJS.Timeout | undefined
    const p: Promise<void> = Promise.race([
      source.snapshot(cameraId),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no snapshot within ${SNAPSHOT_TIMEOUT_MS / 1000} s`)), SNAPSHOT_TIMEOUT_MS)
        timer.unref()
      }),
    ])
      .then((shot) => {
        const sha256 = createHash('sha256').update(shot.data).digest('hex')
        this.#later(() => {
          const row = this.#store.get(caseId)
          if (!row) return
          const id = this.#store.insertAttachment({ caseId, kind: 'snapshot', contentType: shot.contentType, data: shot.data, sha256, ref: null, cameraId, takenAt })
          this.#store.appendTimeline(caseId, actor, 'snapshot', { ok: true, cameraId, attachmentId: id, sha256, size: shot.data.length })
          this.#stream.publish('case.updated', row.unit_path, { case: this.#summary(row), change: 'snapshot', attachmentId: id })
        })
      })
      .catch((err: unknown) => note({ ok: false, cameraId, reason: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        clearTimeout(timer)
        this.#pending.delete(p)
      })
    this.#pending.add(p)
  }
}
