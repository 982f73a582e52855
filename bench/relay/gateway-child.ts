/**
 * bench/relay: the gateway under test, in its own process so its CPU time (/proc/<pid>/stat) is
 * separable from the receivers and the orchestrator. Builds a real gateway (buildGateway), listens
 * on a free port, registers one camera on the given RTSP URL, pins its main stream (ingest runs
 * with no viewer, as Janus's RTSP mountpoint does) and prints
 *   READY {"port":…,"cameraId":…,"token":"…"}
 * Then answers line commands on stdin:
 *   eld-reset         start event-loop delay measurement
 *   eld               stop it → ELD {"max":ms,"p99":ms,"mean":ms,"stalls":n,"worstStall":ms}
 *   (stdin EOF / SIGTERM: closes the gateway and exits)
 * Stalls: a 5 ms interval timer that fires more than 50 ms late counts one stall.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { buildGateway } from '../../src/app.js'
import { loadConfig } from '../../src/core/config.js'
import { systemPrincipal } from '../../src/core/scope.js'

const rtspUrl = process.argv[2]
if (!rtspUrl) throw new Error('usage: gateway-child.ts <rtsp-url>')
const PASSWORD = 'bench-password-1'
const STALL_MS = 50

const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-relay-'))
const config = loadConfig({ env: {}, overrides: { dataDir, demo: false, log: { level: 'silent' }, http: { port: 0 }, media: { idleTimeoutSeconds: 60 }, cameras: { allowedCidrs: [...loadConfig({ env: {} }).cameras.allowedCidrs, '127.0.0.0/8'] } } })
const gateway = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: PASSWORD } })
const app = gateway.app
await app.listen({ port: 0, host: '0.0.0.0' })
const port = (app.server.address() as { port: number }).port

const inject = async (method: 'GET' | 'POST' | 'PUT', url: string, token?: string, payload?: object) => {
  const res = await app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload ? { payload } : {}) })
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {}
}
const token = (await inject('POST', '/api/auth/login', undefined, { username: 'admin', password: PASSWORD })).token as string
const street = gateway.services.org.create(systemPrincipal('bench'), { parentId: null, tier: 'street', code: 'B-RELAY', name: 'bench street' })
const cam = await inject('POST', '/api/cameras', token, {
  unitId: street.id,
  name: 'bench relay 720p25',
  class: 1,
  kind: 'fixed',
  streams: { main: { uri: rtspUrl, codec: 'h264', width: 1280, height: 720, fps: 25 } },
})
const cameraId = cam.id as number
await inject('PUT', `/api/cameras/${cameraId}/live/pin`, token)

// The monitor runs only from eld-reset to eld (while viewers join): its 5 ms timers wake the
// process 400 times a second, which would otherwise be billed to the relay in the CPU windows.
const eld = monitorEventLoopDelay({ resolution: 5 })
let stalls = 0
let worstStall = 0
let last = performance.now()
let ticker: NodeJS.Timeout | undefined
function startMonitor(): void {
  stopMonitor()
  eld.reset()
  eld.enable()
  stalls = 0
  worstStall = 0
  last = performance.now()
  ticker = setInterval(() => {
    const now = performance.now()
    const late = now - last - 5
    if (late > STALL_MS) {
      stalls++
      worstStall = Math.max(worstStall, late)
    }
    last = now
  }, 5)
}
function stopMonitor(): void {
  if (ticker) clearInterval(ticker)
  ticker = undefined
  eld.disable()
}

let closing = false
async function shutdown(): Promise<void> {
  if (closing) return
  closing = true
  stopMonitor()
  try {
    await gateway.close()
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
    process.exit(0)
  }
}
process.once('SIGTERM', () => void shutdown())
process.once('SIGINT', () => void shutdown())

const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const cmd = line.trim()
  if (cmd === 'eld-reset') {
    startMonitor()
    process.stdout.write('OK\n')
  } else if (cmd === 'eld') {
    stopMonitor()
    const ms = (ns: number) => Math.round(ns / 1e4) / 100
    process.stdout.write(`ELD ${JSON.stringify({ max: ms(eld.max), p99: ms(eld.percentile(99)), mean: ms(eld.mean), stalls, worstStall: Math.round(worstStall) })}\n`)
  }
})
rl.on('close', () => void shutdown())
process.stdout.write(`READY ${JSON.stringify({ port, cameraId, token })}\n`)
