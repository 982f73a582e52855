import { createHash, randomBytes } from 'node:crypto'
import { inTransaction, type Db } from '../../core/db.js'
import { NotFoundError, UnauthenticatedError, UnprocessableError, ValidationError } from '../../core/errors.js'
import type { EventBus } from '../../core/events.js'
import { decodeCursor, encodeCursor } from '../../core/http/cursor.js'
import { scopeOf, type Principal } from '../../core/scope.js'
import type { AuditLog } from '../audit/index.js'
import type { CasesService } from '../cases/index.js'
import { ALARM_KINDS, type AlarmKind } from '../cases/index.js'
import type { OrgService } from '../org/index.js'
import type { AlarmIngest, IngestResult } from './ingest.js'
import type { AlarmRule, EffectiveRule } from './rules.js'
import type { AlarmStore, AlarmView, SourceRow } from './store.js'

export interface AlarmSourceView {
  id: number
  name: string
  unit: { id: number; code: string }
  tokenHint: string
  enabled: boolean
  createdBy: string
  createdAt: string
  lastUsedAt: string | null
}

const toSource = (r: SourceRow): AlarmSourceView => ({
  id: r.id,
  name: r.name,
  unit: { id: r.unit_id, code: r.unit_code },
  tokenHint: r.token_hint,
  enabled: r.enabled === 1,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
})

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex')

export interface WebhookAlarm {
  kind: AlarmKind
  cameraId?: number
  cameraSerial?: string
  unitCode?: string
  occurredAt?: string
  description?: string
  location?: { lat?: number | null; lon?: number | null; address?: string | null }
  externalId?: string
  payload?: unknown
}

/** Alarm sources (webhook tokens), the alarm list, rules, and the webhook's checks before ingest. */
export class AlarmsService {
  readonly #db: Db
  readonly #store: AlarmStore
  readonly #ingest: AlarmIngest
  readonly #org: OrgService
  readonly #audit: AuditLog
  readonly #pageSizeMax: number

  constructor(deps: { db: Db; store: AlarmStore; ingest: AlarmIngest; org: OrgService; audit: AuditLog; cases: CasesService; bus: EventBus; pageSizeMax: number }) {
    this.#db = deps.db
    this.#store = deps.store
    this.#ingest = deps.ingest
    this.#org = deps.org
    this.#audit = deps.audit
    this.#pageSizeMax = deps.pageSizeMax
    deps.org.registerUsage({ what: 'alarm sources', count: (unitId) => this.#store.countSourcesInUnit(unitId) })
  }

  get ingest(): AlarmIngest {
    return this.#ingest
  }

  // --- sources --------------------------------------------------------------------------------

  createSource(actor: Principal, input: { name: string; unitId: number }, client?: string): AlarmSourceView & { token: string } {
    const unit = this.#org.get(scopeOf(actor), input.unitId)
    const token = `gwa_${randomBytes(32).toString('base64url')}`
    return inTransaction(this.#db, () => {
      const id = this.#store.insertSource({ name: input.name, unitId: unit.id, tokenHash: hashToken(token), tokenHint: `${token.slice(0, 8)}…`, createdBy: actor.username })
      this.#audit.record({ actor, action: 'alarm_source.create', target: { type: 'alarm_source', id }, unitPath: unit.path, client, detail: { name: input.name, unit: unit.code } })
      return { ...toSource(this.#store.source(scopeOf(actor), id)!), token }
    })
  }

  listSources(actor: Principal): AlarmSourceView[] {
    return this.#store.sources(scopeOf(actor)).map(toSource)
  }

  setSourceEnabled(actor: Principal, id: number, enabled: boolean, client?: string): AlarmSourceView {
    return inTransaction(this.#db, () => {
      const s = this.#store.source(scopeOf(actor), id)
      if (!s) throw new NotFoundError('alarm source', id)
      this.#store.setSourceEnabled(id, enabled)
      this.#audit.record({ actor, action: enabled ? 'alarm_source.enable' : 'alarm_source.disable', target: { type: 'alarm_source', id }, unitPath: s.unit_path, client, detail: { name: s.name } })
      return toSource(this.#store.source(scopeOf(actor), id)!)
    })
  }

  /** The source a webhook token belongs to; 401 when unknown or disabled. */
  authenticateSource(token: string | undefined): SourceRow {
    if (!token) throw new UnauthenticatedError('send the alarm source token in the X-Alarm-Token header')
    const s = this.#store.sourceByHash(hashToken(token))
    if (!s || s.enabled !== 1) throw new UnauthenticatedError('unknown or disabled alarm source token')
    return s
  }

  // --- webhook --------------------------------------------------------------------------------

  /** Validates a webhook alarm against its source's subtree and ingests it; resolves after the commit. */
  async receive(source: SourceRow, body: WebhookAlarm): Promise<IngestResult> {
    const inSubtree = (path: string) => path.startsWith(source.unit_path)
    let camera = undefined
    if (body.cameraId !== undefined) {
      camera = this.#store.camera(body.cameraId)
      const unit = camera && this.#ingest.unit(camera.unitId)
      if (!camera || !unit || !inSubtree(unit.path)) throw new UnprocessableError(`camera ${body.cameraId} not found for this source`, [{ field: 'body.cameraId', message: 'no such camera in this source’s units' }])
    } else if (body.cameraSerial !== undefined) {
      camera = this.#store.cameraBySerial(body.cameraSerial)
      const unit = camera && this.#ingest.unit(camera.unitId)
      if (!camera || !unit || !inSubtree(unit.path)) throw new UnprocessableError(`camera serial ${body.cameraSerial} not found for this source`, [{ field: 'body.cameraSerial', message: 'no such camera in this source’s units' }])
    }
    let unit = camera ? this.#ingest.unit(camera.unitId) : undefined
    if (!camera) {
      if (body.unitCode === undefined) {
        throw new ValidationError('name the camera (cameraId or cameraSerial) or the unit (unitCode) the alarm comes from', [{ field: 'body.cameraId', message: 'cameraId, cameraSerial or unitCode is required' }])
      }
      const u = this.#org.findByCode({ unitId: source.unit_id, unitPath: source.unit_path, seesPrivateSiteCameras: true }, body.unitCode)
      if (!u) throw new UnprocessableError(`unit ${body.unitCode} not found for this source`, [{ field: 'body.unitCode', message: 'no such unit in this source’s subtree' }])
      unit = u
    }
    const occurredAt = body.occurredAt ? new Date(body.occurredAt).toISOString() : new Date().toISOString()
    return this.#ingest.submit({
      kind: body.kind,
      origin: 'webhook',
      source: { id: source.id, name: source.name },
      camera: camera ?? null,
      unit: unit!,
      occurredAt,
      description: body.description ?? null,
      location: body.location ? { lat: body.location.lat ?? null, lon: body.location.lon ?? null, address: body.location.address ?? null } : null,
      externalId: body.externalId ?? null,
      payload: body.payload,
    })
  }

  // --- list -----------------------------------------------------------------------------------

  list(actor: Principal, filter: { kind?: AlarmKind; cameraId?: number; unitId?: number; caseId?: number }, cursor: string | undefined, limit: number): { items: AlarmView[]; nextCursor: string | null } {
    const scope = scopeOf(actor)
    const underPath = filter.unitId === undefined ? undefined : this.#org.get(scope, filter.unitId).path
    const size = Math.min(limit, this.#pageSizeMax)
    const rows = this.#store.list(scope, { kind: filter.kind, cameraId: filter.cameraId, caseId: filter.caseId, underPath }, decodeCursor('alarm', cursor), size + 1)
    const items = rows.slice(0, size)
    return { items, nextCursor: rows.length > size ? encodeCursor('alarm', items.at(-1)!.id) : null }
  }

  // --- rules ----------------------------------------------------------------------------------

  rules(actor: Principal, unitId: number | undefined): { unit: { id: number; code: string }; rules: EffectiveRule[] } {
    const id = unitId ?? actor.unitId
    if (id === null || id === undefined) throw ValidationError.field('query.unit', 'is required for a user not bound to a unit')
    const unit = this.#org.get(scopeOf(actor), id)
    return { unit: { id: unit.id, code: unit.code }, rules: ALARM_KINDS.map((k) => this.#ingest.effectiveRule(unit, k)) }
  }

  putRule(actor: Principal, input: { unitId: number; kind: AlarmKind } & Partial<AlarmRule>, client?: string): EffectiveRule {
    const unit = this.#org.get(scopeOf(actor), input.unitId)
    const current = this.#ingest.effectiveRule(unit, input.kind)
    const rule: AlarmRule = {
      action: input.action ?? current.action,
      priority: input.priority ?? current.priority,
      handlingTier: input.handlingTier ?? current.handlingTier,
      notifyStreet: input.notifyStreet ?? current.notifyStreet,
    }
    inTransaction(this.#db, () => {
      this.#store.upsertRule(unit.id, input.kind, rule, actor.username)
      this.#audit.record({ actor, action: 'alarm_rule.put', target: { type: 'unit', id: unit.id }, unitPath: unit.path, client, detail: { kind: input.kind, ...rule } })
    })
    this.#ingest.reloadRules()
    return this.#ingest.effectiveRule(unit, input.kind)
  }

  deleteRule(actor: Principal, unitId: number, kind: AlarmKind, client?: string): void {
    const unit = this.#org.get(scopeOf(actor), unitId)
    const removed = inTransaction(this.#db, () => {
      const ok = this.#store.deleteRule(unit.id, kind)
      if (ok) this.#audit.record({ actor, action: 'alarm_rule.delete', target: { type: 'unit', id: unit.id }, unitPath: unit.path, client, detail: { kind } })
      return ok
    })
    if (!removed) throw new NotFoundError(`alarm rule ${kind} of unit`, unit.code)
    this.#ingest.reloadRules()
  }
}
