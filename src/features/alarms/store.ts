import type { Db } from '../../core/db.js'
import { cameraVisibilityParams, cameraVisibleSql, subtreeRange, type Scope } from '../../core/scope.js'
import type { AlarmKind } from '../cases/index.js'
import type { AlarmRule, HandlingTier } from './rules.js'

export type AlarmOrigin = 'webhook' | 'onvif' | 'health'
export type AlarmOutcome = 'opened' | 'merged' | 'logged'

export interface AlarmView {
  id: number
  receivedAt: string
  occurredAt: string
  kind: AlarmKind
  origin: AlarmOrigin
  sourceId: number | null
  externalId: string | null
  cameraId: number | null
  unitId: number
  topic: string | null
  payload: unknown
  description: string | null
  location: { lat: number | null; lon: number | null; address: string | null } | null
  caseId: number | null
  caseNumber: string | null
  outcome: AlarmOutcome
}

interface AlarmRow {
  id: number
  received_at: string
  occurred_at: string
  kind: AlarmKind
  origin: AlarmOrigin
  source_id: number | null
  external_id: string | null
  camera_id: number | null
  unit_id: number
  topic: string | null
  payload: string | null
  description: string | null
  location: string | null
  case_id: number | null
  case_number: string | null
  outcome: AlarmOutcome
}

const toAlarm = (r: AlarmRow): AlarmView => ({
  id: r.id,
  receivedAt: r.received_at,
  occurredAt: r.occurred_at,
  kind: r.kind,
  origin: r.origin,
  sourceId: r.source_id,
  externalId: r.external_id,
  cameraId: r.camera_id,
  unitId: r.unit_id,
  topic: r.topic,
  payload: r.payload ? (JSON.parse(r.payload) as unknown) : null,
  description: r.description,
  location: r.location ? (JSON.parse(r.location) as AlarmView['location']) : null,
  caseId: r.case_id,
  caseNumber: r.case_number,
  outcome: r.outcome,
})

export interface NewAlarm {
  receivedAt: string
  occurredAt: string
  kind: AlarmKind
  origin: AlarmOrigin
  sourceId: number | null
  externalId: string | null
  cameraId: number | null
  unitId: number
  topic: string | null
  payload: string | null
  description: string | null
  location: string | null
  caseId: number | null
  outcome: AlarmOutcome
}

export interface SourceRow {
  id: number
  name: string
  unit_id: number
  unit_path: string
  unit_code: string
  token_hint: string
  enabled: number
  created_by: string
  created_at: string
  last_used_at: string | null
}

const SOURCE_SELECT = 'SELECT s.id, s.name, s.unit_id, u.path AS unit_path, u.code AS unit_code, s.token_hint, s.enabled, s.created_by, s.created_at, s.last_used_at FROM alarm_sources s JOIN units u ON u.id = s.unit_id'

export interface CameraRef {
  id: number
  name: string
  unitId: number
}

/** How alarms ask the registry which camera an event names (the registry implements it). */
export interface CameraDirectory {
  identityById(id: number): CameraRef | undefined
  identityBySerial(serial: string): CameraRef | undefined
}

export class AlarmStore {
  readonly #db: Db
  readonly #insert
  readonly #byExternal
  readonly #setCase
  readonly #sourceByHash
  readonly #touchSource
  readonly #cameras: CameraDirectory
  constructor(db: Db, cameras: CameraDirectory) {
    this.#cameras = cameras
    this.#db = db
    this.#insert = db.prepare(`INSERT INTO alarms (received_at, occurred_at, kind, origin, source_id, external_id, camera_id, unit_id, topic, payload, description, location, case_id, outcome)
      VALUES (@receivedAt, @occurredAt, @kind, @origin, @sourceId, @externalId, @cameraId, @unitId, @topic, @payload, @description, @location, @caseId, @outcome)`)
    this.#byExternal = db.prepare('SELECT a.id, a.case_id, c.number FROM alarms a LEFT JOIN cases c ON c.id = a.case_id WHERE a.source_id = ? AND a.external_id = ?')
    this.#setCase = db.prepare('UPDATE alarms SET case_id = ? WHERE id = ?')
    this.#sourceByHash = db.prepare(`${SOURCE_SELECT} WHERE s.token_hash = ?`)
    this.#touchSource = db.prepare('UPDATE alarm_sources SET last_used_at = ? WHERE id = ?')
    // read-only lookups in the registry's table: the ingest path needs only id, name and unit
  }

  insert(a: NewAlarm): number {
    return Number(this.#insert.run(a).lastInsertRowid)
  }

  setCase(alarmId: number, caseId: number): void {
    this.#setCase.run(caseId, alarmId)
  }

  byExternalId(sourceId: number, externalId: string): { id: number; case_id: number | null; number: string | null } | undefined {
    return this.#byExternal.get(sourceId, externalId) as { id: number; case_id: number | null; number: string | null } | undefined
  }

  list(scope: Scope, filter: { kind?: AlarmKind; cameraId?: number; underPath?: string; caseId?: number }, beforeId: number | undefined, limit: number): AlarmView[] {
    const { lo, hi } = subtreeRange(scope.unitPath)
    // an alarm of a camera is listed to whoever may read the camera in the registry (内保外用);
    // a camera deleted since leaves its alarms to the unit scope
    const where = ['u.path >= @lo AND u.path < @hi', `(cam.id IS NULL OR ${cameraVisibleSql('cam', 'cu')})`]
    const params: Record<string, unknown> = { lo, hi, limit, ...cameraVisibilityParams(scope) }
    if (filter.underPath) {
      const r = subtreeRange(filter.underPath)
      where.push('u.path >= @ulo AND u.path < @uhi')
      Object.assign(params, { ulo: r.lo, uhi: r.hi })
    }
    if (filter.kind) {
      where.push('a.kind = @kind')
      params.kind = filter.kind
    }
    if (filter.cameraId !== undefined) {
      where.push('a.camera_id = @cameraId')
      params.cameraId = filter.cameraId
    }
    if (filter.caseId !== undefined) {
      where.push('a.case_id = @caseId')
      params.caseId = filter.caseId
    }
    if (beforeId !== undefined) {
      where.push('a.id < @beforeId')
      params.beforeId = beforeId
    }
    const rows = this.#db
      .prepare(`SELECT a.*, c.number AS case_number FROM alarms a JOIN units u ON u.id = a.unit_id LEFT JOIN cases c ON c.id = a.case_id
        LEFT JOIN cameras cam ON cam.id = a.camera_id LEFT JOIN units cu ON cu.id = cam.unit_id WHERE ${where.join(' AND ')} ORDER BY a.id DESC LIMIT @limit`)
      .all(params) as AlarmRow[]
    return rows.map(toAlarm)
  }

  camera(id: number): CameraRef | undefined {
    return this.#cameras.identityById(id)
  }

  cameraBySerial(serial: string): CameraRef | undefined {
    return this.#cameras.identityBySerial(serial)
  }

  // --- sources ------------------------------------------------------------------------------

  insertSource(s: { name: string; unitId: number; tokenHash: string; tokenHint: string; createdBy: string }): number {
    return Number(
      this.#db
        .prepare('INSERT INTO alarm_sources (name, unit_id, token_hash, token_hint, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(s.name, s.unitId, s.tokenHash, s.tokenHint, s.createdBy, new Date().toISOString()).lastInsertRowid,
    )
  }

  sourceByHash(hash: string): SourceRow | undefined {
    return this.#sourceByHash.get(hash) as SourceRow | undefined
  }

  touchSource(id: number, at: string): void {
    this.#touchSource.run(at, id)
  }

  source(scope: Scope, id: number): SourceRow | undefined {
    const { lo, hi } = subtreeRange(scope.unitPath)
    return this.#db.prepare(`${SOURCE_SELECT} WHERE s.id = ? AND u.path >= ? AND u.path < ?`).get(id, lo, hi) as SourceRow | undefined
  }

  sources(scope: Scope): SourceRow[] {
    const { lo, hi } = subtreeRange(scope.unitPath)
    return this.#db.prepare(`${SOURCE_SELECT} WHERE u.path >= ? AND u.path < ? ORDER BY s.id`).all(lo, hi) as SourceRow[]
  }

  setSourceEnabled(id: number, enabled: boolean): void {
    this.#db.prepare('UPDATE alarm_sources SET enabled = ? WHERE id = ?').run(enabled ? 1 : 0, id)
  }

  countSourcesInUnit(unitId: number): number {
    return this.#db.prepare('SELECT count(*) FROM alarm_sources WHERE unit_id = ?').pluck().get(unitId) as number
  }

  // --- rules --------------------------------------------------------------------------------

  allRules(): { unit_id: number; kind: AlarmKind; action: 'case' | 'log'; priority: AlarmRule['priority']; handling_tier: HandlingTier; notify_street: number }[] {
    return this.#db.prepare('SELECT unit_id, kind, action, priority, handling_tier, notify_street FROM alarm_rules').all() as never
  }

  upsertRule(unitId: number, kind: AlarmKind, rule: AlarmRule, by: string): void {
    this.#db
      .prepare(`INSERT INTO alarm_rules (unit_id, kind, action, priority, handling_tier, notify_street, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (unit_id, kind) DO UPDATE SET action = excluded.action, priority = excluded.priority, handling_tier = excluded.handling_tier,
          notify_street = excluded.notify_street, updated_by = excluded.updated_by, updated_at = excluded.updated_at`)
      .run(unitId, kind, rule.action, rule.priority, rule.handlingTier, rule.notifyStreet ? 1 : 0, by, new Date().toISOString())
  }

  deleteRule(unitId: number, kind: AlarmKind): boolean {
    return this.#db.prepare('DELETE FROM alarm_rules WHERE unit_id = ? AND kind = ?').run(unitId, kind).changes > 0
  }
}
