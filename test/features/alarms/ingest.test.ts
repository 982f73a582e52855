import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { cameraId, cellMotion, createSource, fakeSnapshots, notification, postAlarm, unitId } from './support.js'

t.test('a motion alarm from an ONVIF message opens one case with a real snapshot; repeated pulses update it', async (t) => {
  // generous snapshot deadline: ffmpeg on a loaded CI machine
  const gw = await startTestGateway(t, { overrides: { media: { snapshotTimeoutSeconds: 30 } } })
  const { ingest, cases } = gw.services
  const cam = cameraId(gw, 'JD01-WY01') // a site camera: handled by its community (JD01-SQ01)
  const first = await ingest.ingest({ cameraId: cam, event: cellMotion(true) })
  t.match(first, { outcome: 'opened', caseId: Number })
  // the end of the condition opens nothing
  t.match(await ingest.ingest({ cameraId: cam, event: cellMotion(false) }), { outcome: 'ignored' })
  for (let i = 0; i < 4; i++) {
    t.match(await ingest.ingest({ cameraId: cam, event: cellMotion(true) }), { outcome: 'merged', caseId: first.caseId })
    await ingest.ingest({ cameraId: cam, event: cellMotion(false) })
  }
  // VideoSource/MotionAlarm from the same camera is the same kind: merged too
  t.match(await ingest.ingest({ cameraId: cam, event: notification({ topic: 'tns1:VideoSource/MotionAlarm', source: { Source: 'VideoSource_1' }, data: { State: 'true' } }) }), { outcome: 'merged' })
  await cases.settle()
  const c = cases.getUnscoped(first.caseId!)!
  t.match(c, { kind: 'motion', priority: 'low', state: 'registered', occurrences: 6, unit: { code: 'JD01-SQ01' }, cameras: [{ id: cam }] })
  t.equal(c.alarmIds.length, 6)
  t.ok(c.timeline.filter((e) => e.type === 'occurrence').length >= 1)
  t.equal(gw.services.db.prepare("SELECT count(*) FROM cases WHERE kind = 'motion'").pluck().get(), 1, 'one case')

  // the snapshot: the demo camera's picture through the media feature (ffmpeg), stored with its SHA-256
  const shot = c.attachments.find((a) => a.kind === 'snapshot')
  t.ok(shot, `snapshot attached (${JSON.stringify(c.timeline.find((e) => e.type === 'snapshot')?.detail)})`)
  t.equal(shot!.contentType, 'image/jpeg')
  const sq01 = await gw.login('community.patrol')
  const res = await gw.app.inject({ method: 'GET', url: `/api/cases/${c.id}/attachments/${shot!.id}`, headers: { authorization: `Bearer ${sq01}` } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'image/jpeg')
  t.same([...res.rawPayload.subarray(0, 2)], [0xff, 0xd8], 'a JPEG')
  t.equal(res.headers['x-content-sha256'], shot!.sha256)
  const { createHash } = await import('node:crypto')
  t.equal(createHash('sha256').update(res.rawPayload).digest('hex'), shot!.sha256)
  const audit = gw.services.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'case.attachment_export'").pluck().get() as number
  t.equal(audit, 1, 'attachment export audited')

  // a camera that collapses a quick on/off into one "false" message still raises the alarm
  const cam2 = cameraId(gw, 'JD01-SQ02')
  t.match(await ingest.ingest({ cameraId: cam2, event: cellMotion(false) }), { outcome: 'opened' })
  // the initial state of a new subscription is not an alarm when false
  const cam3 = cameraId(gw, 'JD01-SQ03')
  t.match(await ingest.ingest({ cameraId: cam3, event: cellMotion(false, 'Initialized') }), { outcome: 'ignored' })
})

t.test('snapshot failure or no source is noted in the timeline and never delays the answer', async (t) => {
  const gw = await startTestGateway(t)
  const { ingest, cases } = gw.services
  cases.setSnapshotSource(fakeSnapshots({ fail: true }))
  const r1 = await ingest.ingest({ cameraId: cameraId(gw, 'JD01-SQ01'), event: notification({ topic: 'tns1:RuleEngine/TamperDetector/Tamper', data: { IsTamper: 'true' } }) })
  cases.setSnapshotSource(null)
  const r2 = await ingest.ingest({ cameraId: cameraId(gw, 'JD01-SQ02'), event: notification({ topic: 'tns1:RuleEngine/TamperDetector/Tamper', data: { IsTamper: 'true' } }) })
  await cases.settle()
  const c1 = cases.getUnscoped(r1.caseId!)!
  t.equal(c1.priority, 'high')
  t.match(c1.timeline.find((e) => e.type === 'snapshot')?.detail, { ok: false, reason: /camera refused/ })
  t.match(cases.getUnscoped(r2.caseId!)!.timeline.find((e) => e.type === 'snapshot')?.detail, { ok: false, reason: 'no snapshot source' })
})

t.test('rules per unit and kind: most specific wins; log-only; handling tier', async (t) => {
  const gw = await startTestGateway(t)
  const admin = await gw.login('admin')
  const { ingest } = gw.services
  gw.services.cases.setSnapshotSource(fakeSnapshots())
  const defaults = await gw.as(admin).get(`/api/alarm-rules?unit=${unitId(gw, 'JD01-WY01')}`)
  t.equal(defaults.statusCode, 200)
  t.match(defaults.json.rules.find((r: { kind: string }) => r.kind === 'one_button_alarm'), { action: 'case', priority: 'urgent', notifyStreet: true, definedBy: null })
  t.match(defaults.json.rules.find((r: { kind: string }) => r.kind === 'motion'), { priority: 'low', handlingTier: 'community' })

  // street: motion only logged; SQ02 overrides back to a high-priority case handled by its police station
  t.equal((await gw.as(admin).request('PUT', '/api/alarm-rules', { unitId: unitId(gw, 'JD01'), kind: 'motion', action: 'log' })).statusCode, 200)
  const put = await gw.as(admin).request('PUT', '/api/alarm-rules', { unitId: unitId(gw, 'JD01-SQ02'), kind: 'motion', action: 'case', priority: 'high', handlingTier: 'police_station' })
  t.match(put.json, { kind: 'motion', action: 'case', priority: 'high', handlingTier: 'police_station', definedBy: { code: 'JD01-SQ02' } })
  const bad = await gw.as(admin).request('PUT', '/api/alarm-rules', { unitId: unitId(gw, 'JD01'), kind: 'motion', priority: 'asap' })
  t.equal(bad.statusCode, 400)

  t.match(await ingest.ingest({ cameraId: cameraId(gw, 'JD01-SQ01'), event: cellMotion(true) }), { outcome: 'logged', caseId: null })
  const r = await ingest.ingest({ cameraId: cameraId(gw, 'JD01-SQ02'), event: cellMotion(true) })
  t.equal(r.outcome, 'opened')
  t.match(gw.services.cases.getUnscoped(r.caseId!), { priority: 'high', unit: { code: 'JD01-PCS1' } })
  // a street camera's alarm stays at the street (above the community tier)
  const street = await ingest.ingest({ cameraId: cameraId(gw, 'JD01'), event: notification({ topic: 'tns1:RuleEngine/FieldDetector/ObjectsInside', data: { IsInside: 'true' } }) })
  t.match(gw.services.cases.getUnscoped(street.caseId!), { kind: 'intrusion', priority: 'high', unit: { code: 'JD01' } })

  t.equal((await gw.as(admin).request('DELETE', `/api/alarm-rules?unit=${unitId(gw, 'JD01')}&kind=motion`)).statusCode, 204)
  t.match(await ingest.ingest({ cameraId: cameraId(gw, 'JD01-SQ03'), event: cellMotion(true) }), { outcome: 'opened' })
  // scoping: a community admin cannot set rules of another community
  const sqAdmin = await gw.login('community.admin')
  t.equal((await gw.as(sqAdmin).request('PUT', '/api/alarm-rules', { unitId: unitId(gw, 'JD01-SQ05'), kind: 'motion', action: 'log' })).statusCode, 404)
})

t.test('floods: 100 one-button alarms → 100 cases; a flooding camera is rate-limited without delaying another camera', async (t) => {
  const gw = await startTestGateway(t, { overrides: { alarms: { ratePerCameraPerSecond: 5, burstPerCamera: 10 } } })
  gw.services.cases.setSnapshotSource(fakeSnapshots())
  const { ingest, db } = gw.services
  const token = await createSource(gw)
  const cam = cameraId(gw, 'JD01-SQ01')
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => postAlarm(gw, token, { kind: i % 2 ? 'one_button_help' : 'one_button_alarm', cameraId: cam, externalId: `flood-${i}` })))
  t.same(new Set(answers.map((a) => a.statusCode)), new Set([202]))
  t.equal(new Set(answers.map((a) => a.json.caseId)).size, 100, '100 distinct cases')
  t.equal(db.prepare("SELECT count(*) FROM cases WHERE kind IN ('one_button_alarm', 'one_button_help')").pluck().get(), 100)

  const flooder = cameraId(gw, 'JD01-SQ02')
  const quiet = cameraId(gw, 'JD01-SQ03')
  const flood = Array.from({ length: 2000 }, () => ingest.ingest({ cameraId: flooder, event: cellMotion(true) }))
  const t0 = performance.now()
  const other = await ingest.ingest({ cameraId: quiet, event: notification({ topic: 'tns1:RuleEngine/LineDetector/Crossed', data: { ObjectId: '1' } }) })
  const otherMs = performance.now() - t0
  const results = await Promise.all(flood)
  t.equal(other.outcome, 'opened')
  t.ok(otherMs < 1500, `the other camera's alarm was answered in ${otherMs.toFixed(1)} ms`)
  const limited = results.filter((r) => r.outcome === 'rate_limited').length
  t.ok(limited >= 1900, `${limited} rate-limited`)
  const caseId = results[0]!.caseId!
  t.equal(db.prepare("SELECT count(*) FROM cases WHERE camera_id = ? AND kind = 'motion'").pluck().get(flooder), 1, 'one case for the flood')
  t.equal(gw.services.cases.getUnscoped(caseId)!.occurrences, 2000, 'every event counted')
  t.ok((db.prepare('SELECT count(*) FROM alarms WHERE camera_id = ?').pluck().get(flooder) as number) <= 20, 'excess not stored one by one')
  const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' })
  if (metrics.statusCode === 200) t.match(metrics.body, /gateway_alarms_total\{kind="motion",outcome="rate_limited"\} \d+/)
})

t.test('people and vehicle detections open cases of their own kinds (they were "other")', async (t) => {
  const gw = await startTestGateway(t)
  const { ingest } = gw.services
  const cam = cameraId(gw, 'JD01-SQ01')
  const people = await ingest.ingest({ cameraId: cam, event: notification({ topic: 'tns1:RuleEngine/MyRuleDetector/PeopleDetect', source: { Source: 'VideoSource_1' }, data: { State: 'true' } }) })
  const vehicle = await ingest.ingest({ cameraId: cam, event: notification({ topic: 'tns1:RuleEngine/MyRuleDetector/VehicleDetect', source: { Source: 'VideoSource_1' }, data: { State: 'true' } }) })
  t.match(people, { outcome: 'opened' })
  t.match(vehicle, { outcome: 'opened' })
  t.match(gw.services.cases.getUnscoped(people.caseId!), { kind: 'person', title: /人员检测/ })
  t.match(gw.services.cases.getUnscoped(vehicle.caseId!), { kind: 'vehicle', title: /车辆检测/ })
  const rules = await gw.as(await gw.login('admin')).get(`/api/alarm-rules?unit=${unitId(gw, 'JD01')}`)
  t.equal(rules.statusCode, 200, rules.body)
  t.ok(['person', 'vehicle', 'face'].every((k) => rules.json.rules.some((r: { kind: string }) => r.kind === k)), 'rules cover the new kinds')
})

t.test('Initialized messages: a state already known raises nothing; an "on" not known raises', async (t) => {
  const gw = await startTestGateway(t)
  const { ingest } = gw.services
  const cam = cameraId(gw, 'JD01-SQ02')
  t.match(await ingest.ingest({ cameraId: cam, event: cellMotion(true, 'Initialized') }), { outcome: 'opened' }, 'on, not known before (first subscription): an alarm')
  t.match(await ingest.ingest({ cameraId: cam, event: cellMotion(true, 'Initialized') }), { outcome: 'ignored' }, 'on again from a new subscription: known, nothing new')
  t.match(await ingest.ingest({ cameraId: cam, event: cellMotion(false) }), { outcome: 'ignored' })
  t.match(await ingest.ingest({ cameraId: cam, event: cellMotion(false, 'Initialized') }), { outcome: 'ignored' })
  t.match(await ingest.ingest({ cameraId: cam, event: cellMotion(true, 'Initialized') }), { outcome: 'merged' }, 'on after a known off (changed while unsubscribed): counted')
  const other = cameraId(gw, 'JD01-SQ03')
  t.match(await ingest.ingest({ cameraId: other, event: cellMotion(true) }), { outcome: 'opened' })
  t.match(await ingest.ingest({ cameraId: other, event: cellMotion(true, 'Initialized') }), { outcome: 'ignored' }, 'per camera')
})
