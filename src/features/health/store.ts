import type { Db } from '../../core/db.js'
import { subtreeRange, type Scope } from '../../core/scope.js'
import type { CameraStatus } from '../registry/index.js'
import type { CheckResult, Transition } from './model.js'

export interface LatestRow {
  cameraId: number
  checkedAt: string
  failures: number
  results: CheckResult[]
  snapshotHash: string | null
  sameSnapshotCount: number
}

export interface TransitionInput {
  cameraId: number
  unitId: number
  class: number
  kind: string
  from: CameraStatus
  to: CameraStatus
  reasons: string[]
  at: string
}

/**
 * Mirrors the registry's visibility rule (registry/store.ts VISIBLE): cameras of the caller's
 * subtree, except a site's cameras not shared upward, unless the caller maintains the registry.
 */
const VISIBLE = `u.path >= @lo AND u.path < @hi
  AND (u.tier <> 'site' OR c.shared_upward = 1 OR c.unit_id = @ownUnit OR @seesPrivate = 1)`

function scopeParams(scope: Scope, underPath: string): Record<string, unknown> {
  const { lo, hi } = subtreeRange(scope.unitPath)
  const under = subtreeRange(underPath)
  return { lo, hi, ulo: under.lo, uhi: under.hi, ownUnit: scope.unitId ?? -1, seesPrivate: scope.seesPrivateSiteCameras ? 1 : 0 }
}

export interface StatusCountRow {
  status: CameraStatus
  class: number
  kind: string
  n: number
}

export interface HistoryRow {
  camera_id: number
  class: number
  kind: string
  to_status: CameraStatus
  at: string
}

export class HealthStore {
  readonly #db: Db
  readonly #upsertLatest
  readonly #insertTransition
  readonly #latestOf
  readonly #transitionsOf
  readonly #allLatest
  readonly #deleteLatest
  readonly #nowCounts
  readonly #history
  readonly #unitCounts
  readonly #units
  readonly #pruneHistory

  constructor(db: Db) {
    this.#db = db
    this.#upsertLatest = db.prepare(`INSERT INTO health_latest (camera_id, checked_at, failures, results, snapshot_hash, same_snapshot_count)
      VALUES (@cameraId, @checkedAt, @failures, @results, @snapshotHash, @sameSnapshotCount)
      ON CONFLICT (camera_id) DO UPDATE SET checked_at = excluded.checked_at, failures = excluded.failures, results = excluded.results,
        snapshot_hash = excluded.snapshot_hash, same_snapshot_count = excluded.same_snapshot_count`)
    this.#insertTransition = db.prepare(`INSERT INTO health_transitions (camera_id, unit_id, class, kind, from_status, to_status, reasons, at)
      VALUES (@cameraId, @unitId, @class, @kind, @from, @to, @reasons, @at)`)
    this.#latestOf = db.prepare('SELECT * FROM health_latest WHERE camera_id = ?')
    this.#allLatest = db.prepare('SELECT * FROM health_latest')
    this.#deleteLatest = db.prepare('DELETE FROM health_latest WHERE camera_id NOT IN (SELECT id FROM cameras)')
    this.#transitionsOf = db.prepare('SELECT * FROM health_transitions WHERE camera_id = ? ORDER BY at DESC, id DESC LIMIT ?')
    this.#nowCounts = db.prepare(`SELECT c.status AS status, c.class AS class, c.kind AS kind, count(*) AS n
      FROM cameras c JOIN units u ON u.id = c.unit_id
      WHERE c.enabled = 1 AND ${VISIBLE} AND u.path >= @ulo AND u.path < @uhi
      GROUP BY c.status, c.class, c.kind`)
    // Per camera of the subtree: its state when the window opens (last transition before it)
    // and every transition inside the window, in time order.
    this.#history = db.prepare(`SELECT t.camera_id, c.class AS class, c.kind AS kind, t.to_status, t.at
      FROM cameras c JOIN units u ON u.id = c.unit_id JOIN health_transitions t ON t.camera_id = c.id
      WHERE c.enabled = 1 AND ${VISIBLE} AND u.path >= @ulo AND u.path < @uhi
        AND t.at < @to
        AND (t.at >= @from OR t.id = (SELECT t2.id FROM health_transitions t2 WHERE t2.camera_id = c.id AND t2.at < @from ORDER BY t2.at DESC, t2.id DESC LIMIT 1))
      ORDER BY t.camera_id, t.at, t.id`)
    this.#unitCounts = db.prepare(`SELECT unit_id AS unitId, status, count(*) AS n FROM cameras WHERE enabled = 1 GROUP BY unit_id, status`)
    this.#units = db.prepare('SELECT id, code, tier, path FROM units')
    this.#pruneHistory = db.prepare(`DELETE FROM health_transitions WHERE at < @cutoff
      AND id NOT IN (SELECT max(id) FROM health_transitions WHERE at < @cutoff GROUP BY camera_id)`)
  }

  latest(cameraId: number): LatestRow | undefined {
    const r = this.#latestOf.get(cameraId) as RawLatest | undefined
    return r && toLatest(r)
  }

  allLatest(): LatestRow[] {
    return (this.#allLatest.all() as RawLatest[]).map(toLatest)
  }

  pruneDeleted(): void {
    this.#deleteLatest.run()
  }

  /**
   * Drops transitions older than `cutoff`, except each camera's last one before it (the state a
   * window opening after the cutoff starts from). Returns the rows deleted.
   */
  pruneHistory(cutoff: string): number {
    return this.#pruneHistory.run({ cutoff }).changes
  }

  saveLatest(row: LatestRow): void {
    this.#upsertLatest.run({ ...row, results: JSON.stringify(row.results) })
  }

  addTransition(t: TransitionInput): number {
    return Number(this.#insertTransition.run({ ...t, reasons: JSON.stringify(t.reasons) }).lastInsertRowid)
  }

  transitions(cameraId: number, limit: number): Transition[] {
    return (this.#transitionsOf.all(cameraId, limit) as RawTransition[]).map((r) => ({
      id: r.id,
      cameraId: r.camera_id,
      unitId: r.unit_id,
      from: r.from_status,
      to: r.to_status,
      reasons: JSON.parse(r.reasons) as string[],
      at: r.at,
    }))
  }

  nowCounts(scope: Scope, underPath: string): StatusCountRow[] {
    return this.#nowCounts.all(scopeParams(scope, underPath)) as StatusCountRow[]
  }

  history(scope: Scope, underPath: string, from: string, to: string): HistoryRow[] {
    return this.#history.all({ ...scopeParams(scope, underPath), from, to }) as HistoryRow[]
  }

  /** System view for the metrics: counts per unit and status, and every unit. */
  unitCounts(): { unitId: number; status: CameraStatus; n: number }[] {
    return this.#unitCounts.all() as { unitId: number; status: CameraStatus; n: number }[]
  }

  units(): { id: number; code: string; tier: string; path: string }[] {
    return this.#units.all() as { id: number; code: string; tier: string; path: string }[]
  }

  get db(): Db {
    return this.#db
  }
}

interface RawLatest {
  camera_id: number
  checked_at: string
  failures: number
  results: string
  snapshot_hash: string | null
  same_snapshot_count: number
}

interface RawTransition {
  id: number
  camera_id: number
  unit_id: number
  from_status: CameraStatus
  to_status: CameraStatus
  reasons: string
  at: string
}

const toLatest = (r: RawLatest): LatestRow => ({
  cameraId: r.camera_id,
  checkedAt: r.checked_at,
  failures: r.failures,
  results: JSON.parse(r.results) as CheckResult[],
  snapshotHash: r.snapshot_hash,
  sameSnapshotCount: r.same_snapshot_count,
})
