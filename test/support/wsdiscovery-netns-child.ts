/**
 * Runs inside a private network namespace (see test/lib/wsdiscovery/multicast.test.ts): starts a
 * fleet that answers multicast probes on lo and probes it with the real MulticastProbe. Prints one
 * JSON line. Nothing here can reach a real network: the namespace has only its own loopback.
 */
import { probeMulticast } from '../../src/lib/wsdiscovery/index.js'
import { OnvifSimulatorFleet } from './onvif-sim/index.js'

const count = Number(process.argv[2] ?? 12)
const fleet = await OnvifSimulatorFleet.start({
  count,
  firstAddress: '127.40.0.1',
  // answer all three copies of the probe, so the prober has to dedupe
  discovery: { multicastInterface: '127.0.0.1', maxReplyDelayMs: 50, answerDuplicates: true },
})
try {
  const t0 = Date.now()
  const r = await probeMulticast({ interfaceAddress: '127.0.0.1', repeats: 3, jitterMs: 100, windowMs: 800 })
  process.stdout.write(
    JSON.stringify({
      elapsedMs: Date.now() - t0,
      groupListenError: r.groupListenError ?? null,
      ignored: r.ignored,
      expected: fleet.devices.map((d) => ({ uuid: d.uuid, xaddr: d.xaddr, address: d.address, name: d.name })),
      found: r.devices.map((d) => ({ uuid: d.endpointReference, xaddrs: d.xaddrs.map((x) => x.url.href), from: d.from.address, name: d.scopeInfo.name })),
    }) + '\n',
  )
} finally {
  await fleet.close()
}
