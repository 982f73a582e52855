import net from 'node:net'
import t, { type Test } from 'tap'
import { systemPrincipal } from '../../../src/core/scope.js'
import type { GatewayEvents } from '../../../src/core/events.js'
import type { Unit } from '../../../src/features/org/index.js'
import type { CameraInput } from '../../../src/features/registry/index.js'
import { startOnvifSimulator, type SimulatedDevice } from '../../support/onvif-sim/index.js'
import { startTestGateway, type TestGateway } from '../../support/gateway.js'
import { startRtspTestServer, type RtspTestServer } from '../../support/rtsp-server.js'

/**
 * Camera health against the ONVIF simulator and the real GStreamer RTSP server: status with
 * hysteresis, reasons (auth, clock drift, covered, frozen, wrong resolution), events, the online
 * rate of a community and its street, and bad endpoints that cost only their own timeout.
 */
const CAM_USER = 'cam'
const CAM_PASSWORD = 'cam-secret'
const HEALTH = { offlineAfterFailures: 2, checkTimeoutSeconds: 1.5, frozenAfterChecks: 3, snapshotEveryChecks: 1, clockDriftThresholdSeconds: 10, bucketUtcOffsetMinutes: 0, concurrency: 16 }
const actor = systemPrincipal('test')

let rtsp: RtspTestServer
const sims: SimulatedDevice[] = []
let nextAddress = 1

t.before(async () => {
  rtsp = await startRtspTestServer({ user: CAM_USER, password: CAM_PASSWORD, auth: 'digest', width: 640, height: 360, fps: 15, mounts: ['/a', '/b'] })
})
t.teardown(async () => {
  await Promise.all(sims.map((s) => s.close()))
  await rtsp.close()
})

async function sim(opts: Parameters<typeof startOnvifSimulator>[0] = {}): Promise<SimulatedDevice> {
  const s = await startOnvifSimulator({ address: `127.0.41.${nextAddress++}`, vendor: 'hikvision', username: CAM_USER, password: CAM_PASSWORD, ...opts })
  sims.push(s)
  return s
}

const snapshotUri = (s: SimulatedDevice) => `http://${s.address}:${s.httpPort}/onvif-http/snapshot?Profile_1`

interface Tree {
  street: Unit
  station: Unit
  c1: Unit
  c2: Unit
  site: Unit
}

async function gateway(t: Test): Promise<{ gw: TestGateway; tree: Tree; events: { name: string; event: unknown }[] }> {
  const gw = await startTestGateway(t, { demo: false, overrides: { health: HEALTH } })
  const { org } = gw.services
  const street = org.create(actor, { parentId: null, tier: 'street', code: 'T-JD', name: '测试街道' })
  const station = org.create(actor, { parentId: street.id, tier: 'police_station', code: 'T-PCS', name: '派出所' })
  const c1 = org.create(actor, { parentId: station.id, tier: 'community', code: 'T-SQ1', name: '社区一' })
  const c2 = org.create(actor, { parentId: station.id, tier: 'community', code: 'T-SQ2', name: '社区二' })
  const site = org.create(actor, { parentId: c1.id, tier: 'site', code: 'T-WY1', name: '小区' })
  const events: { name: string; event: unknown }[] = []
  for (const name of ['camera.online', 'camera.offline', 'camera.degraded'] as const) gw.services.bus.on(name, (event: GatewayEvents[typeof name]) => events.push({ name, event }))
  return { gw, tree: { street, station, c1, c2, site }, events }
}

function camera(gw: TestGateway, unitId: number, name: string, extra: Partial<CameraInput> = {}): number {
  return gw.services.registry.create(actor, {
    unitId,
    name,
    class: 2,
    kind: 'fixed',
    credentials: { username: CAM_USER, password: CAM_PASSWORD },
    ...extra,
  } as never).id
}

const rtspMain = (mount = '/a', size: { width: number; height: number } = { width: 640, height: 360 }) => ({ main: { uri: rtsp.url(mount), codec: 'h264' as const, ...size, fps: 15 } })

t.test('healthy camera online; stream stopped → offline after N checks; restarted → online after one', async (t) => {
  const { gw, tree, events } = await gateway(t)
  const s = await sim()
  const id = camera(gw, tree.c1.id, 'healthy', { onvifUrl: s.xaddr, streams: rtspMain(), snapshotUri: snapshotUri(s) })
  const admin = await gw.login('admin')
  const api = gw.as(admin)

  let res = await api.post(`/api/cameras/${id}/health/check`)
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json.status, 'online', 'healthy camera is online')
  t.same(res.json.reasons, [])
  const checks = Object.fromEntries((res.json.checks as { check: string; ok: boolean; data?: Record<string, unknown> }[]).map((c) => [c.check, c]))
  t.ok(checks.tcp?.ok && checks.onvif_clock?.ok && checks.rtsp_describe?.ok && checks.snapshot?.ok, 'every check passed')
  t.match(checks.rtsp_describe?.data, { codec: 'h264', width: 640, height: 360 }, 'codec and size read from the SDP')
  t.equal(gw.services.registry.get(actor, id).status, 'online', 'the registry shows the status')
  t.same(events.map((e) => e.name), ['camera.online'])

  await rtsp.stop()
  res = await api.post(`/api/cameras/${id}/health/check`)
  t.equal(res.json.status, 'online', 'one failure: still online (hysteresis)')
  t.equal(res.json.failures, 1)
  res = await api.post(`/api/cameras/${id}/health/check`)
  t.equal(res.json.status, 'offline', `offline after ${HEALTH.offlineAfterFailures} failures`)
  t.same(res.json.reasons, ['refused'])
  t.match(events.at(-1), { name: 'camera.offline', event: { cameraId: id, unitId: tree.c1.id, reasons: ['refused'] } })
  res = await api.post(`/api/cameras/${id}/health/check`)
  t.equal(events.filter((e) => e.name === 'camera.offline').length, 1, 'events on transitions only')

  await rtsp.restart()
  res = await api.post(`/api/cameras/${id}/health/check`)
  t.equal(res.json.status, 'online', 'one good check brings it back')
  t.same(events.map((e) => e.name), ['camera.online', 'camera.offline', 'camera.online'])

  res = await api.get(`/api/cameras/${id}/health`)
  t.same((res.json.transitions as { from: string; to: string }[]).map((x) => `${x.from}>${x.to}`), ['offline>online', 'online>offline', 'unknown>online'], 'history of transitions, newest first')

  const problems = await api.get('/api/health/problems')
  t.same(problems.json.items, [], 'no problems once back')

  const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' })
  t.match(metrics.body, /gateway_health_online_rate\{unit="T-SQ1",tier="community"\} 1/)
  t.match(metrics.body, /gateway_health_checks_total\{check="tcp",result="refused"\} 3/, 'counter per check reason')
  t.match(metrics.body, /# TYPE gateway_health_sweep_duration_seconds histogram/)
})

t.test('degraded: wrong credentials, clock drift, covered, frozen, wrong resolution', async (t) => {
  const { gw, tree, events } = await gateway(t)
  const good = await sim()
  const skewed = await sim({ clockSkewSec: 120 })
  const dark = await sim({ snapshot: 'dark' })
  const frozen = await sim({ snapshot: 'frozen' })
  const wrongCreds = camera(gw, tree.c1.id, 'wrong password', { onvifUrl: good.xaddr, streams: rtspMain('/b'), credentials: { username: CAM_USER, password: 'nope' } })
  const drift = camera(gw, tree.c1.id, 'skewed clock', { onvifUrl: skewed.xaddr, streams: rtspMain() })
  const covered = camera(gw, tree.c1.id, 'covered', { onvifUrl: dark.xaddr, streams: rtspMain(), snapshotUri: snapshotUri(dark) })
  const still = camera(gw, tree.c2.id, 'frozen', { onvifUrl: frozen.xaddr, streams: rtspMain(), snapshotUri: snapshotUri(frozen) })
  const live = camera(gw, tree.c2.id, 'live picture', { onvifUrl: good.xaddr, streams: rtspMain(), snapshotUri: snapshotUri(good) })
  const wrongSize = camera(gw, tree.c2.id, 'wrong size', { onvifUrl: good.xaddr, streams: rtspMain('/a', { width: 1920, height: 1080 }) })
  const admin = await gw.login('admin')
  const api = gw.as(admin)

  const r1 = await api.post(`/api/health/check?unit=${tree.street.id}`)
  t.equal(r1.statusCode, 200, r1.body)
  t.equal(r1.json.checked, 6)
  const h = (id: number) => gw.services.health.cameraHealth(actor, id)
  t.match(h(wrongCreds), { status: 'degraded', reasons: ['auth_failed'] }, 'wrong credentials: degraded auth_failed')
  t.match(h(drift), { status: 'degraded', reasons: ['clock_drift'] }, 'skewed clock: degraded clock_drift')
  const offset = gw.services.registry.get(actor, drift).clockOffsetMs!
  t.ok(Math.abs(offset - 120_000) < 3000, `clock offset stored on the camera (${offset} ms)`)
  t.match(h(covered), { status: 'degraded', reasons: ['covered'] }, 'black picture: covered')
  t.match(h(wrongSize), { status: 'degraded', reasons: ['wrong_resolution'] }, 'SDP size differs from the registry')
  t.match(h(still), { status: 'online' }, 'one identical picture is not yet frozen')

  for (let i = 0; i < 2; i++) await api.post(`/api/health/check?unit=${tree.c2.id}`)
  t.match(h(still), { status: 'degraded', reasons: ['frozen'] }, `the same picture ${HEALTH.frozenAfterChecks} times: frozen`)
  t.match(h(live), { status: 'online', reasons: [] }, 'a changing picture is not frozen')

  frozen.setSnapshot('live')
  // the simulator's first live picture may be the frozen one; the next differs
  await api.post(`/api/cameras/${still}/health/check`)
  await api.post(`/api/cameras/${still}/health/check`)
  // the checks in the message: a failure in CI (1 run in 6) left it degraded, reasons not recorded
  t.match(h(still), { status: 'online', reasons: [] }, `moving again: online (${JSON.stringify({ reasons: h(still).reasons, checks: h(still).checks.map((c) => [c.check, c.reason ?? 'ok']) })})`)

  const degradedEvents = events.filter((e) => e.name === 'camera.degraded').map((e) => (e.event as { cameraId: number }).cameraId)
  t.same(new Set(degradedEvents), new Set([wrongCreds, drift, covered, wrongSize, still]), 'camera.degraded published for each')

  const problems = await api.get(`/api/health/problems?unit=${tree.c1.id}`)
  t.same((problems.json.items as { cameraId: number }[]).map((p) => p.cameraId).sort(), [wrongCreds, drift, covered].sort(), 'problems of the community')
})

t.test('online rate of a community and of its street', async (t) => {
  const { gw, tree } = await gateway(t)
  const dead = await new Promise<number>((resolve) => {
    const srv = net.createServer()
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port)) // a port nobody listens on: refused
    })
  })
  const deadMain = { main: { uri: `rtsp://127.0.0.1:${dead}/x`, codec: 'h264' as const } }
  // c1: 3 online (class 1,1,2), 1 offline (class 2); site under c1: 1 online (class 3, door access), 1 degraded (class 3)
  camera(gw, tree.c1.id, 'c1 a', { class: 1, streams: rtspMain() })
  camera(gw, tree.c1.id, 'c1 b', { class: 1, streams: rtspMain() })
  camera(gw, tree.c1.id, 'c1 c', { class: 2, streams: rtspMain() })
  camera(gw, tree.c1.id, 'c1 dead', { class: 2, streams: deadMain })
  camera(gw, tree.site.id, 'site ok', { class: 3, kind: 'door_access', streams: rtspMain() })
  camera(gw, tree.site.id, 'site auth', { class: 3, streams: rtspMain(), credentials: { username: CAM_USER, password: 'bad' } })
  // c2: 1 online (class 2), 2 offline (class 2, checkpoint); one disabled camera (not counted)
  camera(gw, tree.c2.id, 'c2 a', { class: 2, streams: rtspMain() })
  camera(gw, tree.c2.id, 'c2 dead 1', { class: 2, streams: deadMain })
  camera(gw, tree.c2.id, 'c2 dead 2', { class: 2, kind: 'checkpoint', streams: deadMain })
  camera(gw, tree.c2.id, 'c2 disabled', { class: 2, streams: deadMain, enabled: false })

  const admin = await gw.login('admin')
  const api = gw.as(admin)
  for (let i = 0; i < HEALTH.offlineAfterFailures; i++) await api.post(`/api/health/check?unit=${tree.street.id}`)

  const c1 = (await api.get(`/api/health/summary?unit=${tree.c1.id}`)).json
  t.match(c1.now, { online: 4, degraded: 1, offline: 1, unknown: 0, total: 6 })
  t.equal(c1.now.rate, 0.833333, 'community: 5 of 6 online')
  t.match(c1.now.byClass, { 1: { rate: 1, total: 2 }, 2: { rate: 0.5, total: 2 }, 3: { rate: 1, total: 2 } })
  t.match(c1.now.byKind, { door_access: { rate: 1, total: 1 }, fixed: { rate: 0.8, total: 5 } })
  const street = (await api.get(`/api/health/summary?unit=${tree.street.id}`)).json
  t.match(street.now, { online: 5, degraded: 1, offline: 3, total: 9 })
  t.equal(street.now.rate, 0.666667, 'street: 6 of 9 online')
  t.match(street.now.byClass, { 2: { online: 2, offline: 3, rate: 0.4 } })
  t.match(street.now.byKind, { checkpoint: { rate: 0, total: 1 } })

  // Time-weighted history from the transitions: a fixed past window, written directly.
  const ins = gw.services.db.prepare('INSERT INTO health_transitions (camera_id, unit_id, class, kind, from_status, to_status, reasons, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const ids = (gw.services.db.prepare('SELECT id, unit_id, class, kind FROM cameras WHERE name IN (?, ?)').all('c1 a', 'c2 a') as { id: number; unit_id: number; class: number; kind: string }[])
  const [x, y] = ids
  const tr = (c: typeof x, from: string, to: string, at: string) => ins.run(c!.id, c!.unit_id, c!.class, c!.kind, from, to, '[]', at)
  tr(x, 'unknown', 'online', '2020-01-01T09:50:00.000Z')
  tr(x, 'online', 'offline', '2020-01-01T10:30:00.000Z')
  tr(x, 'offline', 'online', '2020-01-01T11:15:00.000Z')
  tr(x, 'online', 'degraded', '2020-01-01T11:45:00.000Z')
  tr(x, 'degraded', 'offline', '2020-01-01T13:00:00.000Z')
  tr(y, 'unknown', 'online', '2020-01-01T10:20:00.000Z')
  const window = 'from=2020-01-01T10:00:00.000Z&to=2020-01-01T12:00:00.000Z'
  const hc1 = (await api.get(`/api/health/summary?unit=${tree.c1.id}&period=hour&${window}`)).json
  t.equal(hc1.buckets.length, 2)
  t.match(hc1.buckets[0], { start: '2020-01-01T10:00:00.000Z', onlineSeconds: 1800, offlineSeconds: 1800, rate: 0.5 }, 'c1 10:00-11:00: 30 of 60 minutes online')
  t.match(hc1.buckets[1], { onlineSeconds: 1800, degradedSeconds: 900, offlineSeconds: 900, rate: 0.75 }, 'c1 11:00-12:00: 45 of 60 minutes up')
  const hs = (await api.get(`/api/health/summary?unit=${tree.street.id}&period=hour&${window}`)).json
  // street adds y: online from 10:20 (40 min known in the first hour), all of the second
  t.equal(hs.buckets[0].rate, Math.round((1800 + 2400) / (3600 + 2400) * 1e6) / 1e6, 'street 10:00-11:00: (30 + 40) of (60 + 40) camera-minutes')
  t.equal(hs.buckets[1].rate, Math.round((2700 + 3600) / 7200 * 1e6) / 1e6, 'street 11:00-12:00')
  t.match(hs.total, { onlineSeconds: 1800 + 1800 + 2400 + 3600, degradedSeconds: 900, offlineSeconds: 2700 })
  t.match(hs.buckets[0].byClass, { 1: { rate: 0.5 }, 2: { rate: 1 } }, 'by class over time')
  const day = (await api.get(`/api/health/summary?unit=${tree.street.id}&period=day&from=2020-01-01T00:00:00.000Z&to=2020-01-02T00:00:00.000Z`)).json
  t.equal(day.buckets.length, 1)
  // x: known 09:50→end of day (with the current state at 13:00 offline until the day ends); y from 10:20
  const xUp = (40 + 45 + 30 + 75) * 60 // online 09:50-10:30, 11:15-11:45 + degraded 11:45-13:00 → 40+30 online, 75 degraded
  t.ok(day.buckets[0].rate > 0 && day.buckets[0].rate < 1, `day bucket rate ${day.buckets[0].rate} (x up ${xUp / 60} min)`)

  // scope: a community user sees its community by default, not its neighbour
  await gw.services.auth.seedUser({ username: 'c2.patrol', unitId: tree.c2.id, roles: ['patrol'], password: 'patrol-password-1' })
  const c2api = gw.as(await gw.login('c2.patrol', 'patrol-password-1'))
  const own = (await c2api.get('/api/health/summary')).json
  t.match(own, { unit: { id: tree.c2.id }, now: { online: 1, offline: 2, total: 3, rate: 0.333333 } }, 'a community user: own community by default')
  t.equal((await c2api.get(`/api/health/summary?unit=${tree.c1.id}`)).statusCode, 404, 'another community is not found')
  t.equal((await c2api.get(`/api/health/problems`)).json.items.length, 2, 'problems of the own community only')
  t.equal((await c2api.post(`/api/cameras/${x!.id}/health/check`)).statusCode, 404, 'a camera outside the subtree is not found')

  const bad = await api.get(`/api/health/summary?period=hour&from=nonsense`)
  t.equal(bad.statusCode, 400)
})

t.test('a hanging, a garbage and a resetting endpoint cost only their own timeout', async (t) => {
  const { gw, tree } = await gateway(t)
  const sockets = new Set<net.Socket>()
  const server = (onConn: (s: net.Socket) => void) =>
    new Promise<net.Server>((resolve) => {
      const srv = net.createServer((s) => {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
        s.on('error', () => undefined)
        onConn(s)
      })
      srv.listen(0, '127.0.0.1', () => resolve(srv))
    })
  const hang = await server(() => undefined)
  const garbage = await server((s) => s.once('data', () => s.end('HTTP/9.9 ??? garbage\r\n\r\n\x00\x01\x02')))
  const reset = await server((s) => s.once('data', () => s.resetAndDestroy()))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await Promise.all([hang, garbage, reset].map((srv) => new Promise((r) => srv.close(r))))
  })
  const port = (srv: net.Server) => (srv.address() as net.AddressInfo).port
  const good = await sim()
  const ids = {
    hang: camera(gw, tree.c1.id, 'hangs', { onvifUrl: `http://127.0.0.1:${port(hang)}/onvif/device_service`, streams: { main: { uri: `rtsp://127.0.0.1:${port(hang)}/x` } } }),
    garbage: camera(gw, tree.c1.id, 'garbage', { streams: { main: { uri: `rtsp://127.0.0.1:${port(garbage)}/x` } } }),
    reset: camera(gw, tree.c1.id, 'resets', { streams: { main: { uri: `rtsp://127.0.0.1:${port(reset)}/x` } } }),
    good1: camera(gw, tree.c1.id, 'good 1', { onvifUrl: good.xaddr, streams: rtspMain(), snapshotUri: snapshotUri(good) }),
    good2: camera(gw, tree.c1.id, 'good 2', { streams: rtspMain('/b') }),
  }
  const admin = await gw.login('admin')
  const t0 = performance.now()
  const res = await gw.as(admin).post(`/api/health/check?unit=${tree.c1.id}`)
  const elapsed = performance.now() - t0
  t.equal(res.json.checked, 5)
  const budget = HEALTH.checkTimeoutSeconds * 1000
  // three bad cameras in a row would take 3 budgets; in parallel slots the whole check takes about one
  t.ok(elapsed < 2 * budget, `the whole check took ${Math.round(elapsed)} ms (camera budget ${budget} ms)`)
  const h = (id: number) => gw.services.health.cameraHealth(actor, id)
  for (const g of [ids.good1, ids.good2]) {
    t.equal(h(g).status, 'online')
    const slowest = Math.max(...h(g).checks.map((c) => c.ms))
    t.ok(slowest < budget - 200, `a good camera's checks are not delayed by the bad ones (${slowest} ms)`)
  }
  const reasonOf = (id: number) => h(id).checks.find((c) => c.check === 'rtsp_describe')?.reason
  t.equal(reasonOf(ids.hang), 'timeout', 'hanging RTSP: timeout')
  t.equal(reasonOf(ids.garbage), 'protocol', 'garbage: protocol')
  t.ok(['protocol', 'refused'].includes(reasonOf(ids.reset) ?? ''), `reset: ${reasonOf(ids.reset)}`)
  t.equal(h(ids.hang).failures, 1)
  const hangMs = Math.max(...h(ids.hang).checks.map((c) => c.ms))
  t.ok(hangMs <= budget + 1000, `the hanging camera costs its own timeout (${hangMs} ms)`)
})

t.test('a camera with a live session is not probed: the session tells the truth', async (t) => {
  const { gw, tree } = await gateway(t)
  const s = await sim()
  const id = camera(gw, tree.c1.id, 'watched', { onvifUrl: s.xaddr, streams: rtspMain() })
  const since = '2026-01-01T00:00:00.000Z'
  let streaming = true
  gw.services.health.setLiveStateSource({ liveState: (cameraId) => (cameraId === id ? { streaming, since } : null) })
  s.clearCalls()
  const before = rtsp.counters.requests['DESCRIBE'] ?? 0
  let h = await gw.services.health.checkCamera(actor, id)
  t.match(h, { status: 'online', checks: [{ check: 'live', ok: true, data: { since } }] })
  t.equal(s.calls.length, 0, 'no ONVIF request')
  t.equal(rtsp.counters.requests['DESCRIBE'] ?? 0, before, 'no DESCRIBE')
  streaming = false // the session is failing (backoff): probe
  h = await gw.services.health.checkCamera(actor, id)
  t.ok(h.checks.some((c) => c.check === 'rtsp_describe' && c.ok), 'probed when the session is not streaming')
})

t.test('scheduler: sweeps do not overlap; close is idempotent; demo cameras are not probed', async (t) => {
  const gw = await startTestGateway(t, { demo: true, overrides: { health: HEALTH } })
  const { health } = gw.services
  const a = health.sweep()
  const b = health.sweep()
  t.equal(a, b, 'a second sweep while one runs joins it')
  const report = await a
  t.ok(report.checked > 0, `${report.checked} demo cameras checked`)
  t.equal(report.online, report.checked, 'demo cameras online (local source, not probed)')
  const patrol = await gw.login('street.patrol')
  const sum = await gw.as(patrol).get('/api/health/summary')
  t.equal(sum.statusCode, 200)
  t.equal(sum.json.now.rate, 1)
  const forbidden = await gw.as(patrol).post('/api/health/check')
  t.equal(forbidden.statusCode, 403, 'patrol may not trigger checks')
  // a scheduled sweep spreads its starts over half the interval; close() does not wait for that
  const paced = health.sweep('schedule')
  await new Promise((r) => setTimeout(r, 300))
  health.start()
  health.start()
  const c0 = performance.now()
  await health.close()
  await health.close()
  await paced
  t.ok(performance.now() - c0 < 2000, `close during a paced sweep returns at once (${Math.round(performance.now() - c0)} ms), twice`)
})

t.test('a sweep reads each camera when it reaches it: one disabled meanwhile is skipped', async (t) => {
  const gw = await startTestGateway(t, { demo: false, overrides: { health: { ...HEALTH, concurrency: 1, offlineAfterFailures: 1 } } })
  const { org, registry, health } = gw.services
  const street = org.create(actor, { parentId: null, tier: 'street', code: 'T-JD', name: '测试街道' })
  // accepts and never answers: the first camera holds the only slot for its whole budget
  const held = new Set<net.Socket>()
  const hang = net.createServer((s) => {
    held.add(s)
    s.on('error', () => undefined)
  })
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of held) s.destroy()
    hang.close()
  })
  const port = (hang.address() as net.AddressInfo).port
  const first = camera(gw, street.id, 'hangs', { streams: { main: { uri: `rtsp://127.0.0.1:${port}/a`, codec: 'h264', width: 640, height: 360, fps: 15 } } })
  const second = camera(gw, street.id, 'disabled meanwhile', { streams: { main: { uri: `rtsp://127.0.0.1:${port}/b`, codec: 'h264', width: 640, height: 360, fps: 15 } } })
  const sweep = health.sweep()
  await new Promise((r) => setTimeout(r, 300))
  registry.update(actor, second, { enabled: false })
  const report = await sweep
  t.equal(report.checked, 1, 'only the camera still enabled when its turn came was checked')
  t.match(health.cameraHealth(actor, first), { status: 'offline' })
  t.equal(health.cameraHealth(actor, second).checkedAt, null, 'the disabled camera was not probed')
})

t.test('a snapshot verdict is carried while the snapshot is not due', async (t) => {
  const gw = await startTestGateway(t, { demo: false, overrides: { health: { ...HEALTH, snapshotEveryChecks: 3 } } })
  const street = gw.services.org.create(actor, { parentId: null, tier: 'street', code: 'T-JD', name: '测试街道' })
  const dark = await sim({ snapshot: 'dark' })
  const covered = camera(gw, street.id, 'covered', { onvifUrl: dark.xaddr, streams: rtspMain(), snapshotUri: snapshotUri(dark) })
  const { health } = gw.services
  await health.sweep()
  const h1 = health.cameraHealth(actor, covered)
  t.match(h1, { status: 'degraded', reasons: ['covered'] }, 'first check fetches the snapshot: covered')
  t.notOk(h1.checks.find((c) => c.check === 'snapshot')?.data?.carried, 'a fresh verdict')
  for (let i = 0; i < 2; i++) {
    await health.sweep()
    const h = health.cameraHealth(actor, covered)
    t.match(h, { status: 'degraded', reasons: ['covered'] }, `check ${i + 2}: still covered`)
    t.match(h.checks.find((c) => c.check === 'snapshot'), { check: 'snapshot', ok: false, reason: 'covered', data: { carried: true } }, `check ${i + 2}: the verdict is carried`)
  }
})

t.test('a wrong ONVIF password is degraded auth_failed (GetDeviceInformation every Nth check); a failing event subscription is events_failed', async (t) => {
  // the real camera's RTSP and snapshot are open, and GetSystemDateAndTime needs no login
  const gw = await startTestGateway(t, { demo: false, overrides: { health: { ...HEALTH, onvifAuthEveryChecks: 3 }, alarms: { pullPoint: true } } })
  const street = gw.services.org.create(actor, { parentId: null, tier: 'street', code: 'T-JD', name: '测试街道' })
  const cam = await sim({ authFailureStatus: 400 })
  const id = camera(gw, street.id, 'password changed', { onvifUrl: cam.xaddr, snapshotUri: snapshotUri(cam) })
  const { health } = gw.services
  const h = () => health.cameraHealth(actor, id)
  await health.sweep()
  t.match(h(), { status: 'online', reasons: [] })
  t.match(h().checks.find((c) => c.check === 'onvif_auth'), { ok: true }, 'the first check logs in')

  cam.setPassword('changed on the camera')
  for (const n of [2, 3]) {
    await health.sweep() // the login is not due; the last verdict stands
    t.match(h(), { status: 'online' }, `check ${n}`)
    t.match(h().checks.find((c) => c.check === 'onvif_auth'), { ok: true, data: { carried: true } })
  }
  await health.sweep() // 4th: due (3 checks after the last login)
  t.match(h(), { status: 'degraded', reasons: ['auth_failed'] }, 'the changed password is noticed')
  t.match(h().checks.find((c) => c.check === 'onvif_auth'), { ok: false, reason: 'auth_failed' })
  t.match(h().checks.find((c) => c.check === 'onvif_clock'), { ok: true }, 'the clock still answers')
  await health.sweep()
  t.match(h(), { status: 'degraded', reasons: ['auth_failed'] }, 'carried while not due')
  const manual = await gw.as(await gw.login('admin')).post(`/api/cameras/${id}/health/check`)
  t.ok(manual.statusCode < 300, manual.body)
  t.match(h(), { status: 'degraded', reasons: ['auth_failed'] })
  cam.setPassword(CAM_PASSWORD)
  await gw.as(await gw.login('admin')).post(`/api/cameras/${id}/health/check`)
  t.match(h(), { status: 'online', reasons: [] }, 'a manual check logs in again: fixed')

  // events: every subscription attempt fails (the camera faults); a few in a row are a health reason
  cam.setFault({ kind: 'receiver-fault' }, { actions: ['CreatePullPointSubscription'] })
  gw.services.registry.update(actor, id, { capabilities: { events: true } })
  const deadline = Date.now() + 20_000
  while (!h().reasons.includes('events_failed') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500))
    await health.sweep()
  }
  t.match(h(), { status: 'degraded', reasons: ['events_failed'] }, 'the failing subscription is a reason')
  t.match(h().checks.find((c) => c.check === 'events'), { ok: false, reason: 'events_failed' })
  cam.setFault(undefined)
  while (h().reasons.includes('events_failed') && Date.now() < deadline + 20_000) {
    await new Promise((r) => setTimeout(r, 500))
    await health.sweep()
  }
  t.match(h(), { status: 'online', reasons: [] }, 'subscribed again: fine')
})
