import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildGateway } from '../../../src/app.js'
import { loadConfig } from '../../../src/core/config.js'
import { passwordProblem } from '../../../src/features/auth/passwords.js'
import { unit } from '../../support/fixtures.js'
import { ADMIN_PASSWORD, DEMO_PASSWORD, injector, startTestGateway } from '../../support/gateway.js'

const fields = (res: { json: any }) => ((res.json?.errors ?? []) as { field: string }[]).map((e) => e.field)

t.test('the rules: common passwords (also with digits after them), repeats and the user name are refused', async (t) => {
  for (const weak of ['12345678', 'password', 'PASSWORD', 'Password2026!', 'qwerty123', 'iloveyou', '1qaz2wsx', 'woaini1314', 'aaaaaaaa', 'p@ssw0rd', 'admin12345']) {
    t.ok(passwordProblem(weak, 'someone'), `${weak} is refused`)
  }
  t.match(passwordProblem('zhang.wei', 'zhang.wei'), /user name/)
  t.match(passwordProblem('My-Zhang.Wei-2026', 'zhang.wei'), /user name/, 'containing it, in any case')
  t.equal(passwordProblem('correct horse battery staple', 'zhang.wei'), null)
  for (const fine of [DEMO_PASSWORD, ADMIN_PASSWORD, 'brand-new-pass', 'long-enough-1', 'reset-by-admin', 'bench-password-1']) t.equal(passwordProblem(fine, 'street.patrol'), null, `${fine} passes`)
  t.equal(passwordProblem(ADMIN_PASSWORD, 'admin'), null, 'the tests’ admin password passes for admin')
})

t.test('user creation, admin reset and own change answer 400 weak_password naming the field', async (t) => {
  const gw = await startTestGateway(t)
  const admin = gw.as(await gw.login('street.admin'))
  const unitId = unit(gw, 'JD01-SQ01').id
  for (const password of ['12345678', 'password', 'pw.tester-2026']) {
    const res = await admin.post('/api/users', { username: 'pw.tester', unitId, roles: ['patrol'], password })
    t.equal(res.statusCode, 400, password)
    t.match(res.json, { code: 'weak_password' })
    t.same(fields(res), ['body.password'])
  }
  const created = await admin.post('/api/users', { username: 'pw.tester', unitId, roles: ['patrol'], password: DEMO_PASSWORD })
  t.equal(created.statusCode, 201, 'the demo password still passes')

  const reset = await admin.patch(`/api/users/${created.json.id}`, { password: 'Password1' })
  t.equal(reset.statusCode, 400)
  t.match(reset.json, { code: 'weak_password' })
  t.same(fields(reset), ['body.password'])

  const own = gw.as(await gw.login('pw.tester'))
  const change = await own.post('/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: 'PW.Tester!99' })
  t.equal(change.statusCode, 400)
  t.match(change.json, { code: 'weak_password', detail: /user name/ })
  t.same(fields(change), ['body.newPassword'])
  t.equal((await own.post('/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: 'brand-new-pass' })).statusCode, 204)
})

t.test('GW_ADMIN_PASSWORD at first run: a weak one stops the start with an error naming it', async (t) => {
  for (const password of ['password', '12345678', 'the-admin-pass']) {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-weak-admin-'))
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
    const config = loadConfig({ env: {}, overrides: { dataDir, demo: false, log: { level: 'silent' } } })
    await t.rejects(buildGateway(config, { env: { GW_ADMIN_PASSWORD: password } }), { name: 'ConfigError', key: 'GW_ADMIN_PASSWORD', message: /^config GW_ADMIN_PASSWORD: the first administrator's password (is a commonly used|must not be or contain the user name)/ }, password)
  }
})

t.test('first run of the real server: the generated admin password goes to a 0600 file, not the console, and the file goes with the first change; data files are private', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-first-file-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const file = join(dataDir, 'initial-admin-password')
  // The real server, as a service manager runs it: what reaches stdout is what its logs keep.
  const env: NodeJS.ProcessEnv = { ...process.env, GW_DATA_DIR: dataDir, GW_HTTP_PORT: '0', GW_HTTP_HOST: '127.0.0.1', GW_DEMO: '0', GW_HEALTH_ENABLED: '0', GW_LOG_LEVEL: 'warn' }
  delete env.GW_ADMIN_PASSWORD
  const child = spawn('npx', ['tsx', 'src/server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGTERM')
    } catch {
      /* already gone */
    }
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => out.includes('First run') && /readable by this account only[^\n]*\n[^\n]*\n/.test(out) && resolve())
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)))
  })
  t.ok(existsSync(file), 'the password file exists')
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by the gateway account only')
  const password = readFileSync(file, 'utf8').trim()
  t.ok(password.length >= 20)
  t.match(out, `its password is in ${file}`, 'the console says where it is')
  t.notMatch(out, password, 'but never the password')
  // The server runs with umask 077: what it and its children create is for its account only.
  const modeOf = (f: string) => statSync(join(dataDir, f)).mode & 0o777
  t.equal(modeOf('.'), 0o700, 'the data folder')
  for (const f of ['gateway.db', 'gateway.db-wal', 'keys/audit.key', 'recordings']) t.equal(modeOf(f) & 0o077, 0, `${f} has no group or other permission`)
  process.kill(-child.pid!, 'SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))

  // Back in-process on the same data dir: the first change of that password removes the file.
  const config = loadConfig({ env: {}, overrides: { dataDir, demo: false, log: { level: 'silent' } } })
  const gw = await buildGateway(config, { env: {} })
  t.teardown(() => gw.close())
  t.equal(gw.firstAdmin, null, 'not the first run any more')
  const login = await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password } })
  t.equal(login.statusCode, 200, 'the password in the file signs in')
  const api = injector(gw, login.json().token)
  t.ok(existsSync(file), 'still there until the password is changed')
  t.equal((await api.post('/api/auth/password', { currentPassword: password, newPassword: 'brand-new-pass' })).statusCode, 204)
  t.notOk(existsSync(file), 'removed on the first change')
})
