import { systemPrincipal, ROLES, type Tier } from '../../core/scope.js'
import type { AuthService } from '../auth/index.js'
import type { OrgService, Unit } from '../org/index.js'
import type { CameraClass, CameraKind, RegistryService } from '../registry/index.js'

/**
 * Demo data for a newcomer: the seeds' "1 + 3 + 12 + N" tree (one street command centre, three
 * police stations, twelve community work stations, a few property sites), a user of each role at
 * each tier, and demo cameras whose streams are generated test patterns (demo:// URIs), so live
 * video works with no camera on the network. Runs only on an empty database.
 */
export const DEMO_PASSWORD = 'demo-pass-2026'

const STATIONS = ['东湖派出所', '西岭派出所', '南山派出所']
const COMMUNITIES = ['湖滨社区', '桂园社区', '青山社区', '梅岭社区', '江汉社区', '翠微社区', '锦绣社区', '柳荫社区', '朝阳社区', '望江社区', '枫林社区', '兰亭社区']
const SITES: { community: number; name: string }[] = [
  { community: 0, name: '湖滨花园小区' },
  { community: 1, name: '桂园雅居' },
  { community: 4, name: '江汉科技园' },
  { community: 6, name: '锦绣华庭' },
  { community: 9, name: '望江物流园' },
  { community: 11, name: '兰亭国际小区' },
]
const CENTER = { lat: 30.5728, lon: 114.3655 }

export const DEMO_USERS_TIER_NAMES: Record<Tier, string> = { street: 'street', police_station: 'station', community: 'community', site: 'site' }

function demoStream(size: string, fps: number, label: string): string {
  return `demo://testsrc2?size=${size}&fps=${fps}&label=${encodeURIComponent(label)}`
}

export interface DemoSummary {
  units: number
  users: string[]
  cameras: number
}

export async function seedDemo(deps: { org: OrgService; auth: AuthService; registry: RegistryService }): Promise<DemoSummary | null> {
  const { org, auth, registry } = deps
  if (org.count() > 0) return null
  const actor = systemPrincipal('demo')
  const units: Unit[] = []
  const street = org.create(actor, { parentId: null, tier: 'street', code: 'JD01', name: '东湖街道综合指挥平台', lat: CENTER.lat, lon: CENTER.lon })
  units.push(street)
  const stations = STATIONS.map((name, i) =>
    org.create(actor, { parentId: street.id, tier: 'police_station', code: `JD01-PCS${i + 1}`, name, lat: CENTER.lat + (i - 1) * 0.02, lon: CENTER.lon + 0.01 }),
  )
  units.push(...stations)
  const communities = COMMUNITIES.map((name, i) => {
    const station = stations[Math.floor(i / 4)]!
    return org.create(actor, {
      parentId: station.id,
      tier: 'community',
      code: `JD01-SQ${String(i + 1).padStart(2, '0')}`,
      name: `${name}工作站`,
      lat: CENTER.lat + (Math.floor(i / 4) - 1) * 0.02 + ((i % 4) - 1.5) * 0.004,
      lon: CENTER.lon + ((i % 4) - 1.5) * 0.006,
    })
  })
  units.push(...communities)
  const sites = SITES.map((s, i) =>
    org.create(actor, {
      parentId: communities[s.community]!.id,
      tier: 'site',
      code: `JD01-WY${String(i + 1).padStart(2, '0')}`,
      name: s.name,
      lat: communities[s.community]!.lat! + 0.001,
      lon: communities[s.community]!.lon! + 0.001,
    }),
  )
  units.push(...sites)

  const users: string[] = []
  const firstOfTier: Record<Tier, Unit> = { street, police_station: stations[0]!, community: communities[0]!, site: sites[0]! }
  for (const [tier, unit] of Object.entries(firstOfTier) as [Tier, Unit][]) {
    for (const role of ROLES) {
      const username = `${DEMO_USERS_TIER_NAMES[tier]}.${role}`
      await auth.seedUser({ username, displayName: `${unit.name} ${role}`, unitId: unit.id, roles: [role], password: DEMO_PASSWORD })
      users.push(username)
    }
  }

  let cameras = 0
  const add = (unit: Unit, name: string, cls: CameraClass, kind: CameraKind, n: number, extra: { sharedUpward?: boolean; tags?: string[] } = {}) => {
    const lat = (unit.lat ?? CENTER.lat) + ((n % 3) - 1) * 0.0008
    const lon = (unit.lon ?? CENTER.lon) + (Math.floor(n / 3) - 0.5) * 0.0008
    registry.create(actor, {
      unitId: unit.id,
      name,
      class: cls,
      kind,
      location: { lat, lon, address: `${unit.name}${name}` },
      device: { manufacturer: 'Sharp Eyes Demo', model: 'testsrc2', serial: `DEMO-${unit.code}-${n}`, firmware: '1.0' },
      streams: {
        main: { uri: demoStream('1280x720', 25, name), codec: 'h264', width: 1280, height: 720, fps: 25 },
        sub: { uri: demoStream('640x360', 15, name), codec: 'h264', width: 640, height: 360, fps: 15 },
      },
      capabilities: { ptz: kind === 'ptz', events: false },
      tags: extra.tags ?? [],
      sharedUpward: extra.sharedUpward ?? false,
    })
    cameras++
  }
  add(street, '街道广场 全景', 1, 'ptz', 0, { tags: ['广场', '重点'] })
  add(street, '主干道 路口卡口', 1, 'checkpoint', 1, { tags: ['卡口', '路口'] })
  stations.forEach((s, i) => add(s, `${STATIONS[i]} 门前`, 1, 'fixed', 0, { tags: ['派出所'] }))
  communities.forEach((c, i) => {
    add(c, `${COMMUNITIES[i]} 出入口`, 2, 'fixed', 0, { tags: ['出入口'] })
    add(c, `${COMMUNITIES[i]} 视频门禁`, 2, 'door_access', 1, { tags: ['门禁'] })
  })
  sites.forEach((s, i) => {
    add(s, `${SITES[i]!.name} 大门`, 3, 'dome', 0, { sharedUpward: true, tags: ['内保外用'] })
    add(s, `${SITES[i]!.name} 地下车库`, 3, 'fixed', 1, { tags: ['车库'] })
  })
  return { units: units.length, users, cameras }
}
