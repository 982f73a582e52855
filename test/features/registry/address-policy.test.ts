/**
 * Issue 17 item 1: SSRF through camera URLs. With the default camera networks
 * (cameras.allowedCidrs), URIs naming loopback, link-local, the gateway's own listener or another
 * odd spelling of them are refused when written (422 address_not_allowed naming the field), and a
 * URI stored before the policy (or a name resolving to loopback) is refused when connected to.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../../src/core/config.js'
import { startTestGateway, type TestGateway } from '../../support/gateway.js'

const DEFAULT_CIDRS = loadConfig({ env: {} }).cameras.allowedCidrs
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 0xff, 0xd9])

async function listen(handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<{ server: Server; port: number; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = []
  const server = createServer((req, res) => {
    requests.push(req)
    handler(req, res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as { port: number }).port, requests }
}

async function streetOf(gw: TestGateway, token: string): Promise<number> {
  return ((await gw.as(token).get('/api/units?tier=street')).json.items as { id: number }[])[0]!.id
}

t.test('default policy: URIs to loopback, link-local, odd spellings and the gateway itself are 422 at write time', async (t) => {
  const gw = await startTestGateway(t, { overrides: { cameras: { allowedCidrs: DEFAULT_CIDRS } } })
  // the gateway listens, so its own listener is a real address:port
  await gw.app.listen({ host: '127.0.0.1', port: 0 })
  const ownPort = (gw.app.server.address() as { port: number }).port
  const admin = await gw.login('admin')
  const unitId = await streetOf(gw, admin)
  const ok = await gw.as(admin).post('/api/cameras', { unitId, name: 'camera on the camera network', class: 2, kind: 'fixed', snapshotUri: 'http://10.20.0.5/snap.jpg', streams: { main: { uri: 'rtsp://192.168.7.9/live' } } })
  t.equal(ok.statusCode, 201, ok.body)
  const id = ok.json.id as number

  const refused: [string, Record<string, unknown>, string][] = [
    ['loopback /metrics', { snapshotUri: `http://127.0.0.1:${ownPort}/metrics` }, 'body.snapshotUri'],
    ['loopback', { snapshotUri: 'http://127.0.0.1:9999/x.jpg' }, 'body.snapshotUri'],
    ['hex IPv4', { snapshotUri: 'http://0x7f000001/x.jpg' }, 'body.snapshotUri'],
    ['decimal IPv4', { snapshotUri: 'http://2130706433/x.jpg' }, 'body.snapshotUri'],
    ['IPv6 loopback', { snapshotUri: 'http://[::1]/x.jpg' }, 'body.snapshotUri'],
    ['IPv4-mapped loopback', { snapshotUri: 'http://[::ffff:127.0.0.1]/x.jpg' }, 'body.snapshotUri'],
    ['localhost', { snapshotUri: 'http://localhost/x.jpg' }, 'body.snapshotUri'],
    ['cloud metadata', { snapshotUri: 'http://169.254.169.254/latest/meta-data/' }, 'body.snapshotUri'],
    ['IPv6 link-local', { snapshotUri: 'http://[fe80::1]/x.jpg' }, 'body.snapshotUri'],
    ['outside the camera networks', { snapshotUri: 'http://8.8.8.8/x.jpg' }, 'body.snapshotUri'],
    ['RTSP hex loopback', { streams: { main: { uri: 'rtsp://0x7f000001:554/live' } } }, 'body.streams.main.uri'],
    ['RTSP IPv6 loopback', { streams: { sub: { uri: 'rtsp://[::1]/live' } } }, 'body.streams.sub.uri'],
    ['ONVIF multicast', { onvifUrl: 'http://239.255.255.250/onvif/device_service' }, 'body.onvifUrl'],
    ['ONVIF unspecified', { onvifUrl: 'http://0.0.0.0/onvif/device_service' }, 'body.onvifUrl'],
  ]
  for (const [what, body, field] of refused) {
    const res = await gw.as(admin).patch(`/api/cameras/${id}`, body)
    t.equal(res.statusCode, 422, `${what}: 422`)
    t.equal(res.json?.code, 'address_not_allowed', `${what}: stable code`)
    t.equal(res.json?.errors?.[0]?.field, field, `${what}: names ${field}`)
  }
  const create = await gw.as(admin).post('/api/cameras', { unitId, name: 'x', class: 2, kind: 'fixed', snapshotUri: 'http://127.0.0.1/x.jpg' })
  t.equal(create.statusCode, 422, 'create too')
  const after = await gw.as(admin).get(`/api/cameras/${id}`)
  t.equal(after.json.snapshotUri, 'http://10.20.0.5/snap.jpg', 'nothing was written')

  // CSV import: the row and column are named
  const csv = `name,unit_code,class,kind,snapshot_uri\r\nimported,${(await gw.as(admin).get(`/api/units/${unitId}`)).json.code},2,fixed,http://0x7f000001:${ownPort}/metrics\r\n`
  const imp = await gw.as(admin).request('POST', '/api/cameras/import', csv, { 'content-type': 'text/csv' })
  t.equal(imp.statusCode, 422)
  t.match(imp.json.errors, [{ field: 'snapshot_uri', line: 2, message: /address not allowed/ }])

  // demo cameras are not URLs: they keep working under the default policy
  const demo = (await gw.as(admin).get('/api/cameras?limit=1')).json.items.find((c: { streams: { main: { uri: string } | null } }) => c.streams.main?.uri.startsWith('demo:'))
  t.ok(demo, 'a demo camera exists')
  const snap = await gw.as(admin).get(`/api/cameras/${demo.id}/snapshot`)
  t.equal(snap.statusCode, 200, 'a demo camera gives a snapshot')
})

t.test('connect time: a URI stored before the policy, a name resolving to loopback, and a redirect are refused', async (t) => {
  const cam = await listen((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG))
  t.teardown(() => cam.server.close())
  const elsewhere = await listen((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG))
  t.teardown(() => elsewhere.server.close())
  const redirector = await listen((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/metrics` }).end())
  t.teardown(() => redirector.server.close())

  const dataDir = mkdtempSync(join(tmpdir(), 'gw-policy-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // written while loopback was allowed (as an admin may have done, or before this policy existed)
  let gw = await startTestGateway(t, { dataDir, overrides: { health: { checkTimeoutSeconds: 2 } } })
  let admin = await gw.login('admin')
  const unitId = await streetOf(gw, admin)
  const byIp = (await gw.as(admin).post('/api/cameras', { unitId, name: 'stored loopback', class: 2, kind: 'fixed', snapshotUri: `http://127.0.0.1:${cam.port}/snap.jpg`, streams: { main: { uri: `rtsp://127.0.0.1:${cam.port}/live` } } })).json.id as number
  const byName = (await gw.as(admin).post('/api/cameras', { unitId, name: 'name to loopback', class: 2, kind: 'fixed', snapshotUri: `http://localhost:${cam.port}/snap.jpg`, streams: { main: { uri: `rtsp://localhost:${cam.port}/live` } } })).json.id as number
  const onvif = (await gw.as(admin).post('/api/cameras', { unitId, name: 'stored ONVIF loopback', class: 2, kind: 'fixed', onvifUrl: `http://127.0.0.1:${cam.port}/onvif/device_service`, credentials: { username: 'u', password: 'p' } })).json.id as number
  const redirected = (await gw.as(admin).post('/api/cameras', { unitId, name: 'redirect', class: 2, kind: 'fixed', snapshotUri: `http://127.0.0.1:${redirector.port}/snap.jpg` })).json.id as number
  t.equal((await gw.as(admin).get(`/api/cameras/${byIp}/snapshot`)).statusCode, 200, 'allowed while loopback is listed')
  t.equal(cam.requests.length, 1)

  const r = await gw.as(admin).get(`/api/cameras/${redirected}/snapshot`)
  t.equal(r.statusCode, 502, 'a redirect is not followed')
  t.equal(r.json.code, 'snapshot_redirect')
  t.equal(elsewhere.requests.length, 0, 'the redirect target was never asked')

  // the same store under the default policy
  await gw.close()
  // (discovery's own ranges still name loopback: the camera policy alone refuses the connection)
  gw = await startTestGateway(t, { dataDir, overrides: { cameras: { allowedCidrs: DEFAULT_CIDRS }, health: { checkTimeoutSeconds: 2 }, discovery: { allowedCidrs: ['127.0.0.0/8'], onvifTimeoutMs: 1500 } } })
  admin = await gw.login('admin')
  for (const [id, what] of [[byIp, 'stored 127.0.0.1'], [byName, 'localhost, resolved at connect time']] as const) {
    const res = await gw.as(admin).get(`/api/cameras/${id}/snapshot`)
    t.equal(res.statusCode, 409, `${what}: refused`)
    t.equal(res.json.code, 'address_not_allowed', `${what}: stable code`)
    t.match(res.json.errors, [{ field: 'snapshotUri' }])
    const health = await gw.as(admin).post(`/api/cameras/${id}/health/check`)
    t.equal(health.statusCode, 200, `${what}: a health check does not crash`)
    const h = await gw.as(admin).get(`/api/cameras/${id}/health`)
    t.match(h.json.checks, [{ check: 'tcp', ok: true }, { check: 'rtsp_describe', ok: false, reason: 'address_not_allowed' }], `${what}: health says why`)
    t.equal(h.json.failures, 1, `${what}: counts towards offline (the video cannot be reached)`)
  }
  // ONVIF: refresh and the health probe connect through the same policy
  const refresh = await gw.as(admin).post(`/api/cameras/${onvif}/refresh`, {})
  t.equal(refresh.statusCode, 409, 'refresh of a stored loopback ONVIF address is refused')
  t.equal(refresh.json.code, 'address_not_allowed')
  t.match(refresh.json.errors, [{ field: 'onvifUrl' }])
  await gw.as(admin).post(`/api/cameras/${onvif}/health/check`)
  t.match((await gw.as(admin).get(`/api/cameras/${onvif}/health`)).json.checks, [{ check: 'tcp' }, { check: 'onvif_clock', ok: false, reason: 'address_not_allowed' }], 'health says why')
  t.equal(cam.requests.length, 1, 'the loopback listener was never asked again')
})
