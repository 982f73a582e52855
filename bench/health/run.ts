/**
 * bench/health: one full health sweep over 10,000 cameras.
 * Cameras are answered by bench/health/responders.ts, a separate process on loopback addresses
 * (127.0.60.0/24 RTSP + HTTP listeners, 127.0.61.0/24 listeners that never answer, one refused
 * port): 5% dead (half refused, half hanging until the check's timeout), 2% slow (answer after
 * 1.5 s), the rest healthy (ONVIF clock, RTSP DESCRIBE, a JPEG snapshot made with ffmpeg).
 * The gateway under test runs in its own process as production runs it (scripts/start.sh):
 * compiled JavaScript from dist/ under plain node, `--max-semi-space-size=32` (plus --expose-gc),
 * no tsx. This orchestrator first builds it (bench/health/tsconfig.gateway-child.json: the
 * production build tsconfig.build.json plus bench/health/gateway-child.ts), then drives it over a
 * line protocol (see gateway-child.ts): import the cameras (CSV), sweep, GC between phases.
 * Figures: sweep duration, gateway CPU (the child's process.cpuUsage over the sweep), peak RSS
 * (the child's VmRSS from /proc/<pid>/status, sampled here every 100 ms during the sweep),
 * event-loop lag p99 during the sweep (monitorEventLoopDelay in the child), for the first sweep
 * (every snapshot fetched and decoded) and a second (snapshots every Nth check).
 * Targets (issue 5): sweep ≤ 60 s on 2 cores, lag p99 ≤ 50 ms, memory ≤ 300 MB.
 * Env: BENCH_CAMERAS, BENCH_ADDRESSES, BENCH_SNAPSHOT_SIZE, BENCH_CONCURRENCY, BENCH_TIMEOUT_SECONDS,
 * BENCH_GATEWAY_NODE_FLAGS (node flags of the gateway child, default as in scripts/start.sh;
 * --expose-gc is always added).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { projectRoot } from '../../src/core/paths.js'
import { buildGatewayChild, gatewayNodeFlags } from '../lib/node-flags.js'
import { report, type Figure } from '../lib/report.js'

const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 10_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 100)
const SNAPSHOT_SIZE = process.env.BENCH_SNAPSHOT_SIZE ?? '640x360'
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 200)
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 5)
const UNITS = 12
/** The gateway runs with scripts/start.sh's flags (scripts/gateway-node-flags); BENCH_GATEWAY_NODE_FLAGS replaces them. */
const GATEWAY_NODE_FLAGS = gatewayNodeFlags()
const MB = 1024 * 1024

// --- the gateway, compiled as production compiles it ----------------------------------------------
const childScript = buildGatewayChild('health')

/** kB → bytes of a /proc/<pid>/status field (VmRSS, VmHWM). */
function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1]) * 1024
}

/** The gateway child: send a command line, await the reply line with the given tag (JSON after it). */
class GatewayChild {
  readonly #waiters: { tag: string; resolve: (body: any) => void; reject: (e: Error) => void }[] = []
  #stderr = ''
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const sp = line.indexOf(' ')
      const tag = sp < 0 ? line : line.slice(0, sp)
      const body = sp < 0 ? undefined : JSON.parse(line.slice(sp + 1))
      if (tag === 'ERROR') return this.#fail(new Error(`gateway child: ${body.message}`))
      const i = this.#waiters.findIndex((w) => w.tag === tag)
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(body)
    })
    proc.stderr.on('data', (d: Buffer) => {
      process.stderr.write(d)
      this.#stderr = (this.#stderr + d.toString()).slice(-8000)
    })
    proc.once('exit', (code, signal) => this.#fail(new Error(`gateway child exited (${code ?? signal}); stderr: ${this.#stderr}`)))
  }
  #fail(e: Error): void {
    for (const w of this.#waiters.splice(0)) w.reject(e)
  }
  get pid(): number {
    return this.proc.pid!
  }
  next<T>(tag: string): Promise<T> {
    return new Promise((resolve, reject) => this.#waiters.push({ tag, resolve, reject }))
  }
  ask<T>(line: string, tag: string): Promise<T> {
    const p = this.next<T>(tag)
    this.proc.stdin.write(line + '\n')
    return p
  }
  /** stdin EOF: the child closes the gateway and exits; SIGTERM, then SIGKILL if it does not. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode
    const exited = once(this.proc, 'exit')
    this.proc.stdin.end()
    const t1 = setTimeout(() => this.proc.kill('SIGTERM'), 15_000)
    const t2 = setTimeout(() => this.proc.kill('SIGKILL'), 25_000)
    const [code] = (await exited) as [number | null]
    clearTimeout(t1)
    clearTimeout(t2)
    return code
  }
}

const work = mkdtempSync(join(tmpdir(), 'gw-bench-health-'))
const jpegFile = join(work, 'snapshot.jpg')
const ff = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${SNAPSHOT_SIZE}:rate=1`, '-frames:v', '1', '-q:v', '5', '-y', jpegFile])
if (ff.status !== 0) throw new Error(`ffmpeg failed: ${ff.stderr}`)

// --- the responders, in their own process ------------------------------------------------------
const responders = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./responders.ts', import.meta.url))], {
  env: { ...process.env, ADDRESSES: String(ADDRESSES), JPEG_FILE: jpegFile },
  stdio: ['pipe', 'pipe', 'inherit'],
})
const ready = await new Promise<{ rtsp: [string, number][]; http: [string, number][]; hang: [string, number][]; refused: [string, number] }>((resolve, reject) => {
  createInterface({ input: responders.stdout! }).once('line', (line) => resolve(JSON.parse(line)))
  responders.once('exit', (code) => reject(new Error(`responders exited ${code}`)))
})
const stopResponders = () => {
  responders.stdin!.end()
  setTimeout(() => responders.kill('SIGKILL'), 2000).unref()
}

// --- the gateway under test, in its own process ----------------------------------------------------
const gw = new GatewayChild(
  spawn(process.execPath, [...GATEWAY_NODE_FLAGS, '--expose-gc', childScript, JSON.stringify({ dataDir: join(work, 'data'), concurrency: CONCURRENCY, checkTimeoutSeconds: TIMEOUT_S, units: UNITS })], {
    cwd: projectRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  }),
)
let childExit: number | null | undefined

try {
  const started = await gw.next<{ units: string[]; execArgv: string[]; nodeOptions: string }>('READY')
  if (/tsx/.test([...started.execArgv, started.nodeOptions].join(' '))) throw new Error(`the gateway child runs with tsx: ${started.execArgv.join(' ')} ${started.nodeOptions}`)
  const communities = started.units

  // 5% dead (i % 20 === 0: even → refused, odd → hangs), 2% slow (i % 50 === 7)
  let csv = 'name,unit_code,class,kind,onvif_url,main_uri,main_codec,main_width,main_height,main_fps,snapshot_uri,serial\n'
  let dead = 0
  let slow = 0
  for (let i = 0; i < CAMERAS; i++) {
    const unit = communities[i % communities.length]!
    let rtspEp: [string, number]
    let httpEp: [string, number]
    let prefix = ''
    if (i % 20 === 0) {
      dead++
      rtspEp = httpEp = (i / 20) % 2 === 0 ? ready.refused : ready.hang[i % ready.hang.length]!
    } else {
      rtspEp = ready.rtsp[i % ready.rtsp.length]!
      httpEp = ready.http[i % ready.http.length]!
      if (i % 50 === 7) {
        slow++
        prefix = '/slow'
      }
    }
    const [rh, rp] = rtspEp
    const [hh, hp] = httpEp
    csv += `cam ${i},${unit},${1 + (i % 3)},fixed,http://${hh}:${hp}${prefix}/onvif/device_service,rtsp://${rh}:${rp}${prefix}/cam${i},h264,1920,1080,25,http://${hh}:${hp}/snap${prefix}/${i},HB${String(i).padStart(7, '0')}\n`
  }
  const csvFile = join(work, 'cameras.csv')
  writeFileSync(csvFile, csv)
  const imp = await gw.ask<{ status: number; body: string }>(`import ${csvFile}`, 'IMPORTED')
  if (imp.status !== 200) throw new Error(`import failed: ${imp.status} ${imp.body}`)

  const measure = async (trigger: 'manual' | 'schedule') => {
    // The child GCs, says STARTED, sweeps, says SWEPT; its VmRSS is sampled here meanwhile.
    let peakRss = 0
    const sample = () => (peakRss = Math.max(peakRss, procStatus(gw.pid, 'VmRSS')))
    const startedSweep = gw.next('STARTED')
    const swept = gw.ask<{ result: { checked: number }; wall: number; cpuSeconds: number; lagP99: number; lagMax: number }>(`sweep ${trigger}`, 'SWEPT')
    swept.catch(() => undefined) // a failure surfaces through STARTED too, or when awaited below
    await startedSweep
    sample()
    const sampler = setInterval(sample, 100)
    try {
      const r = await swept
      sample()
      clearInterval(sampler)
      const after = await gw.ask<{ rss: number; heapUsed: number }>('gc', 'GC')
      return { ...r, peakRssMb: peakRss / MB, heapAfterMb: after.heapUsed / MB }
    } finally {
      clearInterval(sampler)
    }
  }
  await gw.ask('gc', 'GC')
  const rssBefore = procStatus(gw.pid, 'VmRSS') / MB
  const load0 = loadavg()[0]!
  const first = await measure('manual')
  const second = await measure('schedule')
  const load1 = loadavg()[0]!
  const lifetimePeakMb = procStatus(gw.pid, 'VmHWM') / MB
  childExit = await gw.stop()
  if (childExit !== 0) throw new Error(`gateway child exited ${childExit} after closing the gateway`)

  const figures: Record<string, Figure> = {
    'sweep 1 duration (flat out, every snapshot)': { value: first.wall, unit: 's', target: 60, better: 'lower' },
    'sweep 1 event-loop lag p99': { value: first.lagP99, unit: 'ms', target: 50, better: 'lower' },
    'sweep 1 event-loop lag max': { value: first.lagMax, unit: 'ms', better: 'lower' },
    'sweep 1 gateway CPU': { value: first.cpuSeconds, unit: 'cpu-s', better: 'lower' },
    'sweep 1 gateway CPU share': { value: (100 * first.cpuSeconds) / first.wall, unit: '% of one core', better: 'lower' },
    'sweep 1 peak RSS': { value: first.peakRssMb, unit: 'MB', target: 300, better: 'lower' },
    'sweep 2 duration (scheduled: paced over half the 60 s interval, snapshots every 5th)': { value: second.wall, unit: 's', target: 60, better: 'lower' },
    'sweep 2 event-loop lag p99': { value: second.lagP99, unit: 'ms', target: 50, better: 'lower' },
    'sweep 2 gateway CPU': { value: second.cpuSeconds, unit: 'cpu-s', better: 'lower' },
    'sweep 2 peak RSS': { value: second.peakRssMb, unit: 'MB', target: 300, better: 'lower' },
    'RSS before the sweeps (10,000 cameras registered)': { value: rssBefore, unit: 'MB', better: 'lower' },
    'JS heap retained after sweep 2 (after GC)': { value: second.heapAfterMb, unit: 'MB', better: 'lower' },
    'gateway CPU per camera (sweep 1)': { value: (1000 * first.cpuSeconds) / first.result.checked, unit: 'cpu-ms', better: 'lower' },
    'gateway CPU per camera (sweep 2)': { value: (1000 * second.cpuSeconds) / second.result.checked, unit: 'cpu-ms', better: 'lower' },
    'cameras checked': { value: first.result.checked, unit: 'cameras', better: 'higher' },
  }
  report('health', figures, [
    `${CAMERAS} cameras (${dead} dead: half refused, half hanging; ${slow} slow, answering after 1.5 s) on ${ADDRESSES} loopback addresses; responders in a separate process`,
    `the gateway runs as production does: its own process, compiled JavaScript from dist/ (tsconfig.build.json's build plus bench/health/gateway-child.ts), plain node ${[...GATEWAY_NODE_FLAGS, '--expose-gc'].join(' ')} (scripts/start.sh's flags; --expose-gc for the GCs between phases), no tsx and no bench harness in it; RSS = the child's VmRSS (/proc/<pid>/status) sampled every 100 ms during each sweep; lag, CPU and heap measured inside the child`,
    `concurrency ${CONCURRENCY}, per-camera budget ${TIMEOUT_S} s; snapshot ${SNAPSHOT_SIZE} JPEG (fetched, hashed and parsed; it has too much detail to be decoded by jpeg-js, which only pictures that may be uniform are); ${cpus().length} CPUs`,
    `machine load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after (other work shares these ${cpus().length} CPUs: lag figures include time the gateway was not scheduled)`,
    `gateway process peak RSS over its whole life (VmHWM, including start-up and the CSV import): ${lifetimePeakMb.toFixed(0)} MB`,
    `sweep 1: ${JSON.stringify(first.result)}`,
    `sweep 2: ${JSON.stringify(second.result)}`,
  ])
} finally {
  if (childExit === undefined) await gw.stop().catch((e: Error) => console.error('gateway child:', e.message))
  stopResponders()
  rmSync(work, { recursive: true, force: true })
}
