import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { cameraId, cellMotion, createSource, fakeSnapshots, postAlarm, unitId } from '../alarms/support.js'
import { openStream, type SseEvent } from './support.js'

t.test('the SSE stream is scoped: a community never receives another community’s events', async (t) => {
  const gw = await startTestGateway(t)
  gw.services.cases.setSnapshotSource(fakeSnapshots())
  await gw.services.auth.seedUser({ username: 'sq05.patrol', unitId: unitId(gw, 'JD01-SQ05'), roles: ['patrol'], password: 'demo-pass-2026' })
  const address = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const sq01 = await openStream(address, await gw.login('community.patrol'))
  const sq05 = await openStream(address, await gw.login('sq05.patrol'))
  const street = await openStream(address, await gw.login('street.patrol'))
  t.equal(sq01.status, 200)
  t.equal((await fetch(`${address}/api/events/stream`)).status, 401, 'sign in first')

  const token = await createSource(gw)
  const camSq01 = cameraId(gw, 'JD01-SQ01')
  const camSq05 = cameraId(gw, 'JD01-SQ05')
  const a = await gw.services.ingest.ingest({ cameraId: camSq01, event: cellMotion(true) })
  const b = await gw.services.ingest.ingest({ cameraId: camSq05, event: cellMotion(true) })
  const box = await postAlarm(gw, token, { kind: 'one_button_alarm', unitCode: 'JD01-SQ05', externalId: 'sq05-box-1' })
  const site = await postAlarm(gw, token, { kind: 'one_button_help', unitCode: 'JD01-WY01', externalId: 'wy01-box-1' })
  await gw.services.ingest.ingest({ cameraId: camSq05, event: cellMotion(true) }) // merged: case.updated in SQ05

  const created = (caseId: number | null) => (e: SseEvent) => e.event === 'case.created' && e.data.case.id === caseId
  // the street sees everything, including the one-button flag for the command centre
  for (const id of [a.caseId, b.caseId, box.json.caseId, site.json.caseId]) await street.waitFor(created(id))
  t.match((await street.waitFor(created(box.json.caseId))).data, { notifyStreet: true, case: { kind: 'one_button_alarm', priority: 'urgent' } })
  await street.waitFor((e) => e.event === 'case.updated' && e.data.case.id === b.caseId)
  await sq01.waitFor(created(a.caseId))
  await sq01.waitFor(created(site.json.caseId))
  await sq01.waitFor((e) => e.event === 'alarm.new' && e.data.alarm.id === site.json.alarmId)
  await sq05.waitFor(created(b.caseId))
  await sq05.waitFor(created(box.json.caseId))
  await sq05.waitFor((e) => e.event === 'case.updated' && e.data.case.id === b.caseId)

  const sq01Units = new Set([unitId(gw, 'JD01-SQ01'), unitId(gw, 'JD01-WY01')])
  for (const e of sq01.events) {
    if (e.data.case) t.ok(sq01Units.has(e.data.case.unitId), `SQ01 got ${e.event} of unit ${e.data.case.unitId}`)
    if (e.data.alarm) t.ok(sq01Units.has(e.data.alarm.unitId), `SQ01 got ${e.event} of unit ${e.data.alarm.unitId}`)
  }
  t.notOk(sq01.events.some((e) => e.data.case?.id === b.caseId || e.data.case?.id === box.json.caseId), 'nothing of SQ05 on the SQ01 stream')
  t.notOk(sq05.events.some((e) => e.data.case?.id === a.caseId || e.data.case?.id === site.json.caseId), 'nothing of SQ01 on the SQ05 stream')
  const ids = street.events.map((e) => e.id)
  t.same(ids, [...ids].sort((x, y) => x - y), 'ids increase')
  t.equal(new Set(ids).size, ids.length, 'no duplicates')

  // escalation: the case leaves the community's stream with the case
  const patrol = gw.as(await gw.login('community.patrol'))
  await patrol.post(`/api/cases/${a.caseId}/escalate`, { reason: 'up' })
  const esc = await street.waitFor((e) => e.event === 'case.escalated' && e.data.case.id === a.caseId)
  t.match(esc.data, { fromUnitId: unitId(gw, 'JD01-SQ01'), toUnitId: unitId(gw, 'JD01-PCS1') })
  await new Promise((r) => setTimeout(r, 200))
  t.notOk(sq01.events.some((e) => e.event === 'case.escalated'), 'the old unit does not see where it went')

  // closing the gateway ends open streams instead of hanging
  const t0 = Date.now()
  await gw.close()
  t.ok(Date.now() - t0 < 5000)
  await Promise.all([sq01.closed, sq05.closed, street.closed])
})

t.test('resume with Last-Event-ID replays exactly the missed events, then live', async (t) => {
  const gw = await startTestGateway(t)
  gw.services.cases.setSnapshotSource(null)
  const address = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const token = await gw.login('community.patrol')
  const { ingest, db } = gw.services
  const sq01Cams = [cameraId(gw, 'JD01-SQ01'), cameraId(gw, 'JD01-SQ01', 1), cameraId(gw, 'JD01-WY01')]
  const other = cameraId(gw, 'JD01-SQ06')

  const first = await openStream(address, token)
  const c1 = await ingest.ingest({ cameraId: sq01Cams[0]!, event: cellMotion(true) })
  const seen = await first.waitFor((e) => e.event === 'case.created' && e.data.case.id === c1.caseId)
  // wait until the snapshot note (case.updated) has arrived too, then disconnect
  await first.waitFor((e) => e.event === 'case.updated' && e.data.case.id === c1.caseId && e.data.change === 'snapshot')
  const lastId = first.events.at(-1)!.id
  t.ok(lastId >= seen.id)
  first.close()
  await first.closed

  // while disconnected: events in scope and out of scope
  await ingest.ingest({ cameraId: sq01Cams[1]!, event: cellMotion(true) })
  await ingest.ingest({ cameraId: other, event: cellMotion(true) })
  await ingest.ingest({ cameraId: sq01Cams[2]!, event: cellMotion(true) })
  await ingest.ingest({ cameraId: sq01Cams[0]!, event: cellMotion(true) }) // merged → case.updated
  await new Promise((r) => setTimeout(r, 100))
  const path = (db.prepare('SELECT path FROM units WHERE code = ?').pluck().get('JD01-SQ01') as string)
  const missed = (db.prepare('SELECT id, type FROM stream_events WHERE id > ? AND unit_path >= ? AND unit_path < ? ORDER BY id').all(lastId, path, path.slice(0, -1) + '0') as { id: number; type: string }[])
  t.ok(missed.length >= 6, `${missed.length} missed in scope`)
  t.ok((db.prepare('SELECT count(*) FROM stream_events WHERE id > ?').pluck().get(lastId) as number) > missed.length, 'out-of-scope events happened too')

  const resumed = await openStream(address, token, { lastEventId: lastId })
  await resumed.waitFor((e) => e.id === missed.at(-1)!.id)
  t.same(resumed.events.map((e) => ({ id: e.id, type: e.event })), missed, 'exactly the missed events, in order')
  // then live
  const live = await ingest.ingest({ cameraId: cameraId(gw, 'JD01-SQ02'), event: cellMotion(true) }) // SQ02 is not SQ01
  const mine = await ingest.ingest({ cameraId: sq01Cams[1]!, event: cellMotion(false, 'Initialized') })
  t.equal(mine.outcome, 'ignored')
  const live2 = await ingest.ingest({ cameraId: cameraId(gw, 'JD01-WY01', 1), event: cellMotion(true) })
  await resumed.waitFor((e) => e.event === 'case.created' && e.data.case.id === live2.caseId)
  t.notOk(resumed.events.some((e) => e.data.case?.id === live.caseId))
  const ids = resumed.events.map((e) => e.id)
  t.equal(new Set(ids).size, ids.length, 'no duplicates across replay and live')

  // the query-string form, for EventSource polyfills without headers
  const viaQuery = await openStream(address, token, { query: `?lastEventId=${lastId}` })
  await viaQuery.waitFor((e) => e.id === missed.at(-1)!.id)
  t.same(viaQuery.events.slice(0, missed.length).map((e) => e.id), missed.map((m) => m.id))
  t.equal((await openStream(address, token, { query: '?lastEventId=abc' })).status, 400)
  resumed.close()
  viaQuery.close()
})
