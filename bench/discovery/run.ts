/**
 * bench/discovery: 200 simulated ONVIF devices (test/support/onvif-sim, in a separate process) on
 * loopback addresses.
 * Figures: how many a multicast scan finds and how soon (gateway + fleet inside a private network
 * namespace, so no multicast leaves the machine; needs root and `ip netns`, skipped otherwise);
 * a unicast sweep of a /24 holding 200 live devices, with the default sweep settings; adoption
 * time per camera (sequential, through POST /api/discovery/candidates/:id/adopt) and the time to
 * adopt all of them concurrently. Targets (issue 3): 200/200 in ≤ 3 s by multicast, /24 sweep
 * ≤ 5 s, adoption ≤ 1 s each.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { buildGateway } from '../../src/app.js'
import { loadConfig } from '../../src/core/config.js'
import { systemPrincipal } from '../../src/core/scope.js'
import { startFleetProcess } from '../../test/features/discovery/fleet-client.js'
import { report, summarize, type Figure } from '../lib/report.js'

const DEVICES = Number(process.env.BENCH_DEVICES ?? 200)
const SEQUENTIAL_ADOPTIONS = Math.min(DEVICES, Number(process.env.BENCH_ADOPTIONS ?? 100))
const PASSWORD = 'bench-password-1'
const CAMERA_PASSWORD = 'bench-camera-1'
const root = fileURLToPath(new URL('../..', import.meta.url))
const notes: string[] = []
const figures: Record<string, Figure> = {}

// --- multicast, inside a network namespace -------------------------------------------------------
const ns = `sgwbench${process.pid}`
const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' })
if (process.getuid?.() === 0 && ip('netns', 'add', ns).status === 0) {
  try {
    for (const args of [['-n', ns, 'link', 'set', 'lo', 'up'], ['-n', ns, 'link', 'set', 'lo', 'multicast', 'on'], ['-n', ns, 'route', 'add', '239.255.255.250/32', 'dev', 'lo']]) ip(...args)
    const child = join(root, 'test/features/discovery/multicast-child.ts')
    // window 1500 ms; devices answer after a random delay up to 500 ms (WS-Discovery APP_MAX_DELAY)
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', child, String(DEVICES), '1500', '500'], { env: { ...process.env, SGW_DISCOVERY_NETNS_CHILD: '1' }, encoding: 'utf8', cwd: root, timeout: 120_000 })
    if (r.status !== 0) throw new Error(r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { progress: { elapsedMs: number; lastNewDeviceAfterMs: number | null }; found: unknown[] }
    figures['multicast found'] = { value: out.found.length, unit: `of ${DEVICES}`, target: DEVICES, better: 'higher' }
    figures['multicast all found after'] = { value: out.progress.lastNewDeviceAfterMs ?? NaN, unit: 'ms', target: 3000, better: 'lower' }
    figures['multicast scan duration'] = { value: out.progress.elapsedMs, unit: 'ms', better: 'lower' }
    notes.push('multicast: 3 probes with jitter, collection window 1500 ms after the last (discovery.probeWindowMs); devices reply after up to 500 ms; "all found after" is when the last new device replied, "duration" when the job ended (both from the job progress)')
  } finally {
    ip('netns', 'del', ns)
  }
} else {
  notes.push('multicast skipped: needs root and `ip netns`')
}

// --- unicast sweep and adoption, on this host's loopback --------------------------------------------
// the devices run in their own process (as separate cameras would), replying within 30 ms
const fleet = await startFleetProcess([String(DEVICES), '127.51.0.1', '-', '30', CAMERA_PASSWORD, 'rtsp://127.0.0.1:8554/main', 'rtsp://127.0.0.1:8554/sub'])
const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-discovery-'))
const config = loadConfig({ env: {}, overrides: { dataDir, demo: false, log: { level: 'silent' }, discovery: { allowedCidrs: ['127.0.0.0/8'] }, cameras: { allowedCidrs: [...loadConfig({ env: {} }).cameras.allowedCidrs, '127.0.0.0/8'] } } })
const gateway = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: PASSWORD } })
const app = gateway.app
try {
  const actor = systemPrincipal('bench')
  const street = gateway.services.org.create(actor, { parentId: null, tier: 'street', code: 'B-JD', name: 'bench street' })
  const token = (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: PASSWORD } })).json().token as string
  const headers = { authorization: `Bearer ${token}` }

  const start = await app.inject({ method: 'POST', url: '/api/discovery/scans', headers, payload: { ranges: ['127.51.0.0/24'] } })
  if (start.statusCode !== 202) throw new Error(start.body)
  let job: any
  for (;;) {
    job = (await app.inject({ method: 'GET', url: `/api/discovery/scans/${start.json().id}`, headers })).json()
    if (job.status !== 'running') break
    await new Promise((r) => setTimeout(r, 200))
  }
  const allAt = job.progress.lastNewDeviceAfterMs ?? NaN
  const sweepMs = job.progress.elapsedMs
  figures['/24 sweep found'] = { value: job.candidates.length, unit: `of ${DEVICES}`, target: DEVICES, better: 'higher' }
  figures['/24 sweep all found after'] = { value: allAt, unit: 'ms', better: 'lower' }
  figures['/24 sweep duration'] = { value: sweepMs, unit: 'ms', target: 5000, better: 'lower' }
  notes.push(`unicast sweep with the default settings: ${config.discovery.sweepRatePps} probes/s, ${config.discovery.sweepConcurrency} in flight, ${config.discovery.sweepWindowMs} ms window after the last probe (${job.progress.probesSent} probes)`)

  const candidates = job.candidates as { id: number }[]
  const adopt = (id: number) =>
    app.inject({ method: 'POST', url: `/api/discovery/candidates/${id}/adopt`, headers, payload: { unitId: street.id, class: 1, kind: 'fixed', credentials: { username: 'admin', password: CAMERA_PASSWORD } } })
  const samples: number[] = []
  for (const c of candidates.slice(0, SEQUENTIAL_ADOPTIONS)) {
    const a0 = performance.now()
    const r = await adopt(c.id)
    samples.push(performance.now() - a0)
    if (r.statusCode !== 201) throw new Error(`adopt: ${r.statusCode} ${r.body}`)
  }
  const s = summarize(samples)
  figures['adoption p50'] = { value: s.p50, unit: 'ms', target: 1000, better: 'lower' }
  figures['adoption p99'] = { value: s.p99, unit: 'ms', target: 1000, better: 'lower' }
  const rest = candidates.slice(SEQUENTIAL_ADOPTIONS)
  if (rest.length) {
    const c0 = performance.now()
    const results = await Promise.all(rest.map((c) => adopt(c.id)))
    const allMs = performance.now() - c0
    const ok = results.filter((r) => r.statusCode === 201).length
    figures[`concurrent adoption of ${rest.length}`] = { value: allMs, unit: 'ms', better: 'lower' }
    figures['concurrent adoption per camera'] = { value: allMs / Math.max(1, ok), unit: 'ms', target: 1000, better: 'lower' }
    notes.push(`${SEQUENTIAL_ADOPTIONS} adoptions one after another (GetSystemDateAndTime, GetDeviceInformation, GetServices, GetProfiles, GetStreamUri and GetSnapshotUri per profile, registry insert, audit), then ${rest.length} at once (${ok} ok) with discovery.interrogateConcurrency = ${config.discovery.interrogateConcurrency}`)
  }
  report('discovery', figures, notes)
} finally {
  await gateway.close()
  await fleet.close()
  rmSync(dataDir, { recursive: true, force: true })
}
