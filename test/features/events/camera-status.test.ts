import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { cameraId, unitId } from '../alarms/support.js'
import { openStream, type SseClient, type SseEvent } from './support.js'

/**
 * Camera status changes on the SSE stream (camera.status), from real health checks: scoped to the
 * camera's subtree, and for a site camera not shared upward (内保外用) only to the site and to the
 * admins and technicians above it, live and on resume.
 */
t.test('camera.status reaches the users who may see the camera, and no one else', async (t) => {
  const gw = await startTestGateway(t, { overrides: { health: { offlineAfterFailures: 1, checkTimeoutSeconds: 2 } } })
  const address = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const users = ['street.patrol', 'station.patrol', 'community.patrol', 'community.technician', 'site.patrol'] as const
  const streams = Object.fromEntries(await Promise.all(users.map(async (u) => [u, await openStream(address, await gw.login(u))] as const))) as Record<(typeof users)[number], SseClient>
  const tech = gw.as(await gw.login('street.technician'))
  const check = async (id: number) => {
    const res = await tech.post(`/api/cameras/${id}/health/check`)
    t.equal(res.statusCode, 200, res.body)
    return res.json as { status: string }
  }
  const statusOf = (id: number) => (e: SseEvent) => e.event === 'camera.status' && e.data.camera.id === id
  const got = (s: SseClient, id: number) => s.events.some(statusOf(id))

  const sq05 = cameraId(gw, 'JD01-SQ05') // under the second police station
  const sq01 = cameraId(gw, 'JD01-SQ01')
  const garage = cameraId(gw, 'JD01-WY01', 1) // a site camera, not shared upward
  const gate = cameraId(gw, 'JD01-WY01', 0) // shared upward

  await t.test('a demo camera checked for the first time goes online: its subtree hears it', async (t) => {
    t.equal((await check(sq05)).status, 'online')
    const e = await streams['street.patrol'].waitFor(statusOf(sq05))
    t.match(e.data, { type: 'camera.status', camera: { id: sq05, unitId: unitId(gw, 'JD01-SQ05'), status: 'online', previous: 'unknown', reasons: [] } })
    t.match(e.data.camera.since, /^\d{4}-\d\d-\d\dT/)
    await check(sq01)
    await streams['station.patrol'].waitFor(statusOf(sq01))
    t.notOk(got(streams['station.patrol'], sq05), 'the first station does not hear the second station’s camera')
    await streams['community.patrol'].waitFor(statusOf(sq01))
    t.notOk(got(streams['community.patrol'], sq05))
  })

  await t.test('内保外用: a private site camera reaches the site and the technicians above, not patrol above', async (t) => {
    await check(garage)
    await check(gate)
    for (const u of ['site.patrol', 'community.technician'] as const) {
      await streams[u].waitFor(statusOf(garage))
      await streams[u].waitFor(statusOf(gate))
    }
    // delivery is in id order: once the gate (published after the garage) has arrived, the garage would have too
    for (const u of ['community.patrol', 'street.patrol', 'station.patrol'] as const) {
      await streams[u].waitFor(statusOf(gate))
      t.notOk(got(streams[u], garage), `${u} does not hear the private garage camera`)
    }
    t.notOk(got(streams['site.patrol'], sq01), 'the site does not hear its community’s own camera')
  })

  await t.test('an unreachable camera goes offline with its reasons', async (t) => {
    const patched = await tech.patch(`/api/cameras/${sq01}`, { streams: { main: { uri: 'rtsp://127.0.0.1:9/nothing-here', codec: 'h264' } } })
    t.equal(patched.statusCode, 200, patched.body)
    t.equal((await check(sq01)).status, 'offline')
    const e = await streams['community.patrol'].waitFor((x) => statusOf(sq01)(x) && x.data.camera.status === 'offline')
    t.match(e.data.camera, { previous: 'online', status: 'offline' })
    t.ok(e.data.camera.reasons.length > 0, `reasons: ${e.data.camera.reasons.join(', ')}`)
  })

  await t.test('resuming with Last-Event-ID applies the same rule', async (t) => {
    const last = streams['community.technician'].events.at(-1)!.id
    const patrol = await openStream(address, await gw.login('community.patrol'), { lastEventId: 0 })
    const technician = await openStream(address, await gw.login('community.technician'), { lastEventId: 0 })
    await technician.waitFor((e) => e.id === last)
    await patrol.waitFor((e) => e.event === 'camera.status' && e.data.camera.status === 'offline')
    const ids = (s: SseClient) => [...new Set(s.events.filter((e) => e.event === 'camera.status').map((e) => e.data.camera.id as number))].sort((a, b) => a - b)
    t.same(ids(patrol), [sq01, gate].sort((a, b) => a - b), 'patrol: its own camera and the shared gate')
    t.same(ids(technician), [sq01, gate, garage].sort((a, b) => a - b), 'technician: the private garage too')
    patrol.close()
    technician.close()
    const rows = gw.services.db.prepare("SELECT site_private FROM stream_events WHERE type = 'camera.status' AND json_extract(payload, '$.camera.id') = ?").pluck().all(garage)
    t.same(rows, [1], 'journaled as site-private')
  })

  for (const s of Object.values(streams)) s.close()
})
