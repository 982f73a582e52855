/**
 * Runs inside the soak's gateway process. Every SOAK_MONITOR_MS (default 5000) it writes one line to
 * stderr:
 *   SOAKMON {"at":ms,"rss":B,"heapUsed":B,"heapTotal":B,"external":B,"handles":n,"requests":n,
 *            "eldMax":ms,"eldP99":ms,"stalls":[{"at":ms,"ms":ms,"cpuMs":…,"waitMs":…,"blockedMs":…},…],
 *            "slow":[{"what":…,"ms":…,"at":…,"stack":…},…],"mono":µs}
 * eld*: monitorEventLoopDelay (10 ms resolution) over the interval. stalls: a 10 ms interval timer
 * that fired more than SOAK_STALL_MS (default 50) late; `at` is when the stall began (wall clock);
 * cpuMs / waitMs / blockedMs: the main thread ran, waited for a CPU, or slept (I/O) meanwhile.
 * slow (SOAK_TRACE=1): synchronous node:fs calls and better-sqlite3 statement runs / exec / pragma
 * that took at least SOAK_TRACE_MS (default 20) on the main thread, with the caller's stack: the
 * long tasks behind the stalls. Off by default: wrapping every statement costs a little CPU.
 */
import { readFileSync } from 'node:fs'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

interface Slow { what: string; ms: number; at: number; stack: string }
interface Stall { at: number; ms: number; cpuMs: number; waitMs: number; blockedMs: number }

const SCHEDSTAT = `/proc/${process.pid}/task/${process.pid}/schedstat`
/** The main thread's time on a CPU and waiting for one, ms (0 where /proc does not say). */
function schedstat(): { run: number; wait: number } {
  try {
    const [run, wait] = readFileSync(SCHEDSTAT, 'utf8').split(' ')
    return { run: Number(run) / 1e6, wait: Number(wait) / 1e6 }
  } catch {
    return { run: 0, wait: 0 }
  }
}

export function startMonitor(): void {
  const periodMs = Number(process.env.SOAK_MONITOR_MS ?? 5000)
  const stallMs = Number(process.env.SOAK_STALL_MS ?? 50)
  const slow: Slow[] = []
  if (process.env.SOAK_TRACE === '1') traceBlocking(Number(process.env.SOAK_TRACE_MS ?? 20), slow)
  const eld = monitorEventLoopDelay({ resolution: 10 })
  eld.enable()
  const stalls: Stall[] = []
  let last = performance.now()
  let lastSched = schedstat()
  setInterval(() => {
    const now = performance.now()
    const sched = schedstat()
    const late = now - last - 10
    if (late > stallMs) {
      // What the main thread did meanwhile (/proc/<pid>/task/<pid>/schedstat): ran (a long task or
      // GC), waited for a CPU (the host is busy), or neither: blocked in a system call (fsync, I/O).
      const cpuMs = Math.round(sched.run - lastSched.run)
      const waitMs = Math.round(sched.wait - lastSched.wait)
      stalls.push({ at: Math.round(Date.now() - late), ms: Math.round(late), cpuMs, waitMs, blockedMs: Math.max(0, Math.round(now - last - cpuMs - waitMs)) })
    }
    last = now
    lastSched = sched
  }, 10).unref()
  setInterval(() => {
    const m = process.memoryUsage()
    const p = process as unknown as { _getActiveHandles(): unknown[]; _getActiveRequests(): unknown[] }
    const line = {
      at: Date.now(),
      /** the same instant on the monotonic clock V8's CPU profiles use, µs */
      mono: Number(process.hrtime.bigint() / 1000n),
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      handles: p._getActiveHandles().length,
      requests: p._getActiveRequests().length,
      eldMax: Math.round(eld.max / 1e4) / 100,
      eldP99: Math.round(eld.percentile(99) / 1e4) / 100,
      stalls: stalls.splice(0),
      slow: slow.splice(0),
    }
    eld.reset()
    process.stderr.write(`SOAKMON ${JSON.stringify(line)}\n`)
  }, periodMs).unref()
}

function callerStack(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(3)
  return lines
    .filter((l) => !l.includes('node:internal') && !l.includes('/monitor.js') && !l.includes('node_modules/better-sqlite3'))
    .slice(0, 5)
    .map((l) => l.trim().replace(/^at /, '').replace(/\(?file:\/\/[^)]*\/dist\//, '(').replace(/:\d+\)?$/, ')'))
    .join(' < ')
}

function timed<T extends (...args: any[]) => any>(what: (self: any, args: any[]) => string, fn: T, thresholdMs: number, out: Slow[]): T {
  return function (this: unknown, ...args: any[]) {
    const t0 = performance.now()
    try {
      return fn.apply(this, args)
    } finally {
      const ms = performance.now() - t0
      if (ms >= thresholdMs && out.length < 1000) out.push({ what: what(this, args), ms: Math.round(ms), at: Math.round(Date.now() - ms), stack: callerStack() })
    }
  } as T
}

function traceBlocking(thresholdMs: number, out: Slow[]): void {
  const require = createRequire(import.meta.url)
  const fs = require('node:fs') as Record<string, unknown>
  for (const name of Object.keys(fs)) {
    if (!name.endsWith('Sync') || typeof fs[name] !== 'function') continue
    fs[name] = timed((_s, args) => `fs.${name}(${typeof args[0] === 'string' ? args[0].slice(-60) : typeof args[0]})`, fs[name] as (...a: unknown[]) => unknown, thresholdMs, out)
  }
  syncBuiltinESMExports()
  const Database = require('better-sqlite3') as { prototype: Record<string, unknown> } & (new (f: string) => { prepare(s: string): object; close(): void })
  const probe = new Database(':memory:')
  const Statement = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>
  probe.close()
  const sql = (self: { source?: string }) => (self.source ?? '?').replace(/\s+/g, ' ').slice(0, 80)
  for (const name of ['run', 'get', 'all']) Statement[name] = timed((self) => `sqlite.${name}(${sql(self)})`, Statement[name] as (...a: unknown[]) => unknown, thresholdMs, out)
  for (const name of ['exec', 'pragma']) Database.prototype[name] = timed((_s, args) => `sqlite.${name}(${String(args[0]).replace(/\s+/g, ' ').slice(0, 80)})`, Database.prototype[name] as (...a: unknown[]) => unknown, thresholdMs, out)
}
