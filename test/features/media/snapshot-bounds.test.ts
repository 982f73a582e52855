/**
 * Issue 17 item 3: a camera's snapshot URI is bounded in size, time and type. A 200 MB or endless
 * answer is cut at media.snapshotMaxBytes (502 snapshot_too_large) without the gateway's memory
 * growing with it; a 1 byte/s answer ends at media.snapshotTimeoutSeconds (504 snapshot_timeout);
 * a body that is not a JPEG or PNG is 502 snapshot_not_image, whatever its Content-Type says.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import t, { type Test } from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { makePng } from '../../support/images.js'

const MAX_BYTES = 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 0x41)

/** A hostile "camera": each path is one way of answering a snapshot request. */
async function hostileCamera(t: Test) {
  const written = new Map<string, number>()
  const closed = new Set<string>()
  const sockets = new Set<Socket>()
  const pour = (res: ServerResponse, key: string, limit: number) => {
    // writes as fast as the reader takes it: what the reader buffers is what it keeps
    const more = () => {
      while ((written.get(key) ?? 0) < limit) {
        written.set(key, (written.get(key) ?? 0) + CHUNK.length)
        if (!res.write(CHUNK)) return void res.once('drain', more)
      }
      res.end()
    }
    res.write(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))
    more()
  }
  const server = createServer((req, res) => {
    const key = `${req.url}#${written.size}`
    req.socket.on('close', () => closed.add(key))
    switch (req.url) {
      case '/200mb':
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(200 * 1024 * 1024) })
        return pour(res, key, 200 * 1024 * 1024)
      case '/endless':
        res.writeHead(200, { 'content-type': 'image/jpeg' })
        return pour(res, key, Number.MAX_SAFE_INTEGER)
      case '/drip': {
        res.writeHead(200, { 'content-type': 'image/jpeg' })
        const bytes = [0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]
        let i = 0
        const timer = setInterval(() => (i < bytes.length ? res.write(Buffer.from([bytes[i++]!])) : res.end()), 1000)
        res.on('close', () => clearInterval(timer))
        return
      }
      case '/html':
        return res.writeHead(200, { 'content-type': 'image/jpeg' }).end('<html><body>metrics: secret_value 42</body></html>')
      case '/png':
        return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(makePng(4, 4))
      default:
        return res.writeHead(404).end()
    }
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const port = (server.address() as { port: number }).port
  const bytesFor = (path: string) => [...written].filter(([k]) => k.startsWith(path + '#')).reduce((n, [, v]) => n + v, 0)
  const closedFor = (path: string) => [...closed].filter((k) => k.startsWith(path + '#')).length
  return { port, bytesFor, closedFor }
}

t.test('snapshot URIs are bounded in size, time and type', async (t) => {
  const cam = await hostileCamera(t)
  const gw = await startTestGateway(t, { overrides: { media: { snapshotTimeoutSeconds: 1, snapshotMaxBytes: MAX_BYTES } } })
  const admin = await gw.login('admin')
  const unitId = ((await gw.as(admin).get('/api/units?tier=street')).json.items as { id: number }[])[0]!.id
  const cameraFor = async (path: string) => (await gw.as(admin).post('/api/cameras', { unitId, name: `hostile ${path}`, class: 2, kind: 'fixed', snapshotUri: `http://127.0.0.1:${cam.port}${path}` })).json.id as number
  const snapshot = async (id: number) => {
    const t0 = Date.now()
    const res = await gw.app.inject({ method: 'GET', url: `/api/cameras/${id}/snapshot`, headers: { authorization: `Bearer ${admin}` } })
    return { status: res.statusCode, code: (res.headers['content-type'] ?? '').toString().includes('json') ? (res.json() as { code: string }).code : null, type: res.headers['content-type'], body: res.rawPayload, ms: Date.now() - t0 }
  }

  // memory: Buffers live in arrayBuffers; sampled while three of each huge answer are read
  const base = process.memoryUsage().arrayBuffers
  let peak = base
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 10)
  for (const path of ['/200mb', '/endless']) {
    const id = await cameraFor(path)
    const answers = await Promise.all([snapshot(id), snapshot(id), snapshot(id)])
    for (const a of answers) {
      t.equal(a.status, 502, `${path}: 502`)
      t.equal(a.code, 'snapshot_too_large', `${path}: snapshot_too_large`)
      t.ok(a.ms < 900, `${path}: answered before the time bound (${a.ms} ms)`)
    }
    const end = Date.now() + 5000
    while (cam.closedFor(path) < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
    t.equal(cam.closedFor(path), 3, `${path}: the gateway closed each connection`)
    t.ok(cam.bytesFor(path) < 3 * 32 * 1024 * 1024, `${path}: the camera could write only what sockets buffer (${Math.round(cam.bytesFor(path) / 1e6)} MB of ${path === '/200mb' ? 600 : '∞'} MB)`)
  }
  clearInterval(sampler)
  t.ok(peak - base < 64 * 1024 * 1024, `memory held for pictures stayed bounded (+${Math.round((peak - base) / 1e6)} MB)`)

  // a slow drip ends at the time bound
  const drip = await snapshot(await cameraFor('/drip'))
  t.equal(drip.status, 504)
  t.equal(drip.code, 'snapshot_timeout')
  t.ok(drip.ms >= 900 && drip.ms < 3000, `within the 1 s bound (${drip.ms} ms)`)

  // not a picture, whatever the Content-Type says: and the body is not passed on
  const html = await snapshot(await cameraFor('/html'))
  t.equal(html.status, 502)
  t.equal(html.code, 'snapshot_not_image')
  t.notMatch(html.body.toString(), /secret_value/, 'the camera\'s body is not relayed')

  // a PNG is a picture: served with its own type
  const png = await snapshot(await cameraFor('/png'))
  t.equal(png.status, 200)
  t.equal(png.type, 'image/png')
  t.same(png.body.subarray(0, 8), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
})
