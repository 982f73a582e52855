import type { Tier } from '../../core/scope.js'
import type { Unit } from '../org/index.js'
import { ALARM_KINDS, isOneButton, type AlarmKind, type Priority } from '../cases/index.js'

export const HANDLING_TIERS = ['own', 'community', 'police_station', 'street'] as const
export type HandlingTier = (typeof HANDLING_TIERS)[number]

export interface AlarmRule {
  action: 'case' | 'log'
  priority: Priority
  /** which unit handles the case: the camera's ancestor of this tier (the camera's own unit when it sits above it), or `own` */
  handlingTier: HandlingTier
  notifyStreet: boolean
}

export interface EffectiveRule extends AlarmRule {
  kind: AlarmKind
  /** the unit whose rule applies; null: built-in default */
  definedBy: { unitId: number; code: string } | null
}

const PRIORITY_DEFAULTS: Partial<Record<AlarmKind, Priority>> = {
  motion: 'low',
  one_button_alarm: 'urgent',
  one_button_help: 'high',
  intrusion: 'high',
  tamper: 'high',
}

export function defaultRule(kind: AlarmKind): AlarmRule {
  return {
    action: 'case',
    priority: PRIORITY_DEFAULTS[kind] ?? 'normal',
    // a camera outage is a fault for the unit that maintains the camera
    handlingTier: kind === 'camera_offline' ? 'own' : 'community',
    notifyStreet: isOneButton(kind),
  }
}

export const DEFAULT_RULES: Record<AlarmKind, AlarmRule> = Object.fromEntries(ALARM_KINDS.map((k) => [k, defaultRule(k)])) as Record<AlarmKind, AlarmRule>

/**
 * The unit that handles an alarm raised in `lineage` (street … the camera's unit): the camera's
 * community by default (a site camera → its parent community); a camera above that tier keeps its unit.
 */
export function handlingUnit(lineage: Unit[], tier: HandlingTier): Unit {
  const own = lineage[lineage.length - 1]!
  if (tier === 'own') return own
  return lineage.find((u) => u.tier === (tier as Tier)) ?? own
}
