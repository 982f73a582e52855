import { nowIso, type Db } from '../../core/db.js'
import { subtreeRange, type Scope } from '../../core/scope.js'

export const WALL_SIZES = [1, 4, 9, 16] as const
export type WallSize = (typeof WALL_SIZES)[number]

export interface WallLayout {
  size: WallSize
  /** one entry per tile: a camera id or null */
  tiles: (number | null)[]
  updatedAt: string | null
}

export interface Tour {
  id: number
  unitId: number
  name: string
  intervalSeconds: number
  cameraIds: number[]
  createdBy: number | null
  createdAt: string
  updatedAt: string
}

interface TourRow {
  id: number
  unit_id: number
  name: string
  interval_seconds: number
  camera_ids: string
  created_by: number | null
  created_at: string
  updated_at: string
  unit_path: string
}

export type TourWithPath = Tour & { unitPath: string }

const toTour = (r: TourRow): TourWithPath => ({
  id: r.id,
  unitId: r.unit_id,
  name: r.name,
  intervalSeconds: r.interval_seconds,
  cameraIds: JSON.parse(r.camera_ids) as number[],
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  unitPath: r.unit_path,
})

const SELECT_TOUR = 'SELECT t.*, u.path AS unit_path FROM tours t JOIN units u ON u.id = t.unit_id'

/** Wall layouts are keyed by user; tours are bounded by the caller's subtree in SQL. */
export class WallStore {
  readonly #db: Db
  constructor(db: Db) {
    this.#db = db
  }

  getLayout(userId: number): WallLayout | undefined {
    const row = this.#db.prepare('SELECT size, tiles, updated_at FROM wall_layouts WHERE user_id = ?').get(userId) as { size: WallSize; tiles: string; updated_at: string } | undefined
    return row && { size: row.size, tiles: JSON.parse(row.tiles) as (number | null)[], updatedAt: row.updated_at }
  }

  putLayout(userId: number, size: WallSize, tiles: (number | null)[]): string {
    const now = nowIso()
    this.#db
      .prepare(`INSERT INTO wall_layouts (user_id, size, tiles, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET size = excluded.size, tiles = excluded.tiles, updated_at = excluded.updated_at`)
      .run(userId, size, JSON.stringify(tiles), now)
    return now
  }

  listTours(scope: Scope, unitPath?: string): TourWithPath[] {
    const { lo, hi } = subtreeRange(scope.unitPath)
    const under = subtreeRange(unitPath ?? scope.unitPath)
    const rows = this.#db
      .prepare(`${SELECT_TOUR} WHERE u.path >= ? AND u.path < ? AND u.path >= ? AND u.path < ? ORDER BY u.path, t.name, t.id`)
      .all(lo, hi, under.lo, under.hi) as TourRow[]
    return rows.map(toTour)
  }

  getTour(scope: Scope, id: number): TourWithPath | undefined {
    const { lo, hi } = subtreeRange(scope.unitPath)
    const row = this.#db.prepare(`${SELECT_TOUR} WHERE t.id = ? AND u.path >= ? AND u.path < ?`).get(id, lo, hi) as TourRow | undefined
    return row && toTour(row)
  }

  insertTour(input: { unitId: number; name: string; intervalSeconds: number; cameraIds: number[]; createdBy: number | null }): number {
    const now = nowIso()
    const { lastInsertRowid } = this.#db
      .prepare('INSERT INTO tours (unit_id, name, interval_seconds, camera_ids, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(input.unitId, input.name, input.intervalSeconds, JSON.stringify(input.cameraIds), input.createdBy, now, now)
    return Number(lastInsertRowid)
  }

  updateTour(id: number, fields: { unitId: number; name: string; intervalSeconds: number; cameraIds: number[] }): void {
    this.#db
      .prepare('UPDATE tours SET unit_id = ?, name = ?, interval_seconds = ?, camera_ids = ?, updated_at = ? WHERE id = ?')
      .run(fields.unitId, fields.name, fields.intervalSeconds, JSON.stringify(fields.cameraIds), nowIso(), id)
  }

  deleteTour(id: number): void {
    this.#db.prepare('DELETE FROM tours WHERE id = ?').run(id)
  }

  countToursInUnit(unitId: number): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM tours WHERE unit_id = ?').get(unitId) as { n: number }).n
  }
}
