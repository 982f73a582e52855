import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'

interface Camera { id: number; unitId: number; name: string }

t.test('wall layouts and patrol tours', async (t) => {
  const gw = await startTestGateway(t)
  const street = gw.as(await gw.login('street.patrol'))
  const community = gw.as(await gw.login('community.patrol'))
  const researcher = gw.as(await gw.login('community.researcher'))
  const all = (await street.get('/api/cameras?limit=500')).json.items as Camera[]
  const mine = (await community.get('/api/cameras?limit=500')).json.items as Camera[]
  const mineIds = new Set(mine.map((c) => c.id))
  const outside = all.find((c) => !mineIds.has(c.id))!
  t.ok(mine.length >= 2 && outside, 'the demo gives a community some cameras and leaves others outside it')

  await t.test('a wall layout defaults to 4 empty tiles, saves, and reads back per user', async (t) => {
    const empty = await community.get('/api/wall/layout')
    t.equal(empty.statusCode, 200)
    t.same(empty.json, { size: 4, tiles: [null, null, null, null], updatedAt: null })
    const put = await community.request('PUT', '/api/wall/layout', { size: 4, tiles: [mine[0]!.id, null, mine[1]!.id, null] })
    t.equal(put.statusCode, 200, put.body)
    const back = await community.get('/api/wall/layout')
    t.same(back.json.tiles, [mine[0]!.id, null, mine[1]!.id, null])
    t.type(back.json.updatedAt, 'string')
    t.same((await street.get('/api/wall/layout')).json.size, 4, 'another user has their own wall')
    t.same((await street.get('/api/wall/layout')).json.tiles, [null, null, null, null])
  })

  await t.test('a layout is validated: tile count, sizes, and only visible cameras', async (t) => {
    t.equal((await community.request('PUT', '/api/wall/layout', { size: 9, tiles: [null] })).statusCode, 400)
    t.equal((await community.request('PUT', '/api/wall/layout', { size: 3, tiles: [null, null, null] })).statusCode, 400)
    const out = await community.request('PUT', '/api/wall/layout', { size: 1, tiles: [outside.id] })
    t.equal(out.statusCode, 404, 'a camera outside the subtree is not found')
    t.equal((await gw.as('nope').get('/api/wall/layout')).statusCode, 401)
  })

  await t.test('tours: create, list in scope, update, delete', async (t) => {
    const created = await community.post('/api/tours', { name: '夜间巡查', intervalSeconds: 5, cameraIds: mine.map((c) => c.id) })
    t.equal(created.statusCode, 201, created.body)
    const tour = created.json
    t.equal(tour.name, '夜间巡查')
    t.equal(tour.intervalSeconds, 5)
    t.same(tour.cameraIds, mine.map((c) => c.id))
    const me = (await community.get('/api/auth/me')).json
    t.equal(tour.unitId, me.unit.id, 'owned by the creator’s unit by default')

    t.ok((await street.get('/api/tours')).json.items.some((x: { id: number }) => x.id === tour.id), 'the street sees tours of its subtree')
    t.ok((await researcher.get('/api/tours')).json.items.some((x: { id: number }) => x.id === tour.id), 'read by any role in scope')
    t.equal((await researcher.post('/api/tours', { name: 'x', cameraIds: [mine[0]!.id] })).statusCode, 403, 'researchers do not edit tours')

    const stationUser = gw.as(await gw.login('station.patrol'))
    const other = await street.post('/api/tours', { name: '街道 全景', cameraIds: [outside.id] })
    t.equal(other.statusCode, 201)
    t.notOk((await community.get('/api/tours')).json.items.some((x: { id: number }) => x.id === other.json.id), 'a street tour is invisible to a community')
    t.equal((await community.get(`/api/tours/${other.json.id}`)).statusCode, 404)
    t.equal((await community.patch(`/api/tours/${other.json.id}`, { name: 'x' })).statusCode, 404)
    t.equal((await community.delete(`/api/tours/${other.json.id}`)).statusCode, 404)
    t.ok(stationUser)

    const patched = await community.patch(`/api/tours/${tour.id}`, { name: '白天巡查', intervalSeconds: 30, cameraIds: [mine[1]!.id, mine[0]!.id] })
    t.equal(patched.statusCode, 200, patched.body)
    t.same(patched.json.cameraIds, [mine[1]!.id, mine[0]!.id])
    t.equal(patched.json.intervalSeconds, 30)

    t.equal((await community.delete(`/api/tours/${tour.id}`)).statusCode, 204)
    t.equal((await community.get(`/api/tours/${tour.id}`)).statusCode, 404)
  })

  await t.test('a tour may only contain cameras the user can see', async (t) => {
    const res = await community.post('/api/tours', { name: 'bad', cameraIds: [mine[0]!.id, outside.id] })
    t.equal(res.statusCode, 404)
    t.match(res.json.detail, `camera ${outside.id}`)
    t.equal((await community.post('/api/tours', { name: 'bad', cameraIds: [] })).statusCode, 400)
    t.equal((await community.post('/api/tours', { name: 'bad', cameraIds: [mine[0]!.id], intervalSeconds: 1 })).statusCode, 400)
    t.equal((await community.post('/api/tours', { name: 'bad', cameraIds: [mine[0]!.id, mine[0]!.id] })).statusCode, 400)
    const units = (await street.get('/api/units')).json.items as { id: number; tier: string }[]
    const foreign = units.find((u) => u.tier === 'community' && !mine.some((c) => c.unitId === u.id))!
    t.equal((await community.post('/api/tours', { name: 'bad', unitId: foreign.id, cameraIds: [mine[0]!.id] })).statusCode, 404, 'an owning unit outside the subtree is not found')
  })

  await t.test('tour changes are audited', async (t) => {
    const admin = gw.as(await gw.login('street.admin'))
    const audit = await admin.get('/api/audit?action=tour.create')
    t.equal(audit.statusCode, 200)
    t.ok(audit.json.items.length >= 2)
  })

  await t.test('a unit that owns tours cannot be deleted', async (t) => {
    const admin = gw.as(await gw.login('admin'))
    const street0 = (await admin.get('/api/units?tier=street')).json.items[0]
    const station = (await admin.post('/api/units', { parentId: street0.id, tier: 'police_station', code: 'TMP-PCS', name: '临时派出所' })).json
    const cam = all[0]!
    const tour = await admin.post('/api/tours', { unitId: station.id, name: 't', cameraIds: [cam.id] })
    t.equal(tour.statusCode, 201, tour.body)
    const del = await admin.delete(`/api/units/${station.id}`)
    t.equal(del.statusCode, 409)
    t.match(del.json.detail, 'patrol tours')
  })
})
