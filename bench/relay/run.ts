/**
 * bench/relay: the gateway's RTSP → WebRTC relay side by side with Janus 1.1.2 (streaming plugin,
 * RTSP mountpoint) on the same GStreamer source (720p25, 2 Mbps H.264, keyframe every 2 s, wall
 * clock stamped into every frame), in one run.
 *   - CPU per viewer at 1, 8, 32 non-decoding werift receivers (one child process holding all),
 *     as process CPU time (/proc/<pid>/stat utime+stime) of the gateway child vs the janus process;
 *   - packets lost per viewer (receiver sequence gaps) and gateway event-loop stalls while joining;
 *   - time to first decoded frame in headless Chromium, 8 joins one after another, p50/p95;
 *   - glass-to-glass latency (stamp drawn before encoding, read back from the displayed frame).
 * Targets (issue 4): TTFF p50 ≤ 300 ms, p95 ≤ 500 ms; zero loss at 32 viewers; CPU per viewer ≤
 * Janus's; added latency ≤ 50 ms.
 * Run: npm run bench:relay (tsx bench/relay/run.ts); needs `bash scripts/install-system-deps.sh --with-janus`.
 * Env: BENCH_STEPS (viewer counts, default 1,8,32), BENCH_WINDOW_S (CPU window, default 30), BENCH_SETTLE_S (wait before each CPU window, default 8), BENCH_WARMUP_S (an unmeasured round of 8 viewers first, default 45), BENCH_CPU_PROF=1 (gateway child runs with
 * --cpu-prof into bench/out/prof), BENCH_SKIP_JANUS=1, BENCH_SKIP_BROWSER=1, BENCH_OUT_NAME (default
 * relay: bench/out/relay.json), BENCH_NOTE (one more note line), BENCH_PERF=1 (`perf record -g` of each
 * CPU window into bench/out/perf/<target>-<viewers>.data; BENCH_GATEWAY_NODE_FLAGS (node flags of the
 * gateway child, default as in scripts/start.sh); the gateway child then runs with
 * --perf-basic-prof so JavaScript frames have names).
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync } from 'node:fs'
import * as osModule from 'node:os'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { projectRoot } from '../../src/core/paths.js'
import { startRtspTestServer } from '../../test/support/rtsp-server.js'
import { buildGatewayChild, gatewayNodeFlags } from '../lib/node-flags.js'
import { percentile, report, type Figure } from '../lib/report.js'
import { launch, StampPage } from './browser.js'
import { JanusStreamingClient, startJanus, type JanusProcess } from './janus.js'

/**
 * CPU window. 30 s: /proc counts CPU in 10 ms ticks, so a 10 s window of a relay at ~1 % of a core
 * is ~10 ticks (±10 % from rounding alone), and one GC landing in it moved the 1-viewer figure by
 * ±0.3 % of a core between runs.
 */
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 30)
/** Wait after each step's joins (and after start) before a CPU window: the relay's steady state, not its JIT warm-up. */
const SETTLE_S = Number(process.env.BENCH_SETTLE_S ?? 8)
/** An unmeasured round of 8 viewers before each relay's measurements (0: none). */
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 45)
const SKIP_JANUS = process.env.BENCH_SKIP_JANUS === '1'
const SKIP_BROWSER = process.env.BENCH_SKIP_BROWSER === '1'
const STEPS = (process.env.BENCH_STEPS ?? '1,8,32').split(',').map(Number)
const HEIGHT = 720
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url))
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
/** The gateway runs with scripts/start.sh's and the Dockerfile's flags (scripts/gateway-node-flags); BENCH_GATEWAY_NODE_FLAGS replaces them. */
const GATEWAY_NODE_FLAGS = gatewayNodeFlags()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / CLK_TCK // utime, stime (fields 14, 15)
}
/** % of one core used by `pid` over `seconds` of wall time. */
async function cpuPercent(pid: number, seconds: number): Promise<number> {
  const c0 = cpuSeconds(pid)
  const t0 = performance.now()
  await sleep(seconds * 1000)
  return ((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100
}
/** BENCH_PERF=1: `perf record -g` of the relay over the CPU window into bench/out/perf/<label>.data. */
async function perfRecord(pid: number, label: string): Promise<void> {
  if (process.env.BENCH_PERF !== '1') return
  mkdirSync(join(projectRoot, 'bench', 'out', 'perf'), { recursive: true })
  const perf = spawn('perf', ['record', '-F', '1999', '-g', '-q', '-o', join(projectRoot, 'bench', 'out', 'perf', `${label}.data`), '-p', String(pid), '--', 'sleep', String(WINDOW_S)], { stdio: 'ignore' })
  await once(perf, 'exit')
}
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')

/** A child speaking line protocols: send a line, await the next line matching `pred`. */
class LineChild {
  readonly rl: Interface
  readonly #waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = []
  stderr = ''
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    this.rl = createInterface({ input: proc.stdout })
    this.rl.on('line', (l) => {
      const i = this.#waiters.findIndex((w) => w.pred(l))
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(l)
    })
    proc.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8000)
    })
  }
  next(pred: (l: string) => boolean, timeoutMs = 120_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child: no reply in ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs)
      this.#waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) })
    })
  }
  async ask(line: string, pred: (l: string) => boolean, timeoutMs?: number): Promise<string> {
    const p = this.next(pred, timeoutMs)
    this.proc.stdin.write(line + '\n')
    return p
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const exited = once(this.proc, 'exit')
    this.proc.stdin.end()
    const t1 = setTimeout(() => this.proc.kill('SIGTERM'), 10_000)
    const t2 = setTimeout(() => this.proc.kill('SIGKILL'), 20_000)
    await exited
    clearTimeout(t1)
    clearTimeout(t2)
  }
}

function spawnNode(file: string, args: string[], nodeFlags: string[] = []): LineChild {
  const proc = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', file, ...args], { cwd: projectRoot, stdio: ['pipe', 'pipe', 'pipe'] })
  return new LineChild(proc)
}

/**
 * The gateway under test runs as production runs it: compiled JavaScript from dist/ (the production
 * build tsconfig.build.json plus gateway-child.ts, see tsconfig.gateway-child.json) under plain
 * node with scripts/gateway-node-flags, no tsx.
 */
function spawnCompiledGateway(args: string[], nodeFlags: string[]): LineChild {
  const proc = spawn(process.execPath, [...nodeFlags, buildGatewayChild('relay'), ...args], { cwd: projectRoot, stdio: ['pipe', 'pipe', 'pipe'] })
  return new LineChild(proc)
}

function hostAddress(): string {
  for (const list of Object.values(osModule.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  throw new Error('no non-loopback IPv4 address: Janus needs one for ICE')
}

interface ViewerStats { received: number; expected: number; lost: number; gapEvents: number; skippedAtStart: number; skippedLater: number }
/**
 * Host-wide UDP receive-buffer drops (RcvbufErrors in /proc/net/snmp). On loopback the relay's
 * sends land in the receivers' socket buffers: a loss the receivers count that this also counts
 * was dropped there (a receivers' process too slow to drain them), not by the relay.
 */
function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'))
  const names = lines[0]?.split(/\s+/) ?? []
  const values = lines[1]?.split(/\s+/) ?? []
  const at = names.indexOf('RcvbufErrors')
  return at > 0 ? Number(values[at]) : NaN
}

interface RelayResult {
  baselineCpu: number
  cpu: Record<number, number>
  /** RTP packets each viewer received per second during the CPU window (the work the CPU paid for) */
  deliveredPerViewerS: Record<number, number>
  firstPacketMs: number[]
  lossAtTop: ViewerStats[]
  /** UDP datagrams the kernel dropped at a full receive buffer, host-wide, while the viewers joined and watched */
  rcvbufDrops: number
  eld: { max: number; p99: number; stalls: number; worstStall: number }[]
  ttff: number[]
  /** the unmeasured warm-up join: a fresh page's first peer connection */
  coldTtff?: number
  /** request → answer received, → ICE+DTLS connected (Chromium joins) */
  answered: number[]
  /** gateway: the WHEP POST alone (request sent → 201 read) */
  post: number[]
  connected: number[]
  latency: number[]
}

const notes: string[] = []
const receiverCpu: Record<string, number> = {}
const cleanups: (() => Promise<unknown>)[] = []
const loadStart = loadavg()

// A session timeout longer than the run: Janus's RTSP session otherwise lapsed after the server's
// default 60 s (a ~4.5 s gap until it reconnected, inside a CPU window, flattering its figure).
const rtsp = await startRtspTestServer({ sessionTimeout: 3600, mounts: [{ path: '/bench', width: 1280, height: HEIGHT, fps: 25, bitrate: 2000, gop: 50, stamp: true }] })
cleanups.push(() => rtsp.close())
const rtspUrl = rtsp.url('/bench')
const results: Record<'gateway' | 'janus', RelayResult | undefined> = { gateway: undefined, janus: undefined }
const prof = process.env.BENCH_CPU_PROF === '1' ? ['--cpu-prof', `--cpu-prof-dir=${join(projectRoot, 'bench', 'out', 'prof')}`] : []

try {
  const gw = spawnCompiledGateway([rtspUrl], [...GATEWAY_NODE_FLAGS, ...prof, ...(process.env.BENCH_PERF === '1' ? ['--perf-basic-prof'] : [])])
  cleanups.unshift(() => gw.stop())
  const ready = JSON.parse((await gw.next((l) => l.startsWith('READY '), 60_000)).slice(6)) as { port: number; cameraId: number; token: string }
  const base = `http://127.0.0.1:${ready.port}`
  let janus: JanusProcess | undefined
  if (!SKIP_JANUS) {
    janus = await startJanus({ rtspUrl, iceAddress: hostAddress() })
    cleanups.unshift(() => janus!.stop())
  }
  const rx = spawnNode(here('./receivers-child.ts'), [])
  cleanups.unshift(() => rx.stop())
  await sleep(SETTLE_S * 1000) // both ingests running and warmed up, GOP cache filled

  const measure = async (target: 'gateway' | 'janus'): Promise<RelayResult> => {
    const pid = target === 'gateway' ? gw.proc.pid! : janus!.pid
    if (WARMUP_S > 0) {
      // Unmeasured: 8 viewers for a while, then none. A relay runs for days; V8 compiles the
      // gateway's per-packet path only after it has run a while, and CPU windows taken in its first
      // minute measure the compiler, not the relay. The same round for Janus (C: nothing to warm).
      const join = target === 'gateway' ? { cmd: 'join', target, base, cameraId: ready.cameraId, token: ready.token, n: 8 } : { cmd: 'join', target, url: janus!.url, mountpointId: janus!.mountpointId, n: 8 }
      const reply = JSON.parse(await rx.ask(JSON.stringify(join), (l) => l.startsWith('{'))) as { ok: boolean; error?: string }
      if (!reply.ok) throw new Error(`${target} warm-up join: ${reply.error}`)
      await sleep(WARMUP_S * 1000)
      await rx.ask(JSON.stringify({ cmd: 'closeAll' }), (l) => l.startsWith('{'))
      await sleep(SETTLE_S * 1000)
    }
    const res: RelayResult = { baselineCpu: await cpuPercent(pid, WINDOW_S), cpu: {}, deliveredPerViewerS: {}, firstPacketMs: [], lossAtTop: [], rcvbufDrops: 0, eld: [], ttff: [], answered: [], post: [], connected: [], latency: [] }
    let have = 0
    const dropsBefore = udpRcvbufErrors()
    const receivedTotal = async () => (JSON.parse(await rx.ask(JSON.stringify({ cmd: 'stats' }), (l) => l.startsWith('{'))) as { viewers: ViewerStats[] }).viewers.reduce((a, v) => a + v.received, 0)
    for (const n of STEPS) {
      if (target === 'gateway') await gw.ask('eld-reset', (l) => l === 'OK')
      const join = target === 'gateway' ? { cmd: 'join', target, base, cameraId: ready.cameraId, token: ready.token, n: n - have } : { cmd: 'join', target, url: janus!.url, mountpointId: janus!.mountpointId, n: n - have }
      const reply = JSON.parse(await rx.ask(JSON.stringify(join), (l) => l.startsWith('{'))) as { ok: boolean; error?: string; firstPacketMs: number[] }
      if (!reply.ok) throw new Error(`${target} join: ${reply.error}`)
      res.firstPacketMs.push(...reply.firstPacketMs)
      have = n
      await sleep(2000)
      if (target === 'gateway') res.eld.push(JSON.parse((await gw.ask('eld', (l) => l.startsWith('ELD '))).slice(4)))
      await sleep(SETTLE_S * 1000)
      const before = await receivedTotal()
      const [relayCpu, rxCpu] = await Promise.all([cpuPercent(pid, WINDOW_S), cpuPercent(rx.proc.pid!, WINDOW_S), perfRecord(pid, `${target}-${n}`)])
      res.deliveredPerViewerS[n] = ((await receivedTotal()) - before) / n / WINDOW_S
      res.cpu[n] = relayCpu
      receiverCpu[`${target}@${n}`] = rxCpu
      const st = JSON.parse(await rx.ask(JSON.stringify({ cmd: 'stats' }), (l) => l.startsWith('{'))) as { viewers: ViewerStats[] }
      const recv = st.viewers.map((v) => v.received)
      console.log(`${target}: ${n} viewers, ${res.cpu[n]!.toFixed(1)}% of a core (idle ${res.baselineCpu.toFixed(1)}%), packets received per viewer ${Math.min(...recv)}–${Math.max(...recv)}, lost ${st.viewers.reduce((a, v) => a + v.lost, 0)}, receivers process ${rxCpu.toFixed(0)}% of a core${res.eld.length ? `, gateway event loop ${JSON.stringify(res.eld[res.eld.length - 1])}` : ''}, load ${loadavg()}`)
    }
    const stats = JSON.parse(await rx.ask(JSON.stringify({ cmd: 'stats' }), (l) => l.startsWith('{'))) as { viewers: ViewerStats[] }
    res.lossAtTop = stats.viewers
    res.rcvbufDrops = udpRcvbufErrors() - dropsBefore
    if (target === 'gateway') {
      // How the gateway protected and sent the viewers' packets (native SRTP module or werift's).
      const metrics = await (await fetch(`${base}/metrics`)).text()
      const paths = [...metrics.matchAll(/^gateway_media_viewers_by_srtp_path\{path="([^"]+)"\} (\d+)/gm)].map((m) => `${m[1]} ×${m[2]}`)
      notes.push(`gateway SRTP path of the ${STEPS[STEPS.length - 1]} viewers: ${paths.join(', ') || 'not reported'}`)
      console.log(`gateway: SRTP path ${paths.join(', ')}`)
    }
    await rx.ask(JSON.stringify({ cmd: 'closeAll' }), (l) => l.startsWith('{'))
    await sleep(2000)
    return res
  }

  results.gateway = await measure('gateway')
  if (janus) results.janus = await measure('janus')

  if (!SKIP_BROWSER) {
    const browser = await launch()
    cleanups.unshift(() => browser.close())
    const page = await StampPage.open(browser, base + '/healthz')
    const watch = async (target: 'gateway' | 'janus'): Promise<{ id: number; t0: number; answeredAt: number; postMs?: number; close(): Promise<void> }> => {
      const t0 = Date.now()
      if (target === 'gateway') {
        const v = await page.whepTrickle(`${base}/api/cameras/${ready.cameraId}/whep?stream=main`, ready.token)
        return { id: v.id, t0, answeredAt: v.answeredAt, postMs: v.postMs, close: async () => void (await page.close(v.id), await fetch(v.location, { method: 'DELETE', headers: { authorization: `Bearer ${ready.token}` } })) }
      }
      const client = new JanusStreamingClient(janus!.url)
      const offer = await client.watch(janus!.mountpointId)
      const answeredAt = Date.now()
      const { id, sdp } = await page.answer(offer)
      await client.start(sdp)
      return { id, t0, answeredAt, close: async () => void (await page.close(id), await client.destroy()) }
    }
    for (const target of ['gateway', 'janus'] as const) {
      const r = results[target]
      if (!r) continue
      // One unmeasured join first: Chromium's first peer connection in a page loads its WebRTC
      // stack (hundreds of ms, the same for either relay), and the relay's join path is then warm.
      const warm = await watch(target)
      r.coldTtff = (await page.firstFrameAt(warm.id)).frame - warm.t0
      await warm.close()
      await sleep(500)
      for (let i = 0; i < 8; i++) {
        const v = await watch(target)
        const at = await page.firstFrameAt(v.id)
        r.ttff.push(at.frame - v.t0)
        r.answered.push(v.answeredAt - v.t0)
        if (v.postMs !== undefined) r.post.push(v.postMs)
        r.connected.push(at.connected - v.t0)
        if (i === 7) r.latency = await page.stampLatencies(v.id, 8000, Math.floor(HEIGHT / 24))
        await v.close()
        await sleep(300 + Math.floor(Math.random() * 700)) // joins land at different points of the GOP
      }
      console.log(`${target}: TTFF ${r.ttff.map((x) => Math.round(x)).join(', ')} ms; ${r.latency.length} stamped frames read`)
    }
  }
} finally {
  for (const c of cleanups) await c().catch((e) => console.error('cleanup:', (e as Error).message))
}

// --- report ----------------------------------------------------------------------------------
const figures: Record<string, Figure> = {}
const sorted = (a: number[]) => a.filter((x) => Number.isFinite(x)).sort((x, y) => x - y)
const median = (a: number[]) => percentile(sorted(a), 50)
const g = results.gateway!
const j = results.janus
for (const [name, r] of [['gateway', g], ['janus', j]] as const) {
  if (!r) continue
  figures[`${name} cpu idle (ingest only)`] = { value: r.baselineCpu, unit: '% core', better: 'lower' }
  for (const n of STEPS) {
    const other = name === 'gateway' && j ? j.cpu[n]! / n : undefined
    figures[`${name} cpu per viewer @${n}`] = { value: r.cpu[n]! / n, unit: '% core', better: 'lower', ...(other !== undefined ? { target: Math.round(other * 100) / 100 } : {}) }
    figures[`${name} cpu total @${n}`] = { value: r.cpu[n]!, unit: '% core', better: 'lower' }
    figures[`${name} packets delivered per viewer per s @${n} (CPU window)`] = { value: r.deliveredPerViewerS[n]!, unit: 'packets/s', better: 'higher' }
  }
  const top = STEPS[STEPS.length - 1]!
  const marginal = (r.cpu[top]! - r.baselineCpu) / top
  const jm = j ? (j.cpu[top]! - j.baselineCpu) / top : undefined
  figures[`${name} cpu marginal per viewer @${top}`] = { value: marginal, unit: '% core', better: 'lower', ...(name === 'gateway' && jm !== undefined ? { target: Math.round(jm * 100) / 100 } : {}) }
  const lost = r.lossAtTop.map((v) => v.lost)
  figures[`${name} packets lost per viewer @${top} (max)`] = { value: Math.max(0, ...lost), unit: 'packets', target: 0, better: 'lower' }
  figures[`${name} packets lost per viewer @${top} (mean)`] = { value: lost.reduce((a, b) => a + b, 0) / Math.max(1, lost.length), unit: 'packets', target: 0, better: 'lower' }
  figures[`${name} viewers with loss @${top}`] = { value: r.lossAtTop.filter((v) => v.lost > 0).length, unit: 'viewers', target: 0, better: 'lower' }
  figures[`${name} sequence gaps @${top} (all viewers)`] = { value: r.lossAtTop.reduce((a, v) => a + v.gapEvents, 0), unit: 'gaps', better: 'lower' }
  figures[`${name} host UDP receive-buffer drops while viewers joined and watched`] = { value: r.rcvbufDrops, unit: 'packets', better: 'lower' }
  figures[`${name} packets skipped in a viewer's own first 2 s (all viewers)`] = { value: r.lossAtTop.reduce((a, v) => a + v.skippedAtStart, 0), unit: 'packets', better: 'lower' }
  figures[`${name} packets skipped later, while others join (all viewers)`] = { value: r.lossAtTop.reduce((a, v) => a + v.skippedLater, 0), unit: 'packets', better: 'lower' }
  figures[`${name} first RTP packet p50 (werift receivers)`] = { value: median(r.firstPacketMs), unit: 'ms', better: 'lower' }
  if (r.eld.length) {
    figures[`${name} event-loop delay max while joining`] = { value: Math.max(...r.eld.map((e) => e.max)), unit: 'ms', better: 'lower' }
    figures[`${name} event-loop stalls > 50 ms while joining`] = { value: r.eld.reduce((a, e) => a + e.stalls, 0), unit: 'stalls', better: 'lower' }
  }
  if (r.ttff.length) {
    const s = sorted(r.ttff)
    figures[`${name} TTFF p50 (Chromium)`] = { value: percentile(s, 50), unit: 'ms', target: 300, better: 'lower' }
    figures[`${name} TTFF p95 (Chromium)`] = { value: percentile(s, 95), unit: 'ms', target: 500, better: 'lower' }
    if (r.coldTtff !== undefined) figures[`${name} TTFF of the warm-up join (fresh page, not in p50/p95)`] = { value: r.coldTtff, unit: 'ms', better: 'lower' }
    figures[`${name} join: answer (gateway) / offer (janus) received p50`] = { value: median(r.answered), unit: 'ms', better: 'lower' }
    if (r.post.length) figures[`${name} join: WHEP POST round trip p50`] = { value: median(r.post), unit: 'ms', better: 'lower' }
    figures[`${name} join: ICE+DTLS connected p50`] = { value: median(r.connected), unit: 'ms', better: 'lower' }
  }
  if (r.latency.length) figures[`${name} glass-to-glass p50`] = { value: median(r.latency), unit: 'ms', better: 'lower' }
}
if (g.latency.length && j?.latency.length) figures['gateway latency added vs janus (p50)'] = { value: median(g.latency) - median(j.latency), unit: 'ms', target: 50, better: 'lower' }

notes.push(
  `source: GStreamer RTSP server (scripts/rtsp-test-server.py) 1280x720 25 fps, x264 zerolatency 2000 kbit/s, keyframe every 50 frames (2 s), wall-clock stamp strip; gateway over RTSP/TCP, Janus over RTSP/UDP, both on loopback`,
  `CPU: utime+stime from /proc/<pid>/stat over ${WINDOW_S} s windows (${2 + SETTLE_S} s after the joins), of the gateway child process and of the janus process, after an unmeasured round of 8 viewers for ${WARMUP_S} s on each (the gateway's JIT warm-up; the same for Janus); "per viewer" = total / viewers (includes ingest), "marginal" = (total@${STEPS[STEPS.length - 1]} − idle) / ${STEPS[STEPS.length - 1]}`,
  `gateway: its own process, compiled JavaScript from dist/ (tsconfig.build.json's build plus bench/relay/gateway-child.ts) under plain node ${GATEWAY_NODE_FLAGS.join(' ')} (scripts/gateway-node-flags, as scripts/start.sh and the Dockerfile run it), no tsx`,
  `receivers: werift RTCPeerConnections (no decoding) in one Node child; SRTP decryption skipped after DTLS (sequence numbers read from the SRTP header, see receivers-child.ts), so no NACK is sent: loss = expected − distinct seqs received, on the wire before any repair; gap events = forward jumps (one jump of hundreds of packets is a sequence discontinuity, many small ones are drops); "host UDP receive-buffer drops" is the kernel's RcvbufErrors over the joins and windows, host-wide: loss the receivers count that it also counts was dropped at their own full socket buffers (a receivers' process too slow to drain a fast-start burst on a busy machine), not by the relay`,
  `receivers process CPU (% of one core) during the windows: ${Object.entries(receiverCpu).map(([k, v]) => `${k} ${v.toFixed(0)}%`).join(', ')}`,
  `TTFF: headless Chromium, request (offer creation) → first framesDecoded > 0 (getStats every 10 ms), 8 joins one after another after one unmeasured warm-up join, each viewer closed before the next, random 0.3–1 s between joins; the gateway sends the cached GOP (stream pinned); Janus's TTFF well under the 1 s mean keyframe wait suggests it gets a keyframe on demand (its RTSP session is UDP with RTCP, which the GStreamer server honours). the gateway is joined as the web application joins (WHEP with trickle ICE: offer POSTed at once, candidates PATCHed); Janus is joined with its own API, Chromium's answer sent once gathered (its "offer received" is Janus's watch round trip)`,
  `glass-to-glass: the source draws Date.now() (32 bits of ms) as a block strip just before encoding; the page reads it back from each presented frame (requestVideoFrameCallback → canvas) and subtracts it from the frame's expected display time; includes encode, RTSP, relay, jitter buffer, decode, render — the same for both relays, so "added vs janus" is the gateway's extra over a C relay`,
  `machine: ${osModule.cpus().length} cores shared with other engineers' test runs; load average ${loadStart} at start, ${loadavg()} at end`,
)
if (process.env.BENCH_NOTE) notes.push(process.env.BENCH_NOTE)
report(process.env.BENCH_OUT_NAME ?? 'relay', figures, notes)
