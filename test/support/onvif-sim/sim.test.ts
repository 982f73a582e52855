import http from 'node:http'
import t from 'tap'
import { OnvifAuthError, OnvifClient, OnvifUnreachableError, soapCall } from '../../../src/lib/onvif/index.js'
import { OnvifSimulatorFleet, startOnvifSimulator } from './index.js'

// This file owns 127.24.0.0/16 and 127.25.0.0/16.
const creds = { username: 'admin', password: 'sim-pw' }

function fetchBytes(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const c: Buffer[] = []
      res.on('data', (b: Buffer) => c.push(b))
      res.on('end', () => resolve(Buffer.concat(c)))
    }).on('error', reject)
  })
}

/** width/height from the SOF0/SOF2 segment */
function jpegSize(b: Buffer): [number, number] | undefined {
  let i = 2
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined
    const marker = b[i + 1]!
    const len = b.readUInt16BE(i + 2)
    if (marker === 0xc0 || marker === 0xc2) return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)]
    i += 2 + len
  }
  return undefined
}

t.test('WS-UsernameToken: stale or future Created and replayed nonces are refused', async (t) => {
  const d = await startOnvifSimulator({ address: '127.24.0.1', password: creds.password, maxTokenAgeSec: 5 })
  t.teardown(() => d.close())
  const call = (clockOffsetMs: number) =>
    soapCall({
      url: new URL(d.xaddr),
      action: 'http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation',
      operation: 'GetDeviceInformation',
      body: '<tds:GetDeviceInformation/>',
      credentials: creds,
      clockOffsetMs,
      timeoutMs: 2000,
    })
  t.equal((await call(0)).payload.name, 'GetDeviceInformationResponse')
  await t.rejects(call(-8000), OnvifAuthError, '8 s old')
  await t.rejects(call(+8000), OnvifAuthError, '8 s in the future')
  t.equal((await call(-3000)).payload.name, 'GetDeviceInformationResponse', 'within 5 s')
  const refused = d.calls.filter((c) => !c.authenticated).length
  t.equal(refused, 2)
})

t.test('snapshots: live frames differ, frozen repeats, dark is dark; all are real JPEGs', async (t) => {
  const d = await startOnvifSimulator({ address: '127.24.0.2', password: creds.password })
  t.teardown(() => d.close())
  const c = new OnvifClient({ xaddr: d.xaddr, ...creds })
  t.teardown(() => c.close())
  const uri = (await c.getSnapshotUri('Profile_1')).uri
  const a = await fetchBytes(uri)
  const b = await fetchBytes(uri)
  t.same(jpegSize(a), [160, 90])
  t.notOk(a.equals(b), 'live snapshots change')
  d.setSnapshot('frozen')
  t.ok((await fetchBytes(uri)).equals(await fetchBytes(uri)), 'frozen snapshots repeat')
  d.setSnapshot('dark')
  const dark = await fetchBytes(uri)
  t.same(jpegSize(dark), [160, 90])
  t.ok(dark.length < a.length / 4, 'a flat dark frame compresses far smaller')
})

t.test('reboot with downtime refuses connections, then serves again', async (t) => {
  const d = await startOnvifSimulator({ address: '127.24.0.3', password: creds.password })
  t.teardown(() => d.close())
  d.reboot({ downMs: 400 })
  t.ok(d.isDown)
  await t.rejects(new OnvifClient({ xaddr: d.xaddr, timeoutMs: 1000 }).getSystemDateAndTime(), OnvifUnreachableError)
  await new Promise((r) => setTimeout(r, 450))
  t.ok((await new OnvifClient({ xaddr: d.xaddr, timeoutMs: 1000 }).getSystemDateAndTime()).cameraTime instanceof Date)
})

t.test('200 devices (HTTP + unicast discovery) start and stop in one process quickly', async (t) => {
  const t0 = Date.now()
  const fleet = await OnvifSimulatorFleet.start({ count: 200, firstAddress: '127.25.0.1', device: { password: creds.password } })
  const started = Date.now() - t0
  t.teardown(() => fleet.close())
  t.equal(fleet.devices.length, 200)
  t.equal(new Set(fleet.devices.map((d) => d.address)).size, 200)
  t.equal(fleet.devices.at(-1)!.address, '127.25.0.200')
  t.ok(started < 5000, `started in ${started} ms`)
  const sample = [fleet.devices[0]!, fleet.devices[99]!, fleet.devices[199]!]
  const infos = await Promise.all(sample.map((d) => new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 }).getDeviceInformation()))
  t.same(infos.map((i) => i.manufacturer), sample.map((d) => d.vendor.manufacturer))
  const t1 = Date.now()
  await fleet.close()
  await fleet.close()
  t.ok(Date.now() - t1 < 3000)
  await t.rejects(new OnvifClient({ xaddr: sample[0]!.xaddr, timeoutMs: 500 }).getSystemDateAndTime(), OnvifUnreachableError)
})

t.test('the simulator refuses non-loopback addresses', async (t) => {
  await t.rejects(startOnvifSimulator({ address: '192.0.2.1' }), /loopback/)
  await t.rejects(OnvifSimulatorFleet.start({ count: 2, firstAddress: '127.255.255.255' }), /127\.0\.0\.0\/8/)
})

t.test("the real camera's behaviours, each switchable", async (t) => {
  const real = await startOnvifSimulator({ address: '127.24.1.1', vendor: 'dahua', password: creds.password, clockResolutionMs: 1000, ptzTimeout: 'ignore', ptzSpaces: { zoom: false }, authFailureStatus: 400 })
  const spec = await startOnvifSimulator({ address: '127.24.1.2', vendor: 'hikvision', password: creds.password, initializedMessages: false })
  t.teardown(() => Promise.all([real.close(), spec.close()]))
  t.equal(real.now() % 1000, 0, 'a clock that ticks in whole seconds')

  const c = new OnvifClient({ xaddr: real.xaddr, ...creds, timeoutMs: 2000 })
  const s = new OnvifClient({ xaddr: spec.xaddr, ...creds, timeoutMs: 2000 })
  t.teardown(() => {
    c.close()
    s.close()
  })
  const [node] = await c.getPtzNodes()
  t.match(node, { panTilt: { continuous: true, relative: true }, zoom: { continuous: false, relative: false, absolute: false }, maxPresets: 255 })
  t.match((await s.getPtzNodes())[0], { zoom: { continuous: true, relative: true, absolute: true } })
  await c.relativeZoom('MediaProfile000', 0.5)
  t.equal(real.ptzPosition.zoom, 0, 'no zoom space: success, and nothing moves')

  await c.continuousMove('MediaProfile000', { pan: 0.5 }, 200)
  await s.continuousMove('Profile_1', { pan: 0.5 }, 200)
  await new Promise((r) => setTimeout(r, 400))
  t.equal(real.ptzVelocity.pan, 0.5, 'Timeout ignored: still moving')
  t.equal(spec.ptzVelocity.pan, 0, 'Timeout honoured: stopped by itself')

  // Initialized messages with each property's current state on a new PullPoint
  real.emitMotion(true)
  const sub = await c.createPullPointSubscription({ initialTerminationSec: 30 })
  const { events } = await sub.pull({ timeoutSec: 1 })
  t.match(events.find((e) => e.topic === 'tns1:RuleEngine/CellMotionDetector/Motion'), { propertyOperation: 'Initialized', data: { IsMotion: 'true' } })
  t.match(events.find((e) => e.topic === 'tns1:VideoSource/MotionAlarm'), { propertyOperation: 'Initialized', data: { State: 'false' } })
  const none = await (await s.createPullPointSubscription({ initialTerminationSec: 30 })).pull({ timeoutSec: 1 })
  t.same(none.events, [], 'initializedMessages: false')

  // a refused password: HTTP 400 with a SOAP NotAuthorized fault
  real.setPassword('changed')
  const err = await c.getDeviceInformation().catch((e: unknown) => e)
  t.ok(err instanceof OnvifAuthError, String(err))
  t.match(err, { httpStatus: 400, fault: { subcodes: ['ter:NotAuthorized'] } })
})
