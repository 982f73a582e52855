/**
 * Runs inside a private network namespace (see multicast.test.ts): a fleet that answers multicast
 * probes on lo (in a child process), and a real gateway whose discovery.multicastInterfaces is 127.0.0.1, scanning
 * through the HTTP API. Prints one JSON line. Nothing here can reach a real network.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildGateway } from '../../../src/app.js'
import { loadConfig } from '../../../src/core/config.js'
import { startFleetProcess } from './fleet-client.js'

if (process.env.SGW_DISCOVERY_NETNS_CHILD !== '1') {
  // run directly (e.g. `tap test/features/discovery`): not inside the namespace, do nothing
  process.exit(0)
}
const count = Number(process.argv[2] ?? 12)
const windowMs = Number(process.argv[3] ?? 1000)
const dataDir = mkdtempSync(join(tmpdir(), 'gw-mc-'))
// the devices run in their own process, as separate cameras would
const fleet = await startFleetProcess([String(count), '127.41.0.1', '127.0.0.1', process.argv[4] ?? '200'])
const config = loadConfig({
  env: {},
  overrides: {
    dataDir,
    demo: false,
    log: { level: 'silent' },
    discovery: { allowedCidrs: ['127.0.0.0/8'], multicastInterfaces: ['127.0.0.1'], probeWindowMs: windowMs, probeJitterMs: 100 },
  },
})
const gw = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: 'mc-gw-password' } })
try {
  const login = await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'mc-gw-password' } })
  const headers = { authorization: `Bearer ${login.json().token}` }
  const t0 = Date.now()
  const start = await gw.app.inject({ method: 'POST', url: '/api/discovery/scans', headers, payload: { multicast: true } })
  if (start.statusCode !== 202) throw new Error(start.body)
  let job: any
  let firstAllAt: number | null = null
  for (;;) {
    job = (await gw.app.inject({ method: 'GET', url: `/api/discovery/scans/${start.json().id}`, headers })).json()
    if (firstAllAt === null && job.progress.candidates >= count) firstAllAt = Date.now() - t0
    if (job.status !== 'running') break
    await new Promise((r) => setTimeout(r, 100))
  }
  process.stdout.write(
    JSON.stringify({
      elapsedMs: Date.now() - t0,
      allFoundAfterMs: firstAllAt,
      status: job.status,
      progress: job.progress,
      expected: fleet.devices.map((d) => ({ uuid: d.uuid, xaddr: d.xaddr, name: d.name })),
      found: job.candidates.map((c: any) => ({ uuid: c.endpointRef, xaddrs: c.xaddrs, name: c.name, source: c.source })),
    }) + '\n',
  )
} finally {
  await gw.close()
  await fleet.close()
  rmSync(dataDir, { recursive: true, force: true })
}
