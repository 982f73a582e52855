/**
 * bench/soak: the gateway under a steady command-centre load for a long time (issue 26), to find
 * what only time shows: memory or descriptor growth, event-loop stalls, lost alarms, SSE gaps,
 * recording gaps and footage indexed with an impossible duration.
 *
 * Load: SOAK_CAMERAS cameras (default 8) on the GStreamer test RTSP server (main 1280x720 25 fps
 * 2 Mbit/s, GOP 2 s; sub 640x360), all recording continuously, half of them pinned; a headless
 * Chromium wall (the web application, a patrol user, 2 live tiles) reloaded every
 * SOAK_WALL_RELOAD_MIN (10; quick 1); SOAK_SSE_CLIENTS SSE clients (2) as the administrator, who sees
 * every event, so event ids must be consecutive; webhook alarms at SOAK_ALARM_RATE per second (5),
 * one in SOAK_ONE_BUTTON_EVERY (5) a one-button alarm, the others motion on a camera; health sweeps
 * every 15 s (the gateway's own schedule) and a reader of the health summary.
 * Samples every 30 s (SOAK_SAMPLE_S): RSS, heap, fds, threads, children, handles, worst stall.
 *
 * Run: npm run bench:soak [-- options]
 *   --minutes N        duration (default 30; SOAK_MINUTES)
 *   --quick            2 minutes, the wall reloaded every minute (SOAK_QUICK=1)
 *   --pause-rtsp[=M]   SIGSTOP the RTSP server for --pause-seconds (40) at minute M (default: half-way)
 *   --pause-gateway[=M]  the same for the gateway process
 *   --ts-jump[=M]      the cameras' RTP timestamps jump by --ts-jump-ms (default −2,330,000, as in
 *                      the issue) at minute M (default: a third of the way), via the test server's
 *                      ts_jump_ms mounts (scripts/rtsp-test-server.py)
 *   --trace            the gateway reports its synchronous fs and SQLite calls ≥ 20 ms with their
 *                      callers (bench/soak/monitor.ts), printed grouped at the end
 *   --cpu-prof         the gateway runs with --cpu-prof (bench/out/soak-prof); the worst stalls are
 *                      matched with the profile's samples inside them (what ran: a long task, GC)
 * Every stall is split into time the main thread ran, waited for a CPU (a busy host: not the
 * gateway's doing) and slept in a system call (fsync, blocking I/O), from its schedstat.
 * Prints a table and writes bench/out/soak.json; the gateway's log goes to bench/out/soak-gateway.log.
 * Targets: RSS growth ≤ 10 MB/h after warm-up, no fd/child growth, worst stall ≤ 100 ms, 0
 * acknowledged alarms lost, one case per one-button alarm, 0 SSE gaps, recording gaps only where
 * the source or the gateway was stopped, 0 segments with an impossible duration.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import Database from 'better-sqlite3'
import type { Browser, Page } from 'playwright-core'
import { projectRoot } from '../../src/core/paths.js'
import { launchChromium } from '../../test/support/chromium.js'
import { startRtspTestServer, type RtspTestMount, type RtspTestServer } from '../../test/support/rtsp-server.js'
import { buildGatewayChild, gatewayNodeFlags } from '../lib/node-flags.js'
import { percentile, report, type Figure } from '../lib/report.js'

// --- options ------------------------------------------------------------------------------------
const argv = process.argv.slice(2)
const flag = (name: string): string | true | undefined => {
  const i = argv.findIndex((x) => x === `--${name}` || x.startsWith(`--${name}=`))
  if (i < 0) return undefined
  const a = argv[i]!
  if (a.includes('=')) return a.slice(a.indexOf('=') + 1)
  // `--minutes 10` as the README writes it, as well as `--minutes=10`
  const next = argv[i + 1]
  return next !== undefined && /^-?\d+(\.\d+)?$/.test(next) ? next : true
}
const num = (name: string, env: string, def: number): number => {
  const f = flag(name)
  if (typeof f === 'string') return Number(f)
  return process.env[env] !== undefined ? Number(process.env[env]) : def
}
const QUICK = flag('quick') === true || process.env.SOAK_QUICK === '1'
/** Duration in seconds; the hidden --seconds is for smoke runs shorter than the quick mode. */
const DURATION_S = typeof flag('seconds') === 'string' ? Number(flag('seconds')) : num('minutes', 'SOAK_MINUTES', QUICK ? 2 : 30) * 60
const CAMERAS = num('cameras', 'SOAK_CAMERAS', 8)
const MAIN = { width: num('width', 'SOAK_WIDTH', 1280), height: num('height', 'SOAK_HEIGHT', 720), fps: num('fps', 'SOAK_FPS', 25), bitrate: num('bitrate', 'SOAK_BITRATE_KBPS', 2000) }
const ALARM_RATE = num('alarm-rate', 'SOAK_ALARM_RATE', 5)
const ONE_BUTTON_EVERY = num('one-button-every', 'SOAK_ONE_BUTTON_EVERY', 5)
const SSE_CLIENTS = num('sse-clients', 'SOAK_SSE_CLIENTS', 2)
const WALL_TILES = num('wall-tiles', 'SOAK_WALL_TILES', 2)
const WALL_RELOAD_S = num('wall-reload-min', 'SOAK_WALL_RELOAD_MIN', QUICK ? 1 : 10) * 60
const SAMPLE_S = num('sample-s', 'SOAK_SAMPLE_S', 30)
/** Samples before this are warm-up: left out of the growth figures (JIT, caches, first segments). */
const WARMUP_S = num('warmup-s', 'SOAK_WARMUP_S', Math.min(300, DURATION_S / 4))
const PAUSE_S = num('pause-seconds', 'SOAK_PAUSE_S', 40)
const at = (name: string, def: number): number | undefined => {
  const f = flag(name)
  if (f === undefined) return undefined
  return f === true ? def : Number(f) * 60
}
const PAUSE_RTSP_AT = at('pause-rtsp', DURATION_S / 2)
const PAUSE_GATEWAY_AT = at('pause-gateway', (DURATION_S * 2) / 3)
const TS_JUMP_AT = at('ts-jump', DURATION_S / 3)
const TS_JUMP_MS = num('ts-jump-ms', 'SOAK_TS_JUMP_MS', -2_330_000)
const TRACE = flag('trace') === true || process.env.SOAK_TRACE === '1'
const CPU_PROF = flag('cpu-prof') === true || process.env.SOAK_CPU_PROF === '1'
const PROF_DIR = join(projectRoot, 'bench', 'out', 'soak-prof')
const SEGMENT_S = num('segment-s', 'SOAK_SEGMENT_S', 60)
const PASSWORD = 'soak-root-password-1'
const PATROL_PASSWORD = 'soak-patrol-password-1'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
const outDir = join(projectRoot, 'bench', 'out')
mkdirSync(outDir, { recursive: true })
const work = mkdtempSync(join(tmpdir(), 'gw-bench-soak-'))
const dataDir = join(work, 'data')
const startedAt = Date.now()
const elapsed = () => (Date.now() - startedAt) / 1000
const log = (m: string) => console.log(`[soak ${elapsed().toFixed(0).padStart(5)} s] ${m}`)

/** Windows in which a process was stopped on purpose: stalls and gaps inside them are expected. */
const pauses: { what: 'rtsp' | 'gateway'; from: number; to: number }[] = []
const jumps: number[] = []

async function freePort(): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  s.close()
  return port
}

// --- the gateway process --------------------------------------------------------------------------
interface Stall { at: number; ms: number; cpuMs: number; waitMs: number; blockedMs: number }
interface MonitorLine { at: number; mono: number; rss: number; heapUsed: number; heapTotal: number; external: number; handles: number; requests: number; eldMax: number; eldP99: number; stalls: Stall[]; slow: { what: string; ms: number; at: number; stack: string }[] }

class GatewayProcess {
  readonly monitor: MonitorLine[] = []
  logLines = 0
  errorLines: string[] = []
  warnLines = 0
  stderrTail = ''
  constructor(readonly proc: ChildProcessWithoutNullStreams, logFile: string) {
    const out = createWriteStream(logFile)
    createInterface({ input: proc.stdout }).on('line', (l) => {
      out.write(l + '\n')
      if (!l.startsWith('{')) return
      this.logLines++
      const level = /"level":(\d+)/.exec(l)?.[1]
      if (level && Number(level) >= 50) this.errorLines.push(l.slice(0, 400))
      else if (level === '40') this.warnLines++
    })
    createInterface({ input: proc.stderr }).on('line', (l) => {
      if (l.startsWith('SOAKMON ')) this.monitor.push(JSON.parse(l.slice(8)) as MonitorLine)
      else this.stderrTail = (this.stderrTail + l + '\n').slice(-4000)
    })
    proc.once('exit', () => out.end())
  }
  get pid(): number {
    return this.proc.pid!
  }
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode
    const exited = once(this.proc, 'exit')
    this.proc.kill('SIGTERM')
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 20_000)
    const [code] = (await exited) as [number | null]
    clearTimeout(t)
    return code
  }
}

function procStatus(pid: number): { rss: number; threads: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024, threads: Number(/Threads:\s+(\d+)/.exec(s)?.[1] ?? 0) }
}
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length
function descendants(pid: number): string[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), comm: m[3]! }))
  const mine = new Set([pid])
  let grew = true
  while (grew) {
    grew = false
    for (const r of rows) if (!mine.has(r.pid) && mine.has(r.ppid)) (mine.add(r.pid), (grew = true))
  }
  return rows.filter((r) => r.pid !== pid && mine.has(r.pid)).map((r) => r.comm)
}

// --- HTTP helpers -------------------------------------------------------------------------------
let base = ''
async function api<T = any>(method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let json: any = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = text
  }
  return { status: res.status, json }
}
async function must<T = any>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const r = await api<T>(method, path, token, body)
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json
}

/**
 * The alarm webhook's sender: a bounded keep-alive pool, as a real alarm system's client. fetch's
 * pool opens a connection per request in flight, so a stopped gateway (--pause-gateway) left ~60
 * idle keep-alive connections behind: fds and handles the gateway did not leak.
 */
const alarmAgent = new HttpAgent({ keepAlive: true, maxSockets: 4 })
function postAlarm(body: unknown, token: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body))
    const req = httpRequest(base + '/api/alarms', { method: 'POST', agent: alarmAgent, headers: { 'content-type': 'application/json', 'content-length': payload.length, 'x-alarm-token': token } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        let json: any = null
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, json })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

// --- SSE clients --------------------------------------------------------------------------------
class SseClient {
  lastId = 0
  events = 0
  gaps = 0
  missing = 0
  duplicates = 0
  reconnects = 0
  #ac = new AbortController()
  #stopped = false
  constructor(readonly token: string) {}
  start(): void {
    void this.#loop()
  }
  async #loop(): Promise<void> {
    while (!this.#stopped) {
      try {
        const res = await fetch(base + '/api/events/stream', { headers: { authorization: `Bearer ${this.token}`, ...(this.lastId ? { 'last-event-id': String(this.lastId) } : {}) }, signal: this.#ac.signal })
        const reader = res.body!.getReader()
        const decoder = new TextDecoder()
        let buf = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buf += decoder.decode(value, { stream: true })
          const blocks = buf.split('\n\n')
          buf = blocks.pop()!
          for (const block of blocks) {
            const idLine = block.split('\n').find((l) => l.startsWith('id: '))
            if (!idLine) continue
            const id = Number(idLine.slice(4))
            this.events++
            if (this.lastId && id <= this.lastId) this.duplicates++
            else if (this.lastId && id > this.lastId + 1) {
              this.gaps++
              this.missing += id - this.lastId - 1
            }
            if (id > this.lastId) this.lastId = id
          }
        }
      } catch {
        /* aborted, or the gateway was paused/restarted: reconnect below */
      }
      if (this.#stopped) return
      this.reconnects++
      await sleep(1000)
    }
  }
  stop(): void {
    this.#stopped = true
    this.#ac.abort()
  }
}

// --- the wall -----------------------------------------------------------------------------------
async function openWall(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'zh-CN' })
  const page = await context.newPage()
  await page.goto(base + '/')
  await page.locator('input[name=username]').fill('soak.patrol')
  await page.locator('input[name=password]').fill(PATROL_PASSWORD)
  await page.locator('form[data-testid=login-form] button[type=submit]').click()
  await page.locator('[data-testid=nav]').waitFor({ timeout: 60_000 })
  return page
}
async function wallLive(page: Page, tiles: number, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now()
  await page.waitForFunction((n) => (window.__gwWall?.tiles() ?? []).filter((x) => (x.stats?.framesDecoded ?? 0) > 5).length >= n, tiles, { timeout: timeoutMs, polling: 50 })
  return performance.now() - t0
}

// --- the CPU profile ----------------------------------------------------------------------------
interface CpuProfile { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[]; startTime: number; samples: number[]; timeDeltas: number[] }
/** The gateway's --cpu-prof profile: what its samples inside a wall-clock window were doing. */
function readProfile(monitor: MonitorLine[]): { inside(fromMs: number, toMs: number): string } | undefined {
  const file = existsSync(PROF_DIR) ? readdirSync(PROF_DIR).find((f) => f.endsWith('.cpuprofile')) : undefined
  if (!file || monitor.length === 0) return undefined
  const p = JSON.parse(readFileSync(join(PROF_DIR, file), 'utf8')) as CpuProfile
  const offsets = monitor.map((m) => m.mono - m.at * 1000).sort((a, b) => a - b)
  const monoOffset = offsets[offsets.length >> 1]! // µs: mono = wall·1000 + offset
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const times: number[] = []
  let t = p.startTime
  for (const d of p.timeDeltas) times.push((t += d))
  const frame = (id: number) => {
    const f = byId.get(id)!.callFrame
    const where = f.url ? `${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : ''
    return `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`
  }
  const ownFrame = (id: number): string => {
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) if (byId.get(n)!.callFrame.url.includes('/dist/src/')) return frame(n)
    return ''
  }
  return {
    inside(fromMs, toMs) {
      const from = fromMs * 1000 + monoOffset
      const to = toMs * 1000 + monoOffset
      const counts = new Map<string, number>()
      let n = 0
      for (let i = 0; i < p.samples.length; i++) {
        if (times[i]! < from || times[i]! > to) continue
        const id = p.samples[i]!
        const name = byId.get(id)!.callFrame.functionName
        if (name === '(idle)') continue
        n++
        const key = `${frame(id)}${ownFrame(id) ? ` ← ${ownFrame(id)}` : ''}`
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      if (n === 0) return 'no busy sample inside'
      return `${n} busy samples (1 ms): ` + [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, c]) => `${c}× ${k}`).join('; ')
    },
  }
}

// --- main ---------------------------------------------------------------------------------------
const figures: Record<string, Figure> = {}
const notes: string[] = []
let rtsp: RtspTestServer | undefined
let gw: GatewayProcess | undefined
let browser: Browser | undefined
const sse: SseClient[] = []
try {
  log(`load average at start: ${loadavg()}`)
  const mounts: RtspTestMount[] = []
  for (let i = 1; i <= CAMERAS; i++) {
    const jump = TS_JUMP_AT !== undefined ? { tsJumpMs: TS_JUMP_MS } : {}
    mounts.push({ path: `/cam${i}`, ...MAIN, gop: MAIN.fps * 2, ...jump })
    mounts.push({ path: `/cam${i}-sub`, width: 640, height: 360, fps: MAIN.fps, bitrate: 512, gop: MAIN.fps * 2, ...jump })
  }
  rtsp = await startRtspTestServer({ mounts, sessionTimeout: 60 })
  log(`RTSP test server on port ${rtsp.port}: ${CAMERAS} cameras (main ${MAIN.width}x${MAIN.height}@${MAIN.fps} ${MAIN.bitrate} kbit/s, sub 640x360)`)

  const child = buildGatewayChild('soak')
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  // The gateway is configured by GW_* variables only (an unknown one stops it): none inherited.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GW_')))
  Object.assign(env, {
    GW_DATA_DIR: dataDir,
    GW_HTTP_PORT: String(port),
    GW_HTTP_HOST: '127.0.0.1',
    GW_DEMO: '0',
    GW_ADMIN_PASSWORD: PASSWORD,
    GW_LOG_LEVEL: 'info',
    GW_HEALTH_INTERVAL_SECONDS: '15',
    GW_HEALTH_JITTER_SECONDS: '1',
    GW_RECORDINGS_SEGMENT_SECONDS: String(SEGMENT_S),
    GW_RECORDINGS_FREE_SPACE_FLOOR_MB: '0',
    // the test cameras run on this host: loopback explicitly allowed, beside the default private ranges
    GW_CAMERAS_ALLOWED_CIDRS: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,127.0.0.0/8',
    SOAK_TRACE: TRACE ? '1' : '0',
  })
  if (CPU_PROF) rmSync(PROF_DIR, { recursive: true, force: true })
  const profFlags = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`, '--cpu-prof-interval=1000'] : []
  const proc = spawn(process.execPath, [...gatewayNodeFlags(), ...profFlags, child], { cwd: projectRoot, env, stdio: ['pipe', 'pipe', 'pipe'] })
  gw = new GatewayProcess(proc, join(outDir, 'soak-gateway.log'))
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`gateway exited with ${proc.exitCode}: ${gw.stderrTail}`)
    if ((await fetch(base + '/readyz').catch(() => null))?.ok) break
    if (i > 600) throw new Error(`gateway not ready in 60 s: ${gw.stderrTail}`)
    await sleep(100)
  }
  log(`gateway pid ${gw.pid} on ${base}; node ${gatewayNodeFlags().join(' ')}${TRACE ? '; tracing synchronous calls ≥ 20 ms' : ''}`)

  // --- org, users, cameras ---
  const admin = (await must<{ token: string }>('POST', '/api/auth/login', null, { username: 'admin', password: PASSWORD })).token
  const street = await must<{ id: number; code: string }>('POST', '/api/units', admin, { parentId: null, tier: 'street', code: 'SOAK-JD', name: 'soak street' })
  await must('POST', '/api/users', admin, { username: 'soak.patrol', unitId: street.id, roles: ['patrol'], password: PATROL_PASSWORD })
  const cameraIds: number[] = []
  for (let i = 1; i <= CAMERAS; i++) {
    const cam = await must<{ id: number }>('POST', '/api/cameras', admin, {
      unitId: street.id,
      name: `soak camera ${i}`,
      class: 1,
      kind: 'fixed',
      device: { serial: `SOAK-${i}` },
      streams: { main: { uri: rtsp.url(`/cam${i}`), codec: 'h264', width: MAIN.width, height: MAIN.height, fps: MAIN.fps }, sub: { uri: rtsp.url(`/cam${i}-sub`), codec: 'h264', width: 640, height: 360, fps: MAIN.fps } },
    })
    cameraIds.push(cam.id)
    if (i <= Math.ceil(CAMERAS / 2)) await must('PUT', `/api/cameras/${cam.id}/live/pin`, admin)
    await must('PUT', `/api/cameras/${cam.id}/recording`, admin, { mode: 'continuous' })
  }
  const source = await must<{ token: string }>('POST', '/api/alarm-sources', admin, { name: 'soak boxes', unitId: street.id })
  log(`${CAMERAS} cameras recording continuously, ${Math.ceil(CAMERAS / 2)} pinned`)

  // --- SSE ---
  for (let i = 0; i < SSE_CLIENTS; i++) {
    const c = new SseClient(admin)
    c.start()
    sse.push(c)
  }

  // --- the wall ---
  const patrol = (await must<{ token: string }>('POST', '/api/auth/login', null, { username: 'soak.patrol', password: PATROL_PASSWORD })).token
  const tiles = cameraIds.slice(0, Math.min(WALL_TILES, CAMERAS))
  await must('PUT', '/api/wall/layout', patrol, { size: 4, tiles: [...tiles, ...Array(4 - tiles.length).fill(null)] })
  browser = await launchChromium()
  let wall = await openWall(browser)
  const wallLiveMs: number[] = [await wallLive(wall, tiles.length)]
  let wallFailures = 0
  log(`wall of ${tiles.length} tiles live in ${Math.round(wallLiveMs[0]!)} ms`)

  // --- steady load ---
  const t0 = performance.now()
  const loadStartedAt = Date.now()
  const endAt = t0 + DURATION_S * 1000
  const alarms: { sentAt: number; ms: number; status: number; outcome: string; oneButton: boolean; inPause: boolean; alarmId: number | null; caseId: number | null }[] = []
  let alarmsSent = 0
  const inflight = new Set<Promise<void>>()
  const inPause = (fromMs: number, toMs: number) => pauses.some((p) => p.what === 'gateway' && fromMs < p.to && toMs > p.from)
  const alarmTimer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * ALARM_RATE)
    while (alarmsSent < due && performance.now() < endAt) {
      const i = alarmsSent++
      const oneButton = i % ONE_BUTTON_EVERY === 0
      const body = oneButton
        ? { kind: i % (2 * ONE_BUTTON_EVERY) === 0 ? 'one_button_alarm' : 'one_button_help', unitCode: street.code, externalId: `soak-${i}`, description: `box ${i}` }
        : { kind: 'motion', cameraId: cameraIds[i % cameraIds.length], externalId: `soak-${i}` }
      const sentAt = Date.now()
      const s0 = performance.now()
      const p = postAlarm(body, source.token)
        .then((r) => {
          const ms = performance.now() - s0
          alarms.push({ sentAt, ms, status: r.status, outcome: r.json?.outcome ?? String(r.status), oneButton, inPause: inPause(sentAt, sentAt + ms), alarmId: r.json?.alarmId ?? null, caseId: r.json?.caseId ?? null })
        })
        .catch(() => {
          alarms.push({ sentAt, ms: performance.now() - s0, status: 0, outcome: 'error', oneButton, inPause: inPause(sentAt, Date.now()), alarmId: null, caseId: null })
        })
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
    }
  }, 20)
  let healthReads = 0
  const healthTimer = setInterval(() => {
    void api('GET', `/api/health/summary?unit=${street.id}`, admin).then((r) => r.status === 200 && healthReads++, () => undefined)
  }, 15_000)

  // scheduled injections
  const timers: NodeJS.Timeout[] = []
  const schedule = (atS: number | undefined, fn: () => Promise<void>) => {
    if (atS !== undefined) timers.push(setTimeout(() => void fn().catch((err) => log(`injection failed: ${(err as Error).message}`)), atS * 1000))
  }
  const pauseProcess = async (what: 'rtsp' | 'gateway', pid: number) => {
    const from = Date.now()
    process.kill(pid, 'SIGSTOP')
    log(`${what} (pid ${pid}) stopped for ${PAUSE_S} s`)
    await sleep(PAUSE_S * 1000)
    process.kill(pid, 'SIGCONT')
    pauses.push({ what, from, to: Date.now() })
    log(`${what} continued`)
  }
  schedule(PAUSE_RTSP_AT, () => pauseProcess('rtsp', rtsp!.pid!))
  schedule(PAUSE_GATEWAY_AT, () => pauseProcess('gateway', gw!.pid))
  schedule(TS_JUMP_AT, async () => {
    const lines = await rtsp!.jumpTimestamps()
    jumps.push(Date.now())
    log(`timestamps jumped by ${TS_JUMP_MS} ms on ${lines.length} mounts`)
  })

  // samples
  interface Sample { t: number; rss: number; heapUsed: number; fds: number; threads: number; children: number; handles: number; worstStall: number; eldMax: number; load: string }
  const samples: Sample[] = []
  let nextReload = WALL_RELOAD_S
  let monitorSeen = 0
  const takeSample = () => {
    const pid = gw!.pid
    const st = procStatus(pid)
    const mon = gw!.monitor.slice(monitorSeen)
    monitorSeen = gw!.monitor.length
    const last = gw!.monitor[gw!.monitor.length - 1]
    const stalls = mon.flatMap((m) => m.stalls).filter((s) => !pauses.some((p) => s.at < p.to + 1000 && s.at + s.ms > p.from - 1000))
    const s: Sample = {
      t: (performance.now() - t0) / 1000,
      rss: st.rss,
      heapUsed: last?.heapUsed ?? 0,
      fds: fdCount(pid),
      threads: st.threads,
      children: descendants(pid).length,
      handles: last?.handles ?? 0,
      worstStall: Math.max(0, ...stalls.map((x) => x.ms)),
      eldMax: Math.max(0, ...mon.map((m) => m.eldMax)),
      load: loadavg(),
    }
    samples.push(s)
    log(`sample: rss ${(s.rss / 1e6).toFixed(1)} MB, heap ${(s.heapUsed / 1e6).toFixed(1)} MB, fds ${s.fds}, threads ${s.threads}, children ${s.children}, handles ${s.handles}, worst stall ${s.worstStall} ms, alarms ${alarms.length}, sse ${sse.map((c) => c.events).join('/')}, load ${s.load}`)
  }
  takeSample()
  while (performance.now() < endAt) {
    const nextSample = samples.length * SAMPLE_S
    const dueReload = nextReload
    const nowS = (performance.now() - t0) / 1000
    const wait = Math.max(0, Math.min(nextSample, dueReload, DURATION_S) - nowS)
    await sleep(wait * 1000)
    const s = (performance.now() - t0) / 1000
    if (s >= dueReload && s < DURATION_S) {
      nextReload += WALL_RELOAD_S
      try {
        await wall.reload()
        await wall.locator('[data-testid=nav]').waitFor({ timeout: 60_000 })
        wallLiveMs.push(await wallLive(wall, tiles.length))
        log(`wall reloaded: live in ${Math.round(wallLiveMs[wallLiveMs.length - 1]!)} ms`)
      } catch (err) {
        wallFailures++
        log(`wall reload failed: ${(err as Error).message.split('\n')[0]}`)
        await wall.context().close().catch(() => undefined)
        wall = await openWall(browser)
      }
    }
    if ((performance.now() - t0) / 1000 >= samples.length * SAMPLE_S) takeSample()
  }
  clearInterval(alarmTimer)
  clearInterval(healthTimer)
  for (const t of timers) clearTimeout(t)
  await Promise.allSettled([...inflight])
  await sleep(3000) // the last SSE events
  takeSample()
  for (const c of sse) c.stop()
  const pidBefore = gw.pid
  const childrenAtEnd = descendants(pidBefore)
  await wall.context().close().catch(() => undefined)

  // --- what the gateway says it stored, then stop it ---
  const exitCode = await gw.stop()
  log(`gateway stopped (exit ${exitCode}); load average ${loadavg()}`)
  const db = new Database(join(dataDir, 'gateway.db'), { readonly: true })
  const ackIds = alarms.filter((a) => (a.status === 200 || a.status === 202) && a.alarmId !== null).map((a) => a.alarmId!)
  const stored = new Set((db.prepare('SELECT id FROM alarms').all() as { id: number }[]).map((r) => r.id))
  const lost = ackIds.filter((id) => !stored.has(id)).length
  const obAck = alarms.filter((a) => a.oneButton && (a.status === 200 || a.status === 202) && a.alarmId !== null)
  const obCases = new Map<number, number>()
  for (const r of db.prepare("SELECT case_id AS c FROM alarms WHERE kind IN ('one_button_alarm','one_button_help')").all() as { c: number | null }[]) if (r.c !== null) obCases.set(r.c, (obCases.get(r.c) ?? 0) + 1)
  const obWithoutOwnCase = obAck.filter((a) => a.caseId === null).length + [...obCases.values()].filter((n) => n > 1).reduce((s, n) => s + n - 1, 0)

  // recordings: gaps and each segment's duration against its file
  const segments = db.prepare('SELECT id, camera_id, start_ms, end_ms, path FROM recording_segments ORDER BY camera_id, start_ms').all() as { id: number; camera_id: number; start_ms: number; end_ms: number; path: string }[]
  db.close()
  const root = join(dataDir, 'recordings')
  let impossible = 0
  let disagree = 0
  const badSegments: string[] = []
  for (const s of segments) {
    const indexed = s.end_ms - s.start_ms
    let probed = NaN
    try {
      probed = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', join(root, s.path)], { encoding: 'utf8' }).trim()) * 1000
    } catch {
      /* unreadable: counted below */
    }
    const bad = indexed <= 0 || indexed > SEGMENT_S * 1000 * 3
    const off = !Number.isFinite(probed) || Math.abs(probed - indexed) > Math.max(2000, indexed * 0.05)
    if (bad) impossible++
    if (off) disagree++
    if ((bad || off) && badSegments.length < 20) badSegments.push(`segment ${s.id} camera ${s.camera_id}: indexed ${indexed} ms, file ${Math.round(probed)} ms`)
  }
  const explained = (from: number, to: number) => pauses.some((p) => from < p.to + 15_000 && to > p.from - 2000) || jumps.some((j) => from < j + 15_000 && to > j - 2000)
  let gapsExplained = 0
  let gapsUnexplained = 0
  const gapNotes: string[] = []
  for (const id of cameraIds) {
    const segs = segments.filter((s) => s.camera_id === id)
    for (let i = 1; i < segs.length; i++) {
      const gap = segs[i]!.start_ms - segs[i - 1]!.end_ms
      if (gap <= 2000) continue
      if (explained(segs[i - 1]!.end_ms, segs[i]!.start_ms)) gapsExplained++
      else {
        gapsUnexplained++
        if (gapNotes.length < 10) gapNotes.push(`camera ${id}: ${gap} ms gap at ${new Date(segs[i - 1]!.end_ms).toISOString()}`)
      }
    }
    if (segs.length === 0) gapNotes.push(`camera ${id}: no segment indexed`)
  }

  // --- figures ---
  const steady = samples.filter((s) => s.t >= WARMUP_S)
  const slope = (pick: (s: Sample) => number) => {
    if (steady.length < 2) return NaN
    const xs = steady.map((s) => s.t / 3600)
    const ys = steady.map(pick)
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length
    const my = ys.reduce((a, b) => a + b, 0) / ys.length
    let num = 0
    let den = 0
    for (let i = 0; i < xs.length; i++) ((num += (xs[i]! - mx) * (ys[i]! - my)), (den += (xs[i]! - mx) ** 2))
    return den === 0 ? NaN : num / den
  }
  const growth = (pick: (s: Sample) => number) => (steady.length < 2 ? NaN : pick(steady[steady.length - 1]!) - pick(steady[0]!))
  const okAlarms = alarms.filter((a) => !a.inPause && a.status !== 0).map((a) => a.ms).sort((a, b) => a - b)
  const injected = (s: Stall) => pauses.some((p) => s.at < p.to + 1000 && s.at + s.ms > p.from - 1000)
  const startupStalls = gw.monitor.flatMap((m) => m.stalls).filter((s) => s.at < loadStartedAt)
  const allStalls = gw.monitor.flatMap((m) => m.stalls).filter((s) => s.at >= loadStartedAt && !injected(s))
  figures['RSS growth after warm-up'] = { value: slope((s) => s.rss) / 1e6, unit: 'MB/h', target: 10, better: 'lower' }
  figures['heap growth after warm-up'] = { value: slope((s) => s.heapUsed) / 1e6, unit: 'MB/h', better: 'lower' }
  figures['RSS at end'] = { value: (samples[samples.length - 1]?.rss ?? 0) / 1e6, unit: 'MB', better: 'lower' }
  figures['fd growth after warm-up'] = { value: growth((s) => s.fds), unit: 'fds', target: 0, better: 'lower' }
  figures['thread growth after warm-up'] = { value: growth((s) => s.threads), unit: 'threads', target: 0, better: 'lower' }
  figures['child process growth after warm-up'] = { value: growth((s) => s.children), unit: 'processes', target: 0, better: 'lower' }
  figures['handle growth after warm-up'] = { value: growth((s) => s.handles), unit: 'handles', better: 'lower' }
  figures['worst event-loop stall'] = { value: Math.max(0, ...allStalls.map((s) => s.ms)), unit: 'ms', target: 100, better: 'lower' }
  figures['event-loop stalls > 50 ms'] = { value: allStalls.length, unit: 'stalls', better: 'lower' }
  figures['worst stall: main thread running'] = { value: Math.max(0, ...allStalls.map((s) => s.cpuMs)), unit: 'ms', better: 'lower' }
  figures['worst stall: main thread blocked in a system call'] = { value: Math.max(0, ...allStalls.map((s) => s.blockedMs)), unit: 'ms', better: 'lower' }
  figures['worst stall: main thread waiting for a CPU'] = { value: Math.max(0, ...allStalls.map((s) => s.waitMs)), unit: 'ms', better: 'lower' }
  figures['alarm request p99'] = { value: percentile(okAlarms, 99), unit: 'ms', better: 'lower' }
  figures['alarm request max'] = { value: okAlarms[okAlarms.length - 1] ?? NaN, unit: 'ms', better: 'lower' }
  figures['alarms sent'] = { value: alarms.length, unit: 'alarms', better: 'higher' }
  figures['alarms acknowledged'] = { value: ackIds.length, unit: 'alarms', better: 'higher' }
  figures['alarms rate-limited'] = { value: alarms.filter((a) => a.outcome === 'rate_limited').length, unit: 'alarms', better: 'lower' }
  figures['alarms failed (no answer or 5xx)'] = { value: alarms.filter((a) => a.status === 0 || a.status >= 500).length, unit: 'alarms', target: 0, better: 'lower' }
  figures['acknowledged alarms not stored'] = { value: lost, unit: 'alarms', target: 0, better: 'lower' }
  figures['one-button alarms acknowledged'] = { value: obAck.length, unit: 'alarms', better: 'higher' }
  figures['one-button alarms without exactly one case'] = { value: obWithoutOwnCase, unit: 'alarms', target: 0, better: 'lower' }
  figures['SSE events received (per client)'] = { value: Math.min(...sse.map((c) => c.events)), unit: 'events', better: 'higher' }
  figures['SSE gaps'] = { value: sse.reduce((s, c) => s + c.gaps + c.duplicates, 0), unit: 'gaps', target: 0, better: 'lower' }
  figures['SSE reconnects'] = { value: sse.reduce((s, c) => s + c.reconnects, 0), unit: 'reconnects', better: 'lower' }
  figures['recording gaps where the source ran'] = { value: gapsUnexplained, unit: 'gaps', target: 0, better: 'lower' }
  figures['recording gaps at an injected pause or jump'] = { value: gapsExplained, unit: 'gaps', better: 'lower' }
  figures['segments with an impossible duration'] = { value: impossible, unit: 'segments', target: 0, better: 'lower' }
  figures['segments whose duration disagrees with the file'] = { value: disagree, unit: 'segments', target: 0, better: 'lower' }
  figures['segments checked'] = { value: segments.length, unit: 'segments', better: 'higher' }
  figures['wall live after reload (max)'] = { value: Math.max(...wallLiveMs), unit: 'ms', better: 'lower' }
  figures['wall reload failures'] = { value: wallFailures, unit: 'reloads', target: 0, better: 'lower' }
  figures['error log lines'] = { value: gw.errorLines.length, unit: 'lines', target: 0, better: 'lower' }
  notes.push(`${(DURATION_S / 60).toFixed(1)} min, ${CAMERAS} cameras (${MAIN.width}x${MAIN.height}@${MAIN.fps}, ${MAIN.bitrate} kbit/s, segments ${SEGMENT_S} s), alarms ${ALARM_RATE}/s (1 in ${ONE_BUTTON_EVERY} one-button), ${SSE_CLIENTS} SSE clients, wall of ${tiles.length} reloaded every ${WALL_RELOAD_S / 60} min, health every 15 s; warm-up ${WARMUP_S} s; ${samples.length} samples every ${SAMPLE_S} s`)
  notes.push(`load average at end: ${loadavg()} (other work on the host moves every time figure: compare runs on an idle machine)`)
  if (DURATION_S < 20 * 60) notes.push('a short run: growth per hour is extrapolated from minutes of samples and says little; leaks show in the 30-minute run')
  notes.push(`log: ${gw.logLines} lines, ${gw.warnLines} warnings, ${gw.errorLines.length} errors → bench/out/soak-gateway.log; health summary reads ${healthReads}; children at end: ${childrenAtEnd.join(', ') || 'none'}`)
  if (pauses.length) notes.push(`injected: ${pauses.map((p) => `${p.what} stopped ${((p.to - p.from) / 1000).toFixed(1)} s at +${((p.from - startedAt) / 1000).toFixed(0)} s`).join('; ')} (stalls, alarm latencies and gaps inside are left out of the figures above)`)
  if (jumps.length) notes.push(`injected: RTP timestamps jumped by ${TS_JUMP_MS} ms at +${jumps.map((j) => ((j - startedAt) / 1000).toFixed(0)).join(', +')} s`)
  for (const b of badSegments) notes.push(b)
  for (const g of gapNotes) notes.push(g)
  for (const e of gw.errorLines.slice(0, 5)) notes.push(`error line: ${e}`)
  if (startupStalls.length) notes.push(`start-up (before the load, left out): worst stall ${Math.max(...startupStalls.map((s) => s.ms))} ms`)
  const profile = CPU_PROF ? readProfile(gw.monitor) : undefined
  for (const s of [...allStalls].sort((a, b) => b.ms - a.ms).slice(0, 8)) {
    notes.push(`stall ${s.ms} ms at +${((s.at - startedAt) / 1000).toFixed(1)} s: ran ${s.cpuMs} ms, waited for a CPU ${s.waitMs} ms, blocked ${s.blockedMs} ms${profile ? `; profile: ${profile.inside(s.at, s.at + s.ms)}` : ''}`)
  }
  if (TRACE) {
    const slow = gw.monitor.flatMap((m) => m.slow)
    const byWhat = new Map<string, { n: number; total: number; max: number; stack: string }>()
    for (const s of slow) {
      const key = `${s.what} @ ${s.stack.split(' < ').slice(0, 2).join(' < ')}`
      const e = byWhat.get(key) ?? { n: 0, total: 0, max: 0, stack: s.stack }
      e.n++
      e.total += s.ms
      e.max = Math.max(e.max, s.ms)
      byWhat.set(key, e)
    }
    const top = [...byWhat.entries()].sort((a, b) => b[1].max - a[1].max).slice(0, 15)
    for (const [k, v] of top) notes.push(`slow synchronous call: max ${v.max} ms, ${v.n}×, total ${v.total} ms: ${k}`)
    for (const s of [...allStalls].sort((a, b) => b.ms - a.ms).slice(0, 8)) {
      const cause = slow.filter((x) => x.at >= s.at - 20 && x.at <= s.at + s.ms).sort((a, b) => b.ms - a.ms)[0]
      notes.push(`stall ${s.ms} ms at +${((s.at - startedAt) / 1000).toFixed(1)} s, traced: ${cause ? `${cause.what} ${cause.ms} ms @ ${cause.stack}` : 'no synchronous fs/SQLite call ≥ 20 ms inside'}`)
    }
  }
} finally {
  for (const c of sse) c.stop()
  alarmAgent.destroy()
  await browser?.close().catch(() => undefined)
  await gw?.stop().catch(() => undefined)
  await rtsp?.close().catch(() => undefined)
  if (!process.env.SOAK_KEEP_DATA) rmSync(work, { recursive: true, force: true })
  else log(`data kept in ${work}`)
}
report('soak', figures, notes)
if (existsSync(join(outDir, 'soak.json'))) log(`load average: ${loadavg()}`)
