import { nowIso, type Db } from '../../core/db.js'
import { subtreeRange, type Scope, type Tier } from '../../core/scope.js'

export interface Unit {
  id: number
  parentId: number | null
  tier: Tier
  code: string
  name: string
  path: string
  address: string | null
  lat: number | null
  lon: number | null
  createdAt: string
  updatedAt: string
}

interface UnitRow {
  id: number
  parent_id: number | null
  tier: Tier
  code: string
  name: string
  path: string
  address: string | null
  lat: number | null
  lon: number | null
  created_at: string
  updated_at: string
}

const toUnit = (r: UnitRow): Unit => ({
  id: r.id,
  parentId: r.parent_id,
  tier: r.tier,
  code: r.code,
  name: r.name,
  path: r.path,
  address: r.address,
  lat: r.lat,
  lon: r.lon,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export interface NewUnit {
  parentId: number | null
  tier: Tier
  code: string
  name: string
  address?: string | null
  lat?: number | null
  lon?: number | null
}

/** Every query here that serves a request is bounded by the caller's subtree. */
export class UnitStore {
  readonly #db: Db
  readonly #byIdInScope
  readonly #byId
  readonly #byCode
  readonly #insert
  readonly #setPath
  constructor(db: Db) {
    this.#db = db
    this.#byIdInScope = db.prepare('SELECT * FROM units WHERE id = ? AND path >= ? AND path < ?')
    this.#byId = db.prepare('SELECT * FROM units WHERE id = ?')
    this.#byCode = db.prepare('SELECT * FROM units WHERE code = ? AND path >= ? AND path < ?')
    this.#insert = db.prepare(`INSERT INTO units (parent_id, tier, code, name, path, address, lat, lon, created_at, updated_at)
      VALUES (@parentId, @tier, @code, @name, @tmpPath, @address, @lat, @lon, @now, @now)`)
    this.#setPath = db.prepare('UPDATE units SET path = ? WHERE id = ?')
  }

  get(scope: Scope, id: number): Unit | undefined {
    const { lo, hi } = subtreeRange(scope.unitPath)
    const row = this.#byIdInScope.get(id, lo, hi) as UnitRow | undefined
    return row && toUnit(row)
  }

  /** Unscoped: for building a principal from a session, never for answering a request directly. */
  getUnscoped(id: number): Unit | undefined {
    const row = this.#byId.get(id) as UnitRow | undefined
    return row && toUnit(row)
  }

  getByCode(scope: Scope, code: string): Unit | undefined {
    const { lo, hi } = subtreeRange(scope.unitPath)
    const row = this.#byCode.get(code, lo, hi) as UnitRow | undefined
    return row && toUnit(row)
  }

  list(scope: Scope, filter: { tier?: Tier; parentId?: number; under?: string } = {}): Unit[] {
    const { lo, hi } = subtreeRange(filter.under ?? scope.unitPath)
    const scopeRange = subtreeRange(scope.unitPath)
    const where = ['path >= @lo AND path < @hi', 'path >= @slo AND path < @shi']
    const params: Record<string, unknown> = { lo, hi, slo: scopeRange.lo, shi: scopeRange.hi }
    if (filter.tier) {
      where.push('tier = @tier')
      params.tier = filter.tier
    }
    if (filter.parentId !== undefined) {
      where.push('parent_id = @parentId')
      params.parentId = filter.parentId
    }
    return (this.#db.prepare(`SELECT * FROM units WHERE ${where.join(' AND ')} ORDER BY path`).all(params) as UnitRow[]).map(toUnit)
  }

  insert(unit: NewUnit, parentPath: string): Unit {
    const now = nowIso()
    const { lastInsertRowid } = this.#insert.run({
      parentId: unit.parentId,
      tier: unit.tier,
      code: unit.code,
      name: unit.name,
      address: unit.address ?? null,
      lat: unit.lat ?? null,
      lon: unit.lon ?? null,
      tmpPath: `tmp:${process.hrtime.bigint()}:${Math.random()}`,
      now,
    })
    const id = Number(lastInsertRowid)
    this.#setPath.run(`${parentPath}${id}/`, id)
    return this.getUnscoped(id)!
  }

  update(id: number, fields: Partial<Pick<Unit, 'code' | 'name' | 'address' | 'lat' | 'lon'>>): void {
    const sets: string[] = []
    const params: Record<string, unknown> = { id, now: nowIso() }
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue
      sets.push(`${k} = @${k}`)
      params[k] = v
    }
    if (!sets.length) return
    this.#db.prepare(`UPDATE units SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`).run(params)
  }

  /** Moves a unit and rewrites the paths of its whole subtree. */
  move(unit: Unit, newParent: Unit): void {
    const newPath = `${newParent.path}${unit.id}/`
    const { lo, hi } = subtreeRange(unit.path)
    this.#db
      .prepare('UPDATE units SET path = @newPath || substr(path, @cut), parent_id = CASE WHEN id = @id THEN @parentId ELSE parent_id END, updated_at = @now WHERE path >= @lo AND path < @hi')
      .run({ newPath, cut: unit.path.length + 1, id: unit.id, parentId: newParent.id, lo, hi, now: nowIso() })
  }

  delete(id: number): void {
    this.#db.prepare('DELETE FROM units WHERE id = ?').run(id)
  }

  childCount(id: number): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM units WHERE parent_id = ?').get(id) as { n: number }).n
  }

  count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM units').get() as { n: number }).n
  }
}
