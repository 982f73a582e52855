/**
 * Bad input through the real gateway: wrong types, unknown fields, oversized bodies, bad cursors,
 * broken JSON, wrong media types and SQL-looking text. Each is a 4xx problem+json naming the field,
 * or, for text that merely looks like SQL, an ordinary answer with the database intact.
 */
import t, { type Test } from 'tap'
import { makeCamera, SYSTEM } from '../../support/fixtures.js'
import { startTestGateway } from '../../support/gateway.js'

const gw = await startTestGateway(t, { demo: false })
const { org, db } = gw.services
const street = org.create(SYSTEM, { parentId: null, tier: 'street', code: 'BI01', name: '输入街道' })
const station = org.create(SYSTEM, { parentId: street.id, tier: 'police_station', code: 'BI01-PCS1', name: '输入派出所' })
const community = org.create(SYSTEM, { parentId: station.id, tier: 'community', code: 'BI01-SQ01', name: '输入社区' })
const cams = [makeCamera(gw, 'BI01-SQ01', { name: '湖滨 北门' }), makeCamera(gw, 'BI01-SQ01', { name: '湖滨 南门' }), makeCamera(gw, 'BI01-PCS1', { name: '派出所 门前' })]
const api = gw.as(await gw.login('admin'))
const cameraBase = { unitId: community.id, name: '输入测试', class: 2, kind: 'fixed' }

const fields = (res: { json: any }) => ((res.json?.errors ?? []) as { field: string }[]).map((e) => e.field)
const counts = () => db.prepare('SELECT (SELECT count(*) FROM cameras) AS cameras, (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM units) AS units').get()

function expectProblem(t: Test, res: { statusCode: number; json: any; headers: Record<string, unknown> }, status: number, field: string, what: string) {
  t.equal(res.statusCode, status, `${what}: ${status}`)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, `${what}: problem+json`)
  t.ok(fields(res).includes(field), `${what}: names ${field} (got ${fields(res).join(', ')})`)
}

t.test('wrong types are 400 naming the field (JSON bodies are never coerced)', async (t) => {
  const cases: [string, string, unknown, string][] = [
    ['POST', '/api/cameras', { ...cameraBase, class: '2' }, 'body.class'],
    ['POST', '/api/cameras', { ...cameraBase, unitId: String(community.id) }, 'body.unitId'],
    ['POST', '/api/cameras', { ...cameraBase, enabled: 'yes' }, 'body.enabled'],
    ['POST', '/api/cameras', { ...cameraBase, tags: '门禁' }, 'body.tags'],
    ['POST', '/api/cameras', { ...cameraBase, tags: ['ok', 7] }, 'body.tags.1'],
    ['POST', '/api/cameras', { ...cameraBase, location: { lat: '30.5', lon: 114.3 } }, 'body.location.lat'],
    ['POST', '/api/cameras', { ...cameraBase, streams: { main: { uri: 'rtsp://h/x', width: 1920.5 } } }, 'body.streams.main.width'],
    ['POST', '/api/cameras', { ...cameraBase, name: null }, 'body.name'],
    ['POST', '/api/cameras', { ...cameraBase, name: 'x'.repeat(201) }, 'body.name'],
    ['PATCH', `/api/cameras/${cams[0]!.id}`, { capabilities: { ptz: 1 } }, 'body.capabilities.ptz'],
    ['POST', '/api/units', { tier: 'site', parentId: community.id, code: 42, name: 'x' }, 'body.code'],
    ['POST', '/api/units', { tier: 'site', parentId: community.id, code: 'has space', name: 'x' }, 'body.code'],
    ['POST', '/api/users', { username: 'u.one', unitId: community.id, roles: 'admin', password: 'long-enough-1' }, 'body.roles'],
    ['POST', '/api/users', { username: 'u one', unitId: community.id, roles: ['admin'], password: 'long-enough-1' }, 'body.username'],
    ['POST', '/api/auth/login', { username: 1, password: 'x' }, 'body.username'],
    ['POST', '/api/auth/login', { username: 'admin' }, 'body.password'],
  ]
  for (const [method, url, body, field] of cases) {
    expectProblem(t, await api.request(method as 'POST', url, body), 400, field, `${method} ${url} ${JSON.stringify(body).slice(0, 60)}`)
  }
})

t.test('unknown fields are refused, never silently dropped', async (t) => {
  const cases: [string, string, unknown, string][] = [
    ['POST', '/api/cameras', { ...cameraBase, owner: 'x' }, 'body.owner'],
    ['POST', '/api/cameras', { ...cameraBase, device: { serial: 'S', mac: '00:11' } }, 'body.device.mac'],
    ['POST', '/api/cameras', { ...cameraBase, streams: { main: { uri: 'rtsp://h/x', bitrate: 4096 } } }, 'body.streams.main.bitrate'],
    ['POST', '/api/cameras', { ...cameraBase, hasCredentials: true }, 'body.hasCredentials'],
    ['PATCH', `/api/cameras/${cams[0]!.id}`, { status: 'online' }, 'body.status'],
    ['PATCH', `/api/units/${community.id}`, { colour: 'red' }, 'body.colour'],
    ['PATCH', `/api/units/${community.id}`, { path: '/1/' }, 'body.path'],
    ['POST', '/api/auth/login', { username: 'admin', password: 'x', remember: true }, 'body.remember'],
    ['POST', '/api/users', { username: 'u.two', unitId: community.id, roles: ['patrol'], password: 'long-enough-1', locked: false }, 'body.locked'],
  ]
  for (const [method, url, body, field] of cases) {
    const res = await api.request(method as 'POST', url, body)
    expectProblem(t, res, 400, field, `${method} ${url}`)
    t.match(res.json.errors.find((e: any) => e.field === field).message, /not a known field/)
  }
  expectProblem(t, await api.get('/api/cameras?colour=red'), 400, 'query.colour', 'an unknown query parameter')
  expectProblem(t, await api.get('/api/units?depth=2'), 400, 'query.depth', 'an unknown query parameter')
})

t.test('oversized bodies are 413', async (t) => {
  const before = counts()
  const huge = { ...cameraBase, location: { address: 'x'.repeat(400) }, tags: Array.from({ length: 40 }, (_, i) => `${i}`.repeat(25)), endpointRef: 'e', name: 'n', device: { model: 'y'.repeat(1_200_000) } }
  const res = await api.post('/api/cameras', huge)
  expectProblem(t, res, 413, 'body', 'a 1.2 MB camera')
  t.equal(res.json.code, 'body_too_large')
  t.same(counts(), before, 'nothing was written')
  expectProblem(t, await api.post('/api/auth/login', { username: 'admin', password: 'p'.repeat(2_000_000) }), 413, 'body', 'a 2 MB password')
})

t.test('broken JSON, a missing body and wrong media types', async (t) => {
  expectProblem(t, await api.request('POST', '/api/cameras', '{"name": "x",', { 'content-type': 'application/json' }), 400, 'body', 'truncated JSON')
  expectProblem(t, await api.request('POST', '/api/cameras', "{'name': 'x'}", { 'content-type': 'application/json' }), 400, 'body', 'single quotes')
  expectProblem(t, await api.request('POST', '/api/cameras', '', { 'content-type': 'application/json' }), 400, 'body', 'an empty JSON body')
  expectProblem(t, await api.request('POST', '/api/cameras', '[1, 2]', { 'content-type': 'application/json' }), 400, 'body', 'an array')
  expectProblem(t, await api.request('POST', '/api/cameras', '<camera/>', { 'content-type': 'application/xml' }), 415, 'body', 'XML')
  expectProblem(t, await api.request('POST', '/api/cameras', 'name=x&class=2', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'body', 'a form')
  expectProblem(t, await api.request('POST', '/api/cameras', 'name: x', { 'content-type': 'text/plain' }), 400, 'body', 'plain text')
  expectProblem(t, await api.post('/api/cameras'), 400, 'body', 'no body at all')
  const proto = await api.request('POST', '/api/cameras', `{"unitId": ${community.id}, "name": "p", "class": 2, "kind": "fixed", "__proto__": {"admin": true}}`, { 'content-type': 'application/json' })
  t.equal(proto.statusCode, 400, 'a __proto__ key is refused')
})

t.test('bad ids and bad cursors name params.id and query.cursor', async (t) => {
  for (const id of ['abc', '0', '-1', '1.5', '', '1;DROP']) {
    expectProblem(t, await api.get(`/api/cameras/${id}`), 400, 'params.id', `camera id "${id}"`)
  }
  // numbers the schema accepts as integers are simply ids that do not exist
  for (const id of ['1e3', '99999999999999999999999']) t.equal((await api.get(`/api/cameras/${id}`)).statusCode, 404, `camera id ${id}`)
  for (const url of ['/api/cameras?cursor=%27%20OR%201%3D1', '/api/cameras?cursor=' + Buffer.from('audit:5').toString('base64url'), '/api/audit?cursor=' + Buffer.from('cam:5').toString('base64url'), '/api/audit?cursor=****']) {
    expectProblem(t, await api.get(url), 400, 'query.cursor', url)
  }
})

t.test('SQL-looking text is just text: 200, matched literally, tables intact', async (t) => {
  const before = counts()
  const tables = () => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name)
  const tablesBefore = tables()
  const injections = [
    "' OR 1=1 --",
    '"; DROP TABLE cameras; --',
    "1; DELETE FROM users WHERE '1'='1",
    "湖滨' UNION SELECT password_hash FROM users --",
    "%' OR name LIKE '%",
    '*) OR (1=1',
    'NEAR(湖滨 北门)',
    '") OR ("1"="1',
  ]
  for (const q of injections) {
    const res = await api.get(`/api/cameras?q=${encodeURIComponent(q)}`)
    t.equal(res.statusCode, 200, `q=${q}`)
    t.same(res.json.items, [], `q=${q} matches nothing (no camera holds that text)`)
    const audit = await api.get(`/api/audit?action=${encodeURIComponent(q)}&actor=${encodeURIComponent(q)}`)
    t.equal(audit.statusCode, 200)
    t.same(audit.json.items, [])
  }
  t.equal((await api.get(`/api/cameras?q=${encodeURIComponent('湖滨')}`)).json.items.length, 2, 'an ordinary search still works')

  // as names, they are stored verbatim and found again exactly
  for (const name of injections) {
    const res = await api.post('/api/cameras', { ...cameraBase, name })
    t.equal(res.statusCode, 201, `name ${name}`)
    t.equal(res.json.name, name.trim())
  }
  const found = await api.get(`/api/cameras?q=${encodeURIComponent('DROP TABLE cameras')}`)
  t.same(found.json.items.map((c: any) => c.name), ['"; DROP TABLE cameras; --'])
  const unit = await api.post('/api/units', { tier: 'site', parentId: community.id, code: 'BI01-WY01', name: "Robert'); DROP TABLE units; --" })
  t.equal(unit.statusCode, 201)
  t.equal(unit.json.name, "Robert'); DROP TABLE units; --")
  const login = await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: "admin' --", password: "' OR '1'='1" } })
  t.equal(login.statusCode, 401, 'SQL in a login is a wrong login')

  t.same(tables(), tablesBefore, 'every table is still there')
  const after = counts() as { cameras: number; users: number; units: number }
  t.same(after, { ...(before as object), cameras: (before as { cameras: number }).cameras + injections.length, units: (before as { units: number }).units + 1 }, 'exactly the rows created above, nothing else')
  t.equal((await api.get('/api/cameras?limit=500')).json.items.length, after.cameras)
})
