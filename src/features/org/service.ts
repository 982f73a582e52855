import { inTransaction, type Db } from '../../core/db.js'
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../core/errors.js'
import { scopeOf, type Principal, type Scope, type Tier } from '../../core/scope.js'
import type { AuditLog } from '../audit/index.js'
import { UnitStore, type NewUnit, type Unit } from './store.js'
import { parentTierOf } from './tiers.js'

/**
 * Something other features keep per unit (cameras, users, open cases) that must stop the unit
 * from being deleted. Owned here; each feature registers its own.
 */
export interface UnitUsage {
  /** plural noun for the message, e.g. "cameras" */
  what: string
  count(unitId: number): number
}

export interface UnitChanges {
  code?: string
  name?: string
  address?: string | null
  lat?: number | null
  lon?: number | null
  parentId?: number
}

export class OrgService {
  readonly #db: Db
  readonly #store: UnitStore
  readonly #audit: AuditLog
  readonly #usages: UnitUsage[] = []
  readonly #movedListeners: (() => void)[] = []

  constructor(db: Db, audit: AuditLog) {
    this.#db = db
    this.#store = new UnitStore(db)
    this.#audit = audit
  }

  registerUsage(usage: UnitUsage): void {
    this.#usages.push(usage)
  }

  /** Called after a unit moved (its subtree's paths changed, and with them the scope of its users). */
  onMoved(listener: () => void): void {
    this.#movedListeners.push(listener)
  }

  get(scope: Scope, id: number): Unit {
    const unit = this.#store.get(scope, id)
    if (!unit) throw new NotFoundError('unit', id)
    return unit
  }

  getUnscoped(id: number): Unit | undefined {
    return this.#store.getUnscoped(id)
  }

  findByCode(scope: Scope, code: string): Unit | undefined {
    return this.#store.getByCode(scope, code)
  }

  list(scope: Scope, filter: { tier?: Tier; parentId?: number; under?: number } = {}): Unit[] {
    const under = filter.under === undefined ? undefined : this.get(scope, filter.under).path
    return this.#store.list(scope, { tier: filter.tier, parentId: filter.parentId, under })
  }

  /** Ancestors from the street down to the unit itself. */
  lineage(unit: Unit): Unit[] {
    return unit.path
      .split('/')
      .filter(Boolean)
      .map((id) => this.#store.getUnscoped(Number(id))!)
  }

  create(actor: Principal, input: NewUnit, client?: string): Unit {
    const scope = scopeOf(actor)
    const expectedParentTier = parentTierOf(input.tier)
    let parentPath = '/'
    if (expectedParentTier === null) {
      if (input.parentId !== null && input.parentId !== undefined) throw ValidationError.field('body.parentId', 'a street has no parent')
      if (scope.unitPath !== '/') throw new ForbiddenError('only gateway administrators (not bound to a unit) create streets')
    } else {
      if (input.parentId === null || input.parentId === undefined) throw ValidationError.field('body.parentId', `a ${input.tier} needs a parent ${expectedParentTier}`)
      const parent = this.#store.get(scope, input.parentId)
      if (!parent) throw new NotFoundError('unit', input.parentId)
      if (parent.tier !== expectedParentTier) {
        throw ValidationError.field('body.parentId', `a ${input.tier} must sit under a ${expectedParentTier}, not a ${parent.tier}`)
      }
      parentPath = parent.path
    }
    return inTransaction(this.#db, () => {
      this.#assertCodeFree(input.code)
      const unit = this.#store.insert(input, parentPath)
      this.#audit.record({ actor, action: 'unit.create', target: { type: 'unit', id: unit.id }, unitPath: unit.path, client, detail: { code: unit.code, name: unit.name, tier: unit.tier, parentId: unit.parentId } })
      return unit
    })
  }

  update(actor: Principal, id: number, changes: UnitChanges, client?: string): Unit {
    const scope = scopeOf(actor)
    let moved = false
    const result = inTransaction(this.#db, () => {
      const unit = this.get(scope, id)
      if (changes.code !== undefined && changes.code.toLowerCase() !== unit.code.toLowerCase()) this.#assertCodeFree(changes.code)
      const { parentId, ...fields } = changes
      this.#store.update(id, fields)
      if (parentId !== undefined && parentId !== unit.parentId) {
        const expected = parentTierOf(unit.tier)
        if (expected === null) throw ValidationError.field('body.parentId', 'a street has no parent')
        if (unit.path === scope.unitPath) throw new ForbiddenError('you cannot move your own unit')
        const parent = this.#store.get(scope, parentId)
        if (!parent) throw new NotFoundError('unit', parentId)
        if (parent.tier !== expected) throw ValidationError.field('body.parentId', `a ${unit.tier} must sit under a ${expected}, not a ${parent.tier}`)
        this.#store.move(unit, parent)
        moved = true
      }
      const after = this.#store.getUnscoped(id)!
      this.#audit.record({ actor, action: parentId !== undefined && parentId !== unit.parentId ? 'unit.move' : 'unit.update', target: { type: 'unit', id }, unitPath: after.path, client, detail: { changes, fromPath: unit.path, toPath: after.path } })
      return after
    })
    if (moved) for (const listener of this.#movedListeners) listener()
    return result
  }

  delete(actor: Principal, id: number, client?: string): void {
    const scope = scopeOf(actor)
    inTransaction(this.#db, () => {
      const unit = this.get(scope, id)
      if (unit.path === scope.unitPath) throw new ForbiddenError('you cannot delete your own unit')
      const blockers: string[] = []
      const children = this.#store.childCount(id)
      if (children) blockers.push(`${children} child units`)
      for (const usage of this.#usages) {
        const n = usage.count(id)
        if (n) blockers.push(`${n} ${usage.what}`)
      }
      if (blockers.length) throw new ConflictError(`unit ${unit.code} still has ${blockers.join(', ')}`, [], { blockers })
      this.#store.delete(id)
      this.#audit.record({ actor, action: 'unit.delete', target: { type: 'unit', id }, unitPath: unit.path, client, detail: { code: unit.code, name: unit.name } })
    })
  }

  count(): number {
    return this.#store.count()
  }

  #assertCodeFree(code: string): void {
    const taken = this.#db.prepare('SELECT id FROM units WHERE code = ?').get(code)
    if (taken) throw new ConflictError(`unit code ${code} is already used`, [{ field: 'body.code', message: 'is already used' }])
  }
}
