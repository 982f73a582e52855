import t from 'tap'
import { injector } from '../../support/gateway.js'
import { openRawDb, unit } from '../../support/fixtures.js'
import { ADMIN_PASSWORD, DEMO_PASSWORD, startTestGateway, type TestGateway } from '../../support/gateway.js'

const MAX_FAILURES = 3
const LOCKOUT_MINUTES = 5
let gw = await startTestGateway(t, { overrides: { auth: { loginMaxFailures: MAX_FAILURES, lockoutMinutes: LOCKOUT_MINUTES, loginAttemptsPerMinutePerAddress: 1000 } } })
let admin = gw.as(await gw.login('admin'))
const fields = (res: { json: any }) => ((res.json?.errors ?? []) as { field: string }[]).map((e) => e.field)

async function login(g: TestGateway, username: string, password: string, remoteAddress = '127.0.0.1') {
  const res = await g.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password }, remoteAddress })
  return { statusCode: res.statusCode, json: res.json() as any, headers: res.headers }
}

/** A fresh user (so lockouts and password changes do not disturb the demo users). */
async function newUser(username: string, unitCode = 'JD01-SQ01', roles = ['patrol']): Promise<number> {
  const res = await admin.post('/api/users', { username, unitId: unit(gw, unitCode).id, roles, password: DEMO_PASSWORD })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json.id
}

const SECRET_SHAPES = /password_?hash|scrypt\$|"password"/i

t.test('login: a token, an HttpOnly cookie, and the user without any secret', async (t) => {
  const res = await login(gw, 'community.patrol', DEMO_PASSWORD)
  t.equal(res.statusCode, 200)
  t.match(res.json.token, /^[\w-]+\.[\w-]+$/)
  const ttl = Date.parse(res.json.expiresAt) - Date.now()
  t.ok(ttl > 479 * 60_000 && ttl <= 480 * 60_000, 'expires after auth.sessionTtlMinutes')
  t.match(res.json.user, { username: 'community.patrol', roles: ['patrol'], unitId: unit(gw, 'JD01-SQ01').id, disabled: false, locked: false })
  t.notMatch(JSON.stringify(res.json), SECRET_SHAPES)
  t.match(String(res.headers['set-cookie']), /^gw_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800/)
  const me = await gw.as(res.json.token).get('/api/auth/me')
  t.equal(me.statusCode, 200)
  t.match(me.json, { user: { username: 'community.patrol' }, unit: { code: 'JD01-SQ01', tier: 'community' } })
})

t.test('wrong password and unknown user: the same 401, the same words', async (t) => {
  const wrong = await login(gw, 'street.patrol', 'not-the-password')
  const unknown = await login(gw, 'nobody.at.all', 'not-the-password')
  t.equal(wrong.statusCode, 401)
  t.equal(unknown.statusCode, 401)
  t.equal(wrong.json.detail, 'wrong user name or password')
  t.equal(unknown.json.detail, wrong.json.detail)
  const strip = (j: any) => ({ ...j, requestId: undefined })
  t.same(strip(unknown.json), strip(wrong.json), 'nothing tells the two apart')
  t.notOk(wrong.headers['set-cookie'], 'no cookie on failure')
  // user names are case-insensitive, passwords are not
  t.equal((await login(gw, 'STREET.PATROL', DEMO_PASSWORD)).statusCode, 200)
  t.equal((await login(gw, 'street.patrol', DEMO_PASSWORD.toUpperCase())).statusCode, 401)
  t.equal((await login(gw, 'street.patrol', '')).statusCode, 400, 'an empty password is a validation error')
})

t.test('lockout after auth.loginMaxFailures: 429 with Retry-After, even for the right password', async (t) => {
  const userId = await newUser('lock.me')
  for (let i = 1; i <= MAX_FAILURES; i++) t.equal((await login(gw, 'lock.me', `wrong-${i}`)).statusCode, 401, `failure ${i} is a 401`)
  const locked = await login(gw, 'lock.me', DEMO_PASSWORD)
  t.equal(locked.statusCode, 429)
  const retry = Number(locked.headers['retry-after'])
  t.ok(retry > LOCKOUT_MINUTES * 60 - 90 && retry <= LOCKOUT_MINUTES * 60, `Retry-After ${retry} s ≈ the lockout`)
  t.match(locked.json.detail, /locked/)
  t.equal((await admin.get(`/api/users/${userId}`)).json.locked, true, 'the user shows as locked')
  const audit = await admin.get(`/api/audit?action=auth.lockout&targetId=${userId}`)
  t.equal(audit.json.items.length, 1, 'the lockout is audited')
  t.equal((await login(gw, 'street.patrol', DEMO_PASSWORD)).statusCode, 200, 'other accounts are not affected')
})

t.test('a successful login resets the failure count', async (t) => {
  await newUser('reset.me')
  for (let i = 1; i < MAX_FAILURES; i++) await login(gw, 'reset.me', 'wrong')
  t.equal((await login(gw, 'reset.me', DEMO_PASSWORD)).statusCode, 200)
  for (let i = 1; i < MAX_FAILURES; i++) t.equal((await login(gw, 'reset.me', 'wrong')).statusCode, 401)
  t.equal((await login(gw, 'reset.me', DEMO_PASSWORD)).statusCode, 200, 'not locked: the count started again')
})

t.test('the lockout ends when its time is up', async (t) => {
  await newUser('wait.me')
  for (let i = 1; i <= MAX_FAILURES; i++) await login(gw, 'wait.me', 'wrong')
  t.equal((await login(gw, 'wait.me', DEMO_PASSWORD)).statusCode, 429)
  const raw = openRawDb(gw.dataDir)
  raw.prepare("UPDATE users SET locked_until = ? WHERE username = 'wait.me'").run(new Date(Date.now() - 1000).toISOString())
  raw.close()
  t.equal((await login(gw, 'wait.me', DEMO_PASSWORD)).statusCode, 200)
})

t.test('after a lockout runs out the user has the full allowance again, not one try', async (t) => {
  await newUser('again.me')
  for (let i = 1; i <= MAX_FAILURES; i++) await login(gw, 'again.me', 'wrong')
  t.equal((await login(gw, 'again.me', DEMO_PASSWORD)).statusCode, 429)
  const raw = openRawDb(gw.dataDir)
  raw.prepare("UPDATE users SET locked_until = ? WHERE username = 'again.me'").run(new Date(Date.now() - 1000).toISOString())
  raw.close()
  for (let i = 1; i < MAX_FAILURES; i++) t.equal((await login(gw, 'again.me', 'wrong')).statusCode, 401, `failure ${i} after the lockout is a 401`)
  t.equal((await login(gw, 'again.me', DEMO_PASSWORD)).statusCode, 200, 'still not locked: the count started again')
  for (let i = 1; i <= MAX_FAILURES; i++) await login(gw, 'again.me', 'wrong')
  t.equal((await login(gw, 'again.me', DEMO_PASSWORD)).statusCode, 429, 'a full run of failures locks again')
})

t.test('a lockout does not tell which user names exist: unknown names lock the same way', async (t) => {
  await newUser('real.name')
  const real: number[] = []
  const unknown: number[] = []
  for (let i = 0; i <= MAX_FAILURES; i++) {
    real.push((await login(gw, 'real.name', 'wrong')).statusCode)
    unknown.push((await login(gw, 'no.such.name', 'wrong')).statusCode)
  }
  t.same(unknown, real, 'the same status sequence for a real and an unknown name')
  t.equal(real.at(-1), 429)
  const lockedReal = await login(gw, 'real.name', DEMO_PASSWORD)
  const lockedUnknown = await login(gw, 'NO.SUCH.NAME', DEMO_PASSWORD)
  t.equal(lockedUnknown.statusCode, 429, 'also under another letter case, as user names are case-insensitive')
  t.equal(lockedUnknown.json.detail, lockedReal.json.detail, 'the same message')
  t.ok(Math.abs(Number(lockedUnknown.headers['retry-after']) - Number(lockedReal.headers['retry-after'])) <= 2, 'the same Retry-After')
  t.equal((await login(gw, 'another.unknown', 'wrong')).statusCode, 401, 'other unknown names are not affected')
})

t.test('a disabled user cannot sign in, and their sessions end', async (t) => {
  const id = await newUser('soon.disabled')
  const token = (await login(gw, 'soon.disabled', DEMO_PASSWORD)).json.token
  t.equal((await gw.as(token).get('/api/auth/me')).statusCode, 200)
  const res = await admin.patch(`/api/users/${id}`, { disabled: true })
  t.equal(res.statusCode, 200)
  t.equal(res.json.disabled, true)
  t.equal((await gw.as(token).get('/api/auth/me')).statusCode, 401, 'the open session ended')
  const denied = await login(gw, 'soon.disabled', DEMO_PASSWORD)
  t.equal(denied.statusCode, 401)
  t.equal(denied.json.detail, 'wrong user name or password', 'no hint that the account exists')
  t.equal((await admin.patch(`/api/users/${id}`, { disabled: false })).statusCode, 200)
  t.equal((await login(gw, 'soon.disabled', DEMO_PASSWORD)).statusCode, 200, 'enabled again')
})

t.test('logout revokes the token (and only that one)', async (t) => {
  const a = gw.as(await gw.login('station.patrol'))
  const b = gw.as(await gw.login('station.patrol'))
  const out = await a.post('/api/auth/logout')
  t.equal(out.statusCode, 204)
  t.match(String(out.headers['set-cookie']), /gw_session=; .*Max-Age=0/)
  t.equal((await a.get('/api/auth/me')).statusCode, 401)
  t.equal((await a.get('/api/cameras')).statusCode, 401)
  t.equal((await a.post('/api/auth/logout')).statusCode, 401, 'a revoked token cannot log out again')
  t.equal((await b.get('/api/auth/me')).statusCode, 200, 'the other session lives on')
})

t.test('tampered, forged, malformed and missing tokens are 401', async (t) => {
  const token = await gw.login('station.researcher')
  const [id, sig] = token.split('.') as [string, string]
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1)
  const cases: [string, string | null][] = [
    ['signature changed', `${id}.${flip(sig)}`],
    ['session id changed', `${flip(id)}.${sig}`],
    ['signature dropped', id],
    ['signature truncated', `${id}.${sig.slice(0, 10)}`],
    ['garbage', 'not-a-token'],
    ['empty signature', `${id}.`],
    ['SQL in the token', `' OR 1=1 --.${sig}`],
    ['no token', null],
  ]
  for (const [what, bad] of cases) {
    const res = await injector(gw, bad).get('/api/auth/me')
    t.equal(res.statusCode, 401, what)
    t.equal(res.json.code, 'unauthenticated')
  }
  const basic = await gw.app.inject({ url: '/api/auth/me', headers: { authorization: `Basic ${Buffer.from('admin:' + ADMIN_PASSWORD).toString('base64')}` } })
  t.equal(basic.statusCode, 401, 'Basic auth is not a session')
  t.equal((await gw.as(token).get('/api/auth/me')).statusCode, 200, 'the genuine token still works')
})

t.test('an expired session is 401', async (t) => {
  const token = await gw.login('site.patrol')
  const raw = openRawDb(gw.dataDir)
  raw.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), token.split('.')[0])
  raw.close()
  t.equal((await gw.as(token).get('/api/auth/me')).statusCode, 401)
})

t.test('the session cookie works like the bearer token', async (t) => {
  const res = await login(gw, 'community.technician', DEMO_PASSWORD)
  const cookie = String(res.headers['set-cookie']).split(';')[0]!
  t.equal(cookie, `gw_session=${encodeURIComponent(res.json.token)}`)
  const withCookie = (url: string, method: 'GET' | 'POST' = 'GET', c = cookie) => gw.app.inject({ method, url, headers: { cookie: `theme=dark; ${c}; other=1` } })
  const me = await withCookie('/api/auth/me')
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.username, 'community.technician')
  t.equal((await withCookie('/api/cameras')).statusCode, 200)
  t.equal((await withCookie('/api/auth/me', 'GET', cookie.slice(0, -3) + 'xyz')).statusCode, 401, 'a tampered cookie is 401')
  t.equal((await withCookie('/api/auth/logout', 'POST')).statusCode, 204)
  t.equal((await withCookie('/api/auth/me')).statusCode, 401, 'logout through the cookie revokes it')
  t.equal((await gw.as(res.json.token).get('/api/auth/me')).statusCode, 401, 'it was the same session')
})

t.test('users: an admin manages users only inside their subtree', async (t) => {
  const communityAdmin = gw.as(await gw.login('community.admin'))
  const outside = await communityAdmin.post('/api/users', { username: 'sq02.patrol', unitId: unit(gw, 'JD01-SQ02').id, roles: ['patrol'], password: DEMO_PASSWORD })
  t.equal(outside.statusCode, 404, 'a unit outside the subtree is not found')
  t.equal((await communityAdmin.post('/api/users', { username: 'top.admin', unitId: null, roles: ['admin'], password: DEMO_PASSWORD })).statusCode, 403, 'only gateway administrators create users above every street')
  t.equal((await admin.get('/api/users?role=patrol')).json.items.filter((u: any) => u.username === 'sq02.patrol').length, 0, 'nothing was created')

  const inside = await communityAdmin.post('/api/users', { username: 'wy01.guard', displayName: '湖滨花园保安', unitId: unit(gw, 'JD01-WY01').id, roles: ['patrol', 'technician'], password: DEMO_PASSWORD })
  t.equal(inside.statusCode, 201)
  t.match(inside.json, { username: 'wy01.guard', displayName: '湖滨花园保安', roles: ['patrol', 'technician'] })
  t.notMatch(JSON.stringify(inside.json), SECRET_SHAPES)
  t.equal((await communityAdmin.patch(`/api/users/${inside.json.id}`, { unitId: unit(gw, 'JD01-SQ02').id })).statusCode, 404, 'cannot move a user out of the subtree')
  t.equal((await communityAdmin.patch(`/api/users/${inside.json.id}`, { unitId: unit(gw, 'JD01-SQ01').id })).statusCode, 200, 'can move within it')

  const taken = await communityAdmin.post('/api/users', { username: 'WY01.GUARD', unitId: unit(gw, 'JD01-SQ01').id, roles: ['patrol'], password: DEMO_PASSWORD })
  t.equal(taken.statusCode, 409)
  t.same(fields(taken), ['body.username'])
  const weak = await communityAdmin.post('/api/users', { username: 'weak.one', unitId: unit(gw, 'JD01-SQ01').id, roles: ['patrol'], password: 'short' })
  t.equal(weak.statusCode, 400)
  t.same(fields(weak), ['body.password'])
  t.same(fields(await communityAdmin.post('/api/users', { username: 'x.y', unitId: unit(gw, 'JD01-SQ01').id, roles: ['chief'], password: DEMO_PASSWORD })), ['body.roles.0'])
  t.same(fields(await communityAdmin.post('/api/users', { username: 'x.y', unitId: unit(gw, 'JD01-SQ01').id, roles: [], password: DEMO_PASSWORD })), ['body.roles'])
  t.same(fields(await communityAdmin.post('/api/users', { username: 'x.y', unitId: unit(gw, 'JD01-SQ01').id, roles: ['patrol'], password: DEMO_PASSWORD, passwordHash: 'scrypt$...' })), ['body.passwordHash'])

  const list = await communityAdmin.get('/api/users')
  t.equal(list.statusCode, 200)
  t.notMatch(JSON.stringify(list.json), SECRET_SHAPES)
  const subtree = new Set([unit(gw, 'JD01-SQ01').id, unit(gw, 'JD01-WY01').id])
  t.ok(list.json.items.every((u: any) => subtree.has(u.unitId)), 'only users of SQ01 and its site')
  t.ok(list.json.items.some((u: any) => u.username === 'site.admin'), 'including the site’s users')
})

t.test('roles combine: patrol + technician may change cameras but not users', async (t) => {
  const both = gw.as(await gw.login('wy01.guard'))
  const cam = (await both.get('/api/cameras?limit=1')).json.items[0]
  t.equal((await both.patch(`/api/cameras/${cam.id}`, { tags: ['巡检'] })).statusCode, 200)
  t.equal((await both.get('/api/users')).statusCode, 403)
})

t.test('admins cannot lock themselves out', async (t) => {
  const streetAdmin = gw.as(await gw.login('street.admin'))
  const me = (await streetAdmin.get('/api/auth/me')).json.user
  t.equal((await streetAdmin.patch(`/api/users/${me.id}`, { disabled: true })).statusCode, 409)
  t.equal((await streetAdmin.patch(`/api/users/${me.id}`, { roles: ['patrol'] })).statusCode, 409)
  t.equal((await streetAdmin.patch(`/api/users/${me.id}`, { unitId: unit(gw, 'JD01-PCS1').id })).statusCode, 409)
  t.equal((await streetAdmin.delete(`/api/users/${me.id}`)).statusCode, 409)
  t.equal((await streetAdmin.get('/api/auth/me')).statusCode, 200, 'still signed in')
})

t.test('nobody changes their own roles: a unit admin cannot grant itself more', async (t) => {
  for (const name of ['community.admin', 'admin']) {
    const api = gw.as(await gw.login(name))
    const me = (await api.get('/api/auth/me')).json.user
    for (const roles of [[...me.roles, 'technician', 'researcher'], ['admin', 'patrol']]) {
      const res = await api.patch(`/api/users/${me.id}`, { roles })
      t.equal(res.statusCode, 409, `${name}: ${roles.join('+')}`)
      t.equal(res.json.code, 'own_roles', 'a stable code')
      t.same(res.json.errors.map((e: any) => e.field), ['body.roles'])
    }
    t.same((await api.get('/api/auth/me')).json.user.roles, me.roles, 'roles unchanged')
    t.equal((await api.patch(`/api/users/${me.id}`, { roles: me.roles, displayName: `${name} 本人` })).statusCode, 200, 'restating the same roles is no change')
  }
  const other = (await gw.as(await gw.login('admin')).get('/api/users')).json.items.find((u: any) => u.username === 'community.patrol')
  const res = await gw.as(await gw.login('community.admin')).patch(`/api/users/${other.id}`, { roles: ['patrol', 'researcher'] })
  t.equal(res.statusCode, 200, 'an admin still changes other users’ roles')
  t.same(res.json.roles, ['patrol', 'researcher'])
})

t.test('changing roles or the password of a user ends their sessions', async (t) => {
  const id = await newUser('role.change', 'JD01-SQ01', ['technician'])
  const token = await gw.login('role.change')
  t.equal((await admin.patch(`/api/users/${id}`, { displayName: '改名' })).statusCode, 200)
  t.equal((await gw.as(token).get('/api/auth/me')).statusCode, 200, 'a display name change does not')
  t.equal((await admin.patch(`/api/users/${id}`, { roles: ['patrol'] })).statusCode, 200)
  t.equal((await gw.as(token).get('/api/auth/me')).statusCode, 401, 'a role change does')
  const token2 = await gw.login('role.change')
  t.equal((await admin.patch(`/api/users/${id}`, { password: 'new-password-1' })).statusCode, 200)
  t.equal((await gw.as(token2).get('/api/auth/me')).statusCode, 401, 'a password reset does')
  t.equal((await login(gw, 'role.change', DEMO_PASSWORD)).statusCode, 401)
  t.equal((await login(gw, 'role.change', 'new-password-1')).statusCode, 200)
})

t.test('a wrong current password counts toward the lockout: a stolen session cannot guess the password', async (t) => {
  const id = await newUser('guess.me')
  const session = gw.as(await gw.login('guess.me'))
  for (let i = 1; i < MAX_FAILURES; i++) t.equal((await session.post('/api/auth/password', { currentPassword: `guess-${i}`, newPassword: 'brand-new-pass' })).statusCode, 400)
  const last = await session.post('/api/auth/password', { currentPassword: 'guess-last', newPassword: 'brand-new-pass' })
  t.equal(last.statusCode, 400, 'the failure that locks is still answered as a wrong password')
  const locked = await session.post('/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: 'brand-new-pass' })
  t.equal(locked.statusCode, 429, 'locked: even the right current password is refused')
  t.ok(Number(locked.headers['retry-after']) > 0)
  t.equal((await login(gw, 'guess.me', DEMO_PASSWORD)).statusCode, 429, 'and so is a login')
  t.equal((await session.get('/api/auth/me')).statusCode, 200, 'the open session goes on')
  const failed = await admin.get(`/api/audit?action=user.password_change_failed&targetId=${id}`)
  t.equal(failed.json.items.length, MAX_FAILURES - 1, 'each wrong guess before the lockout is audited')
  t.equal((await admin.get(`/api/audit?action=auth.lockout&targetId=${id}`)).json.items.length, 1, 'the lockout is audited')
})

t.test('changing your own password ends every session of yours', async (t) => {
  await newUser('own.change')
  const a = gw.as(await gw.login('own.change'))
  const b = gw.as(await gw.login('own.change'))
  const wrong = await a.post('/api/auth/password', { currentPassword: 'not-it', newPassword: 'brand-new-pass' })
  t.equal(wrong.statusCode, 400)
  t.same(fields(wrong), ['body.currentPassword'])
  const weak = await a.post('/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: 'short' })
  t.same(fields(weak), ['body.newPassword'])
  t.equal((await a.get('/api/auth/me')).statusCode, 200, 'refusals end nothing')
  t.equal((await a.post('/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: 'brand-new-pass' })).statusCode, 204)
  t.equal((await a.get('/api/auth/me')).statusCode, 401)
  t.equal((await b.get('/api/auth/me')).statusCode, 401)
  t.equal((await login(gw, 'own.change', DEMO_PASSWORD)).statusCode, 401)
  t.equal((await login(gw, 'own.change', 'brand-new-pass')).statusCode, 200)
  const audit = await admin.get('/api/audit?action=user.password_change&limit=5')
  t.equal(audit.json.items[0].actor, 'own.change')
  t.notMatch(JSON.stringify(audit.json), /brand-new-pass/)
})

t.test('a lockout survives a restart; the in-memory address limit does not need to', async (t) => {
  const id = await newUser('locked.forever')
  for (let i = 1; i <= MAX_FAILURES; i++) await login(gw, 'locked.forever', 'wrong')
  t.equal((await login(gw, 'locked.forever', DEMO_PASSWORD)).statusCode, 429)
  gw = await gw.restart()
  admin = gw.as(await gw.login('admin'))
  const after = await login(gw, 'locked.forever', DEMO_PASSWORD)
  t.equal(after.statusCode, 429, 'still locked after the restart')
  t.ok(Number(after.headers['retry-after']) > 0)
  // an administrator's password reset unlocks
  t.equal((await admin.patch(`/api/users/${id}`, { password: 'reset-by-admin' })).statusCode, 200)
  t.equal((await login(gw, 'locked.forever', 'reset-by-admin')).statusCode, 200)
})

t.test('per-address rate limit: auth.loginAttemptsPerMinutePerAddress, whatever the user name', async (t) => {
  const small = await startTestGateway(t, { demo: false, overrides: { auth: { loginAttemptsPerMinutePerAddress: 4, loginMaxFailures: 100 } } })
  const names = ['a', 'b', 'admin', 'c']
  for (const name of names) t.equal((await login(small, name, 'wrong-password', '10.1.1.1')).statusCode, 401, `attempt as ${name}`)
  const limited = await login(small, 'admin', ADMIN_PASSWORD, '10.1.1.1')
  t.equal(limited.statusCode, 429, 'the fifth attempt in a minute is refused, even with the right password')
  const retry = Number(limited.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry} s is within the window`)
  t.equal((await login(small, 'admin', ADMIN_PASSWORD, '10.1.1.2')).statusCode, 200, 'another address is not affected')
  const audit = await small.as(await small.login('admin')).get('/api/audit?action=auth.login_failed&limit=10')
  t.equal(audit.json.items.length, 4, 'rate-limited attempts never reached the password check')
})
