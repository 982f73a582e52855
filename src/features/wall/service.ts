import { inTransaction, type Db } from '../../core/db.js'
import { NotFoundError, ValidationError } from '../../core/errors.js'
import { scopeOf, type Principal } from '../../core/scope.js'
import type { AuditLog } from '../audit/index.js'
import type { OrgService } from '../org/index.js'
import type { RegistryService } from '../registry/index.js'
import { WallStore, type Tour, type WallLayout, type WallSize } from './store.js'

export interface TourInput {
  unitId?: number
  name?: string
  intervalSeconds?: number
  cameraIds?: number[]
}

const DEFAULT_LAYOUT: WallLayout = { size: 4, tiles: [null, null, null, null], updatedAt: null }

/**
 * What the command-centre screens keep on the server: each user's video wall (layout and tiles)
 * and patrol tours (轮巡) owned by units. Both only ever name cameras the caller may see: writes
 * naming another camera are a 404 (as the registry would answer), and reads drop cameras the
 * reader cannot see (moved, deleted, or private to a site).
 */
export class WallService {
  readonly #db: Db
  readonly #store: WallStore
  readonly #org: OrgService
  readonly #registry: RegistryService
  readonly #audit: AuditLog

  constructor(deps: { db: Db; org: OrgService; registry: RegistryService; audit: AuditLog }) {
    this.#db = deps.db
    this.#store = new WallStore(deps.db)
    this.#org = deps.org
    this.#registry = deps.registry
    this.#audit = deps.audit
    deps.org.registerUsage({ what: 'patrol tours', count: (unitId) => this.#store.countToursInUnit(unitId) })
  }

  getLayout(principal: Principal): WallLayout {
    const saved = this.#store.getLayout(principal.userId)
    if (!saved) return { ...DEFAULT_LAYOUT, tiles: [...DEFAULT_LAYOUT.tiles] }
    return { ...saved, tiles: saved.tiles.map((id) => (id !== null && this.#sees(principal, id) ? id : null)) }
  }

  putLayout(principal: Principal, size: WallSize, tiles: (number | null)[]): WallLayout {
    if (tiles.length !== size) throw ValidationError.field('body.tiles', `a wall of ${size} needs exactly ${size} tiles (got ${tiles.length})`)
    for (const id of tiles) if (id !== null) this.#assertSees(principal, id)
    const updatedAt = this.#store.putLayout(principal.userId, size, tiles)
    return { size, tiles, updatedAt }
  }

  listTours(principal: Principal, unitId?: number): Tour[] {
    const scope = scopeOf(principal)
    const under = unitId === undefined ? undefined : this.#org.get(scope, unitId).path
    return this.#store.listTours(scope, under).map((t) => this.#present(principal, t))
  }

  getTour(principal: Principal, id: number): Tour {
    return this.#present(principal, this.#tour(principal, id))
  }

  createTour(actor: Principal, input: TourInput & Required<Pick<TourInput, 'name' | 'cameraIds'>>, client?: string): Tour {
    const unitId = input.unitId ?? actor.unitId
    if (unitId === null) throw ValidationError.field('body.unitId', 'a gateway administrator must name the unit that owns the tour')
    const unit = this.#org.get(scopeOf(actor), unitId)
    for (const id of input.cameraIds) this.#assertSees(actor, id)
    return inTransaction(this.#db, () => {
      const id = this.#store.insertTour({ unitId: unit.id, name: input.name, intervalSeconds: input.intervalSeconds ?? 10, cameraIds: input.cameraIds, createdBy: actor.userId > 0 ? actor.userId : null })
      this.#audit.record({ actor, action: 'tour.create', target: { type: 'tour', id }, unitPath: unit.path, client, detail: { name: input.name, cameras: input.cameraIds.length } })
      return this.getTour(actor, id)
    })
  }

  updateTour(actor: Principal, id: number, input: TourInput, client?: string): Tour {
    return inTransaction(this.#db, () => {
      const tour = this.#tour(actor, id)
      const unit = input.unitId === undefined ? null : this.#org.get(scopeOf(actor), input.unitId)
      if (input.cameraIds) for (const cameraId of input.cameraIds) this.#assertSees(actor, cameraId)
      this.#store.updateTour(id, {
        unitId: unit?.id ?? tour.unitId,
        name: input.name ?? tour.name,
        intervalSeconds: input.intervalSeconds ?? tour.intervalSeconds,
        cameraIds: input.cameraIds ?? tour.cameraIds,
      })
      this.#audit.record({ actor, action: 'tour.update', target: { type: 'tour', id }, unitPath: unit?.path ?? tour.unitPath, client, detail: { changed: Object.keys(input) } })
      return this.getTour(actor, id)
    })
  }

  deleteTour(actor: Principal, id: number, client?: string): void {
    inTransaction(this.#db, () => {
      const tour = this.#tour(actor, id)
      this.#store.deleteTour(id)
      this.#audit.record({ actor, action: 'tour.delete', target: { type: 'tour', id }, unitPath: tour.unitPath, client, detail: { name: tour.name } })
    })
  }

  #tour(principal: Principal, id: number) {
    const tour = this.#store.getTour(scopeOf(principal), id)
    if (!tour) throw new NotFoundError('tour', id)
    return tour
  }

  #present(principal: Principal, tour: Tour & { unitPath: string }): Tour {
    const { unitPath: _path, ...rest } = tour
    return { ...rest, cameraIds: tour.cameraIds.filter((id) => this.#sees(principal, id)) }
  }

  #sees(principal: Principal, cameraId: number): boolean {
    try {
      this.#registry.get(principal, cameraId)
      return true
    } catch (err) {
      if (err instanceof NotFoundError) return false
      throw err
    }
  }

  #assertSees(principal: Principal, cameraId: number): void {
    if (!this.#sees(principal, cameraId)) throw new NotFoundError('camera', cameraId)
  }
}
