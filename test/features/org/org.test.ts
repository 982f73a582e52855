import t from 'tap'
import { makeCamera, makeChildUnit, unit } from '../../support/fixtures.js'
import { DEMO_PASSWORD, startTestGateway } from '../../support/gateway.js'

const gw = await startTestGateway(t)
const admin = gw.as(await gw.login('admin'))
const streetAdmin = gw.as(await gw.login('street.admin'))
const stationAdmin = gw.as(await gw.login('station.admin'))
const stationPatrol = gw.as(await gw.login('station.patrol'))
const communityAdmin = gw.as(await gw.login('community.admin'))
const id = (code: string) => unit(gw, code).id
const fields = (res: { json: any }) => ((res.json?.errors ?? []) as { field: string }[]).map((e) => e.field)

t.test('the demo tree is 1 + 3 + 12 + N', async (t) => {
  const res = await streetAdmin.get('/api/units')
  t.equal(res.statusCode, 200)
  const byTier = (tier: string) => res.json.items.filter((u: any) => u.tier === tier).length
  t.same([byTier('street'), byTier('police_station'), byTier('community'), byTier('site')], [1, 3, 12, 6])
  const sq01 = res.json.items.find((u: any) => u.code === 'JD01-SQ01')
  t.equal(sq01.path, `/${id('JD01')}/${id('JD01-PCS1')}/${sq01.id}/`, 'materialized path from the street down')
})

t.test('tier rules: a unit sits directly under the tier above; 400 names body.parentId', async (t) => {
  const cases: [string, Record<string, unknown>][] = [
    ['a community under a street', { tier: 'community', parentId: id('JD01'), code: 'X-1', name: '错层社区' }],
    ['a site under a police station', { tier: 'site', parentId: id('JD01-PCS1'), code: 'X-2', name: '错层小区' }],
    ['a police station under a community', { tier: 'police_station', parentId: id('JD01-SQ01'), code: 'X-3', name: '错层派出所' }],
    ['a site under a site', { tier: 'site', parentId: id('JD01-WY01'), code: 'X-4', name: '小区中的小区' }],
    ['a community without a parent', { tier: 'community', code: 'X-5', name: '无上级社区' }],
    ['a community with a null parent', { tier: 'community', parentId: null, code: 'X-6', name: '无上级社区' }],
    ['a street with a parent', { tier: 'street', parentId: id('JD01'), code: 'X-7', name: '街道下的街道' }],
  ]
  for (const [what, body] of cases) {
    const res = await admin.post('/api/units', body)
    t.equal(res.statusCode, 400, what)
    t.same(fields(res), ['body.parentId'], `${what}: names body.parentId`)
  }
  t.equal((await admin.get('/api/units?tier=community')).json.items.length, 12, 'nothing was created')
  const bad = await admin.post('/api/units', { tier: 'village', parentId: id('JD01'), code: 'X-8', name: 'x' })
  t.equal(bad.statusCode, 400)
  t.same(fields(bad), ['body.tier'])
})

t.test('several streets: only gateway administrators create them, each street sees only itself', async (t) => {
  const denied = await streetAdmin.post('/api/units', { tier: 'street', code: 'JD09', name: '不该有的街道' })
  t.equal(denied.statusCode, 403, 'a street admin cannot create a sibling street')
  const jd02 = await admin.post('/api/units', { tier: 'street', code: 'JD02', name: '西湖街道', address: '西湖路1号', lat: 30.6, lon: 114.3 })
  t.equal(jd02.statusCode, 201)
  t.equal(jd02.json.parentId, null)
  t.equal(jd02.json.path, `/${jd02.json.id}/`)
  const pcs = await admin.post('/api/units', { tier: 'police_station', parentId: jd02.json.id, code: 'JD02-PCS1', name: '西湖派出所' })
  const sq = await admin.post('/api/units', { tier: 'community', parentId: pcs.json.id, code: 'JD02-SQ01', name: '西湖社区' })
  const wy = await admin.post('/api/units', { tier: 'site', parentId: sq.json.id, code: 'JD02-WY01', name: '西湖小区' })
  t.same([pcs.statusCode, sq.statusCode, wy.statusCode], [201, 201, 201])
  t.equal(wy.json.path, `/${jd02.json.id}/${pcs.json.id}/${sq.json.id}/${wy.json.id}/`)

  const streets = await admin.get('/api/units?tier=street')
  t.same(streets.json.items.map((u: any) => u.code).sort(), ['JD01', 'JD02'], 'the gateway administrator sees both streets')
  const mine = await streetAdmin.get('/api/units')
  t.notOk(mine.json.items.some((u: any) => u.code.startsWith('JD02')), 'JD01 sees nothing of JD02')
  t.equal((await streetAdmin.get(`/api/units/${wy.json.id}`)).statusCode, 404)
  t.equal((await streetAdmin.post('/api/units', { tier: 'community', parentId: pcs.json.id, code: 'JD02-SQ02', name: 'x' })).statusCode, 404, 'cannot create under another street')
})

t.test('list filters: tier, parent, under (and under outside the subtree is 404)', async (t) => {
  t.equal((await streetAdmin.get('/api/units?tier=community')).json.items.length, 12)
  t.same((await streetAdmin.get(`/api/units?parent=${id('JD01-PCS1')}`)).json.items.map((u: any) => u.code), ['JD01-SQ01', 'JD01-SQ02', 'JD01-SQ03', 'JD01-SQ04'])
  t.same((await streetAdmin.get(`/api/units?under=${id('JD01-SQ01')}`)).json.items.map((u: any) => u.code), ['JD01-SQ01', 'JD01-WY01'])
  t.equal((await communityAdmin.get(`/api/units?under=${id('JD01-SQ02')}`)).statusCode, 404)
  t.same((await communityAdmin.get(`/api/units?parent=${id('JD01-PCS1')}`)).json.items.map((u: any) => u.code), ['JD01-SQ01'], 'a parent outside the subtree lists only its children inside it')
  t.equal((await streetAdmin.get('/api/units?tier=hamlet')).statusCode, 400)
})

t.test('create and update inside your subtree; non-admins cannot', async (t) => {
  const created = await communityAdmin.post('/api/units', { tier: 'site', parentId: id('JD01-SQ01'), code: 'JD01-WY90', name: '湖滨新苑' })
  t.equal(created.statusCode, 201)
  t.equal((await communityAdmin.post('/api/units', { tier: 'site', parentId: id('JD01-SQ02'), code: 'JD01-WY91', name: '别人的小区' })).statusCode, 404, 'not under a sibling community')
  t.equal((await stationPatrol.post('/api/units', { tier: 'community', parentId: id('JD01-PCS1'), code: 'JD01-SQ90', name: 'x' })).statusCode, 403)

  const patched = await communityAdmin.patch(`/api/units/${created.json.id}`, { name: '湖滨新苑(二期)', address: '湖滨路8号', lat: 30.55, lon: 114.36 })
  t.equal(patched.statusCode, 200)
  t.match(patched.json, { name: '湖滨新苑(二期)', address: '湖滨路8号', lat: 30.55, lon: 114.36, path: created.json.path })
  t.equal((await communityAdmin.patch(`/api/units/${created.json.id}`, {})).statusCode, 400, 'an empty change is refused')
  t.same(fields(await communityAdmin.patch(`/api/units/${created.json.id}`, { tier: 'community' })), ['body.tier'], 'the tier cannot be changed')
  t.same(fields(await communityAdmin.patch(`/api/units/${created.json.id}`, { lat: 91 })), ['body.lat'])
})

t.test('unit codes are unique (case-insensitively): 409 naming body.code', async (t) => {
  for (const code of ['JD01-SQ01', 'jd01-sq01']) {
    const res = await admin.post('/api/units', { tier: 'site', parentId: id('JD01-SQ03'), code, name: '重名' })
    t.equal(res.statusCode, 409, code)
    t.same(fields(res), ['body.code'])
  }
  const rename = await streetAdmin.patch(`/api/units/${id('JD01-SQ03')}`, { code: 'JD01-SQ04' })
  t.equal(rename.statusCode, 409)
  t.same(fields(rename), ['body.code'])
  t.equal(unit(gw, 'JD01-SQ03').code, 'JD01-SQ03', 'unchanged')
  const recase = await streetAdmin.patch(`/api/units/${id('JD01-SQ03')}`, { code: 'jd01-sq03' })
  t.equal(recase.statusCode, 200, 'changing the case of your own code is not a conflict')
  t.equal((await streetAdmin.patch(`/api/units/${id('JD01-SQ03')}`, { code: 'JD01-SQ03' })).statusCode, 200)
})

t.test('moving a community to another station: its subtree, cameras, users and scoping follow', async (t) => {
  const sq04 = unit(gw, 'JD01-SQ04')
  const pcs1 = unit(gw, 'JD01-PCS1')
  const pcs2 = unit(gw, 'JD01-PCS2')
  const site = makeChildUnit(gw, 'JD01-SQ04', '迁移小区')
  const siteCam = makeCamera(gw, site.code, { sharedUpward: true })
  const communityCam = (await stationAdmin.get(`/api/cameras?unit=${sq04.id}&limit=100`)).json.items[0]
  t.ok(communityCam, 'SQ04 has a demo camera')
  // a user who lives in the community that moves, and one at the receiving station
  t.equal((await admin.post('/api/users', { username: 'sq04.patrol', unitId: sq04.id, roles: ['patrol'], password: DEMO_PASSWORD })).statusCode, 201)
  t.equal((await admin.post('/api/users', { username: 'station2.researcher', unitId: pcs2.id, roles: ['researcher'], password: DEMO_PASSWORD })).statusCode, 201)
  const sq04User = gw.as(await gw.login('sq04.patrol'))
  const station2 = gw.as(await gw.login('station2.researcher'))
  t.equal((await station2.get(`/api/cameras/${siteCam.id}`)).statusCode, 404, 'before: PCS2 does not see SQ04')
  t.equal((await stationPatrol.get(`/api/cameras/${siteCam.id}`)).statusCode, 200, 'before: PCS1 sees SQ04')

  // wrong tiers are refused
  t.same(fields(await streetAdmin.patch(`/api/units/${sq04.id}`, { parentId: id('JD01') })), ['body.parentId'], 'not under the street')
  t.same(fields(await streetAdmin.patch(`/api/units/${sq04.id}`, { parentId: id('JD01-SQ05') })), ['body.parentId'], 'not under a community')
  t.equal((await stationAdmin.patch(`/api/units/${sq04.id}`, { parentId: pcs2.id })).statusCode, 404, 'a station admin cannot move it to a station outside its subtree')
  t.equal((await communityAdmin.patch(`/api/units/${id('JD01-SQ01')}`, { parentId: pcs2.id })).statusCode, 403, 'nobody moves their own unit')
  t.equal(unit(gw, 'JD01-SQ04').parentId, pcs1.id, 'nothing moved yet')

  const moved = await streetAdmin.patch(`/api/units/${sq04.id}`, { parentId: pcs2.id })
  t.equal(moved.statusCode, 200)
  t.equal(moved.json.parentId, pcs2.id)
  t.equal(moved.json.path, `${pcs2.path}${sq04.id}/`)
  t.equal(unit(gw, site.code).path, `${pcs2.path}${sq04.id}/${site.id}/`, 'the site below followed')
  t.notOk(gw.services.db.prepare('SELECT 1 FROM units WHERE path LIKE ?').get(`${pcs1.path}${sq04.id}/%`), 'no path still points under PCS1')

  t.equal((await station2.get(`/api/cameras/${siteCam.id}`)).statusCode, 200, 'after: PCS2 sees the moved site camera')
  t.equal((await station2.get(`/api/cameras/${communityCam.id}`)).statusCode, 200, 'after: and the community camera')
  t.equal((await stationPatrol.get(`/api/cameras/${siteCam.id}`)).statusCode, 404, 'after: PCS1 no longer does')
  t.equal((await stationPatrol.get(`/api/units/${sq04.id}`)).statusCode, 404)
  t.notOk((await stationAdmin.get('/api/users')).json.items.some((u: any) => u.username === 'sq04.patrol'), 'PCS1 admin no longer lists the moved user')

  const me = await sq04User.get('/api/auth/me')
  t.equal(me.statusCode, 200, 'the moved user\'s session still works')
  t.equal(me.json.unit.path, moved.json.path, 'with the new path')
  t.equal((await sq04User.get(`/api/cameras/${siteCam.id}`)).statusCode, 200)
  t.equal((await sq04User.get(`/api/units/${pcs1.id}`)).statusCode, 404)

  const audit = await streetAdmin.get(`/api/audit?action=unit.move&targetId=${sq04.id}`)
  t.equal(audit.json.items.length, 1)
  t.match(audit.json.items[0].detail, { fromPath: sq04.path, toPath: moved.json.path })
})

t.test('delete: 409 names what is in the way; an empty unit goes', async (t) => {
  const station = await streetAdmin.delete(`/api/units/${id('JD01-PCS3')}`)
  t.equal(station.statusCode, 409)
  t.match(station.json.detail, /JD01-PCS3 still has 4 child units/)
  t.match(station.json.blockers, ['4 child units', '1 cameras'])

  const sq06 = unit(gw, 'JD01-SQ06')
  const withCameras = await streetAdmin.delete(`/api/units/${sq06.id}`)
  t.equal(withCameras.statusCode, 409)
  t.same(withCameras.json.blockers, ['2 cameras'])

  const empty = makeChildUnit(gw, 'JD01-SQ06', '空小区')
  t.equal((await admin.post('/api/users', { username: 'empty.site.user', unitId: empty.id, roles: ['patrol'], password: DEMO_PASSWORD })).statusCode, 201)
  const withUser = await communityAdmin.delete(`/api/units/${empty.id}`)
  t.equal(withUser.statusCode, 404, 'a community admin cannot reach another community’s site')
  const withUsers = await streetAdmin.delete(`/api/units/${empty.id}`)
  t.equal(withUsers.statusCode, 409)
  t.same(withUsers.json.blockers, ['1 users'])
  const userId = (await streetAdmin.get(`/api/users?unit=${empty.id}`)).json.items[0].id
  t.equal((await streetAdmin.delete(`/api/users/${userId}`)).statusCode, 204)

  t.equal((await stationPatrol.delete(`/api/units/${empty.id}`)).statusCode, 404, 'patrol of another station: outside, so 404')
  t.equal((await streetAdmin.delete(`/api/units/${empty.id}`)).statusCode, 204)
  t.equal((await streetAdmin.get(`/api/units/${empty.id}`)).statusCode, 404)
  t.equal((await streetAdmin.delete(`/api/units/${empty.id}`)).statusCode, 404, 'a second delete finds nothing')
  const deleted = await streetAdmin.get(`/api/audit?action=unit.delete&targetId=${empty.id}`)
  t.equal(deleted.json.items.length, 1, 'audited')

  t.equal((await communityAdmin.delete(`/api/units/${id('JD01-SQ01')}`)).statusCode, 403, 'nobody deletes their own unit')
})

t.test('ids that do not exist are 404; bad ids are 400 naming params.id', async (t) => {
  t.equal((await admin.get('/api/units/999999')).statusCode, 404)
  const bad = await admin.get('/api/units/abc')
  t.equal(bad.statusCode, 400)
  t.same(fields(bad), ['params.id'])
  t.same(fields(await admin.get('/api/units/0')), ['params.id'])
})
