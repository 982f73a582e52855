/**
 * The gateway's multicast scan (POST /api/discovery/scans {multicast: true}) finds every simulated
 * device. Runs the gateway and the fleet inside a private network namespace (only its own loopback,
 * with MULTICAST on and 239.255.255.250 routed to lo), as test/lib/wsdiscovery/multicast.test.ts
 * does, so no multicast leaves the machine. Needs root and iproute2; skipped otherwise.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { multicastNamespace } from '../../support/netns.js'

const ns = multicastNamespace(t, 'sgwdisc')
const canNetns = ns !== null

t.test('a multicast scan finds every simulated device once, as candidates', { skip: canNetns ? false : 'needs root and `ip netns`' }, async (t) => {
  const N = 20
  const child = fileURLToPath(new URL('./multicast-child.ts', import.meta.url))
  const r = spawnSync('ip', ['netns', 'exec', ns!, process.execPath, '--import', 'tsx', child, String(N), '1000'], {
    env: { ...process.env, SGW_DISCOVERY_NETNS_CHILD: '1' },
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    timeout: 60_000,
  })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!)
  t.equal(out.status, 'done')
  t.equal(out.found.length, N, 'every device once although each answered all three probes')
  t.same(new Set(out.found.map((f: any) => f.uuid)), new Set(out.expected.map((e: any) => e.uuid)))
  for (const e of out.expected) {
    const f = out.found.find((x: any) => x.uuid === e.uuid)
    t.same(f.xaddrs, [e.xaddr])
    t.equal(f.name, e.name)
    t.equal(f.source, 'multicast')
  }
  t.equal(out.progress.probesSent, 3, 'three probes on the one configured interface')
  t.same(out.progress.errors, [])
})
