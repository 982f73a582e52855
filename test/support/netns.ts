import { spawnSync } from 'node:child_process'
import type { Test } from 'tap'

const ip = (...args: string[]): { ok: boolean; err: string } => {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  return { ok: r.status === 0, err: (r.stderr ?? '') + (r.error?.message ?? '') }
}

/**
 * A private network namespace for multicast tests: only its own loopback exists there, with
 * MULTICAST on and 239.255.255.250 routed to lo, so no multicast can leave the machine. Deleted on
 * teardown. Returns null without root or iproute2 (the caller skips).
 */
export function multicastNamespace(t: Test, prefix: string): string | null {
  const ns = `${prefix}${process.pid}`
  if (process.getuid?.() !== 0 || !ip('netns', 'add', ns).ok) return null
  t.teardown(() => void ip('netns', 'del', ns))
  for (const args of [
    ['-n', ns, 'link', 'set', 'lo', 'up'],
    ['-n', ns, 'link', 'set', 'lo', 'multicast', 'on'],
    ['-n', ns, 'route', 'add', '239.255.255.250/32', 'dev', 'lo'],
  ]) {
    const r = ip(...args)
    if (!r.ok) throw new Error(`ip ${args.join(' ')}: ${r.err}`)
  }
  return ns
}
