import { nowIso, type Db } from '../../core/db.js'
import { subtreeRange, type Scope } from '../../core/scope.js'
import type { PlanContentType } from './image.js'

export interface Corners {
  nw: { lat: number; lon: number }
  se: { lat: number; lon: number }
}

export interface Plan {
  unitId: number
  contentType: PlanContentType
  width: number
  height: number
  size: number
  sha256: string
  corners: Corners
  uploadedBy: string
  updatedAt: string
}

export type PlanWithPath = Plan & { unitPath: string }

interface PlanRow {
  unit_id: number
  content_type: PlanContentType
  width: number
  height: number
  size: number
  sha256: string
  nw_lat: number
  nw_lon: number
  se_lat: number
  se_lon: number
  uploaded_by: string
  updated_at: string
  unit_path: string
}

const toPlan = (r: PlanRow): PlanWithPath => ({
  unitId: r.unit_id,
  contentType: r.content_type,
  width: r.width,
  height: r.height,
  size: r.size,
  sha256: r.sha256,
  corners: { nw: { lat: r.nw_lat, lon: r.nw_lon }, se: { lat: r.se_lat, lon: r.se_lon } },
  uploadedBy: r.uploaded_by,
  updatedAt: r.updated_at,
  unitPath: r.unit_path,
})

// every column but the image: lists and metadata never load the bytes
const SELECT_PLAN = `SELECT p.unit_id, p.content_type, p.width, p.height, p.size, p.sha256, p.nw_lat, p.nw_lon, p.se_lat, p.se_lon,
  p.uploaded_by, p.updated_at, u.path AS unit_path FROM unit_plans p JOIN units u ON u.id = p.unit_id`

/** Plans are bounded by the caller's subtree in SQL, like every org-owned row. */
export class PlanStore {
  readonly #db: Db
  constructor(db: Db) {
    this.#db = db
  }

  list(scope: Scope, unitPath?: string): PlanWithPath[] {
    const { lo, hi } = subtreeRange(scope.unitPath)
    const under = subtreeRange(unitPath ?? scope.unitPath)
    const rows = this.#db
      .prepare(`${SELECT_PLAN} WHERE u.path >= ? AND u.path < ? AND u.path >= ? AND u.path < ? ORDER BY u.path`)
      .all(lo, hi, under.lo, under.hi) as PlanRow[]
    return rows.map(toPlan)
  }

  get(scope: Scope, unitId: number): PlanWithPath | undefined {
    const { lo, hi } = subtreeRange(scope.unitPath)
    const row = this.#db.prepare(`${SELECT_PLAN} WHERE p.unit_id = ? AND u.path >= ? AND u.path < ?`).get(unitId, lo, hi) as PlanRow | undefined
    return row && toPlan(row)
  }

  image(unitId: number): Buffer | undefined {
    return this.#db.prepare('SELECT image FROM unit_plans WHERE unit_id = ?').pluck().get(unitId) as Buffer | undefined
  }

  /** Inserts or replaces the unit's plan; true when it replaced one. */
  put(input: { unitId: number; contentType: PlanContentType; width: number; height: number; sha256: string; corners: Corners; image: Buffer; uploadedBy: string }): { replaced: boolean; updatedAt: string } {
    const replaced = this.#db.prepare('SELECT 1 FROM unit_plans WHERE unit_id = ?').get(input.unitId) !== undefined
    const updatedAt = nowIso()
    const { nw, se } = input.corners
    this.#db
      .prepare(`INSERT INTO unit_plans (unit_id, content_type, width, height, size, sha256, nw_lat, nw_lon, se_lat, se_lon, image, uploaded_by, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (unit_id) DO UPDATE SET content_type = excluded.content_type, width = excluded.width, height = excluded.height,
          size = excluded.size, sha256 = excluded.sha256, nw_lat = excluded.nw_lat, nw_lon = excluded.nw_lon, se_lat = excluded.se_lat,
          se_lon = excluded.se_lon, image = excluded.image, uploaded_by = excluded.uploaded_by, updated_at = excluded.updated_at`)
      .run(input.unitId, input.contentType, input.width, input.height, input.image.length, input.sha256, nw.lat, nw.lon, se.lat, se.lon, input.image, input.uploadedBy, updatedAt)
    return { replaced, updatedAt }
  }

  /** Moves the corners only: the image and its hash stay. */
  setCorners(unitId: number, corners: Corners): void {
    const { nw, se } = corners
    this.#db
      .prepare('UPDATE unit_plans SET nw_lat = ?, nw_lon = ?, se_lat = ?, se_lon = ?, updated_at = ? WHERE unit_id = ?')
      .run(nw.lat, nw.lon, se.lat, se.lon, nowIso(), unitId)
  }

  delete(unitId: number): void {
    this.#db.prepare('DELETE FROM unit_plans WHERE unit_id = ?').run(unitId)
  }

  countInUnit(unitId: number): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM unit_plans WHERE unit_id = ?').get(unitId) as { n: number }).n
  }
}
