import t from 'tap'
import { makeChildUnit, unit } from '../../support/fixtures.js'
import { startTestGateway } from '../../support/gateway.js'
import { GIF_BYTES, makeJpeg, makePng } from '../../support/images.js'

/**
 * Map plans through the HTTP API of a real gateway: upload (PNG, JPEG), the image back byte for
 * byte with its caching headers, refusals named by field (type 415, damaged 422, size 413,
 * corners 400), correcting the corners alone (PATCH), scope (404 outside the subtree), roles (403),
 * the audit trail, deletion.
 */
const CORNERS = { nwLat: 30.58, nwLon: 114.35, seLat: 30.565, seLon: 114.38 }
const qs = (c: Record<string, number | string>) => new URLSearchParams(Object.entries(c).map(([k, v]) => [k, String(v)])).toString()

t.test('map plans: upload, read, refusals, scope, roles, audit, delete', async (t) => {
  const gw = await startTestGateway(t)
  const sq01 = unit(gw, 'JD01-SQ01')
  const sq02 = unit(gw, 'JD01-SQ02')
  const wy01 = unit(gw, 'JD01-WY01')
  const tech = gw.as(await gw.login('community.technician'))
  const patrol = gw.as(await gw.login('community.patrol'))
  const researcher = gw.as(await gw.login('community.researcher'))
  const stationTech = gw.as(await gw.login('station.technician'))
  const sitePatrol = gw.as(await gw.login('site.patrol'))
  const streetAdmin = gw.as(await gw.login('street.admin'))
  const put = (as: typeof tech, unitId: number, body: Buffer | string, type: string, corners: Record<string, number | string> = CORNERS) =>
    as.request('PUT', `/api/plans/${unitId}?${qs(corners)}`, body, { 'content-type': type })

  const png = makePng(200, 100, (x, y) => [x, y, 128])
  let imageUrl = ''

  await t.test('a technician uploads a PNG plan of their community; everyone in scope reads it', async (t) => {
    const res = await put(tech, sq01.id, png, 'image/png')
    t.equal(res.statusCode, 201, res.body)
    t.match(res.json, { unitId: sq01.id, contentType: 'image/png', width: 200, height: 100, size: png.length, uploadedBy: 'community.technician', corners: { nw: { lat: 30.58, lon: 114.35 }, se: { lat: 30.565, lon: 114.38 } } })
    t.match(res.json.sha256, /^[0-9a-f]{64}$/)
    imageUrl = res.json.imageUrl
    t.match(imageUrl, new RegExp(`^/api/plans/${sq01.id}/image\\?v=[0-9a-f]{16}$`))

    t.same((await patrol.get(`/api/plans/${sq01.id}`)).json, res.json, 'a patrol user of the unit reads the metadata')
    const img = await patrol.request('GET', `/api/plans/${sq01.id}/image`)
    t.equal(img.statusCode, 200)
    t.equal(img.headers['content-type'], 'image/png')
    const bytes = await gw.app.inject({ method: 'GET', url: `/api/plans/${sq01.id}/image`, headers: { authorization: `Bearer ${await gw.login('community.patrol')}` } })
    t.ok(bytes.rawPayload.equals(png), 'the image comes back byte for byte')
    t.equal(img.headers.etag, `"${res.json.sha256}"`)
    t.equal(img.headers['cache-control'], 'private, no-cache', 'the unversioned URL is revalidated')
    t.equal(img.headers['x-content-type-options'], 'nosniff')
    const versioned = await patrol.get(imageUrl)
    t.equal(versioned.headers['cache-control'], 'private, max-age=31536000, immutable', 'the hash-versioned URL may be kept')
    const again = await patrol.request('GET', `/api/plans/${sq01.id}/image`, undefined, { 'if-none-match': `"${res.json.sha256}"` })
    t.equal(again.statusCode, 304, 'If-None-Match with the current ETag: not modified')
    t.equal(again.body, '')

    const list = (await stationTech.get('/api/plans')).json.items as { unitId: number }[]
    t.same(list.map((p) => p.unitId), [sq01.id], 'the station lists plans of its subtree')
    t.same((await stationTech.get(`/api/plans?unit=${sq02.id}`)).json.items, [], 'filtered by unit subtree')
    t.equal((await gw.as('nope').get(`/api/plans/${sq01.id}`)).statusCode, 401)
  })

  await t.test('a JPEG replaces it (200, not 201); the station above may do it too', async (t) => {
    const jpg = makeJpeg(64, 48)
    const res = await put(stationTech, sq01.id, jpg, 'image/jpeg', { ...CORNERS, seLat: 30.57 })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json, { contentType: 'image/jpeg', width: 64, height: 48, size: jpg.length, uploadedBy: 'station.technician', corners: { se: { lat: 30.57 } } })
    t.not(res.json.imageUrl, imageUrl, 'a new image, a new URL')
    const img = await gw.app.inject({ method: 'GET', url: res.json.imageUrl, headers: { authorization: `Bearer ${await gw.login('community.researcher')}` } })
    t.equal(img.headers['content-type'], 'image/jpeg')
    t.ok(img.rawPayload.equals(jpg), 'the new bytes')
    const stale = await patrol.request('GET', `/api/plans/${sq01.id}/image`, undefined, { 'if-none-match': `"${'0'.repeat(64)}"` })
    t.equal(stale.statusCode, 200, 'an old ETag gets the new image')
  })

  await t.test('the wrong type is 415, a damaged image 422, each naming what is wrong', async (t) => {
    const gif = await put(tech, sq01.id, GIF_BYTES, 'image/gif')
    t.equal(gif.statusCode, 415)
    t.equal(gif.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(gif.json.errors[0].field, 'headers.content-type')
    t.match(gif.json.errors[0].message, /image\/png, image\/jpeg or image\/webp \(got image\/gif\)/)

    const disguised = await put(tech, sq01.id, GIF_BYTES, 'image/png')
    t.equal(disguised.statusCode, 415, 'a GIF declared as PNG: the bytes decide')
    t.same(disguised.json.errors, [{ field: 'body', message: 'is not a PNG, JPEG or WebP image (it is a GIF image)' }])

    const text = await put(tech, sq01.id, 'hello', 'text/plain')
    t.equal(text.statusCode, 415)
    t.equal(text.json.errors[0].field, 'headers.content-type')
    const json = await tech.request('PUT', `/api/plans/${sq01.id}?${qs(CORNERS)}`, { image: 'x' })
    t.equal(json.statusCode, 415, 'JSON is not an image either')

    const cut = await put(tech, sq01.id, png.subarray(0, 20), 'image/png')
    t.equal(cut.statusCode, 422)
    t.same(cut.json.errors, [{ field: 'body', message: 'looks like a PNG but its header is damaged or cut short' }])
    const huge = Buffer.from(png)
    huge.writeUInt32BE(40_000, 16) // IHDR width
    const big = await put(tech, sq01.id, huge, 'image/png')
    t.equal(big.statusCode, 422)
    t.match(big.json.errors[0].message, /40000×100 pixels: at most 16384/)

    const empty = await put(tech, sq01.id, Buffer.alloc(0), 'image/png')
    t.equal(empty.statusCode, 400)
    t.equal(empty.json.errors[0].field, 'body')
    t.equal((await patrol.get(`/api/plans/${sq01.id}`)).json.contentType, 'image/jpeg', 'nothing refused replaced the plan')
  })

  await t.test('larger than 10 MB is 413', async (t) => {
    const tooBig = Buffer.concat([png, Buffer.alloc(10 * 1024 * 1024 + 1 - png.length)])
    const res = await put(tech, sq01.id, tooBig, 'image/png')
    t.equal(res.statusCode, 413)
    t.equal(res.json.errors[0].field, 'body')
    t.match(res.json.errors[0].message, /10485761 bytes: at most 10485760 \(10 MB\)/)
  })

  await t.test('bad corners are 400 naming the field', async (t) => {
    const cases: [Record<string, number | string>, string, RegExp][] = [
      [{ ...CORNERS, nwLat: 95 }, 'query.nwLat', /<= 90/],
      [{ ...CORNERS, seLon: -181 }, 'query.seLon', />= -180/],
      [{ ...CORNERS, nwLat: 30.5 }, 'query.nwLat', /north of the south-east corner/],
      [{ ...CORNERS, nwLon: 114.4 }, 'query.nwLon', /west of the south-east corner/],
      [{ nwLat: 30.58, nwLon: 114.35, seLat: 30.565 }, 'query.seLon', /required/],
      [{ ...CORNERS, nwLat: 'north' }, 'query.nwLat', /number/],
    ]
    for (const [corners, field, message] of cases) {
      const res = await put(tech, sq01.id, png, 'image/png', corners)
      t.equal(res.statusCode, 400, `${JSON.stringify(corners)} → 400`)
      t.equal(res.json.errors[0].field, field)
      t.match(res.json.errors[0].message, message)
    }
  })

  await t.test('outside the subtree is 404 whatever the role; inside, patrol and research roles get 403', async (t) => {
    t.equal((await put(tech, sq02.id, png, 'image/png')).statusCode, 404, 'another community')
    t.equal((await put(tech, unit(gw, 'JD01-PCS1').id, png, 'image/png')).statusCode, 404, 'the station above')
    t.equal((await put(tech, 999_999, png, 'image/png')).statusCode, 404, 'no such unit')
    const other = await put(streetAdmin, sq02.id, png, 'image/png')
    t.equal(other.statusCode, 201)
    t.equal((await patrol.get(`/api/plans/${sq02.id}`)).statusCode, 404)
    t.equal((await patrol.get(`/api/plans/${sq02.id}/image`)).statusCode, 404)
    t.equal((await tech.delete(`/api/plans/${sq02.id}`)).statusCode, 404)
    t.equal((await sitePatrol.get(`/api/plans/${sq01.id}`)).statusCode, 404, 'a site does not see the plan of the community above it')
    t.notOk(((await patrol.get('/api/plans')).json.items as { unitId: number }[]).some((p) => p.unitId === sq02.id), 'lists hold nothing outside')

    const p = await put(patrol, sq01.id, png, 'image/png')
    t.equal(p.statusCode, 403)
    t.equal(p.json.code, 'forbidden')
    t.equal((await put(researcher, sq01.id, png, 'image/png')).statusCode, 403)
    t.equal((await patrol.delete(`/api/plans/${sq01.id}`)).statusCode, 403)
    t.equal((await gw.as(await gw.login('site.technician')).request('PUT', `/api/plans/${wy01.id}?${qs(CORNERS)}`, png, { 'content-type': 'image/png' })).statusCode, 201, 'a site technician plans their site')
  })

  await t.test('PATCH corrects the corners only: the image, its hash and URL stay; refused like the upload', async (t) => {
    const patch = (as: typeof tech, unitId: number, body: unknown) => as.patch(`/api/plans/${unitId}`, body)
    const before = (await patrol.get(`/api/plans/${sq01.id}`)).json
    const etag = (await patrol.request('GET', `/api/plans/${sq01.id}/image`)).headers.etag
    const moved = { nwLat: 30.581, nwLon: 114.351, seLat: 30.566, seLon: 114.379 }
    const res = await patch(tech, sq01.id, moved)
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json, { ...before, corners: { nw: { lat: 30.581, lon: 114.351 }, se: { lat: 30.566, lon: 114.379 } }, updatedAt: res.json.updatedAt }, 'only the corners (and the time) changed')
    t.same((await patrol.get(`/api/plans/${sq01.id}`)).json, res.json, 'GET answers the same resource')
    const img = await patrol.request('GET', `/api/plans/${sq01.id}/image`, undefined, { 'if-none-match': String(etag) })
    t.equal(img.statusCode, 304, 'the image is untouched: the old ETag still matches')

    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...moved, nwLat: 95 }, 'body.nwLat', /<= 90/],
      [{ ...moved, seLon: -181 }, 'body.seLon', />= -180/],
      [{ ...moved, nwLat: 30.5 }, 'body.nwLat', /north of the south-east corner/],
      [{ ...moved, nwLon: 114.4 }, 'body.nwLon', /west of the south-east corner/],
      [{ nwLat: 30.58, nwLon: 114.35, seLat: 30.565 }, 'body.seLon', /required/],
      [{ ...moved, nwLat: 'north' }, 'body.nwLat', /number/],
      [{ ...moved, image: 'x' }, 'body.image', /not a known field/],
    ]
    for (const [body, field, message] of cases) {
      const bad = await patch(tech, sq01.id, body)
      t.equal(bad.statusCode, 400, `${JSON.stringify(body)} → 400`)
      t.equal(bad.json.errors[0].field, field)
      t.match(bad.json.errors[0].message, message)
    }
    const text = await tech.request('PATCH', `/api/plans/${sq01.id}`, 'nwLat=1', { 'content-type': 'text/plain' })
    t.equal(text.statusCode, 415)
    t.equal(text.json.errors[0].field, 'headers.content-type')
    t.same((await patrol.get(`/api/plans/${sq01.id}`)).json.corners, res.json.corners, 'nothing refused moved the corners')

    const none = makeChildUnit(gw, 'JD01-SQ01', '无图小区')
    t.equal((await patch(tech, none.id, moved)).statusCode, 404, 'a unit without a plan')
    t.equal((await patch(tech, sq02.id, moved)).statusCode, 404, 'another community, which has a plan')
    t.equal((await patch(tech, 999_999, moved)).statusCode, 404, 'no such unit')
    t.equal((await patch(tech, sq02.id, { ...moved, nwLat: 30.5 })).statusCode, 404, 'scope before the corners')
    const p = await patch(patrol, sq01.id, moved)
    t.equal(p.statusCode, 403)
    t.equal(p.json.code, 'forbidden')
    t.equal((await patch(researcher, sq01.id, { ...moved, nwLat: 30.5 })).statusCode, 403, 'role before the corners')
    t.equal((await patch(stationTech, sq01.id, CORNERS)).statusCode, 200, 'the station above may correct it too')

    const admin = gw.as(await gw.login('community.admin'))
    const rows = (await admin.get(`/api/audit?action=plan.corners&targetId=${sq01.id}`)).json.items as { actor: string; targetType: string; detail: { sha256: string; before: unknown; corners: unknown } }[]
    t.same(rows.map((a) => [a.actor, a.targetType, a.detail.sha256]).reverse(), [
      ['community.technician', 'plan', before.sha256],
      ['station.technician', 'plan', before.sha256],
    ])
    t.same(rows[rows.length - 1]!.detail.before, before.corners, 'the corners before the change are kept')
    t.same(rows[rows.length - 1]!.detail.corners, res.json.corners)
  })

  await t.test('uploads and deletions are audited; delete removes the plan', async (t) => {
    const admin = gw.as(await gw.login('community.admin'))
    const uploads = (await admin.get(`/api/audit?action=plan.upload&targetId=${sq01.id}`)).json.items as { actor: string; targetType: string; detail: { replaced: boolean; contentType: string; sha256: string } }[]
    t.same(uploads.map((a) => [a.actor, a.targetType, a.detail.contentType, a.detail.replaced]).reverse(), [
      ['community.technician', 'plan', 'image/png', false],
      ['station.technician', 'plan', 'image/jpeg', true],
    ])
    const del = await tech.delete(`/api/plans/${sq01.id}`)
    t.equal(del.statusCode, 204)
    t.equal((await patrol.get(`/api/plans/${sq01.id}`)).statusCode, 404)
    t.equal((await patrol.get(`/api/plans/${sq01.id}/image`)).statusCode, 404)
    t.equal((await tech.delete(`/api/plans/${sq01.id}`)).statusCode, 404, 'already gone')
    const deletions = (await admin.get(`/api/audit?action=plan.delete&targetId=${sq01.id}`)).json.items as { actor: string }[]
    t.same(deletions.map((a) => a.actor), ['community.technician'])
  })

  await t.test('a unit holding a plan is not deleted until the plan is', async (t) => {
    const empty = makeChildUnit(gw, 'JD01-SQ01', '测试小区')
    const admin = gw.as(await gw.login('community.admin'))
    t.equal((await put(tech, empty.id, png, 'image/png')).statusCode, 201)
    const refused = await admin.delete(`/api/units/${empty.id}`)
    t.equal(refused.statusCode, 409)
    t.match(refused.json.detail, /1 map plan/)
    t.equal((await tech.delete(`/api/plans/${empty.id}`)).statusCode, 204)
    t.equal((await admin.delete(`/api/units/${empty.id}`)).statusCode, 204)
  })
})
