/**
 * bench/health: the gateway under test, in its own process, run as production runs it: compiled
 * (bench/health/tsconfig.gateway-child.json → dist/bench/health/gateway-child.js, importing
 * dist/src/), plain node with scripts/start.sh's flags plus --expose-gc, no tsx, no bench harness.
 * Usage: node --max-semi-space-size=32 --expose-gc dist/bench/health/gateway-child.js '<json options>'
 *   options: {"dataDir":…, "concurrency":n, "checkTimeoutSeconds":n, "units":n}
 * Builds a real gateway (buildGateway), creates an org tree (a street, 3 stations, `units`
 * communities) and prints
 *   READY {"units":["H-SQ0",…],"execArgv":[…],"nodeOptions":"…"}
 * Then answers line commands on stdin, one JSON reply line each:
 *   import <csv file>   POST /api/cameras/import (as the admin)   → IMPORTED {"status":…,"body":…}
 *   gc                  global.gc()                               → GC {"rss":bytes,"heapUsed":bytes}
 *   sweep manual|schedule  gc, then STARTED, then one health sweep with event-loop delay
 *                       (monitorEventLoopDelay, 10 ms resolution) and process CPU time measured over it
 *                       → SWEPT {"result":…,"wall":s,"cpuSeconds":…,"lagP99":ms,"lagMax":ms}
 *   (stdin EOF / SIGTERM: closes the gateway and exits 0)
 */
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { buildGateway } from '../../src/app.js'
import { loadConfig } from '../../src/core/config.js'
import { systemPrincipal } from '../../src/core/scope.js'

const opts = JSON.parse(process.argv[2] ?? '{}') as { dataDir: string; concurrency: number; checkTimeoutSeconds: number; units: number }
if (!opts.dataDir) throw new Error("usage: gateway-child.js '{\"dataDir\":…,\"concurrency\":…,\"checkTimeoutSeconds\":…,\"units\":…}'")
if (!global.gc) throw new Error('gateway-child: run with --expose-gc')
const gc = global.gc
const PASSWORD = 'bench-password-1'

const config = loadConfig({
  env: {},
  overrides: { dataDir: opts.dataDir, demo: false, log: { level: 'silent' }, registry: { importMaxRows: 1_000_000 }, health: { concurrency: opts.concurrency, checkTimeoutSeconds: opts.checkTimeoutSeconds }, cameras: { allowedCidrs: [...loadConfig({ env: {} }).cameras.allowedCidrs, '127.0.0.0/8'] } },
})
const gateway = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: PASSWORD } })
const { org, health } = gateway.services
const app = gateway.app

const actor = systemPrincipal('bench')
const street = org.create(actor, { parentId: null, tier: 'street', code: 'H-JD', name: 'bench street' })
const stations = [1, 2, 3].map((i) => org.create(actor, { parentId: street.id, tier: 'police_station', code: `H-PCS${i}`, name: `station ${i}` }))
const communities = Array.from({ length: opts.units }, (_, i) => org.create(actor, { parentId: stations[i % 3]!.id, tier: 'community', code: `H-SQ${i}`, name: `community ${i}` }))

const send = (tag: string, body: unknown): void => void process.stdout.write(`${tag} ${JSON.stringify(body)}\n`)

async function importCsv(file: string): Promise<void> {
  const login = (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: PASSWORD } })).json() as { token: string }
  const imp = await app.inject({ method: 'POST', url: '/api/cameras/import', headers: { authorization: `Bearer ${login.token}`, 'content-type': 'text/csv' }, payload: readFileSync(file, 'utf8') })
  send('IMPORTED', { status: imp.statusCode, body: imp.statusCode === 200 ? '' : imp.body.slice(0, 500) })
}

async function sweep(trigger: 'manual' | 'schedule'): Promise<void> {
  gc()
  send('STARTED', { trigger })
  const lag = monitorEventLoopDelay({ resolution: 10 })
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  lag.enable()
  const result = await health.sweep(trigger)
  lag.disable()
  const wall = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  send('SWEPT', { result, wall, cpuSeconds: (cpu.user + cpu.system) / 1e6, lagP99: lag.percentile(99) / 1e6, lagMax: lag.max / 1e6 })
}

let closing = false
async function shutdown(code = 0): Promise<void> {
  if (closing) return
  closing = true
  try {
    await gateway.close()
  } finally {
    process.exit(code)
  }
}
process.once('SIGTERM', () => void shutdown())
process.once('SIGINT', () => void shutdown())

// One command at a time, in order.
let queue: Promise<void> = Promise.resolve()
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const [cmd = '', arg = ''] = line.trim().split(/\s+(.*)/)
  queue = queue
    .then(async () => {
      if (cmd === 'import') await importCsv(arg)
      else if (cmd === 'gc') {
        gc()
        const m = process.memoryUsage()
        send('GC', { rss: m.rss, heapUsed: m.heapUsed })
      } else if (cmd === 'sweep' && (arg === 'manual' || arg === 'schedule')) await sweep(arg)
      else send('ERROR', { message: `unknown command: ${line}` })
    })
    .catch((e: Error) => void send('ERROR', { message: e.stack ?? e.message }))
})
rl.on('close', () => void queue.then(() => shutdown()))
send('READY', { units: communities.map((c) => c.code), execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS ?? '' })
