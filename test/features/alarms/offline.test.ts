import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { cameraId, unitId } from './support.js'

t.test('camera.offline longer than the delay → one camera_offline fault case for the camera unit, assigned to its technician', async (t) => {
  const gw = await startTestGateway(t, { overrides: { alarms: { offlineCaseAfterSeconds: 0.3 } } })
  const { bus, db, cases } = gw.services
  const cam = cameraId(gw, 'JD01-SQ01') // the community of community.technician
  const sq01 = unitId(gw, 'JD01-SQ01')
  const at = new Date().toISOString()

  // back online before the delay: nothing
  const flapping = cameraId(gw, 'JD01-SQ01', 1)
  bus.emit('camera.offline', { cameraId: flapping, unitId: sq01, at, reasons: ['rtsp: connection refused'] })
  await sleep(100)
  bus.emit('camera.online', { cameraId: flapping, unitId: sq01, at: new Date().toISOString() })

  bus.emit('camera.offline', { cameraId: cam, unitId: sq01, at, reasons: ['onvif: timeout', 'rtsp: no frames'] })
  bus.emit('camera.offline', { cameraId: cam, unitId: sq01, at, reasons: ['again'] }) // repeated report: one timer
  t.equal(db.prepare("SELECT count(*) FROM cases WHERE kind = 'camera_offline'").pluck().get(), 0, 'not before the delay')
  await sleep(700)
  const rows = db.prepare("SELECT id, camera_id FROM cases WHERE kind = 'camera_offline'").all() as { id: number; camera_id: number }[]
  t.equal(rows.length, 1, 'one fault case')
  t.equal(rows[0]!.camera_id, cam)
  const c = cases.getUnscoped(rows[0]!.id)!
  const tech = gw.services.auth.list({ unitId: null, unitPath: '/', seesPrivateSiteCameras: true }, { unitId: sq01, role: 'technician' })[0]!
  t.match(c, { kind: 'camera_offline', unit: { code: 'JD01-SQ01' }, assignee: { id: tech.id, username: 'community.technician' } })
  t.match(c.description, /onvif: timeout/)

  // offline again while the case is open: merged, not a second case
  bus.emit('camera.online', { cameraId: cam, unitId: sq01, at: new Date().toISOString() })
  await sleep(50)
  const after = cases.getUnscoped(c.id)!
  t.ok(after.timeline.some((e) => e.type === 'note' && /back online/.test(String(e.detail.text))), 'online after the case is a timeline note')
  bus.emit('camera.offline', { cameraId: cam, unitId: sq01, at: new Date().toISOString(), reasons: ['down again'] })
  await sleep(700)
  t.equal(db.prepare("SELECT count(*) FROM cases WHERE kind = 'camera_offline'").pluck().get(), 1)
  t.equal(cases.getUnscoped(c.id)!.occurrences, 2)

  // a unit without a technician: unassigned
  const wy = cameraId(gw, 'JD01-WY02')
  bus.emit('camera.offline', { cameraId: wy, unitId: unitId(gw, 'JD01-WY02'), at, reasons: [] })
  await sleep(700)
  const wyCase = db.prepare("SELECT id FROM cases WHERE kind = 'camera_offline' AND camera_id = ?").pluck().get(wy) as number
  t.match(cases.getUnscoped(wyCase), { unit: { code: 'JD01-WY02' }, assignee: null })
})

t.test('after a restart, cameras still offline get their fault case (the wait already spent counts)', async (t) => {
  const gw = await startTestGateway(t, { overrides: { alarms: { offlineCaseAfterSeconds: 8 } } })
  const cam = cameraId(gw, 'JD01-SQ02')
  const recent = cameraId(gw, 'JD01-SQ03')
  gw.services.registry.setStatus(cam, 'offline', ['rtsp: timeout'], new Date(Date.now() - 60_000).toISOString())
  gw.services.registry.setStatus(recent, 'offline', ['rtsp: timeout'], new Date().toISOString())
  const restartAt = Date.now()
  const again = await gw.restart()
  await sleep(300)
  const count = (id: number) => again.services.db.prepare("SELECT count(*) FROM cases WHERE kind = 'camera_offline' AND camera_id = ?").pluck().get(id) as number
  t.equal(count(cam), 1, 'long offline: at once')
  if (Date.now() - restartAt < 7000) t.equal(count(recent), 0, 'recently offline: not yet')
  const deadline = Date.now() + 15_000
  while (count(recent) === 0 && Date.now() < deadline) await sleep(100)
  t.equal(count(recent), 1, 'after the rest of the delay')
  await again.close()
})
