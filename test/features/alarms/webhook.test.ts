import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { cameraId, createSource, postAlarm, unitId } from './support.js'

t.test('webhook: token, body, unknown camera/unit, subtree, idempotency', async (t) => {
  const gw = await startTestGateway(t)
  const token = await createSource(gw, 'JD01-SQ01', 'SQ01 one-button boxes')
  const cam = cameraId(gw, 'JD01-SQ01')
  const foreignCam = cameraId(gw, 'JD01-SQ05')

  t.test('bad token → 401 (missing, wrong, disabled)', async (t) => {
    const missing = await postAlarm(gw, null, { kind: 'one_button_alarm', cameraId: cam })
    t.equal(missing.statusCode, 401)
    t.match(missing.json.detail, /X-Alarm-Token/)
    const wrong = await postAlarm(gw, 'gwa_not-a-token', { kind: 'one_button_alarm', cameraId: cam })
    t.equal(wrong.statusCode, 401)
    // a bad token and a bad body: the token answers first
    t.equal((await postAlarm(gw, 'nope', { kind: 'nonsense' })).statusCode, 401)
    const admin = await gw.login('admin')
    const other = await gw.as(admin).post('/api/alarm-sources', { name: 'to disable', unitId: unitId(gw, 'JD01') })
    t.equal((await postAlarm(gw, other.json.token, { kind: 'other', unitCode: 'JD01' })).statusCode, 202)
    t.equal((await gw.as(admin).patch(`/api/alarm-sources/${other.json.id}`, { enabled: false })).statusCode, 200)
    t.equal((await postAlarm(gw, other.json.token, { kind: 'other', unitCode: 'JD01' })).statusCode, 401)
    // the list never shows tokens or hashes
    const list = await gw.as(admin).get('/api/alarm-sources')
    t.notOk(list.body.includes(other.json.token))
    t.notOk(list.body.includes('token_hash'))
  })

  t.test('bad body → 400 naming the field', async (t) => {
    const badKind = await postAlarm(gw, token, { kind: 'fire', cameraId: cam })
    t.equal(badKind.statusCode, 400)
    t.ok(badKind.json.errors.some((e: { field: string }) => e.field === 'body.kind'))
    const unknownField = await postAlarm(gw, token, { kind: 'motion', cameraId: cam, colour: 'red' })
    t.equal(unknownField.statusCode, 400)
    t.ok(unknownField.json.errors.some((e: { field: string }) => e.field === 'body.colour'))
    const typeErr = await postAlarm(gw, token, { kind: 'motion', cameraId: String(cam) })
    t.equal(typeErr.statusCode, 400)
    t.ok(typeErr.json.errors.some((e: { field: string }) => e.field === 'body.cameraId'))
    const nowhere = await postAlarm(gw, token, { kind: 'one_button_help' })
    t.equal(nowhere.statusCode, 400)
    t.same(nowhere.json.errors.map((e: { field: string }) => e.field), ['body.cameraId'])
    const badTime = await postAlarm(gw, token, { kind: 'one_button_help', unitCode: 'JD01-SQ01', occurredAt: 'yesterday' })
    t.equal(badTime.statusCode, 400)
    t.ok(badTime.json.errors.some((e: { field: string }) => e.field === 'body.occurredAt'))
  })

  t.test('unknown camera or unit → 422 naming body.cameraId / body.unitCode; outside the source subtree is unknown', async (t) => {
    const unknown = await postAlarm(gw, token, { kind: 'one_button_alarm', cameraId: 999_999 })
    t.equal(unknown.statusCode, 422)
    t.same(unknown.json.errors.map((e: { field: string }) => e.field), ['body.cameraId'])
    const foreign = await postAlarm(gw, token, { kind: 'one_button_alarm', cameraId: foreignCam })
    t.equal(foreign.statusCode, 422)
    const badSerial = await postAlarm(gw, token, { kind: 'one_button_alarm', cameraSerial: 'NO-SUCH' })
    t.equal(badSerial.statusCode, 422)
    t.same(badSerial.json.errors.map((e: { field: string }) => e.field), ['body.cameraSerial'])
    const unit = await postAlarm(gw, token, { kind: 'one_button_help', unitCode: 'JD01-SQ99' })
    t.equal(unit.statusCode, 422)
    t.same(unit.json.errors.map((e: { field: string }) => e.field), ['body.unitCode'])
    const foreignUnit = await postAlarm(gw, token, { kind: 'one_button_help', unitCode: 'JD01-SQ05' })
    t.equal(foreignUnit.statusCode, 422)
    t.equal((await gw.services.db.prepare('SELECT count(*) FROM alarms WHERE source_id IS NOT NULL AND kind != ?').pluck().get('other')) as number, 0, 'nothing stored for refused alarms')
  })

  t.test('202 after commit: the alarm and its case are stored when the answer arrives', async (t) => {
    const res = await postAlarm(gw, token, {
      kind: 'one_button_alarm',
      unitCode: 'JD01-WY01',
      description: '3栋2单元 一键报警',
      location: { lat: 30.57, lon: 114.36, address: '湖滨花园小区3栋' },
      payload: { box: 'STB-0042' },
    })
    t.equal(res.statusCode, 202)
    t.match(res.json, { outcome: 'opened', alarmId: Number, caseId: Number, caseNumber: /^\d{4}-\d{6}$/ })
    const row = gw.services.db.prepare('SELECT a.kind, a.case_id, c.number, c.priority, c.notify_street, u.code FROM alarms a JOIN cases c ON c.id = a.case_id JOIN units u ON u.id = c.unit_id WHERE a.id = ?').get(res.json.alarmId) as Record<string, unknown>
    // a site box is handled by its community; one-button alarms are urgent and notify the street
    t.match(row, { kind: 'one_button_alarm', case_id: res.json.caseId, number: res.json.caseNumber, priority: 'urgent', notify_street: 1, code: 'JD01-SQ01' })
    const c = gw.services.cases.getUnscoped(res.json.caseId)!
    t.match(c.location, { address: '湖滨花园小区3栋' })
  })

  t.test('the same source + externalId twice → the same alarm, 200, no new case', async (t) => {
    const body = { kind: 'one_button_help', cameraId: cam, externalId: 'box-7-evt-1001' }
    const first = await postAlarm(gw, token, body)
    t.equal(first.statusCode, 202)
    const cases = gw.services.db.prepare('SELECT count(*) FROM cases').pluck().get() as number
    const again = await postAlarm(gw, token, body)
    t.equal(again.statusCode, 200)
    t.match(again.json, { outcome: 'duplicate', alarmId: first.json.alarmId, caseId: first.json.caseId, caseNumber: first.json.caseNumber })
    t.equal(gw.services.db.prepare('SELECT count(*) FROM cases').pluck().get(), cases)
    // concurrent duplicates (same batch) resolve to one alarm too
    const both = await Promise.all([postAlarm(gw, token, { ...body, externalId: 'dup-2' }), postAlarm(gw, token, { ...body, externalId: 'dup-2' })])
    t.same(both.map((r) => r.statusCode).sort(), [200, 202])
    t.equal(both[0]!.json.alarmId, both[1]!.json.alarmId)
  })

  t.test('GET /api/alarms is scoped', async (t) => {
    const sq01 = await gw.login('community.patrol')
    const mine = await gw.as(sq01).get('/api/alarms?limit=100')
    t.equal(mine.statusCode, 200)
    t.ok(mine.json.items.length >= 3)
    const station3 = await gw.services.auth.seedUser({ username: 'pcs3.patrol', unitId: unitId(gw, 'JD01-PCS3'), roles: ['patrol'], password: 'demo-pass-2026' })
    t.ok(station3)
    const other = await gw.as(await gw.login('pcs3.patrol')).get('/api/alarms')
    t.same(other.json.items, [])
    t.equal((await gw.as(await gw.login('community.patrol')).get('/api/alarm-sources')).statusCode, 403)
  })
})
