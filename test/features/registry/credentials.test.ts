/**
 * Camera credentials are write-only: never in a response (get, list, export, audit, errors), never
 * in a log line, never in plaintext in the SQLite files. A gateway with the production logger
 * settings writes every log line (level trace) into an array here.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildGateway, loggerOptions } from '../../../src/app.js'
import { loadConfig } from '../../../src/core/config.js'
import { SYSTEM_SCOPE } from '../../../src/core/scope.js'
import { openRawDb, storeBytes, SYSTEM } from '../../support/fixtures.js'
import { ADMIN_PASSWORD, injector } from '../../support/gateway.js'

const URI_USER = 'rtspuser-31'
const URI_PASSWORD = 'Uri@Pass-8832' // a raw @, as technicians paste it
const USER = 'cam-operator-77'
const PASSWORD = 'Zq7-Secret-口令-9041'
const ROTATED = 'Rotated-Pw-5150'
const CSV_PASSWORD = 'Csv-Secret-6262'
const LOGIN_GUESS = 'Wrong-Login-Guess-4711'
const SECRETS = [URI_USER, URI_PASSWORD, 'Uri%40Pass', USER, PASSWORD, ROTATED, CSV_PASSWORD, LOGIN_GUESS, ADMIN_PASSWORD]

const dataDir = mkdtempSync(join(tmpdir(), 'gw-cred-'))
const config = loadConfig({ env: {}, overrides: { dataDir, demo: false, log: { level: 'trace' }, http: { port: 0 } } })
const logLines: string[] = []
const gw = await buildGateway(config, {
  env: { GW_ADMIN_PASSWORD: ADMIN_PASSWORD },
  logger: { ...(loggerOptions(config) as object), level: 'trace', stream: { write: (line: string) => void logLines.push(line) } },
})
t.teardown(async () => {
  await gw.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const { org, registry } = gw.services
const street = org.create(SYSTEM, { parentId: null, tier: 'street', code: 'CR01', name: '凭据街道' })
const station = org.create(SYSTEM, { parentId: street.id, tier: 'police_station', code: 'CR01-PCS1', name: '凭据派出所' })
const community = org.create(SYSTEM, { parentId: station.id, tier: 'community', code: 'CR01-SQ01', name: '凭据社区' })

const login = await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } })
const api = injector(gw, login.json().token)
/** Every response body this test saw, to search for secrets at the end. */
const bodies: string[] = [login.body]
const call = async (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, headers?: Record<string, string>) => {
  const res = await api.request(method, url, body, headers)
  bodies.push(res.body)
  return res
}
const noSecret = (t: Test, text: string, what: string) => {
  for (const s of SECRETS) t.notOk(text.includes(s), `${what}: no "${s}"`)
}
const withUserinfo = (scheme: string, rest: string) => `${scheme}://${URI_USER}:${URI_PASSWORD}@${rest}`

let fromUri: any
let explicit: any

t.test('a URI with user:pass@ is stored without it; the credentials are kept, sealed', async (t) => {
  const res = await call('POST', '/api/cameras', {
    unitId: community.id,
    name: '凭据 摄像机 一',
    class: 2,
    kind: 'fixed',
    onvifUrl: withUserinfo('http', '10.20.30.40/onvif/device_service'),
    device: { serial: 'CRED-SN-1' },
    streams: { main: { uri: withUserinfo('rtsp', '10.20.30.40:554/Streaming/Channels/101') }, sub: { uri: withUserinfo('rtsp', '10.20.30.40:554/Streaming/Channels/102') } },
    snapshotUri: withUserinfo('http', '10.20.30.40/ISAPI/Streaming/channels/101/picture'),
  })
  t.equal(res.statusCode, 201)
  fromUri = res.json
  t.equal(fromUri.streams.main.uri, 'rtsp://10.20.30.40:554/Streaming/Channels/101')
  t.equal(fromUri.streams.sub.uri, 'rtsp://10.20.30.40:554/Streaming/Channels/102')
  t.equal(fromUri.onvifUrl, 'http://10.20.30.40/onvif/device_service')
  t.equal(fromUri.snapshotUri, 'http://10.20.30.40/ISAPI/Streaming/channels/101/picture')
  t.equal(fromUri.hasCredentials, true)
  t.notOk('credentials' in fromUri, 'no credentials property at all')
  t.same(registry.getForUse(SYSTEM_SCOPE, fromUri.id).credentials, { username: URI_USER, password: URI_PASSWORD }, 'decrypted for internal use, @ included')
})

t.test('explicit credentials win over ones inside a URI', async (t) => {
  const res = await call('POST', '/api/cameras', {
    unitId: community.id,
    name: '凭据 摄像机 二',
    class: 2,
    kind: 'ptz',
    device: { serial: 'CRED-SN-2' },
    streams: { main: { uri: 'rtsp://someone:else@10.20.30.41/live' } },
    credentials: { username: USER, password: PASSWORD },
  })
  t.equal(res.statusCode, 201)
  explicit = res.json
  t.equal(explicit.streams.main.uri, 'rtsp://10.20.30.41/live')
  t.same(registry.getForUse(SYSTEM_SCOPE, explicit.id).credentials, { username: USER, password: PASSWORD })
})

t.test('changing credentials is audited without values; the same value again is no change', async (t) => {
  const before = explicit.credentialsUpdatedAt
  await new Promise((r) => setTimeout(r, 5))
  const res = await call('PATCH', `/api/cameras/${explicit.id}`, { credentials: { username: USER, password: ROTATED } })
  t.equal(res.statusCode, 200)
  t.equal(res.json.hasCredentials, true)
  t.ok(res.json.credentialsUpdatedAt > before, 'credentialsUpdatedAt moves')
  t.same(registry.getForUse(SYSTEM_SCOPE, explicit.id).credentials, { username: USER, password: ROTATED })
  const rows = await call('GET', `/api/audit?targetType=camera&targetId=${explicit.id}`)
  t.same(rows.json.items.map((r: any) => r.action), ['camera.credentials_change', 'camera.create'], 'a credentials change, and no plain update')
  t.same(rows.json.items[0].detail, {}, 'the change row carries no values')
  t.match(rows.json.items[1].detail, { hasCredentials: true })

  await call('PATCH', `/api/cameras/${explicit.id}`, { credentials: { username: USER, password: ROTATED } })
  t.equal((await call('GET', `/api/audit?action=camera.credentials_change&targetId=${explicit.id}`)).json.items.length, 1, 'no row for a non-change')

  const cleared = await call('PATCH', `/api/cameras/${fromUri.id}`, { credentials: null })
  t.equal(cleared.json.hasCredentials, false)
  t.equal(registry.getForUse(SYSTEM_SCOPE, fromUri.id).credentials, null)
  const restored = await call('PATCH', `/api/cameras/${fromUri.id}`, { streams: { main: { uri: withUserinfo('rtsp', '10.20.30.40:554/Streaming/Channels/101') } } })
  t.equal(restored.json.hasCredentials, true, 'a URI with userinfo sets them again')
  t.equal(restored.json.streams.main.uri, 'rtsp://10.20.30.40:554/Streaming/Channels/101')
})

t.test('error bodies never carry credentials', async (t) => {
  const cases: [string, unknown, number][] = [
    ['a bad field beside credentials', { unitId: community.id, name: 'x', class: 9, kind: 'fixed', credentials: { username: USER, password: PASSWORD } }, 400],
    ['a bad scheme with userinfo', { unitId: community.id, name: 'x', class: 2, kind: 'fixed', streams: { main: { uri: withUserinfo('ftp', '10.0.0.9/live') } } }, 400],
    ['a URI with userinfo and no host', { unitId: community.id, name: 'x', class: 2, kind: 'fixed', streams: { main: { uri: `rtsp://${URI_USER}:${URI_PASSWORD}@` } } }, 400],
    ['an over-long password', { unitId: community.id, name: 'x', class: 2, kind: 'fixed', credentials: { username: USER, password: PASSWORD.repeat(30) } }, 400],
    ['an unknown field in credentials', { unitId: community.id, name: 'x', class: 2, kind: 'fixed', credentials: { username: USER, password: PASSWORD, secret: PASSWORD } }, 400],
    ['a duplicate serial', { unitId: community.id, name: 'x', class: 2, kind: 'fixed', device: { serial: 'CRED-SN-1' }, credentials: { username: USER, password: PASSWORD } }, 409],
    ['a unit that does not exist', { unitId: 99999, name: 'x', class: 2, kind: 'fixed', credentials: { username: USER, password: PASSWORD } }, 404],
  ]
  for (const [what, body, status] of cases) {
    const res = await call('POST', '/api/cameras', body)
    t.equal(res.statusCode, status, what)
    noSecret(t, res.body, what)
  }
  const patch = await call('PATCH', `/api/cameras/${explicit.id}`, { credentials: { username: '', password: PASSWORD } })
  t.equal(patch.statusCode, 400)
  noSecret(t, patch.body, 'an empty user name')
  const badJson = await call('POST', '/api/cameras', `{"credentials": {"password": "${PASSWORD}"`, { 'content-type': 'application/json' })
  t.equal(badJson.statusCode, 400)
  noSecret(t, badJson.body, 'broken JSON')
})

t.test('CSV: credentials go in, never come out, and broken rows do not echo them', async (t) => {
  const csv = `name,unit_code,class,kind,serial,main_uri,username,password\r\n凭据 CSV,CR01-SQ01,2,fixed,CRED-SN-3,rtsp://10.20.30.43/live,${USER},${CSV_PASSWORD}\r\n`
  const res = await call('POST', '/api/cameras/import', Buffer.from(csv), { 'content-type': 'text/csv' })
  t.equal(res.statusCode, 200, res.body)
  const cam = registry.list({ ...SYSTEM }, { q: 'CRED-SN-3' }, undefined, 5).items[0]!
  t.same(registry.getForUse(SYSTEM_SCOPE, cam.id).credentials, { username: USER, password: CSV_PASSWORD })
  const broken = await call('POST', '/api/cameras/import', Buffer.from(`name,unit_code,class,kind,username,password\r\nx,CR01-SQ01,2,fixed,${USER},${CSV_PASSWORD}"x\r\n`), { 'content-type': 'text/csv' })
  t.equal(broken.statusCode, 422)
  const halfPassword = `name,unit_code,class,kind,username,password\r\nx,CR01-SQ01,2,fixed,,${CSV_PASSWORD}\r\n`
  const half = await call('POST', '/api/cameras/import', Buffer.from(halfPassword), { 'content-type': 'text/csv' })
  t.equal(half.statusCode, 422)
  t.same(half.json.errors.map((e: any) => `${e.line}:${e.field}`), ['2:username'])
  const exported = await call('GET', '/api/cameras/export')
  t.equal(exported.statusCode, 200)
  t.match(exported.body, 'CRED-SN-3')
})

t.test('no response ever carried a credential: get, list, export, audit, errors', async (t) => {
  for (const id of [fromUri.id, explicit.id]) {
    const one = await call('GET', `/api/cameras/${id}`)
    t.equal(one.json.hasCredentials, true)
  }
  await call('GET', '/api/cameras?limit=500')
  await call('GET', `/api/cameras?q=${encodeURIComponent('凭据')}`)
  await call('GET', '/api/audit?limit=500')
  await call('GET', '/api/cameras/export')
  t.ok(bodies.length > 20)
  noSecret(t, bodies.join('\n'), 'all responses')
})

t.test('credentials are encrypted at rest: nothing readable in the SQLite files', async (t) => {
  const raw = openRawDb(dataDir)
  const rows = raw.prepare('SELECT credentials, main_uri, sub_uri, onvif_url, snapshot_uri FROM cameras').all() as Record<string, string | null>[]
  raw.close()
  t.equal(rows.length, 3)
  for (const r of rows) {
    if (r.credentials !== null) t.match(r.credentials, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/, 'sealed')
    noSecret(t, JSON.stringify(r), 'a camera row')
  }
  const bytes = storeBytes(dataDir)
  t.ok(bytes.length > 10_000)
  for (const s of [URI_USER, URI_PASSWORD, USER, PASSWORD, ROTATED, CSV_PASSWORD]) {
    t.equal(bytes.indexOf(Buffer.from(s, 'utf8')), -1, `"${s}" is nowhere in gateway.db or its WAL`)
  }
})

t.test('no log line carries a credential (production logger settings, level trace)', async (t) => {
  const failed = await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: LOGIN_GUESS } })
  t.equal(failed.statusCode, 401)
  await call('GET', `/api/cameras?q=${encodeURIComponent(`rtsp://${URI_USER}:x@h`)}`)
  const text = logLines.join('')
  t.ok(logLines.length > 30, `the logger did capture (${logLines.length} lines)`)
  t.match(text, '"url":"/api/cameras', 'request lines are there')
  t.match(text, 'rtsp://***@h', 'a URL with userinfo in a request line is redacted')
  noSecret(t, text, 'the log')
})
