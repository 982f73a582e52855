/**
 * bench/registry: 100,000 cameras across a 1 + 3 + 12 + 200 tree.
 * Figures: p50/p99 of one 50-row page of the scoped camera list for a community user and for a
 * street user (first pages and deep pages through cursors), of a text search, and CSV import
 * rows per second (end to end through the HTTP API). Targets (issue 2): page p99 ≤ 10 ms,
 * import ≥ 5,000 rows/s.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { buildGateway } from '../../src/app.js'
import { loadConfig } from '../../src/core/config.js'
import { systemPrincipal } from '../../src/core/scope.js'
import { report, summarize, type Figure } from '../lib/report.js'

const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 100_000)
const SITES = 200
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 400)
const PASSWORD = 'bench-password-1'

const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-registry-'))
const config = loadConfig({ env: {}, overrides: { dataDir, demo: false, log: { level: 'silent' }, registry: { importMaxRows: 1_000_000 } } })
const gateway = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: PASSWORD } })
const { org, auth } = gateway.services
const app = gateway.app

try {
  // --- the tree --------------------------------------------------------------------------------
  const actor = systemPrincipal('bench')
  const street = org.create(actor, { parentId: null, tier: 'street', code: 'B-JD', name: 'bench street' })
  const stations = [1, 2, 3].map((i) => org.create(actor, { parentId: street.id, tier: 'police_station', code: `B-PCS${i}`, name: `station ${i}` }))
  const communities = Array.from({ length: 12 }, (_, i) => org.create(actor, { parentId: stations[i % 3]!.id, tier: 'community', code: `B-SQ${i}`, name: `community ${i}` }))
  const sites = Array.from({ length: SITES }, (_, i) => org.create(actor, { parentId: communities[i % 12]!.id, tier: 'site', code: `B-WY${i}`, name: `site ${i}` }))
  const placeable = [...communities, ...sites]

  await auth.seedUser({ username: 'bench.street', unitId: street.id, roles: ['patrol'], password: PASSWORD })
  await auth.seedUser({ username: 'bench.community', unitId: communities[0]!.id, roles: ['patrol'], password: PASSWORD })
  const login = async (username: string) => (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: PASSWORD } })).json().token as string
  const adminToken = await login('admin')

  // --- CSV import: 100,000 rows ------------------------------------------------------------------
  const names = ['东门', '西门', '南广场', '北停车场', '大堂', '电梯厅', '地下车库', '主干道', '路口', '围墙']
  let csv = 'name,unit_code,class,kind,lat,lon,address,onvif_url,serial,main_uri,main_codec,main_width,main_height,main_fps,tags,shared_upward,username,password\n'
  for (let i = 0; i < CAMERAS; i++) {
    const unit = placeable[i % placeable.length]!
    const isSite = unit.tier === 'site'
    csv += `${names[i % names.length]} ${i},${unit.code},${isSite ? 3 : 2},fixed,30.${5000 + (i % 999)},114.${3000 + (i % 997)},湖滨路${i}号,http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/onvif/device_service,SN${String(i).padStart(8, '0')},rtsp://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/Streaming/Channels/101,h264,1920,1080,25,${i % 7 === 0 ? '重点;出入口' : '普通'},${isSite && i % 2 === 0 ? 1 : 0},admin,pw${i}\n`
  }
  const importStart = performance.now()
  const importRes = await app.inject({ method: 'POST', url: '/api/cameras/import', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'text/csv' }, payload: csv })
  const importMs = performance.now() - importStart
  if (importRes.statusCode !== 200) throw new Error(`import failed: ${importRes.statusCode} ${importRes.body.slice(0, 500)}`)
  const imported = importRes.json() as { created: number }

  // --- pages -------------------------------------------------------------------------------------
  const measure = async (token: string, urlFor: (i: number, cursor: string | null) => string, followCursor: boolean) => {
    const samples: number[] = []
    let cursor: string | null = null
    for (let i = 0; i < ITERATIONS; i++) {
      const t0 = performance.now()
      const res = await app.inject({ method: 'GET', url: urlFor(i, cursor), headers: { authorization: `Bearer ${token}` } })
      samples.push(performance.now() - t0)
      if (res.statusCode !== 200) throw new Error(`page failed: ${res.statusCode} ${res.body}`)
      const body = res.json() as { items: unknown[]; nextCursor: string | null }
      cursor = followCursor ? body.nextCursor : null
    }
    return summarize(samples.slice(20)) // the first requests warm statement caches
  }
  const streetToken = await login('bench.street')
  const communityToken = await login('bench.community')
  const page = (i: number, cursor: string | null) => `/api/cameras?limit=50${cursor ? `&cursor=${cursor}` : ''}`
  const streetPages = await measure(streetToken, page, true)
  const communityPages = await measure(communityToken, page, true)
  const searchTerms = ['南广场', '地下车库 1', 'SN0004', '湖滨路77', '重点']
  const search = await measure(streetToken, (i) => `/api/cameras?limit=50&q=${encodeURIComponent(searchTerms[i % searchTerms.length]!)}`, false)
  const communitySearch = await measure(communityToken, (i) => `/api/cameras?limit=50&q=${encodeURIComponent(searchTerms[i % searchTerms.length]!)}`, false)

  const figures: Record<string, Figure> = {
    'street page p50': { value: streetPages.p50, unit: 'ms', better: 'lower' },
    'street page p99': { value: streetPages.p99, unit: 'ms', target: 10, better: 'lower' },
    'community page p50': { value: communityPages.p50, unit: 'ms', better: 'lower' },
    'community page p99': { value: communityPages.p99, unit: 'ms', target: 10, better: 'lower' },
    'street search p50': { value: search.p50, unit: 'ms', better: 'lower' },
    'street search p99': { value: search.p99, unit: 'ms', target: 10, better: 'lower' },
    'community search p50': { value: communitySearch.p50, unit: 'ms', better: 'lower' },
    'community search p99': { value: communitySearch.p99, unit: 'ms', target: 10, better: 'lower' },
    'csv import rate': { value: (imported.created / importMs) * 1000, unit: 'rows/s', target: 5000, better: 'higher' },
  }
  report('registry', figures, [
    `${imported.created} cameras imported in ${(importMs / 1000).toFixed(1)} s across ${placeable.length} units (1 + 3 + 12 + ${SITES} tree)`,
    `latencies through app.inject (routing, auth, validation, SQL, serialization), ${ITERATIONS} requests each, following cursors`,
  ])
} finally {
  await gateway.close()
  rmSync(dataDir, { recursive: true, force: true })
}
