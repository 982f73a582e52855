import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildGateway } from '../src/app.js'
import { loadConfig } from '../src/core/config.js'
import { SYSTEM_SCOPE } from '../src/core/scope.js'
import { makeCamera, unit } from './support/fixtures.js'
import { DEMO_PASSWORD, injector, startTestGateway } from './support/gateway.js'

// One demo gateway for the harness check, the ops endpoints and, last, the restart.
const demo = await startTestGateway(t)

t.test('the test harness starts a demo gateway and signs in', async (t) => {
  const gw = demo
  const token = await gw.login('street.patrol')
  const res = await gw.as(token).get('/api/cameras?limit=5')
  t.equal(res.statusCode, 200)
  t.equal(res.json.items.length, 5)
  t.match(gw.demo, { units: 22, cameras: 41 })
  t.equal(gw.demo?.users.length, 16, 'a user of each role at each tier')

  t.test('ops endpoints answer without signing in', async (t) => {
    const anon = injector(gw, null)
    t.same((await anon.get('/healthz')).json, { status: 'ok', version: (await import('../src/app.js')).VERSION })
    t.same((await anon.get('/readyz')).json, { status: 'ready' })
    const metrics = await anon.get('/metrics')
    t.equal(metrics.statusCode, 200)
    t.match(metrics.body, /gateway_http_request_duration_seconds_bucket\{.*route="\/api\/cameras"/)
    const docs = await anon.get('/docs/json')
    t.equal(docs.statusCode, 200)
    for (const path of ['/api/auth/login', '/api/units', '/api/cameras', '/api/cameras/{id}', '/api/cameras/import', '/api/cameras/export', '/api/audit']) t.ok(docs.json.paths[path], `OpenAPI documents ${path}`)
    t.equal((await anon.get('/api/cameras')).statusCode, 401, 'the API itself needs a session')
  })
})

t.test('first run: a random admin password, printed once; the key files are private', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-first-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const config = loadConfig({ env: {}, overrides: { dataDir, demo: false, log: { level: 'silent' } } })
  const first = await buildGateway(config, { env: {} })
  t.equal(first.firstAdmin?.username, 'admin')
  const password = first.firstAdmin!.password!
  t.ok(password.length >= 20, 'a long random password')
  t.equal((await first.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password } })).statusCode, 200)
  t.equal(first.demo, null)
  await first.close()
  for (const key of ['credential', 'session']) t.equal(statSync(join(dataDir, 'keys', `${key}.key`)).mode & 0o777, 0o600, `${key}.key is 0600`)
  const second = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: 'would-be-ignored' } })
  t.equal(second.firstAdmin, null, 'not on the second start')
  t.equal((await second.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password } })).statusCode, 200, 'the first password still holds')
  await second.close()
})

t.test('a restart keeps everything', async (t) => {
  const gw = demo
  const admin = gw.as(await gw.login('admin'))
  const site = await admin.post('/api/units', { tier: 'site', parentId: unit(gw, 'JD01-SQ01').id, code: 'JD01-WY50', name: '重启小区', address: '湖滨路50号' })
  t.equal(site.statusCode, 201)
  const user = await admin.post('/api/users', { username: 'restart.user', displayName: '重启 测试', unitId: site.json.id, roles: ['technician', 'patrol'], password: 'restart-pass-1' })
  t.equal(user.statusCode, 201)
  const userToken = await gw.login('restart.user', 'restart-pass-1')
  const revoked = await gw.login('restart.user', 'restart-pass-1')
  t.equal((await gw.as(revoked).post('/api/auth/logout')).statusCode, 204)
  const cam = await gw.as(userToken).post('/api/cameras', {
    unitId: site.json.id,
    name: '重启小区 大门',
    class: 3,
    kind: 'dome',
    sharedUpward: true,
    tags: ['重启'],
    streams: { main: { uri: 'rtsp://keeper:Restart-Pw-9@10.50.0.1:554/live', codec: 'h264', width: 1920, height: 1080, fps: 25 } },
  })
  t.equal(cam.statusCode, 201)
  makeCamera(gw, 'JD01-SQ05', { credentials: { username: 'svc', password: 'Second-Pw-8' } })

  const snapshot = () => ({
    units: gw2.services.org.list(SYSTEM_SCOPE),
    users: gw2.services.auth.list(SYSTEM_SCOPE),
    cameras: gw2.services.registry.list({ userId: 0, username: 's', displayName: 's', unitId: null, unitPath: '/', unitTier: null, roles: ['admin'] }, {}, undefined, 500).items,
  })
  let gw2 = gw
  const before = snapshot()
  const auditBefore = gw.services.audit.verify()
  t.equal(auditBefore.ok, true)

  gw2 = await gw.restart()
  t.equal(gw2.firstAdmin, null, 'no second first run')
  t.equal(gw2.demo, null, 'demo data is not seeded twice')
  const after = snapshot()
  t.same(after.units, before.units, 'units, with their paths')
  t.same(after.users, before.users, 'users, roles, lock state and last logins')
  t.same(after.cameras, before.cameras, 'cameras, every field')
  t.equal(after.cameras.length, 43)

  t.same(gw2.services.registry.getForUse(SYSTEM_SCOPE, cam.json.id).credentials, { username: 'keeper', password: 'Restart-Pw-9' }, 'credentials still decrypt')
  const withCreds = after.cameras.filter((c) => c.hasCredentials)
  t.equal(withCreds.length, 2)
  for (const c of withCreds) t.ok(gw2.services.registry.getForUse(SYSTEM_SCOPE, c.id).credentials?.password, `camera ${c.id} opens`)

  const me = await gw2.as(userToken).get('/api/auth/me')
  t.equal(me.statusCode, 200, 'a session from before the restart is still valid')
  t.equal(me.json.user.username, 'restart.user')
  t.equal((await gw2.as(revoked).get('/api/auth/me')).statusCode, 401, 'a revoked one stays revoked')
  t.equal((await gw2.as(userToken).get(`/api/cameras/${cam.json.id}`)).json.name, '重启小区 大门')
  t.ok(await gw2.login('restart.user', 'restart-pass-1'), 'the password still works')
  t.equal((await gw2.as(await gw2.login('street.patrol', DEMO_PASSWORD)).get(`/api/cameras/${cam.json.id}`)).statusCode, 200, 'scoping still holds the shared camera up')

  const verdict = await gw2.as(await gw2.login('admin')).get('/api/audit/verify')
  t.equal(verdict.json.ok, true, 'the audit chain still verifies')
  t.ok(verdict.json.rows > (auditBefore as { rows: number }).rows, 'and grew after the restart')
})

t.test('the keys live outside the database: another key opens nothing', async (t) => {
  const gw = await startTestGateway(t, { demo: false })
  const street = gw.services.org.create({ userId: 0, username: 'system:t', displayName: 't', unitId: null, unitPath: '/', unitTier: null, roles: ['admin'] }, { parentId: null, tier: 'street', code: 'KY01', name: '钥匙街道' })
  const cam = makeCamera(gw, street.code, { credentials: { username: 'u', password: 'Key-Bound-Pw' } })
  const token = await gw.login('admin')
  await gw.close()
  const other = await startTestGateway(t, { demo: false, dataDir: gw.dataDir, env: { GW_CREDENTIAL_KEY: randomBytes(32).toString('hex'), GW_SESSION_KEY: randomBytes(32).toString('base64') } })
  t.throws(() => other.services.registry.getForUse(SYSTEM_SCOPE, cam.id).credentials, { message: /do not open with this credential key/ }, 'credentials sealed under the key file do not open with another key, and the error says why')
  t.equal(other.services.registry.getForUse(SYSTEM_SCOPE, cam.id).camera.id, cam.id, 'a caller that wants only the camera is not affected')
  t.equal([...other.services.registry.iterateEnabledForSystem()].length, 1, 'nor are system sweeps that do not read credentials')
  t.equal((await other.as(token).get('/api/auth/me')).statusCode, 401, 'sessions signed with another key are refused')
  const api = other.as(await other.login('admin'))
  t.equal((await api.get(`/api/cameras/${cam.id}`)).json.hasCredentials, true, 'the rest of the data is fine')
  // the way out: enter the credentials again
  const again = await api.patch(`/api/cameras/${cam.id}`, { credentials: { username: 'u', password: 'Key-Bound-Pw' } })
  t.equal(again.statusCode, 200)
  t.same(other.services.registry.getForUse(SYSTEM_SCOPE, cam.id).credentials, { username: 'u', password: 'Key-Bound-Pw' })
})
