import { TIERS, type Tier } from '../../core/scope.js'

/** The tier a unit's parent must have; streets have none. */
export function parentTierOf(tier: Tier): Tier | null {
  const i = TIERS.indexOf(tier)
  return i <= 0 ? null : TIERS[i - 1]!
}

export function childTierOf(tier: Tier): Tier | null {
  const i = TIERS.indexOf(tier)
  return i < 0 || i === TIERS.length - 1 ? null : TIERS[i + 1]!
}

export const TIER_LABELS: Record<Tier, { zh: string; en: string }> = {
  street: { zh: '街道', en: 'Street' },
  police_station: { zh: '派出所', en: 'Police station' },
  community: { zh: '社区', en: 'Community' },
  site: { zh: '小区/企业', en: 'Site' },
}
