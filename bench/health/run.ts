/**
 * bench/health: one full health sweep over 10,000 cameras.
 * Cameras are answered by bench/health/responders.ts, a separate process on loopback addresses
 * (127.0.60.0/24 RTSP + HTTP listeners, 127.0.61.0/24 listeners that never answer, one refused
 * port): 5% dead (half refused, half hanging until the check's timeout), 2% slow (answer after
 * 1.5 s), the rest healthy (ONVIF clock, RTSP DESCRIBE, a JPEG snapshot made with ffmpeg).
 * Figures: sweep duration, gateway CPU, peak RSS, event-loop lag p99 during the sweep, for the
 * first sweep (every snapshot fetched and decoded) and a second (snapshots every Nth check).
 * Targets (issue 5): sweep ≤ 60 s on 2 cores, lag p99 ≤ 50 ms, memory ≤ 300 MB.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { buildGateway } from '../../src/app.js'
import { loadConfig } from '../../src/core/config.js'
import { systemPrincipal } from '../../src/core/scope.js'
import { report, type Figure } from '../lib/report.js'

const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 10_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 100)
const SNAPSHOT_SIZE = process.env.BENCH_SNAPSHOT_SIZE ?? '640x360'
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 200)
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 5)
const PASSWORD = 'bench-password-1'

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

const dataDir = join(work, 'data')
const config = loadConfig({
  env: {},
  overrides: { dataDir, demo: false, log: { level: 'silent' }, registry: { importMaxRows: 1_000_000 }, health: { concurrency: CONCURRENCY, checkTimeoutSeconds: TIMEOUT_S } },
})
const gateway = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: PASSWORD } })
const { org, health } = gateway.services
const app = gateway.app

try {
  const actor = systemPrincipal('bench')
  const street = org.create(actor, { parentId: null, tier: 'street', code: 'H-JD', name: 'bench street' })
  const stations = [1, 2, 3].map((i) => org.create(actor, { parentId: street.id, tier: 'police_station', code: `H-PCS${i}`, name: `station ${i}` }))
  const communities = Array.from({ length: 12 }, (_, i) => org.create(actor, { parentId: stations[i % 3]!.id, tier: 'community', code: `H-SQ${i}`, name: `community ${i}` }))

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
    csv += `cam ${i},${unit.code},${1 + (i % 3)},fixed,http://${hh}:${hp}${prefix}/onvif/device_service,rtsp://${rh}:${rp}${prefix}/cam${i},h264,1920,1080,25,http://${hh}:${hp}/snap${prefix}/${i},HB${String(i).padStart(7, '0')}\n`
  }
  const login = (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: PASSWORD } })).json() as { token: string }
  const imp = await app.inject({ method: 'POST', url: '/api/cameras/import', headers: { authorization: `Bearer ${login.token}`, 'content-type': 'text/csv' }, payload: csv })
  if (imp.statusCode !== 200) throw new Error(`import failed: ${imp.statusCode} ${imp.body.slice(0, 500)}`)

  const measure = async (trigger: 'manual' | 'schedule') => {
    if (global.gc) global.gc()
    const lag = monitorEventLoopDelay({ resolution: 10 })
    let peakRss = process.memoryUsage().rss
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    lag.enable()
    const result = await health.sweep(trigger)
    lag.disable()
    const wall = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    clearInterval(sampler)
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    if (global.gc) global.gc()
    const heapAfterMb = process.memoryUsage().heapUsed / 1024 / 1024
    return { result, wall, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb: peakRss / 1024 / 1024, heapAfterMb, lagP99: lag.percentile(99) / 1e6, lagMax: lag.max / 1e6 }
  }
  if (global.gc) global.gc()
  const rssBefore = process.memoryUsage().rss / 1024 / 1024
  const load0 = loadavg()[0]!
  const first = await measure('manual')
  const second = await measure('schedule')
  const load1 = loadavg()[0]!

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
    `concurrency ${CONCURRENCY}, per-camera budget ${TIMEOUT_S} s; snapshot ${SNAPSHOT_SIZE} JPEG (fetched, hashed and parsed; it has too much detail to be decoded by jpeg-js, which only pictures that may be uniform are); ${cpus().length} CPUs`,
    `machine load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after (other work shares these ${cpus().length} CPUs: lag figures include time the gateway was not scheduled)`,
    `sweep 1: ${JSON.stringify(first.result)}`,
    `sweep 2: ${JSON.stringify(second.result)}`,
  ])
} finally {
  await gateway.close()
  stopResponders()
  rmSync(work, { recursive: true, force: true })
}
