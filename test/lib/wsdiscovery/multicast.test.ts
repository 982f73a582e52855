/**
 * Multicast discovery against simulated devices, run inside a network namespace the test creates
 * (only its own loopback exists there, with MULTICAST on and 239.255.255.250 routed to lo), so no
 * multicast can leave the machine. Needs root and iproute2; skipped otherwise.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { multicastNamespace } from '../../support/netns.js'
import { MulticastProbe } from '../../../src/lib/wsdiscovery/index.js'

const ns = multicastNamespace(t, 'sgwmc')
const canNetns = ns !== null

t.test('multicast probe finds N simulated devices, each once', { skip: canNetns ? false : 'needs root and `ip netns`' }, async (t) => {
  const N = 12
  const child = fileURLToPath(new URL('../../support/wsdiscovery-netns-child.ts', import.meta.url))
  const r = spawnSync('ip', ['netns', 'exec', ns!, process.execPath, '--import', 'tsx', child, String(N)], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    timeout: 30_000,
  })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    elapsedMs: number
    groupListenError: string | null
    expected: Array<{ uuid: string; xaddr: string; address: string; name: string }>
    found: Array<{ uuid: string; xaddrs: string[]; from: string; name: string }>
  }
  t.equal(out.expected.length, N)
  t.equal(out.found.length, N, 'every device once although each answered every copy of the probe')
  t.same(new Set(out.found.map((f) => f.uuid)), new Set(out.expected.map((e) => e.uuid)))
  for (const e of out.expected) {
    const f = out.found.find((x) => x.uuid === e.uuid)!
    t.same(f.xaddrs, [e.xaddr])
    t.equal(f.from, e.address)
    t.equal(f.name, e.name)
  }
  t.equal(out.groupListenError, null)
  t.ok(out.elapsedMs >= 800 && out.elapsedMs < 3000, `collected for the window (${out.elapsedMs} ms)`)
})

t.test('MulticastProbe validates its interface and closes idempotently', async (t) => {
  t.throws(() => new MulticastProbe({ interfaceAddress: 'eth0' }), TypeError)
  const p = new MulticastProbe({ interfaceAddress: '127.0.0.1', listenOnGroup: false, windowMs: 10_000 })
  p.close()
  p.close()
  const r = await p.done
  t.same(r.devices, [])
  t.equal(r.messageId, p.messageId)
})
