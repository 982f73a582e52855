import http from 'node:http'
import t from 'tap'
import {
  interrogate,
  OnvifAuthError,
  OnvifClient,
  OnvifError,
  OnvifFaultError,
  OnvifProtocolError,
  OnvifTimeoutError,
  OnvifUnreachableError,
  soapCall,
} from '../../../src/lib/onvif/index.js'
import { startOnvifSimulator, type SimulatedDevice } from '../../support/onvif-sim/index.js'

// This file owns 127.20.0.0/16.
const PASSWORD = 'S3cret-pw!'
const MAIN = 'rtsp://127.0.0.1:8554/test-main'
const SUB = 'rtsp://127.0.0.1:8554/test-sub'
let next = 1
async function sim(opts: Parameters<typeof startOnvifSimulator>[0] = {}): Promise<SimulatedDevice> {
  const d = await startOnvifSimulator({ address: `127.20.0.${next++}`, password: PASSWORD, mainStreamUri: MAIN, subStreamUri: SUB, ...opts })
  t.teardown(() => d.close())
  return d
}
const creds = { username: 'admin', password: PASSWORD }

function get(url: string): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks) }))
      })
      .on('error', reject)
  })
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

t.test('interrogate with the right password fills everything, for every vendor', async (t) => {
  for (const vendor of ['hikvision', 'dahua', 'axis', 'uniview'] as const) {
    const d = await sim({ vendor })
    const r = await interrogate({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
    t.equal(r.info.manufacturer, d.vendor.manufacturer, `${vendor} manufacturer`)
    t.equal(r.info.model, d.vendor.model)
    t.equal(r.info.serialNumber, d.serialNumber)
    t.equal(r.profiles.length, 2)
    t.match(r.main, { profileToken: d.vendor.profiles[0].token, streamUri: MAIN, video: { width: 1920, height: 1080, encoding: 'H264' } }, `${vendor} main`)
    t.match(r.sub, { profileToken: d.vendor.profiles[1].token, streamUri: SUB, video: { width: 640, height: 360 } }, `${vendor} sub`)
    t.equal(r.capabilities.ptz, d.vendor.ptz, `${vendor} ptz capability`)
    t.equal(r.capabilities.events, true)
    t.equal(r.capabilities.pullPoint, true)
    t.equal(r.capabilities.snapshot, true)
    t.equal(r.services.source, vendor === 'uniview' ? 'GetCapabilities' : 'GetServices', `${vendor} service discovery path`)
    t.ok(Math.abs(r.clock.offsetMs) < 1500, 'no skew')
    const snap = await get(r.main!.snapshotUri!)
    t.equal(snap.status, 200)
    t.equal(snap.type, 'image/jpeg')
    t.same([...snap.body.subarray(0, 2)], [0xff, 0xd8], 'JPEG SOI')
    t.same([...snap.body.subarray(-2)], [0xff, 0xd9], 'JPEG EOI')
    t.ok(d.calls.some((c) => c.action === 'GetProfiles' && c.authenticated), 'GetProfiles was authenticated')
  }
})

t.test('wrong password → OnvifAuthError (HTTP 400 and 401 styles), password never in the message', async (t) => {
  for (const vendor of ['hikvision', 'dahua', 'uniview'] as const) {
    const d = await sim({ vendor })
    const e = await rejection(interrogate({ xaddr: d.xaddr, username: 'admin', password: 'wrong-pass-XYZ', timeoutMs: 2000 }))
    t.type(e, OnvifAuthError, vendor)
    t.equal((e as OnvifAuthError).httpStatus, d.vendor.authFailureStatus, `${vendor} status`)
    t.notMatch(String((e as Error).stack), /wrong-pass-XYZ/)
  }
})

t.test('nothing listening → OnvifUnreachableError', async (t) => {
  const srv = http.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.20.1.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  const e = await rejection(interrogate({ xaddr: `http://127.20.1.1:${port}/onvif/device_service`, ...creds, timeoutMs: 2000 }))
  t.type(e, OnvifUnreachableError)
  t.equal((e as OnvifUnreachableError).code, 'ECONNREFUSED')
})

t.test('garbage reply → OnvifProtocolError', async (t) => {
  const d = await sim()
  d.setFault({ kind: 'garbage' })
  const e = await rejection(interrogate({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 }))
  t.type(e, OnvifProtocolError)
  t.equal((e as OnvifProtocolError).problem, 'malformed-xml')
})

t.test('slow device times out while another answers promptly in parallel', async (t) => {
  const slow = await sim()
  const fast = await sim({ vendor: 'dahua' })
  slow.setFault({ kind: 'delay', ms: 3000 })
  const t0 = Date.now()
  let fastDoneAt = 0
  const [a, b] = await Promise.allSettled([
    interrogate({ xaddr: slow.xaddr, ...creds, timeoutMs: 400 }),
    interrogate({ xaddr: fast.xaddr, ...creds, timeoutMs: 400 }).then((r) => ((fastDoneAt = Date.now()), r)),
  ])
  t.equal(a.status, 'rejected')
  if (a.status === 'rejected') {
    t.type(a.reason, OnvifTimeoutError)
    t.equal((a.reason as OnvifTimeoutError).timeoutMs, 400)
  }
  t.equal(b.status, 'fulfilled')
  t.ok(Date.now() - t0 < 1500, 'the slow device did not hold us for its 3 s')
  t.ok(fastDoneAt - t0 < 1500, 'the fast device was not held back')
})

t.test('accept-and-hang → OnvifTimeoutError; close() aborts an in-flight call at once', async (t) => {
  const d = await sim()
  d.setFault({ kind: 'hang' })
  const e = await rejection(new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 300 }).getSystemDateAndTime())
  t.type(e, OnvifTimeoutError)
  const c = new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 5000 })
  const p = rejection(c.getSystemDateAndTime())
  setTimeout(() => c.close(), 50)
  const t0 = Date.now()
  const e2 = await p
  t.type(e2, OnvifError)
  t.notOk(e2 instanceof OnvifTimeoutError)
  t.ok(Date.now() - t0 < 1000)
  c.close()
  t.match(await rejection(c.getDeviceInformation()), { message: /closed/ })
})

t.test('a reply trickling in byte by byte is cut off at the deadline (not an idle timer)', async (t) => {
  const d = await sim()
  d.setFault({ kind: 'trickle', intervalMs: 50 })
  const t0 = Date.now()
  const e = await rejection(new OnvifClient({ xaddr: d.xaddr, timeoutMs: 400 }).getSystemDateAndTime())
  t.type(e, OnvifTimeoutError)
  t.ok(Date.now() - t0 < 1000, `cut off after ${Date.now() - t0} ms`)
})

t.test('connection dropped without a reply → OnvifUnreachableError', async (t) => {
  const d = await sim()
  d.setFault({ kind: 'drop' })
  t.type(await rejection(interrogate({ xaddr: d.xaddr, ...creds, timeoutMs: 1000 })), OnvifUnreachableError)
})

t.test('camera clock +2 h: authentication works because Created uses the camera clock', async (t) => {
  const d = await sim({ clockSkewSec: 7200 })
  const r = await interrogate({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
  t.ok(Math.abs(r.clock.offsetMs - 7_200_000) < 1500, `offset ${r.clock.offsetMs}`)
  t.equal(r.main?.streamUri, MAIN)
  // control: the same request stamped with *our* clock is refused, so the success above is not vacuous
  const e = await rejection(
    soapCall({
      url: new URL(d.xaddr),
      action: 'http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation',
      operation: 'GetDeviceInformation',
      body: '<tds:GetDeviceInformation/>',
      credentials: creds,
      clockOffsetMs: 0,
      timeoutMs: 2000,
    }),
  )
  t.type(e, OnvifAuthError)
})

t.test('camera clock jumps after the first sync: the client re-syncs once and retries', async (t) => {
  const d = await sim({ vendor: 'axis' })
  const c = new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
  t.teardown(() => c.close())
  await c.getDeviceInformation()
  d.setClockSkew(-3600)
  d.clearCalls()
  const info = await c.getDeviceInformation()
  t.equal(info.manufacturer, 'AXIS')
  t.same(
    d.calls.map((x) => `${x.action}:${x.authenticated}`),
    ['GetDeviceInformation:false', 'GetSystemDateAndTime:false', 'GetDeviceInformation:true'],
  )
  t.ok(Math.abs((c.clockOffsetMs ?? 0) + 3_600_000) < 1500)
})

t.test('device clock without UTCDateTime (LocalDateTime + TZ only)', async (t) => {
  const d = await sim({ clockStyle: 'local-only', timeZone: 'CST-8:00:00', clockSkewSec: 600 })
  const r = await interrogate({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
  t.equal(r.clock.source, 'local-with-tz')
  t.ok(Math.abs(r.clock.offsetMs - 600_000) < 1500, `offset ${r.clock.offsetMs}`)
})

t.test('DTD / entity payloads are refused', async (t) => {
  const d = await sim()
  for (const variant of ['billion-laughs', 'xxe'] as const) {
    d.setFault({ kind: 'dtd', variant })
    const e = await rejection(new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 2000, clockOffsetMs: 0 }).getDeviceInformation())
    t.type(e, OnvifProtocolError, variant)
    t.equal((e as OnvifProtocolError).problem, 'dtd-or-entity', variant)
  }
})

t.test('oversized replies are refused, streamed or with Content-Length', async (t) => {
  const d = await sim()
  for (const declareLength of [false, true]) {
    d.setFault({ kind: 'oversized', bytes: 3 * 1024 * 1024, declareLength })
    const t0 = Date.now()
    const e = await rejection(new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 5000, maxResponseBytes: 1024 * 1024 }).getSystemDateAndTime())
    t.type(e, OnvifProtocolError)
    t.equal((e as OnvifProtocolError).problem, 'too-large')
    t.ok(Date.now() - t0 < 3000)
  }
  d.setFault({ kind: 'oversized', bytes: 200 * 1024 })
  const ok = await new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 5000, clockOffsetMs: 0 }).getDeviceInformation()
  t.equal(ok.manufacturer.length > 100_000, true, 'a big but allowed reply still parses')
})

t.test('HTTP 500 without SOAP vs HTTP 500 with a SOAP fault', async (t) => {
  const d = await sim()
  d.setFault({ kind: 'http500' })
  const a = await rejection(new OnvifClient({ xaddr: d.xaddr, ...creds, clockOffsetMs: 0 }).getDeviceInformation())
  t.type(a, OnvifProtocolError)
  t.match(a, { problem: 'http-status', httpStatus: 500 })
  d.setFault({ kind: 'receiver-fault' })
  const b = await rejection(new OnvifClient({ xaddr: d.xaddr, ...creds, clockOffsetMs: 0 }).getDeviceInformation())
  t.type(b, OnvifFaultError)
  t.match((b as OnvifFaultError).fault, { soapVersion: '1.2', code: 'env:Receiver', subcodes: ['ter:Action'], httpStatus: 500 })
})

t.test('payload in wrong namespaces still parses (matched by local name)', async (t) => {
  const d = await sim({ vendor: 'uniview' })
  d.setFault({ kind: 'wrong-namespaces' })
  const r = await interrogate({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
  t.equal(r.info.manufacturer, 'UNIVIEW')
  t.equal(r.main?.video?.width, 1920)
  t.equal(r.sub?.streamUri, SUB)
})

t.test('fault injected on one operation only becomes a per-profile warning', async (t) => {
  const d = await sim()
  d.setFault({ kind: 'receiver-fault' }, { actions: ['GetSnapshotUri'] })
  const r = await interrogate({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
  t.equal(r.capabilities.snapshot, false)
  t.equal(r.main?.snapshotUri, undefined)
  t.equal(r.warnings.filter((w) => w.startsWith('GetSnapshotUri')).length, 2)
})
