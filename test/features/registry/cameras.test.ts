import t from 'tap'
import type { GatewayEvents } from '../../../src/core/events.js'
import { makeCamera, unit } from '../../support/fixtures.js'
import { startTestGateway, type Injector } from '../../support/gateway.js'

const PAGE_SIZE_MAX = 100
const gw = await startTestGateway(t, { overrides: { registry: { pageSizeMax: PAGE_SIZE_MAX } } })
const street = gw.as(await gw.login('street.admin'))
const tech = gw.as(await gw.login('community.technician'))
const patrol = gw.as(await gw.login('community.patrol'))
const fields = (res: { json: any }) => ((res.json?.errors ?? []) as { field: string }[]).map((e) => e.field)

/** Every camera the caller sees for a query, walking the pages. */
async function all(api: Injector, query = ''): Promise<any[]> {
  const out: any[] = []
  let cursor: string | null = null
  do {
    const res = await api.get(`/api/cameras?limit=500${query}${cursor ? `&cursor=${cursor}` : ''}`)
    if (res.statusCode !== 200) throw new Error(res.body)
    out.push(...res.json.items)
    cursor = res.json.nextCursor
  } while (cursor)
  return out
}
const ids = (items: any[]) => items.map((c) => c.id as number)

const FULL = {
  name: '湖滨社区 北门 球机',
  class: 2,
  kind: 'ptz',
  location: { lat: 30.5471, lon: 114.3571, address: '湖滨路18号北门' },
  onvifUrl: 'http://192.168.10.21/onvif/device_service',
  endpointRef: 'urn:uuid:2419d68a-2dd2-21b2-a205-ec6f2f3a1b01',
  device: { manufacturer: 'Hikvision', model: 'DS-2DE4425IW', serial: 'DS-2DE4425IW20230815AACHK1234', firmware: 'V5.7.3' },
  streams: {
    main: { uri: 'rtsp://192.168.10.21:554/Streaming/Channels/101', codec: 'h265', width: 2560, height: 1440, fps: 25, profileToken: 'Profile_1' },
    sub: { uri: 'rtsp://192.168.10.21:554/Streaming/Channels/102', codec: 'h264', width: 640, height: 360, fps: 15 },
  },
  snapshotUri: 'http://192.168.10.21/ISAPI/Streaming/channels/101/picture',
  capabilities: { ptz: true, events: true },
  tags: ['北门', '重点', '北门'],
  enabled: true,
}

t.test('CRUD: create, read, change, delete', async (t) => {
  const events: string[] = []
  for (const name of ['camera.created', 'camera.updated', 'camera.deleted'] as (keyof GatewayEvents)[]) gw.services.bus.on(name, () => events.push(name))
  const sq01 = unit(gw, 'JD01-SQ01')
  const created = await tech.post('/api/cameras', { ...FULL, unitId: sq01.id })
  t.equal(created.statusCode, 201)
  const cam = created.json
  t.match(cam, {
    unitId: sq01.id,
    name: FULL.name,
    class: 2,
    kind: 'ptz',
    location: FULL.location,
    onvifUrl: FULL.onvifUrl,
    endpointRef: FULL.endpointRef,
    device: FULL.device,
    streams: { main: FULL.streams.main, sub: { ...FULL.streams.sub, profileToken: null } },
    snapshotUri: FULL.snapshotUri,
    capabilities: { ptz: true, events: true },
    enabled: true,
    sharedUpward: false,
    hasCredentials: false,
    status: 'unknown',
  })
  t.same(cam.tags, ['北门', '重点'], 'tags are de-duplicated')

  const read = await tech.get(`/api/cameras/${cam.id}`)
  t.equal(read.statusCode, 200)
  t.same(read.json, cam, 'read returns what create returned')

  const changed = await tech.patch(`/api/cameras/${cam.id}`, { name: '湖滨社区 北门 球机(新)', tags: ['北门'], streams: { sub: null }, location: { address: null } })
  t.equal(changed.statusCode, 200)
  t.equal(changed.json.name, '湖滨社区 北门 球机(新)')
  t.same(changed.json.tags, ['北门'])
  t.equal(changed.json.streams.sub, null, 'null clears')
  t.same(changed.json.streams.main, cam.streams.main, 'absent fields keep their value')
  t.same(changed.json.location, { lat: FULL.location.lat, lon: FULL.location.lon, address: null })
  t.same(changed.json.device, cam.device)
  t.ok(changed.json.updatedAt >= cam.updatedAt)
  const updates = await street.get(`/api/audit?action=camera.update&targetId=${cam.id}`)
  t.equal(updates.json.items.length, 1)
  t.same(updates.json.items[0].detail.changed.sort(), ['location.address', 'name', 'streams.sub', 'tags'])

  const same = await tech.patch(`/api/cameras/${cam.id}`, { name: '湖滨社区 北门 球机(新)' })
  t.equal(same.statusCode, 200)
  t.equal((await street.get(`/api/audit?action=camera.update&targetId=${cam.id}`)).json.items.length, 1, 'a change to the same value is not a change')

  const toSite = await tech.patch(`/api/cameras/${cam.id}`, { unitId: unit(gw, 'JD01-WY01').id, sharedUpward: true })
  t.equal(toSite.statusCode, 200, 'moved to the site below and shared upward')
  t.match(toSite.json, { unitId: unit(gw, 'JD01-WY01').id, sharedUpward: true })
  t.equal((await tech.patch(`/api/cameras/${cam.id}`, { unitId: unit(gw, 'JD01-SQ02').id })).statusCode, 404, 'not to a unit outside the subtree')

  t.equal((await patrol.delete(`/api/cameras/${cam.id}`)).statusCode, 403, 'patrol may look, not delete')
  t.equal((await tech.delete(`/api/cameras/${cam.id}`)).statusCode, 204)
  t.equal((await tech.get(`/api/cameras/${cam.id}`)).statusCode, 404)
  t.equal((await tech.delete(`/api/cameras/${cam.id}`)).statusCode, 404)
  t.same(events, ['camera.created', 'camera.updated', 'camera.updated', 'camera.deleted'], 'each change is published on the bus')
  t.equal((await street.get(`/api/audit?action=camera.delete&targetId=${cam.id}`)).json.items.length, 1)
  const newest = (await tech.post('/api/cameras', { name: 'after the delete', class: 3, kind: 'fixed', unitId: sq01.id })).json
  t.ok(newest.id > cam.id, `a new camera gets a new id (${newest.id}), not the deleted one's: its footage and audit entries stay its own`)
  await tech.delete(`/api/cameras/${newest.id}`)
})

t.test('create: what a schema cannot check is checked and named', async (t) => {
  const unitId = unit(gw, 'JD01-SQ01').id
  const base = { unitId, name: '校验', class: 3, kind: 'fixed' }
  const cases: [string, Record<string, unknown>, string[], number?][] = [
    ['latitude without longitude', { location: { lat: 30.5 } }, ['body.location.lon']],
    ['an HTTP URI as a stream', { streams: { main: { uri: 'http://10.0.0.1/live' } } }, ['body.streams.main.uri']],
    ['an RTSP URI as the ONVIF address', { onvifUrl: 'rtsp://10.0.0.1/onvif' }, ['body.onvifUrl']],
    ['not a URI at all', { snapshotUri: 'just words' }, ['body.snapshotUri']],
    ['a URI without a host', { streams: { main: { uri: 'rtsp:///live' } } }, ['body.streams.main.uri']],
    ['a shared community camera', { sharedUpward: true }, ['body.sharedUpward']],
    ['a blank name', { name: '   ' }, ['body.name']],
    ['class 4', { class: 4 }, ['body.class']],
    ['a kind we do not know', { kind: 'bullet' }, ['body.kind']],
    ['a huge frame rate', { streams: { main: { uri: 'rtsp://h/x', fps: 1000 } } }, ['body.streams.main.fps']],
  ]
  for (const [what, extra, expected] of cases) {
    const res = await tech.post('/api/cameras', { ...base, ...extra })
    t.equal(res.statusCode, 400, what)
    const got = fields(res)
    t.ok(expected.every((f) => got.includes(f)), `${what}: names ${expected.join(', ')}`)
    // a nullable object may add its own path (the union's branch error), nothing else
    t.ok(got.every((f) => expected.some((e) => e === f || e.startsWith(f + '.'))), `${what}: names nothing else (${got.join(', ')})`)
    t.equal(new Set(got).size, got.length, `${what}: each field once`)
  }
  t.equal((await tech.post('/api/cameras', { ...base, unitId: unit(gw, 'JD01-SQ02').id })).statusCode, 404, 'a unit outside the subtree')
  t.equal((await tech.post('/api/cameras', { ...base, unitId: 999999 })).statusCode, 404, 'a unit that does not exist')
  t.equal((await patrol.post('/api/cameras', base)).statusCode, 403, 'patrol does not register cameras')
  t.equal((await tech.post('/api/cameras', { ...base, streams: { main: { uri: 'demo://testsrc2?size=640x360' } } })).statusCode, 201, 'demo:// streams are accepted')
})

t.test('serials are unique across the whole gateway: 409 naming the field', async (t) => {
  const other = makeCamera(gw, 'JD01-SQ07', { device: { serial: 'SN-ELSEWHERE-1' } })
  const dup = await tech.post('/api/cameras', { unitId: unit(gw, 'JD01-SQ01').id, name: '重号', class: 3, kind: 'fixed', device: { serial: 'SN-ELSEWHERE-1' } })
  t.equal(dup.statusCode, 409)
  t.same(fields(dup), ['body.device.serial'])
  const mine = makeCamera(gw, 'JD01-SQ01')
  const clash = await tech.patch(`/api/cameras/${mine.id}`, { device: { serial: 'SN-ELSEWHERE-1' } })
  t.equal(clash.statusCode, 409)
  t.equal((await street.get(`/api/cameras/${other.id}`)).json.device.serial, 'SN-ELSEWHERE-1')
})

t.test('filters: unit subtree, class, kind, tag, enabled, status (each checked against the full list)', async (t) => {
  makeCamera(gw, 'JD01-WY01', { enabled: false, tags: ['停用'] })
  makeCamera(gw, 'JD01-PCS2', { class: 1, kind: 'checkpoint', tags: ['卡口', '停用'], enabled: false })
  const everything = await all(street)
  t.ok(everything.length > 40)
  const pathOf = new Map(gw.services.org.list({ unitId: null, unitPath: '/', seesPrivateSiteCameras: true }).map((u) => [u.id, u.path]))
  const under = (code: string) => (c: any) => pathOf.get(c.unitId)!.startsWith(unit(gw, code).path)
  const cases: [string, (c: any) => boolean][] = [
    [`&unit=${unit(gw, 'JD01-SQ01').id}`, under('JD01-SQ01')],
    [`&unit=${unit(gw, 'JD01-PCS2').id}`, under('JD01-PCS2')],
    [`&unit=${unit(gw, 'JD01-WY01').id}`, under('JD01-WY01')],
    ['&class=1', (c) => c.class === 1],
    ['&class=3', (c) => c.class === 3],
    ['&kind=door_access', (c) => c.kind === 'door_access'],
    ['&kind=checkpoint', (c) => c.kind === 'checkpoint'],
    [`&tag=${encodeURIComponent('门禁')}`, (c) => c.tags.includes('门禁')],
    [`&tag=${encodeURIComponent('停用')}`, (c) => c.tags.includes('停用')],
    ['&enabled=false', (c) => c.enabled === false],
    ['&enabled=true', (c) => c.enabled === true],
    ['&status=unknown', (c) => c.status === 'unknown'],
    ['&status=online', (c) => c.status === 'online'],
    [`&class=1&enabled=false&unit=${unit(gw, 'JD01-PCS2').id}`, (c) => c.class === 1 && !c.enabled && under('JD01-PCS2')(c)],
  ]
  for (const [query, predicate] of cases) {
    const expected = ids(everything.filter(predicate))
    t.same(ids(await all(street, query)), expected, `${decodeURIComponent(query)} → ${expected.length} cameras`)
  }
  t.equal(ids(await all(street, '&enabled=false')).length, 2)
  t.equal((await street.get('/api/cameras?class=5')).statusCode, 400)
  t.equal((await street.get('/api/cameras?enabled=perhaps')).statusCode, 400)
  t.equal((await tech.get(`/api/cameras?unit=${unit(gw, 'JD01-SQ02').id}`)).statusCode, 404, 'a unit filter outside the subtree is 404')
})

t.test('text search: Chinese substrings, tags, serials and addresses (trigram FTS, and LIKE under 3 characters)', async (t) => {
  const serialCam = makeCamera(gw, 'JD01-SQ03', { name: '梅岭 西侧', device: { serial: 'HK-DS2CD-Q7XR91' }, location: { address: '梅岭大道88号地下通道' }, tags: ['通道口'] })
  const everything = await all(street)
  const matches = (q: string) => (c: any) => {
    const hay = [c.name, c.location.address ?? '', c.device.serial ?? '', ...c.tags].join('\u0000').toLowerCase()
    return q.split(/\s+/).filter(Boolean).every((term) => hay.includes(term.toLowerCase()))
  }
  const queries = [
    '湖滨', // 2 characters: LIKE
    '花园小区', // FTS trigram, inside a Chinese name
    '门禁', // a tag, 2 characters
    '内保外用', // a tag, FTS
    'DEMO-JD01-SQ03', // serial prefix
    'demo-jd01-pcs2', // serials, any case
    'Q7XR9', // the middle of a serial
    '综合指挥平台', // only in the address of the street's cameras
    '地下通道', // an address word
    '湖滨 大门', // two terms: both must match
    '门', // one character
    'Q1', // short ASCII
  ]
  for (const q of queries) {
    const expected = ids(everything.filter(matches(q)))
    const got = ids(await all(street, `&q=${encodeURIComponent(q)}`))
    t.same(got, expected, `q=${q} → ${expected.length} cameras`)
  }
  t.ok(ids(await all(street, `&q=${encodeURIComponent('Q7XR9')}`)).includes(serialCam.id))
  t.equal(ids(await all(street, '&q=' + encodeURIComponent('花园小区'))).length, 2, 'the FTS query found the two cameras of 湖滨花园小区')
  t.equal(ids(await all(street, '&q=' + encodeURIComponent('国际小区'))).length, 2, 'and of 兰亭国际小区')
  for (const literal of ['%', '_', '\\', '%%%', '"', ',', '[', '"]', 'NOT', 'a*', 'name:湖滨', '湖滨 OR 1']) {
    const res = await street.get(`/api/cameras?q=${encodeURIComponent(literal)}`)
    t.equal(res.statusCode, 200, `q=${literal} is just text`)
    t.same(ids(res.json.items), ids(everything.filter(matches(literal))).slice(0, 50), `q=${literal} matches literally`)
  }
  t.same(ids(await all(patrol, `&q=${encodeURIComponent('梅岭')}`)), [], 'search stays inside the caller’s subtree')
  t.same(ids(await all(street, `&q=${encodeURIComponent('湖滨')}&class=3`)), ids(everything.filter((c) => matches('湖滨')(c) && c.class === 3)), 'search combines with filters')
})

t.test('cursor pagination walks every camera exactly once, in id order', async (t) => {
  const expected = (gw.services.db.prepare('SELECT id FROM cameras ORDER BY id').all() as { id: number }[]).map((r) => r.id)
  for (const limit of [1, 7, 50, expected.length, 500]) {
    const seen: number[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res: { json: any; statusCode: number } = await street.get(`/api/cameras?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
      t.equal(res.statusCode, 200)
      pages++
      t.ok(res.json.items.length <= Math.min(limit, PAGE_SIZE_MAX))
      seen.push(...ids(res.json.items))
      cursor = res.json.nextCursor
    } while (cursor && pages < 1000)
    t.same(seen, expected, `limit=${limit}: each camera once, in order`)
    t.equal(pages, Math.max(1, Math.ceil(expected.length / Math.min(limit, PAGE_SIZE_MAX))), `limit=${limit}: no empty trailing page`)
  }
  // a filtered walk
  const cls2 = (gw.services.db.prepare('SELECT id FROM cameras WHERE class = 2 ORDER BY id').all() as { id: number }[]).map((r) => r.id)
  const seen: number[] = []
  let cursor: string | null = null
  do {
    const res: { json: any } = await street.get(`/api/cameras?class=2&limit=5${cursor ? `&cursor=${cursor}` : ''}`)
    seen.push(...ids(res.json.items))
    cursor = res.json.nextCursor
  } while (cursor)
  t.same(seen, cls2)
})

t.test('a cursor survives the deletion of the camera it points at', async (t) => {
  const first = await street.get('/api/cameras?limit=3')
  const last = first.json.items.at(-1)
  const victim = gw.services.registry.getForUse({ unitId: 0, unitPath: '/', seesPrivateSiteCameras: true }, last.id)
  gw.services.db.prepare('DELETE FROM cameras WHERE id = ?').run(victim.camera.id)
  const next = await street.get(`/api/cameras?limit=3&cursor=${first.json.nextCursor}`)
  t.equal(next.statusCode, 200)
  t.ok(next.json.items.every((c: any) => c.id > last.id))
})

t.test('bad cursors and limits are 400 naming the query field', async (t) => {
  const audit = await street.get('/api/audit?limit=1')
  for (const [cursor, what] of [
    ['not-a-cursor!', 'not base64url'],
    ['Zm9vYmFy', 'base64url of something else'],
    [audit.json.nextCursor, 'a cursor of another list'],
    [Buffer.from("cam:1' OR '1'='1").toString('base64url'), 'SQL in a cursor'],
    ['x'.repeat(101), 'too long'],
  ] as [string, string][]) {
    const res = await street.get(`/api/cameras?cursor=${encodeURIComponent(cursor)}`)
    t.equal(res.statusCode, 400, what)
    t.same(fields(res), ['query.cursor'], what)
  }
  t.same(fields(await street.get('/api/cameras?limit=0')), ['query.limit'])
  t.same(fields(await street.get('/api/cameras?limit=501')), ['query.limit'])
  t.same(fields(await street.get('/api/cameras?limit=ten')), ['query.limit'])
  t.same(fields(await street.get('/api/cameras?colour=red')), ['query.colour'])
  t.same(fields(await street.get(`/api/cameras?q=${'x'.repeat(101)}`)), ['query.q'])
})
