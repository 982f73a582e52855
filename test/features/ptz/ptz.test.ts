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
