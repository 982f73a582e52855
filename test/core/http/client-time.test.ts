import t from 'tap'
import { makeCamera } from '../../support/fixtures.js'
import { startTestGateway } from '../../support/gateway.js'
import { createSource, postAlarm } from '../../features/alarms/support.js'

/** Times a client gives are bounded (2000-01-01 … a day from now), and a bad one names its field. */

const gw = await startTestGateway(t)
const admin = gw.as(await gw.login('admin'))
const day = 24 * 3_600_000
const soon = () => new Date(Date.now() - 60_000).toISOString()

t.test('an alarm of year 0000 or of next year is refused naming body.occurredAt; a real one is accepted', async (t) => {
  const token = await createSource(gw)
  for (const occurredAt of ['0000-01-01T00:00:00Z', '1999-12-31T23:59:59Z', new Date(Date.now() + 2 * day).toISOString(), '9999-12-31T23:59:59Z']) {
    const res = await postAlarm(gw, token, { kind: 'one_button_help', unitCode: 'JD01-SQ01', occurredAt })
    t.equal(res.statusCode, 400, occurredAt)
    t.same(res.json.errors.map((e: any) => e.field), ['body.occurredAt'], occurredAt)
    t.match(res.json.errors[0].message, /between 2000-01-01T00:00:00Z and one day from now/)
  }
  t.equal((await postAlarm(gw, token, { kind: 'one_button_help', unitCode: 'JD01-SQ01', occurredAt: soon() })).statusCode, 202)
  t.equal((await postAlarm(gw, token, { kind: 'one_button_help', unitCode: 'JD01-SQ01', occurredAt: '2000-01-01T00:00:00Z' })).statusCode, 202, 'the first instant allowed')
})

t.test('search and filter times are bounded too, naming the query field', async (t) => {
  const res = await admin.get('/api/audit?from=0000-01-01T00:00:00Z')
  t.equal(res.statusCode, 400)
  t.same(res.json.errors.map((e: any) => e.field), ['query.from'])
  const cam = makeCamera(gw, 'JD01-SQ01')
  const timeline = await admin.get(`/api/recordings?camera=${cam.id}&from=${encodeURIComponent(soon())}&to=9999-01-01T00:00:00Z`)
  t.equal(timeline.statusCode, 400)
  t.same(timeline.json.errors.map((e: any) => e.field), ['query.to'])
})

t.test('a footage lock names the body fields it was given, not query ones', async (t) => {
  const cam = makeCamera(gw, 'JD01-SQ01')
  const backwards = await admin.post('/api/recordings/locks', { cameraId: cam.id, from: soon(), to: new Date(Date.now() - 3_600_000).toISOString(), reason: 'evidence' })
  t.equal(backwards.statusCode, 400)
  t.same(backwards.json.errors.map((e: any) => e.field), ['body.to'], 'to before from: body.to')
  const ancient = await admin.post('/api/recordings/locks', { cameraId: cam.id, from: '0000-01-01T00:00:00Z', to: soon(), reason: 'evidence' })
  t.same(ancient.json.errors.map((e: any) => e.field), ['body.from'])
  t.equal((await admin.post('/api/recordings/locks', { cameraId: cam.id, from: new Date(Date.now() - 3_600_000).toISOString(), to: soon(), reason: 'evidence' })).statusCode, 201)
})
