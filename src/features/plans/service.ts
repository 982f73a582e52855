import { createHash } from 'node:crypto'
import { inTransaction, type Db } from '../../core/db.js'
import { type FieldProblem, NotFoundError, PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError, ValidationError } from '../../core/errors.js'
import { requireRole } from '../../core/http/guard.js'
import { scopeOf, type Principal } from '../../core/scope.js'
import type { AuditLog } from '../audit/index.js'
import type { OrgService, Unit } from '../org/index.js'
import { sniffImage } from './image.js'
import { PlanStore, type Corners, type Plan, type PlanWithPath } from './store.js'

export interface PlanView extends Plan {
  /** where the image is; the query changes with the image, so a replaced plan is never served stale */
  imageUrl: string
}

/** Corners as the upload names them (query string of PUT /api/plans/:unitId). */
export interface CornerInput {
  nwLat: number
  nwLon: number
  seLat: number
  seLon: number
}

/**
 * Site and district plans (平面图) for the offline map: one image per unit with the latitude and
 * longitude of its north-west and south-east corners, so cameras can be placed on it by linear
 * interpolation (plenty at the scale of a site or a district). Everyone who sees the unit may see
 * its plan; its admins and technicians, and those of the units above it, upload and delete it.
 */
export class PlanService {
  readonly #db: Db
  readonly #store: PlanStore
  readonly #org: OrgService
  readonly #audit: AuditLog
  readonly maxBytes: number

  constructor(deps: { db: Db; org: OrgService; audit: AuditLog; maxBytes: number }) {
    this.#db = deps.db
    this.#store = new PlanStore(deps.db)
    this.#org = deps.org
    this.#audit = deps.audit
    this.maxBytes = deps.maxBytes
    deps.org.registerUsage({ what: 'map plan', count: (unitId) => this.#store.countInUnit(unitId) })
  }

  list(principal: Principal, unitId?: number): PlanView[] {
    const scope = scopeOf(principal)
    const under = unitId === undefined ? undefined : this.#org.get(scope, unitId).path
    return this.#store.list(scope, under).map(present)
  }

  get(principal: Principal, unitId: number): PlanView {
    return present(this.#plan(principal, unitId))
  }

  image(principal: Principal, unitId: number): { plan: PlanView; data: Buffer } {
    const plan = this.#plan(principal, unitId)
    const data = this.#store.image(unitId)
    if (!data) throw new NotFoundError('plan of unit', unitId)
    return { plan: present(plan), data }
  }

  /**
   * Who may change a unit's plan: the unit is looked up in the caller's scope first (404 outside
   * the subtree), then the role (403). Called before the upload is read.
   */
  assertMayEdit(principal: Principal, unitId: number): Unit {
    const unit = this.#org.get(scopeOf(principal), unitId)
    requireRole(principal, 'admin', 'technician')
    return unit
  }

  /**
   * The corners must describe a box with north up: north-west above and left of south-east.
   * `part` is where the request carried them: the upload's query string or the correction's body.
   */
  checkCorners(c: CornerInput, part: 'query' | 'body' = 'query'): Corners {
    const problems: FieldProblem[] = []
    if (!(c.nwLat > c.seLat)) problems.push({ field: `${part}.nwLat`, message: `must be north of the south-east corner (greater than seLat ${c.seLat})` })
    if (!(c.nwLon < c.seLon)) problems.push({ field: `${part}.nwLon`, message: `must be west of the south-east corner (less than seLon ${c.seLon})` })
    if (problems.length) throw new ValidationError(problems.map((p) => `${p.field} ${p.message}`).join('; '), problems)
    return { nw: { lat: c.nwLat, lon: c.nwLon }, se: { lat: c.seLat, lon: c.seLon } }
  }

  put(actor: Principal, unitId: number, corners: CornerInput, image: Buffer, client?: string): { plan: PlanView; created: boolean } {
    const unit = this.assertMayEdit(actor, unitId)
    const box = this.checkCorners(corners)
    if (image.length > this.maxBytes) throw PayloadTooLargeError.field('body', `the plan image is ${image.length} bytes: at most ${this.maxBytes} (${mb(this.maxBytes)})`)
    if (image.length === 0) throw ValidationError.field('body', 'send the plan image (PNG, JPEG or WebP) as the request body')
    const sniffed = sniffImage(image)
    if (!sniffed.ok) {
      if (sniffed.problem === 'unsupported') throw UnsupportedMediaTypeError.field('body', sniffed.message)
      throw new UnprocessableError(`body ${sniffed.message}`, [{ field: 'body', message: sniffed.message }])
    }
    const { contentType, width, height } = sniffed.info
    const sha256 = createHash('sha256').update(image).digest('hex')
    return inTransaction(this.#db, () => {
      const { replaced } = this.#store.put({ unitId: unit.id, contentType, width, height, sha256, corners: box, image, uploadedBy: actor.username })
      this.#audit.record({
        actor,
        action: 'plan.upload',
        target: { type: 'plan', id: unit.id },
        unitPath: unit.path,
        client,
        detail: { contentType, width, height, size: image.length, sha256, corners: box, replaced },
      })
      return { plan: present(this.#plan(actor, unit.id)), created: !replaced }
    })
  }

  /**
   * Corrects the corners of a unit's plan without touching the image (so its hash, ETag and
   * imageUrl stay): scope (404), role (403), corners (400), then the plan itself (404).
   */
  setCorners(actor: Principal, unitId: number, corners: CornerInput, client?: string): PlanView {
    const unit = this.assertMayEdit(actor, unitId)
    const box = this.checkCorners(corners, 'body')
    return inTransaction(this.#db, () => {
      const before = this.#plan(actor, unit.id)
      this.#store.setCorners(unit.id, box)
      this.#audit.record({
        actor,
        action: 'plan.corners',
        target: { type: 'plan', id: unit.id },
        unitPath: unit.path,
        client,
        detail: { sha256: before.sha256, before: before.corners, corners: box },
      })
      return present(this.#plan(actor, unit.id))
    })
  }

  delete(actor: Principal, unitId: number, client?: string): void {
    inTransaction(this.#db, () => {
      const plan = this.#plan(actor, unitId)
      requireRole(actor, 'admin', 'technician')
      this.#store.delete(unitId)
      this.#audit.record({ actor, action: 'plan.delete', target: { type: 'plan', id: unitId }, unitPath: plan.unitPath, client, detail: { sha256: plan.sha256, size: plan.size } })
    })
  }

  #plan(principal: Principal, unitId: number): PlanWithPath {
    const scope = scopeOf(principal)
    this.#org.get(scope, unitId) // an unknown or outside unit answers as a unit, like everywhere else
    const plan = this.#store.get(scope, unitId)
    if (!plan) throw new NotFoundError('plan of unit', unitId)
    return plan
  }
}

function present(plan: PlanWithPath): PlanView {
  const { unitPath: _path, ...rest } = plan
  return { ...rest, imageUrl: `/api/plans/${plan.unitId}/image?v=${plan.sha256.slice(0, 16)}` }
}

const mb = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MB`
