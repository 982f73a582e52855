/** PTZ for patrol staff against a simulated PTZ camera (127.34.x.y), scoped like everything else. */
import t from 'tap'
import { startOnvifSimulator } from '../../support/onvif-sim/index.js'
import { startTestGateway } from '../../support/gateway.js'
import { makeCamera, unit } from '../../support/fixtures.js'

const PW = 'Ptz-pass-1'
const gw = await startTestGateway(t, { overrides: { discovery: { allowedCidrs: ['127.0.0.0/8'], onvifTimeoutMs: 1500 } } })
const dome = await startOnvifSimulator({ address: '127.34.0.1', vendor: 'hikvision', ptz: true, password: PW })
const fixed = await startOnvifSimulator({ address: '127.34.0.2', vendor: 'axis', ptz: false, password: PW })
t.teardown(() => Promise.all([dome.close(), fixed.close()]))

const admin = await gw.login('admin')
const sq01 = unit(gw, 'JD01-SQ01')
const adopt = async (d: typeof dome, kind: string) => {
  const r = await gw.as(admin).post('/api/discovery/adopt', { host: d.address, port: d.httpPort, unitId: sq01.id, class: 2, kind, credentials: { username: 'admin', password: PW } })
  if (r.statusCode !== 201) throw new Error(r.body)
  return r.json.camera.id as number
}
const ptzId = await adopt(dome, 'ptz')
const fixedId = await adopt(fixed, 'fixed')
const patrol = await gw.login('community.patrol')

t.test('patrol staff steer a PTZ camera; the calls reach the device', async (t) => {
  dome.clearCalls()
  const move = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/move`, { pan: 0.5, tilt: -0.25, timeoutMs: 2000 })
  t.equal(move.statusCode, 200, move.body)
  t.same(dome.ptzVelocity, { pan: 0.5, tilt: -0.25, zoom: 0 })
  const stop = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/stop`)
  t.equal(stop.statusCode, 200, stop.body)
  t.same(dome.ptzVelocity, { pan: 0, tilt: 0, zoom: 0 })
  const zoom = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/zoom`, { delta: 0.2 })
  t.equal(zoom.statusCode, 200, zoom.body)
  const presets = await gw.as(patrol).get(`/api/cameras/${ptzId}/ptz/presets`)
  t.equal(presets.statusCode, 200, presets.body)
  t.same(presets.json.items.map((p: any) => p.name), ['Gate', 'Parking'])
  const go = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/presets/2/goto`)
  t.equal(go.statusCode, 200, go.body)
  t.same(
    dome.ptzCalls().map((c) => c.action),
    ['ContinuousMove', 'Stop', 'RelativeMove', 'GetPresets', 'GotoPreset'],
  )
  t.ok(dome.ptzCalls().every((c) => c.authenticated), 'every PTZ call carried a valid UsernameToken')
  const bad = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/move`, { pan: 2 })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json.errors[0].field, 'body.pan')
})

t.test('setting a preset is for technicians and admins, and audited', async (t) => {
  const denied = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/presets`, { name: '北门' })
  t.equal(denied.statusCode, 403)
  const tech = await gw.login('community.technician')
  const set = await gw.as(tech).post(`/api/cameras/${ptzId}/ptz/presets`, { name: '北门' })
  t.equal(set.statusCode, 201, set.body)
  t.ok(set.json.token)
  t.ok(dome.presets.some((p) => p.name === '北门' && p.token === set.json.token))
  const row = gw.services.db.prepare("SELECT * FROM audit_log WHERE action = 'camera.ptz_preset_set' AND target_id = ?").get(String(ptzId)) as any
  t.ok(row, 'audited')
  t.match(row.detail, '北门')
})

t.test('scope, capability and device failures', async (t) => {
  const other = makeCamera(gw, 'JD01-SQ05', { kind: 'ptz', capabilities: { ptz: true }, onvifUrl: dome.xaddr })
  const out = await gw.as(patrol).post(`/api/cameras/${other.id}/ptz/move`, { pan: 0.1 })
  t.equal(out.statusCode, 404, 'a camera outside the subtree does not exist for the caller')
  const presetsOut = await gw.as(patrol).get(`/api/cameras/${other.id}/ptz/presets`)
  t.equal(presetsOut.statusCode, 404)
  const noPtz = await gw.as(patrol).post(`/api/cameras/${fixedId}/ptz/move`, { pan: 0.1 })
  t.equal(noPtz.statusCode, 409)
  const researcher = await gw.as(await gw.login('community.researcher')).post(`/api/cameras/${ptzId}/ptz/stop`)
  t.equal(researcher.statusCode, 403)
  dome.setFault({ kind: 'hang' })
  const hung = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/stop`)
  t.equal(hung.statusCode, 504)
  t.equal(hung.json.code, 'camera_timeout')
  dome.setFault(undefined)
  dome.setPassword('changed')
  const refused = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/stop`)
  t.equal(refused.statusCode, 422)
  t.equal(refused.json.code, 'camera_auth_failed')
  dome.setPassword(PW)
})

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('a camera that ignores the move Timeout: the gateway sends Stop when the time is up, and when it closes', async (t) => {
  const head = await startOnvifSimulator({ address: '127.34.0.3', vendor: 'dahua', ptz: true, password: PW, ptzTimeout: 'ignore' })
  t.teardown(() => head.close())
  const id = await adopt(head, 'ptz')
  head.clearCalls()
  const t0 = Date.now()
  const move = await gw.as(patrol).post(`/api/cameras/${id}/ptz/move`, { pan: 0.3, timeoutMs: 400 })
  t.equal(move.statusCode, 200, move.body)
  t.match(head.ptzCalls()[0]!.params, { Timeout: 'PT0.4S' }, 'the camera is asked to stop by itself')
  await until('the Stop', () => head.ptzCalls().some((c) => c.action === 'Stop'))
  t.ok(Date.now() - t0 >= 400, 'not before the timeout')
  t.same(head.ptzVelocity, { pan: 0, tilt: 0, zoom: 0 }, 'stopped')
  t.ok(head.ptzCalls().every((c) => c.authenticated))

  // a move the viewer stops early owes nothing; a move that replaces another owes one Stop, at its own end
  head.clearCalls()
  await gw.as(patrol).post(`/api/cameras/${id}/ptz/move`, { tilt: 0.5, timeoutMs: 300 })
  await gw.as(patrol).post(`/api/cameras/${id}/ptz/stop`)
  await gw.as(patrol).post(`/api/cameras/${id}/ptz/move`, { tilt: 0.5, timeoutMs: 300 })
  await gw.as(patrol).post(`/api/cameras/${id}/ptz/move`, { tilt: -0.5, timeoutMs: 600 })
  await new Promise((r) => setTimeout(r, 450))
  t.same(head.ptzVelocity, { pan: 0, tilt: -0.5, zoom: 0 }, 'the second move is not cut short by the first one’s time')
  await until('the Stop', () => head.ptzVelocity.tilt === 0)
  await new Promise((r) => setTimeout(r, 300))
  t.same(head.ptzCalls().map((c) => c.action), ['ContinuousMove', 'Stop', 'ContinuousMove', 'ContinuousMove', 'Stop'])

  // a gateway that closes while a camera moves stops it first
  const gw2 = await startTestGateway(t, { overrides: { discovery: { allowedCidrs: ['127.0.0.0/8'], onvifTimeoutMs: 1500 } } })
  const admin2 = await gw2.login('admin')
  const r = await gw2.as(admin2).post('/api/discovery/adopt', { host: head.address, port: head.httpPort, unitId: unit(gw2, 'JD01-SQ01').id, class: 2, kind: 'ptz', credentials: { username: 'admin', password: PW } })
  t.equal(r.statusCode, 201, r.body)
  head.clearCalls()
  const long = await gw2.as(admin2).post(`/api/cameras/${r.json.camera.id}/ptz/move`, { pan: -0.2 })
  t.equal(long.statusCode, 200, long.body)
  t.match(head.ptzCalls()[0]!.params, { Timeout: 'PT60S' }, 'a move without a timeout is bounded too')
  await gw2.close()
  t.same(head.ptzCalls().map((c) => c.action), ['ContinuousMove', 'Stop'], 'stopped on close')
  t.same(head.ptzVelocity, { pan: 0, tilt: 0, zoom: 0 })
})

t.test('a head without zoom: the camera read says so, zoom is 409 naming what is missing, and nothing reaches the camera', async (t) => {
  const head = await startOnvifSimulator({ address: '127.34.0.4', vendor: 'uniview', ptz: true, password: PW, ptzSpaces: { zoom: false } })
  t.teardown(() => head.close())
  const id = await adopt(head, 'ptz')
  const read = await gw.as(patrol).get(`/api/cameras/${id}`)
  t.equal(read.statusCode, 200, read.body)
  t.same(read.json.capabilities.ptzFeatures, { panTilt: { continuous: true, relative: true, absolute: true }, zoom: { continuous: false, relative: false, absolute: false }, presets: true })
  const withZoom = await gw.as(patrol).get(`/api/cameras/${ptzId}`)
  t.match(withZoom.json.capabilities.ptzFeatures, { zoom: { continuous: true, relative: true } }, 'the zooming dome says it zooms')
  head.clearCalls()
  const zoom = await gw.as(patrol).post(`/api/cameras/${id}/ptz/zoom`, { delta: 0.2 })
  t.equal(zoom.statusCode, 409, zoom.body)
  t.match(zoom.json, { code: 'ptz_feature_missing', missing: 'relative_zoom', errors: [{ field: 'body.delta' }] })
  const zoomMove = await gw.as(patrol).post(`/api/cameras/${id}/ptz/move`, { zoom: 0.5, timeoutMs: 500 })
  t.equal(zoomMove.statusCode, 409, zoomMove.body)
  t.match(zoomMove.json, { code: 'ptz_feature_missing', missing: 'continuous_zoom', errors: [{ field: 'body.zoom' }] })
  t.same(head.ptzCalls(), [], 'no request reached the camera')
  const pan = await gw.as(patrol).post(`/api/cameras/${id}/ptz/move`, { pan: 0.5, timeoutMs: 500 })
  t.equal(pan.statusCode, 200, 'pan and tilt still work')
  await gw.as(patrol).post(`/api/cameras/${id}/ptz/stop`)
})

t.test('camera faults caused by the caller are 4xx naming the field, not 502', async (t) => {
  const tech = await gw.login('community.technician')
  const go = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/presets/no-such-preset/goto`)
  t.equal(go.statusCode, 422, go.body)
  t.match(go.json, { code: 'ptz_rejected', errors: [{ field: 'params.token' }] })
  const long = await gw.as(tech).post(`/api/cameras/${ptzId}/ptz/presets`, { name: '北门停车场东侧入口道闸' + 'x'.repeat(10) })
  t.equal(long.statusCode, 422, long.body)
  t.match(long.json, { code: 'ptz_rejected', errors: [{ field: 'body.name' }] })
  const taken = await gw.as(tech).post(`/api/cameras/${ptzId}/ptz/presets`, { name: 'Gate' })
  t.equal(taken.statusCode, 422, taken.body)
  t.match(taken.json, { code: 'ptz_rejected', errors: [{ field: 'body.name' }] })
  // a fault the caller did not cause stays a camera fault
  dome.setFault({ kind: 'receiver-fault' })
  const broken = await gw.as(patrol).post(`/api/cameras/${ptzId}/ptz/presets/1/goto`)
  dome.setFault(undefined)
  t.equal(broken.statusCode, 502)
  t.equal(broken.json.code, 'camera_fault')
})
