import { ValidationError } from '../../core/errors.js'
import { scopeOf, type Principal } from '../../core/scope.js'
import type { OrgService, Unit } from '../org/index.js'
import { ALARM_KINDS, type AlarmKind } from './model.js'
import type { CasesService } from './service.js'

export type Colour = 'green' | 'blue' | 'orange' | 'red'

export interface SafetyIndexSettings {
  weights: Record<AlarmKind, number>
  thresholds: { blue: number; orange: number; red: number }
  supervisionRedMonths: number
}

export interface SafetyIndexEntry {
  unit: { id: number; code: string; name: string; tier: string }
  score: number
  colour: Colour
  cases: number
  byKind: Record<string, number>
  redStreak: number
  underSupervision: boolean
}

/** [first instant of the month, first instant of the next month) in UTC, for `YYYY-MM` shifted by `delta` months. */
function monthRange(month: string, delta = 0): { from: string; to: string; label: string } {
  const [y, m] = month.split('-').map(Number) as [number, number]
  const start = new Date(Date.UTC(y, m - 1 + delta, 1))
  const end = new Date(Date.UTC(y, m + delta, 1))
  return { from: start.toISOString(), to: end.toISOString(), label: start.toISOString().slice(0, 7) }
}

/**
 * 平安指数: per unit and month, score = 100 − Σ weight(kind) × cases of that kind opened in the
 * unit's subtree (floored at 0). Colours by configured thresholds; a red streak of
 * `supervisionRedMonths` puts the unit under special supervision.
 */
export class SafetyIndex {
  constructor(private readonly deps: { cases: CasesService; org: OrgService; settings: SafetyIndexSettings }) {}

  compute(principal: Principal, unitId: number | undefined, month: string | undefined): { month: string; unit: SafetyIndexEntry; children: SafetyIndexEntry[] } {
    const scope = scopeOf(principal)
    const id = unitId ?? principal.unitId
    if (id === null || id === undefined) throw ValidationError.field('query.unit', 'is required for a user not bound to a unit')
    const unit = this.deps.org.get(scope, id)
    const m = month ?? new Date().toISOString().slice(0, 7)
    const children = this.deps.org.list(scope, { parentId: unit.id })
    return { month: m, unit: this.entry(unit, m), children: children.map((c) => this.entry(c, m)) }
  }

  entry(unit: Unit, month: string): SafetyIndexEntry {
    const { score, colour, byKind, cases } = this.#month(unit.path, month, 0)
    let redStreak = 0
    if (colour === 'red') {
      redStreak = 1
      while (redStreak < 120 && this.#month(unit.path, month, -redStreak).colour === 'red') redStreak++
    }
    return { unit: { id: unit.id, code: unit.code, name: unit.name, tier: unit.tier }, score, colour, cases, byKind, redStreak, underSupervision: redStreak >= this.deps.settings.supervisionRedMonths }
  }

  colourOf(score: number): Colour {
    const t = this.deps.settings.thresholds
    if (score >= t.blue) return 'green'
    if (score >= t.orange) return 'blue'
    if (score >= t.red) return 'orange'
    return 'red'
  }

  #month(path: string, month: string, delta: number): { score: number; colour: Colour; byKind: Record<string, number>; cases: number } {
    const r = monthRange(month, delta)
    const byKind = this.deps.cases.countByKind(path, r.from, r.to)
    let penalty = 0
    let cases = 0
    for (const k of ALARM_KINDS) {
      const n = byKind[k] ?? 0
      cases += n
      penalty += n * this.deps.settings.weights[k]
    }
    const score = Math.max(0, Math.round((100 - penalty) * 10) / 10)
    return { score, colour: this.colourOf(score), byKind, cases }
  }
}
