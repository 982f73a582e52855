import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../../src/core/paths.js'

const ADMIN_PASSWORD = 'kill9-gw-password'

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

interface Server {
  child: ChildProcess
  base: string
  exited: Promise<void>
  output: () => string
}

async function startServer(dataDir: string, port: number): Promise<Server> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GW_')))
  Object.assign(env, { GW_DATA_DIR: dataDir, GW_HTTP_PORT: String(port), GW_HTTP_HOST: '127.0.0.1', GW_DEMO: '1', GW_ADMIN_PASSWORD: ADMIN_PASSWORD, GW_LOG_LEVEL: 'warn' })
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 90_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`)
    try {
      const r = await fetch(`${base}/healthz`)
      if (r.ok) break
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`server did not start: ${out}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  return { child, base, exited, output: () => out }
}

async function login(base: string): Promise<string> {
  const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) })
  return ((await r.json()) as { token: string }).token
}

interface Answered {
  externalId: string
  alarmId: number
  caseId: number
  caseNumber: string
}

t.test('kill -9 right after a webhook was answered loses nothing', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-kill9-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  let server = await startServer(dataDir, port)
  t.teardown(() => {
    server.child.kill('SIGKILL')
  })
  const admin = await login(server.base)
  const src = await fetch(`${server.base}/api/alarm-sources`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'boxes', unitId: 1 }) })
  t.equal(src.status, 201)
  const token = ((await src.json()) as { token: string }).token
  const answered: Answered[] = []
  let n = 0

  const send = async (s: Server, kind: string, onAnswer?: () => void): Promise<void> => {
    const externalId = `evt-${++n}`
    const body = kind.startsWith('one_button') ? { kind, unitCode: n % 2 ? 'JD01-SQ01' : 'JD01-WY01', externalId, description: `box ${n}` } : { kind, cameraSerial: `DEMO-JD01-SQ0${1 + (n % 9)}-0`, externalId }
    try {
      const r = await fetch(`${s.base}/api/alarms`, { method: 'POST', headers: { 'x-alarm-token': token, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      if (r.status === 202) {
        onAnswer?.() // kill in the same tick the answer arrived
        const j = (await r.json()) as { alarmId: number; caseId: number; caseNumber: string }
        answered.push({ externalId, ...j })
      }
    } catch {
      /* the process is gone */
    }
  }

  for (let round = 0; round < 3; round++) {
    // a few answered before, then a concurrent burst; SIGKILL on the first answer of the burst
    for (let i = 0; i < 5; i++) await send(server, i % 2 ? 'one_button_help' : 'one_button_alarm')
    const kill = () => server.child.kill('SIGKILL')
    await Promise.all(Array.from({ length: 40 }, (_, i) => send(server, i % 3 === 0 ? 'tamper' : 'one_button_alarm', kill)))
    await server.exited
    t.equal(server.child.signalCode, 'SIGKILL', `round ${round}: killed`)
    server = await startServer(dataDir, port)
  }

  t.ok(answered.length >= 15, `${answered.length} answered alarms`)
  const token2 = await login(server.base)
  for (const a of answered) {
    const r = await fetch(`${server.base}/api/cases/${a.caseId}`, { headers: { authorization: `Bearer ${token2}` } })
    if (r.status !== 200) {
      t.fail(`case ${a.caseId} of ${a.externalId} lost (${r.status})`)
      continue
    }
    const c = (await r.json()) as { number: string; alarmIds: number[] }
    if (c.number !== a.caseNumber || !c.alarmIds.includes(a.alarmId)) t.fail(`alarm ${a.alarmId} / case ${a.caseNumber} of ${a.externalId} not found`)
  }
  const alarms = (await (await fetch(`${server.base}/api/alarms?limit=1000`, { headers: { authorization: `Bearer ${token2}` } })).json()) as { items: { id: number; externalId: string }[] }
  const stored = new Map(alarms.items.map((a) => [a.externalId, a.id]))
  t.ok(answered.every((a) => stored.get(a.externalId) === a.alarmId), 'every answered alarm is stored under its id')
  // the same externalIds again after the crash: idempotent, no new cases
  const again = await fetch(`${server.base}/api/alarms`, { method: 'POST', headers: { 'x-alarm-token': token, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'one_button_alarm', unitCode: 'JD01-SQ01', externalId: answered[0]!.externalId }) })
  t.equal(again.status, 200)
  server.child.kill('SIGKILL')
  await server.exited
})
