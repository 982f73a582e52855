/**
 * Issue 17 item 2: stored camera passwords are bound to the host (and port) they were entered
 * for. Moving a URI elsewhere without giving credentials again drops them (as a browser does), so
 * a listener of the technician's own — played here by the test's loopback listeners — never sees
 * the password: no Basic header, no Digest, no credentials at all. HTTP Basic is only ever sent
 * in answer to a Basic challenge of the camera's own host, and Digest wins when both are offered.
 */
import { createServer, type IncomingMessage } from 'node:http'
import { createServer as createTcpServer, type Socket } from 'node:net'
import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'

const USER = 'operator'
const PASSWORD = 'S3cret-cam-pass'
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 0xff, 0xd9])
const BASIC = 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64')

/** An HTTP "camera" that challenges with the given schemes and accepts any answer to them; records every Authorization header (or its absence). */
async function httpCamera(t: import('tap').Test, challenges: string[]) {
  const seen: (string | null)[] = []
  const server = createServer((req: IncomingMessage, res) => {
    const auth = req.headers.authorization ?? null
    seen.push(auth)
    if (!auth) return res.writeHead(401, { 'www-authenticate': challenges }).end()
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  return { port: (server.address() as { port: number }).port, seen }
}

/** An RTSP listener that answers every request 401 (Digest and Basic offered) and records the requests. */
async function rtspListener(t: import('tap').Test) {
  const requests: string[] = []
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    let buf = ''
    socket.on('data', (d) => {
      buf += d.toString('latin1')
      let end: number
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end)
        buf = buf.slice(end + 4)
        requests.push(head)
        const cseq = /^cseq:\s*(\d+)/im.exec(head)?.[1] ?? '0'
        socket.write(`RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Digest realm="listener", nonce="n${requests.length}"\r\nWWW-Authenticate: Basic realm="listener"\r\nContent-Length: 0\r\n\r\n`)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { port: (server.address() as { port: number }).port, requests }
}

t.test('credentials are bound to the host they were entered for', async (t) => {
  const honest = await httpCamera(t, ['Digest realm="cam", nonce="abc", qop="auth"', 'Basic realm="cam"'])
  const basicOnly = await httpCamera(t, ['Basic realm="old-cam"'])
  const hostile = await httpCamera(t, ['Basic realm="give-me-your-password"', 'Digest realm="other", nonce="x"'])
  const rtspCamera = await rtspListener(t)
  const rtspHostile = await rtspListener(t)
  const gw = await startTestGateway(t, { overrides: { health: { checkTimeoutSeconds: 2 }, discovery: { allowedCidrs: ['127.0.0.0/8'], onvifTimeoutMs: 1500 } } })
  const admin = await gw.login('admin')
  const unitId = ((await gw.as(admin).get('/api/units?tier=street')).json.items as { id: number }[])[0]!.id
  const credentials = { username: USER, password: PASSWORD }
  const create = async (body: Record<string, unknown>) => {
    const res = await gw.as(admin).post('/api/cameras', { unitId, class: 2, kind: 'fixed', credentials, ...body })
    t.equal(res.statusCode, 201, res.body)
    return res.json.id as number
  }
  const snapshot = (id: number) => gw.as(admin).get(`/api/cameras/${id}/snapshot`)

  // the camera's own host: nothing sent before the challenge, then Digest although Basic was offered too
  const cam = await create({ name: 'honest', snapshotUri: `http://127.0.0.1:${honest.port}/snap`, streams: { main: { uri: `rtsp://127.0.0.1:${rtspCamera.port}/live` } } })
  t.equal((await snapshot(cam)).statusCode, 200)
  t.equal(honest.seen[0], null, 'no credentials before the camera asked')
  t.match(honest.seen[1], /^Digest username="operator", realm="cam"/, 'Digest preferred over Basic')
  // Basic only where Basic is all the camera's own host asks for
  const old = await create({ name: 'basic only', snapshotUri: `http://127.0.0.1:${basicOnly.port}/snap` })
  t.equal((await snapshot(old)).statusCode, 200)
  t.same(basicOnly.seen, [null, BASIC], 'Basic only in answer to its challenge')

  // a path change on the same host keeps them
  const samePath = await gw.as(admin).patch(`/api/cameras/${cam}`, { snapshotUri: `http://127.0.0.1:${honest.port}/snap?channel=2` })
  t.equal(samePath.json.hasCredentials, true, 'same host and port: credentials kept')
  t.notOk(samePath.json.credentialsDropped)

  // the snapshot URI moved to a listener of one's own (another port), no credentials given
  const moved = await gw.as(admin).patch(`/api/cameras/${cam}`, { snapshotUri: `http://127.0.0.1:${hostile.port}/snap` })
  t.equal(moved.statusCode, 200)
  t.same(moved.json.credentialsDropped, ['snapshotUri'], 'the response says the credentials were dropped, and why')
  t.equal(moved.json.hasCredentials, false)
  const stolen = await snapshot(cam)
  t.equal(stolen.statusCode, 502)
  t.equal(stolen.json.code, 'camera_auth_failed')
  t.same(hostile.seen, [null], 'the hostile listener was asked once and never got an Authorization header')
  const audit = await gw.as(admin).get(`/api/audit?action=camera.credentials_dropped`)
  t.match(audit.json.items, [{ action: 'camera.credentials_dropped', targetType: 'camera', targetId: String(cam), detail: { reason: 'uri_host_changed', fields: ['snapshotUri'] } }], 'audited')

  // RTSP: the main stream moved to another host:port without credentials
  const rtspCam = await create({ name: 'rtsp', streams: { main: { uri: `rtsp://127.0.0.1:${rtspCamera.port}/live` } } })
  const rtspMoved = await gw.as(admin).patch(`/api/cameras/${rtspCam}`, { streams: { main: { uri: `rtsp://127.0.0.1:${rtspHostile.port}/live` } } })
  t.same(rtspMoved.json.credentialsDropped, ['streams.main.uri'])
  t.equal((await gw.as(admin).post(`/api/cameras/${rtspCam}/health/check`)).statusCode, 200)
  t.ok(rtspHostile.requests.length >= 1, 'the health check reached the new address')
  t.notOk(rtspHostile.requests.some((r) => /^authorization:/im.test(r)), 'the RTSP listener never saw credentials (neither Basic nor Digest)')

  // a URI added on a host none of the camera's URIs had is a move too
  const added = await create({ name: 'stream only', streams: { main: { uri: `rtsp://127.0.0.1:${rtspCamera.port}/live` } } })
  const withSnapshot = await gw.as(admin).patch(`/api/cameras/${added}`, { snapshotUri: `http://127.0.0.2:${hostile.port}/snap` })
  t.same(withSnapshot.json.credentialsDropped, ['snapshotUri'], 'a new URI on another host drops them')
  const sameHost = await create({ name: 'stream only 2', streams: { main: { uri: `rtsp://127.0.0.1:${rtspCamera.port}/live` } } })
  const sameHostSnapshot = await gw.as(admin).patch(`/api/cameras/${sameHost}`, { snapshotUri: `http://127.0.0.1:${honest.port}/snap` })
  t.equal(sameHostSnapshot.json.hasCredentials, true, 'a new URI on the camera\'s own host keeps them')

  // moving with credentials given again in the same request is a re-entry: kept (the new ones)
  const reentered = await gw.as(admin).patch(`/api/cameras/${old}`, { snapshotUri: `http://127.0.0.1:${honest.port}/snap`, credentials })
  t.equal(reentered.json.hasCredentials, true)
  t.notOk(reentered.json.credentialsDropped)

  // refresh against another ONVIF address must be given the credentials again: nothing is sent
  const onvif = await create({ name: 'onvif', onvifUrl: `http://127.0.0.1:${honest.port}/onvif/device_service` })
  const before = hostile.seen.length
  const refresh = await gw.as(admin).post(`/api/cameras/${onvif}/refresh`, { onvifUrl: `http://127.0.0.1:${hostile.port}/onvif/device_service` })
  t.equal(refresh.statusCode, 422)
  t.equal(refresh.json.code, 'credentials_required')
  t.match(refresh.json.errors, [{ field: 'body.credentials' }])
  t.equal(hostile.seen.length, before, 'the other address was not contacted with the stored credentials')
})
