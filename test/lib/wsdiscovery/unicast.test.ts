import t from 'tap'
import { interrogate } from '../../../src/lib/onvif/index.js'
import { CidrError, planSweep, sweepUnicast, UnicastSweep } from '../../../src/lib/wsdiscovery/index.js'
import { OnvifSimulatorFleet } from '../../support/onvif-sim/index.js'

// This file owns 127.23.0.0/16; devices answer unicast probes on their own 127.23.0.x:3702.
const fleet = await OnvifSimulatorFleet.start({ count: 6, firstAddress: '127.23.0.1', device: { password: 'sweep-pw' } })
t.teardown(() => fleet.close())

t.test('sweep of 127.23.0.0/27 finds every simulated device once', async (t) => {
  const seen: string[] = []
  const r = await sweepUnicast({
    cidrs: ['127.23.0.0/27'],
    bindAddress: '127.0.0.1',
    ratePps: 1000,
    windowMs: 300,
    perHostTimeoutMs: 200,
    onDevice: (d) => seen.push(d.endpointReference),
  })
  t.equal(r.probed, 30)
  t.equal(r.sendErrors, 0)
  t.equal(r.aborted, false)
  t.equal(r.devices.length, 6)
  t.same(new Set(r.devices.map((d) => d.endpointReference)), new Set(fleet.devices.map((d) => d.uuid)))
  t.same(seen.sort(), r.devices.map((d) => d.endpointReference).sort(), 'onDevice once per device')
  for (const d of fleet.devices) {
    const found = r.devices.find((x) => x.endpointReference === d.uuid)!
    t.equal(found.from.address, d.address, 'reply came from the device address')
    t.equal(found.xaddrs[0]!.url.href, d.xaddr)
    t.equal(found.scopeInfo.name, d.name)
    t.equal(found.scopeInfo.hardware, d.vendor.model)
    t.same(found.types, ['dn:NetworkVideoTransmitter', 'tds:Device'])
  }
  // what discovery found is directly usable for adoption
  const first = r.devices.find((x) => x.endpointReference === fleet.devices[0]!.uuid)!
  const report = await interrogate({ xaddr: first.xaddrs[0]!.url, username: 'admin', password: 'sweep-pw', timeoutMs: 2000 })
  t.equal(report.info.serialNumber, fleet.devices[0]!.serialNumber)
})

t.test('overlapping ranges are probed once per address', async (t) => {
  const r = await sweepUnicast({ cidrs: ['127.23.0.0/29', '127.23.0.4/30', '127.23.0.2/32'], bindAddress: '127.0.0.1', ratePps: 1000, windowMs: 200, perHostTimeoutMs: 100 })
  t.equal(r.probed, 6 + 0 + 0, 'the /30 and /32 lie inside the /29 (hosts .1–.6)')
  t.equal(r.devices.length, 6)
})

t.test('rate limit and concurrency bound the sweep', async (t) => {
  const t0 = Date.now()
  await sweepUnicast({ cidrs: ['127.23.0.0/27'], bindAddress: '127.0.0.1', ratePps: 100, windowMs: 0, perHostTimeoutMs: 10 })
  t.ok(Date.now() - t0 >= 280, `30 probes at 100 pps took ${Date.now() - t0} ms`)

  // 2 slots; each silent host holds its slot 150 ms. The 8 silent hosts of the /28 go out in pairs,
  // and each pair but the last waits for the previous one: ≥ 3 × 150 ms. With 64 slots nothing waits.
  const sweep = (concurrency: number) =>
    sweepUnicast({ cidrs: ['127.23.0.0/28'], bindAddress: '127.0.0.1', ratePps: 10_000, concurrency, windowMs: 0, perHostTimeoutMs: 150 })
  const t1 = Date.now()
  const r = await sweep(2)
  const narrow = Date.now() - t1
  t.ok(narrow >= 440, `concurrency 2 took ${narrow} ms`)
  t.equal(r.devices.length, 6)
  const t2 = Date.now()
  await sweep(64)
  t.ok(Date.now() - t2 < 300, `concurrency 64 took ${Date.now() - t2} ms`)
})

t.test('ranges larger than /16 are refused before anything is sent', async (t) => {
  t.throws(() => planSweep(['127.0.0.0/15']), CidrError)
  t.throws(() => new UnicastSweep({ cidrs: ['127.23.0.0/24', '127.0.0.0/15'] }), /127\.0\.0\.0\/15 has 131072 addresses.*\/16/)
  await t.rejects(sweepUnicast({ cidrs: ['127.0.0.0/15'] }), CidrError)
  await t.rejects(sweepUnicast({ cidrs: [] }), CidrError)
  await t.rejects(sweepUnicast({ cidrs: ['127.23.0.1/24'] }), /host bits/)
  t.equal(planSweep(['127.23.0.0/16'])[0]!.size, 65536, 'a /16 is accepted')
})

t.test('close() ends a sweep early and is idempotent', async (t) => {
  const s = new UnicastSweep({ cidrs: ['127.23.0.0/24'], bindAddress: '127.0.0.1', ratePps: 50, windowMs: 5000 })
  const p = s.start()
  setTimeout(() => s.close(), 100)
  const r = await p
  t.equal(r.aborted, true)
  t.ok(r.probed < 254)
  s.close()
  t.equal((await s.done).probed, r.probed)
})
