/**
 * Discovery and onboarding end to end: a real gateway, simulated ONVIF devices on 127.33.x.y
 * (unicast WS-Discovery on their own address:3702) and the real GStreamer RTSP test server their
 * stream URIs point at.
 */
import net from 'node:net'
import t from 'tap'
import { startOnvifSimulator, type SimulatedDevice } from '../../support/onvif-sim/index.js'
import { startRtspTestServer } from '../../support/rtsp-server.js'
import { startTestGateway, type TestGateway } from '../../support/gateway.js'
import { unit } from '../../support/fixtures.js'

const PW = 'Cam-pass-1'
const DISCOVERY = { allowedCidrs: ['127.0.0.0/8'], onvifTimeoutMs: 1500, sweepWindowMs: 400, sweepPerHostTimeoutMs: 150, sweepRatePps: 2000 }

async function waitJob(gw: TestGateway, token: string, id: number): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const r = await gw.as(token).get(`/api/discovery/scans/${id}`)
    if (r.statusCode !== 200) throw new Error(`job ${id}: ${r.statusCode} ${r.body}`)
    if (r.json.status !== 'running') return r.json
    await new Promise((res) => setTimeout(res, 50))
  }
  throw new Error('job did not finish')
}

/** RTSP DESCRIBE against a URI: proves the stored stream URI reaches a live server. */
function describe(uri: string): Promise<string> {
  const u = new URL(uri)
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(`DESCRIBE ${uri} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n`))
    let buf = ''
    s.setTimeout(5000, () => (s.destroy(), reject(new Error('describe timeout'))))
    s.on('data', (d) => {
      buf += d.toString()
      if (buf.includes('\r\n\r\n')) {
        s.destroy()
        resolve(buf.split('\r\n')[0]!)
      }
    })
    s.on('error', reject)
  })
}

const rtsp = await startRtspTestServer({ mounts: [{ path: '/main', width: 320, height: 180, fps: 10 }, { path: '/sub', width: 160, height: 90, fps: 10 }] })
t.teardown(() => rtsp.close())
const sims: SimulatedDevice[] = []
const sim = async (address: string, extra: Parameters<typeof startOnvifSimulator>[0] = {}) => {
  const d = await startOnvifSimulator({ address, password: PW, mainStreamUri: rtsp.url('/main'), subStreamUri: rtsp.url('/sub'), discovery: {}, ...extra })
  sims.push(d)
  return d
}
t.teardown(() => Promise.all(sims.map((s) => s.close())))

const gw = await startTestGateway(t, { overrides: { discovery: DISCOVERY } })
const admin = await gw.login('admin')
const tech = await gw.login('street.technician')
const sq01 = unit(gw, 'JD01-SQ01')
const adoptBody = (extra: Record<string, unknown> = {}) => ({ unitId: sq01.id, class: 2, kind: 'fixed', credentials: { username: 'admin', password: PW }, ...extra })

t.test('unicast sweep of a small 127.x range finds every device once, as candidates', async (t) => {
  const fleet = await Promise.all([1, 2, 3, 4, 5].map((n) => sim(`127.33.1.${n}`, { vendor: (['hikvision', 'dahua', 'axis', 'uniview'] as const)[n % 4] })))
  const start = await gw.as(tech).post('/api/discovery/scans', { ranges: ['127.33.1.0/28'] })
  t.equal(start.statusCode, 202, start.body)
  const job = await waitJob(gw, tech, start.json.id)
  t.equal(job.status, 'done')
  t.equal(job.progress.probesSent, 14, 'one probe per host of the /28')
  t.equal(job.progress.candidates, 5)
  t.equal(job.candidates.length, 5)
  for (const d of fleet) {
    const c = job.candidates.find((x: any) => x.endpointRef === d.uuid)
    t.ok(c, `found ${d.address}`)
    t.equal(c.address, d.address)
    t.same(c.xaddrs, [d.xaddr])
    t.equal(c.name, d.name)
    t.ok(c.hardware)
    t.equal(c.state, 'new')
    t.equal(c.source, 'unicast')
  }
  // a second scan updates, never duplicates
  const again = await waitJob(gw, tech, (await gw.as(tech).post('/api/discovery/scans', { ranges: ['127.33.1.0/29'] })).json.id)
  t.equal(again.candidates.length, 5)
  const list = await gw.as(tech).get('/api/discovery/candidates?state=new')
  t.equal(list.json.items.filter((c: any) => c.address.startsWith('127.33.1.')).length, 5, 'deduplicated by endpoint reference')
})

t.test('scan requests that are too large, not allowed or impossible are refused with 400 naming the field', async (t) => {
  const big = await gw.as(tech).post('/api/discovery/scans', { ranges: ['127.0.0.0/15'] })
  t.equal(big.statusCode, 400)
  t.equal(big.json.errors[0].field, 'body.ranges')
  t.match(big.json.detail, /16/)
  const outside = await gw.as(tech).post('/api/discovery/scans', { ranges: ['10.1.0.0/24'] })
  t.equal(outside.statusCode, 400)
  t.equal(outside.json.errors[0].field, 'body.ranges.0')
  const bad = await gw.as(tech).post('/api/discovery/scans', { ranges: ['127.33.1.7/24'] })
  t.equal(bad.statusCode, 400, 'host bits set')
  const mc = await gw.as(tech).post('/api/discovery/scans', { multicast: true })
  t.equal(mc.statusCode, 400, 'no multicast interface configured')
  t.equal(mc.json.errors[0].field, 'body.multicast')
  const host = await gw.as(tech).post('/api/discovery/adopt', { host: '10.2.3.4', ...adoptBody() })
  t.equal(host.statusCode, 400)
  t.equal(host.json.errors[0].field, 'body.host')
  const patrol = await gw.as(await gw.login('street.patrol')).post('/api/discovery/scans', { ranges: ['127.33.1.0/28'] })
  t.equal(patrol.statusCode, 403, 'patrol staff do not scan')
})

t.test('adoption with the right password fills the registry; the candidate becomes registered', async (t) => {
  const d = await sim('127.33.2.1', { vendor: 'hikvision', ptz: true })
  const job = await waitJob(gw, tech, (await gw.as(tech).post('/api/discovery/scans', { ranges: ['127.33.2.0/30'] })).json.id)
  const cand = job.candidates.find((c: any) => c.endpointRef === d.uuid)
  const r = await gw.as(tech).post(`/api/discovery/candidates/${cand.id}/adopt`, adoptBody({ name: '东门 云台', kind: 'ptz', tags: ['出入口'] }))
  t.equal(r.statusCode, 201, r.body)
  const cam = r.json.camera
  t.equal(cam.unitId, sq01.id)
  t.equal(cam.name, '东门 云台')
  t.equal(cam.onvifUrl, d.xaddr)
  t.equal(cam.endpointRef, d.uuid)
  t.equal(cam.device.serial, d.serialNumber)
  t.equal(cam.device.manufacturer, d.vendor.manufacturer)
  t.ok(cam.device.model && cam.device.firmware)
  t.equal(cam.streams.main.uri, rtsp.url('/main'))
  t.equal(cam.streams.main.codec, 'h264')
  t.equal(cam.streams.main.width, 1920)
  t.equal(cam.streams.main.height, 1080)
  t.ok(cam.streams.main.fps > 0)
  t.ok(cam.streams.main.profileToken)
  t.equal(cam.streams.sub.uri, rtsp.url('/sub'))
  t.equal(cam.streams.sub.width, 640)
  t.match(cam.snapshotUri, /^http:\/\/127\.33\.2\.1:/)
  t.same(cam.capabilities, { ptz: true, events: true, ptzFeatures: { panTilt: { continuous: true, relative: true, absolute: true }, zoom: { continuous: true, relative: true, absolute: true }, presets: true } })
  t.equal(cam.hasCredentials, true)
  t.ok(Math.abs(cam.clockOffsetMs) < 2000)
  t.match(await describe(cam.streams.main.uri), /RTSP\/1.0 200/, 'the stored main stream URI answers on the real RTSP server')
  t.match(await describe(cam.streams.sub.uri), /RTSP\/1.0 200/)
  const after = await gw.as(tech).get('/api/discovery/candidates?state=registered')
  const mine = after.json.items.find((c: any) => c.id === cand.id)
  t.equal(mine.state, 'registered')
  t.equal(mine.camera.id, cam.id)
  const audit = gw.services.db.prepare("SELECT * FROM audit_log WHERE action = 'discovery.adopt' AND target_id = ?").get(String(cam.id)) as any
  t.ok(audit, 'adoption audited')
  t.notMatch(JSON.stringify(audit), PW)
  const twice = await gw.as(tech).post(`/api/discovery/candidates/${cand.id}/adopt`, adoptBody())
  t.equal(twice.statusCode, 409, 'not adopted twice')
})

t.test('each failure is reported distinctly; a skewed clock still authenticates', async (t) => {
  const wrong = await sim('127.33.3.1')
  const r1 = await gw.as(tech).post('/api/discovery/adopt', { host: wrong.address, port: wrong.httpPort, ...adoptBody({ credentials: { username: 'admin', password: 'nope' } }) })
  t.equal(r1.statusCode, 422, r1.body)
  t.equal(r1.json.code, 'camera_auth_failed')
  t.equal(r1.json.errors[0].field, 'body.credentials.password')
  t.match(r1.json.errors[0].message, /wrong user name or password/)

  const r2 = await gw.as(tech).post('/api/discovery/adopt', { host: '127.33.3.250', port: 9, ...adoptBody() })
  t.equal(r2.statusCode, 502)
  t.equal(r2.json.code, 'camera_unreachable')

  const garbage = await sim('127.33.3.2')
  garbage.setFault({ kind: 'garbage' })
  const r3 = await gw.as(tech).post('/api/discovery/adopt', { host: garbage.address, port: garbage.httpPort, ...adoptBody() })
  t.equal(r3.statusCode, 502)
  t.equal(r3.json.code, 'camera_bad_reply')

  const slow = await sim('127.33.3.3')
  slow.setFault({ kind: 'hang' })
  const good = await sim('127.33.3.4')
  const t0 = Date.now()
  const slowReq = gw.as(tech).post('/api/discovery/adopt', { host: slow.address, port: slow.httpPort, ...adoptBody() })
  const goodRes = await gw.as(tech).post('/api/discovery/adopt', { host: good.address, port: good.httpPort, ...adoptBody({ name: 'good one' }) })
  t.equal(goodRes.statusCode, 201, 'a hanging camera does not stall another adoption')
  t.ok(Date.now() - t0 < 1400, `the good one finished in ${Date.now() - t0} ms while the other hangs`)
  const r4 = await slowReq
  t.equal(r4.statusCode, 504)
  t.equal(r4.json.code, 'camera_timeout')
  t.ok(Date.now() - t0 < 4000, 'bounded by the configured timeout')

  const skewed = await sim('127.33.3.5', { clockSkewSec: 3 * 3600 })
  const r5 = await gw.as(tech).post('/api/discovery/adopt', { host: skewed.address, port: skewed.httpPort, ...adoptBody({ name: 'skewed' }) })
  t.equal(r5.statusCode, 201, 'the digest built on the camera clock is accepted')
  t.ok(Math.abs(r5.json.clockOffsetMs - 3 * 3600_000) < 5000, `offset ${r5.json.clockOffsetMs}`)
  t.equal(r5.json.camera.clockOffsetMs, r5.json.clockOffsetMs, 'offset stored')
  t.match(r5.json.warnings.join(' '), /clock is off/)
  const codes = [r1.json.code, r2.json.code, r3.json.code, r4.json.code]
  t.equal(new Set(codes).size, 4, 'four distinct codes')
})

t.test('a known camera that appears at a new address is flagged as moved; refresh follows it', async (t) => {
  const uuid = 'urn:uuid:5f0e0000-aaaa-4bbb-8ccc-000000000042'
  const old = await sim('127.33.4.1', { uuid, serialNumber: 'MOVE-0001' })
  const a = await gw.as(tech).post('/api/discovery/adopt', { host: old.address, port: old.httpPort, ...adoptBody({ name: 'will move' }) })
  t.equal(a.statusCode, 201, a.body)
  const camId = a.json.camera.id
  // the first adoption was by address: give the camera its endpoint reference by discovering it where it is
  await gw.as(tech).patch(`/api/cameras/${camId}`, { endpointRef: uuid })
  await old.close()
  const moved = await sim('127.33.4.9', { uuid, serialNumber: 'MOVE-0001' })
  const job = await waitJob(gw, tech, (await gw.as(tech).post('/api/discovery/scans', { ranges: ['127.33.4.0/28'] })).json.id)
  const c = job.candidates.find((x: any) => x.endpointRef === uuid)
  t.equal(c.state, 'moved')
  t.equal(c.camera.id, camId)
  const list = await gw.as(tech).get('/api/discovery/candidates?state=moved')
  t.ok(list.json.items.some((x: any) => x.id === c.id))
  const adopt = await gw.as(tech).post(`/api/discovery/candidates/${c.id}/adopt`, adoptBody())
  t.equal(adopt.statusCode, 409, 'a moved camera is not adopted again')

  // a community technician of another branch sees the candidate but not the camera
  const other = await gw.login('station.technician')
  const sq05 = unit(gw, 'JD01-SQ05')
  const move = await gw.as(admin).patch(`/api/cameras/${camId}`, { unitId: sq05.id })
  t.equal(move.statusCode, 200, move.body)
  const theirs = (await gw.as(other).get('/api/discovery/candidates?state=moved')).json.items.find((x: any) => x.id === c.id)
  t.equal(theirs.state, 'moved')
  t.equal(theirs.camera, null, 'the camera outside their subtree is not revealed')
  await gw.as(admin).patch(`/api/cameras/${camId}`, { unitId: sq01.id })

  // the stored credentials belong to the old address: following the camera needs them again
  const withoutCredentials = await gw.as(tech).post(`/api/cameras/${camId}/refresh`, { onvifUrl: moved.xaddr })
  t.equal(withoutCredentials.statusCode, 422)
  t.equal(withoutCredentials.json.code, 'credentials_required')
  const r = await gw.as(tech).post(`/api/cameras/${camId}/refresh`, { onvifUrl: moved.xaddr, credentials: adoptBody().credentials })
  t.equal(r.statusCode, 200, r.body)
  const change = r.json.changes.find((x: any) => x.field === 'onvifUrl')
  t.same(change, { field: 'onvifUrl', before: old.xaddr, after: moved.xaddr })
  t.equal(r.json.camera.onvifUrl, moved.xaddr)
  const again = (await gw.as(tech).get('/api/discovery/candidates?state=registered')).json.items.find((x: any) => x.id === c.id)
  t.equal(again?.state, 'registered', 'after the refresh the candidate is registered')
})

t.test('refresh: stored credentials, new credentials, nothing changed, scope and role', async (t) => {
  const d = await sim('127.33.5.1')
  const a = await gw.as(tech).post('/api/discovery/adopt', { host: d.address, port: d.httpPort, ...adoptBody({ name: 'refresh me' }) })
  const id = a.json.camera.id
  const same = await gw.as(tech).post(`/api/cameras/${id}/refresh`, {})
  t.equal(same.statusCode, 200, same.body)
  t.same(same.json.changes, [], 'nothing changed')
  d.setPassword('Rotated-2')
  const refused = await gw.as(tech).post(`/api/cameras/${id}/refresh`, {})
  t.equal(refused.statusCode, 422)
  t.equal(refused.json.code, 'camera_auth_failed')
  const ok = await gw.as(tech).post(`/api/cameras/${id}/refresh`, { credentials: { username: 'admin', password: 'Rotated-2' } })
  t.equal(ok.statusCode, 200, ok.body)
  t.ok(ok.json.changes.some((c: any) => c.field === 'credentials'))
  t.notMatch(JSON.stringify(ok.json), 'Rotated-2')
  const patrol = await gw.as(await gw.login('community.patrol')).post(`/api/cameras/${id}/refresh`, {})
  t.equal(patrol.statusCode, 403)
  const outsider = await gw.as(await gw.login('site.technician')).post(`/api/cameras/${id}/refresh`, {})
  t.equal(outsider.statusCode, 404)
  const wrongUnit = await gw.as(await gw.login('site.technician')).post('/api/discovery/adopt', { host: d.address, port: d.httpPort, ...adoptBody() })
  t.equal(wrongUnit.statusCode, 404, 'adopting into a unit outside your subtree')

  const gone = await sim('127.33.5.2')
  t.equal((await gw.as(tech).post('/api/discovery/adopt', { host: gone.address, port: gone.httpPort, ...adoptBody({ name: 'switched off' }) })).statusCode, 201)
  await gone.close()
  const job = await gw.as(tech).post(`/api/units/${sq01.id}/refresh`)
  t.equal(job.statusCode, 202, job.body)
  const done = await waitJob(gw, tech, job.json.id)
  t.equal(done.kind, 'unit_refresh')
  t.ok(done.progress.total >= 3)
  t.equal(done.progress.done, done.progress.total)
  t.ok(done.results.some((r: any) => r.cameraId === id && r.ok))
  t.ok(done.results.some((r: any) => !r.ok && r.name === 'switched off' && r.error.code === 'camera_unreachable'), 'cameras that fail are listed with their error')
  t.ok(done.progress.failed >= 1)
  const outsiderJob = await gw.as(await gw.login('site.technician')).get(`/api/discovery/scans/${job.json.id}`)
  t.equal(outsiderJob.statusCode, 404)
})

t.test('direct add by host: WS-Discovery when the device answers it, else an unauthenticated check; never a password', async (t) => {
  const talks = await sim('127.33.6.1')
  const silent = await sim('127.33.6.2', { discovery: false })
  const start = await gw.as(tech).post('/api/discovery/scans', { hosts: [{ host: talks.address, port: talks.httpPort }, { host: silent.address, port: silent.httpPort }, { host: '127.33.6.3', port: 80 }] })
  t.equal(start.statusCode, 202, start.body)
  const job = await waitJob(gw, tech, start.json.id)
  t.equal(job.candidates.length, 2)
  const a = job.candidates.find((c: any) => c.address === talks.address)
  t.equal(a.source, 'unicast')
  t.equal(a.endpointRef, talks.uuid)
  const b = job.candidates.find((c: any) => c.address === silent.address)
  t.equal(b.source, 'direct')
  t.same(b.xaddrs, [silent.xaddr])
  t.match(job.progress.errors.join(' '), /127\.33\.6\.3:80/, 'the dead host is reported')
  t.ok([...talks.calls, ...silent.calls].every((c) => !c.authenticated), 'discovery never logs in')
  const adopted = await gw.as(tech).post(`/api/discovery/candidates/${b.id}/adopt`, adoptBody({ name: 'direct' }))
  t.equal(adopted.statusCode, 201, adopted.body)
  t.equal(adopted.json.camera.endpointRef, null, 'no made-up endpoint reference on the camera')
  const outside = await gw.as(tech).post('/api/discovery/scans', { hosts: [{ host: '192.0.2.1' }] })
  t.equal(outside.statusCode, 400)
  t.equal(outside.json.errors[0].field, 'body.hosts.0.host')
})

t.test('a known serial at a new address, learned on adoption, marks the candidate moved', async (t) => {
  const first = await sim('127.33.7.1', { serialNumber: 'SERIAL-MOVES-7' })
  const a = await gw.as(tech).post('/api/discovery/adopt', { host: first.address, port: first.httpPort, ...adoptBody({ name: 'serial camera' }) })
  t.equal(a.statusCode, 201, a.body)
  await first.close()
  const again = await sim('127.33.7.2', { serialNumber: 'SERIAL-MOVES-7' }) // new endpoint reference, same serial
  const job = await waitJob(gw, tech, (await gw.as(tech).post('/api/discovery/scans', { ranges: ['127.33.7.0/30'] })).json.id)
  const c = job.candidates.find((x: any) => x.endpointRef === again.uuid)
  t.equal(c.state, 'new', 'nothing to match on before the device is interrogated')
  const r = await gw.as(tech).post(`/api/discovery/candidates/${c.id}/adopt`, adoptBody())
  t.equal(r.statusCode, 409, r.body)
  t.equal(r.json.cameraId, a.json.camera.id)
  t.equal(r.json.state, 'moved')
  const listed = (await gw.as(tech).get('/api/discovery/candidates?state=moved')).json.items.find((x: any) => x.id === c.id)
  t.equal(listed?.camera?.id, a.json.camera.id, 'stays moved once the serial is known')
})

t.test('a camera that answers every call just before the deadline is cut off as a whole', async (t) => {
  const crawl = await sim('127.33.8.1')
  crawl.setFault({ kind: 'delay', ms: 1200 }) // each call under the 1500 ms deadline, a dozen calls in all
  const t0 = Date.now()
  const r = await gw.as(tech).post('/api/discovery/adopt', { host: crawl.address, port: crawl.httpPort, ...adoptBody() })
  t.equal(r.statusCode, 504, r.body)
  t.equal(r.json.code, 'camera_timeout')
  t.match(r.json.detail, /interrogation within 6000 ms/)
  t.ok(Date.now() - t0 < 7500, `gave up after ${Date.now() - t0} ms`)
})

t.test('progress and results are readable while a scan runs', async (t) => {
  const start = await gw.as(tech).post('/api/discovery/scans', { ranges: ['127.33.1.0/24'] })
  t.equal(start.statusCode, 202)
  let during: any
  for (;;) {
    const r = await gw.as(tech).get(`/api/discovery/scans/${start.json.id}`)
    if (r.json.status !== 'running') break
    if (r.json.candidates.length > 0 && r.json.progress.probesSent > 0) during ??= r.json
    await new Promise((res) => setTimeout(res, 10))
  }
  t.ok(during, 'a snapshot taken while running already lists candidates')
  t.equal(during.status, 'running')
  t.ok(during.progress.probesSent <= 254 && during.progress.replies >= 1)
  t.equal(during.progress.probesPlanned, 254)
  const done = await waitJob(gw, tech, start.json.id)
  t.equal(done.progress.probesSent, 254)
  t.equal(done.progress.phase, 'done')
})

t.test('scans run at most discovery.maxRunningScans at once; the latest jobs are listed', async (t) => {
  const starts = []
  for (let i = 0; i < 5; i++) starts.push(await gw.as(tech).post('/api/discovery/scans', { ranges: [`127.33.${20 + i}.0/24`] }))
  t.same(starts.map((s) => s.statusCode), [202, 202, 202, 202, 429])
  t.ok(starts[4]!.headers['retry-after'])
  for (const s of starts.slice(0, 4)) await waitJob(gw, tech, s.json.id)
  const list = await gw.as(tech).get('/api/discovery/scans?limit=4')
  t.equal(list.statusCode, 200, list.body)
  t.same(list.json.items.map((j: any) => j.id), starts.slice(0, 4).map((s) => s.json.id).reverse())
  t.ok(list.json.items.every((j: any) => j.kind === 'scan' && j.status === 'done' && j.candidates === undefined))
  const siteTech = await gw.as(await gw.login('site.technician')).get('/api/discovery/scans?limit=200')
  t.notOk(siteTech.json.items.some((j: any) => j.kind === 'unit_refresh'), 'unit refreshes of units above theirs are not listed')
})
