/// <reference lib="dom" />
import t from 'tap'
import type { Page } from 'playwright-core'
import { unit } from '../support/fixtures.js'
import { GIF_BYTES, makePng } from '../support/images.js'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

/**
 * The map in a real browser: a technician uploads a georeferenced plan through the form (a wrong
 * file and wrong corners first, told in plain words), cameras land on the image where their
 * coordinates say, the unit's cameras off the plan are listed aside; the corners are corrected
 * without re-uploading and the cameras move with them; status dots on the map, the
 * tree and a wall tile change colour when health pushes a change (no reload, well inside the
 * 60 s poll); a patrol user sees the plan without the upload form.
 */
interface Camera { id: number; unitId: number; name: string; location: { lat: number; lon: number } }

// Inside the poll interval (60 s): a change seen this fast came by push.
const PUSH_MS = 8000
const GREEN = '#22c55e'
const RED = '#ef4444'
const GREY = '#94a3b8'

const markerState = (page: Page, id: number) =>
  page.locator(`[data-testid=map-camera][data-camera-id="${id}"]`).evaluate((el) => ({ status: el.getAttribute('data-status'), fill: el.getAttribute('fill') }))

t.test('map: plan upload, cameras placed on it, status dots by push', async (t) => {
  const { gw, base } = await startWebGateway(t, { overrides: { health: { offlineAfterFailures: 1, checkTimeoutSeconds: 2 } } })
  const browser = await launchBrowser(t)
  const tech = gw.as(await gw.login('community.technician'))
  const sq01 = unit(gw, 'JD01-SQ01')
  const wy01 = unit(gw, 'JD01-WY01')
  const cams = (await tech.get('/api/cameras?limit=500')).json.items as Camera[]
  const own = cams.filter((c) => c.unitId === sq01.id)
  const site = cams.filter((c) => c.unitId === wy01.id)
  t.equal(own.length, 2)
  t.equal(site.length, 2, 'the technician sees both site cameras, the private one too')

  // corners around the community's own cameras; the site's cameras (north-east of them) fall outside
  const m = 0.0004
  const corners = {
    nwLat: Math.max(...own.map((c) => c.location.lat)) + m,
    nwLon: Math.min(...own.map((c) => c.location.lon)) - m,
    seLat: Math.min(...own.map((c) => c.location.lat)) - m,
    seLon: Math.max(...own.map((c) => c.location.lon)) + m,
  }
  const rel = (c: Camera) => ({ fx: (c.location.lon - corners.nwLon) / (corners.seLon - corners.nwLon), fy: (corners.nwLat - c.location.lat) / (corners.nwLat - corners.seLat) })
  for (const c of site) t.ok(rel(c).fx > 1 || rel(c).fy < 0, `site camera ${c.name} is off the plan`)
  const png = makePng(800, 600, (x, y) => (x % 100 < 3 || y % 100 < 3 ? [70, 90, 120] : [18, 30, 48]))

  const page = await newPage(browser)
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await signIn(page, base, 'community.technician')
  await page.locator('[data-testid=nav] a[data-route=map]').click()
  const map = page.locator('[data-testid=map]')

  await t.test('no plan yet: the coordinate view, and an upload form for the technician', async (t) => {
    await page.locator('[data-testid=map-camera]').first().waitFor()
    t.equal(await map.getAttribute('data-mode'), 'coords')
    t.match(await page.locator('[data-testid=map-plan-note]').textContent(), /湖滨社区工作站 及其上级单位没有平面图/)
    t.equal(await page.locator('[data-testid=map-unit]').inputValue(), String(sq01.id), 'the user’s own unit is selected')
  })

  await t.test('upload: a wrong file and wrong corners are told in plain words, then the plan shows', async (t) => {
    await page.locator('[data-testid=plan-upload-open]').click()
    const fill = async (c: typeof corners) => {
      for (const [k, v] of Object.entries(c)) await page.locator(`[data-testid=plan-${k}]`).fill(String(v))
    }
    await fill(corners)
    await page.locator('[data-testid=plan-file]').setInputFiles({ name: 'plan.gif', mimeType: 'image/gif', buffer: GIF_BYTES })
    await page.locator('[data-testid=plan-submit]').click()
    t.equal(await page.locator('[data-testid=plan-error]').textContent(), '该文件不是 PNG、JPEG 或 WebP 图片，请换一张图片')

    await page.locator('[data-testid=plan-file]').setInputFiles({ name: 'plan.png', mimeType: 'image/png', buffer: png })
    await fill({ ...corners, nwLat: corners.seLat, seLat: corners.nwLat })
    await page.locator('[data-testid=plan-submit]').click()
    await page.locator('[data-testid=plan-error]', { hasText: '左上角的纬度必须大于右下角的纬度' }).waitFor()
    t.pass('corners the wrong way round: said so')
    await fill({ ...corners, nwLat: 95 })
    await page.locator('[data-testid=plan-submit]').click()
    await page.locator('[data-testid=plan-error]', { hasText: '左上角的纬度必须在 -90 到 90 之间' }).waitFor()
    t.pass('a latitude out of range: said so')

    await fill(corners)
    await page.locator('[data-testid=plan-submit]').click()
    await page.locator('[data-testid=map][data-mode=plan]').waitFor()
    await page.locator('[data-testid=map-plan-image]').waitFor()
    t.match(await page.locator('[data-testid=map-plan-note]').textContent(), /湖滨社区工作站 的平面图/)
    const saved = (await tech.get(`/api/plans/${sq01.id}`)).json
    t.match(saved, { width: 800, height: 600, contentType: 'image/png', corners: { nw: { lat: corners.nwLat, lon: corners.nwLon }, se: { lat: corners.seLat, lon: corners.seLon } } })
    // the image really is drawn: the browser decoded the PNG the gateway served
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid=map-plan-image]') as SVGImageElement | null
      return !!img && img.getBoundingClientRect().width > 100
    })
  })

  await t.test('cameras sit on the image where their coordinates say; the others are listed aside', async (t) => {
    const img = (await page.locator('[data-testid=map-plan-image]').boundingBox())!
    t.ok(Math.abs(img.width / img.height - 800 / 600) < 0.01, 'the image keeps its aspect')
    for (const c of own) {
      const box = (await page.locator(`[data-testid=map-camera][data-camera-id="${c.id}"]`).boundingBox())!
      const fx = (box.x + box.width / 2 - img.x) / img.width
      const fy = (box.y + box.height / 2 - img.y) / img.height
      const want = rel(c)
      t.ok(Math.abs(fx - want.fx) < 0.01 && Math.abs(fy - want.fy) < 0.01, `${c.name}: at (${fx.toFixed(3)}, ${fy.toFixed(3)}), expected (${want.fx.toFixed(3)}, ${want.fy.toFixed(3)})`)
    }
    for (const c of site) t.equal(await page.locator(`[data-testid=map-camera][data-camera-id="${c.id}"]`).count(), 0, `${c.name} is not drawn on the plan`)
    const aside = await page.locator('[data-testid=map-outside-camera]').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.cameraId)))
    t.same(aside.sort(), site.map((c) => c.id).sort(), 'the site’s cameras are listed as outside the plan')
  })

  await t.test('the corners are corrected without choosing a file: the cameras move, the image stays', async (t) => {
    const before = (await tech.get(`/api/plans/${sq01.id}`)).json
    await page.locator('[data-testid=plan-upload-open]').click()
    t.equal(await page.locator('[data-testid=plan-nwLat]').inputValue(), corners.nwLat.toFixed(6), 'prefilled from the current plan')
    // the box stretched west and south by its own size: every camera stays on it, at other fractions
    const moved = { ...corners, nwLon: 2 * corners.nwLon - corners.seLon, seLat: 2 * corners.seLat - corners.nwLat }
    await page.locator('[data-testid=plan-seLat]').fill(String(corners.nwLat + 1))
    await page.locator('[data-testid=plan-save-corners]').click()
    await page.locator('[data-testid=plan-error]', { hasText: '左上角的纬度必须大于右下角的纬度' }).waitFor()
    t.pass('corners the wrong way round: said so')
    for (const [k, v] of Object.entries(moved)) await page.locator(`[data-testid=plan-${k}]`).fill(String(v))
    await page.locator('[data-testid=plan-save-corners]').click()
    await page.locator('[data-testid=plan-form]').waitFor({ state: 'detached' })
    const saved = (await tech.get(`/api/plans/${sq01.id}`)).json
    t.same(saved.corners, { nw: { lat: moved.nwLat, lon: moved.nwLon }, se: { lat: moved.seLat, lon: moved.seLon } })
    t.equal(saved.imageUrl, before.imageUrl, 'same image, same URL')
    const c = own[0]!
    const want = { fx: (c.location.lon - moved.nwLon) / (moved.seLon - moved.nwLon), fy: (moved.nwLat - c.location.lat) / (moved.nwLat - moved.seLat) }
    t.ok(Math.abs(want.fx - rel(c).fx) > 0.1 || Math.abs(want.fy - rel(c).fy) > 0.1, 'the new corners put the camera elsewhere')
    let at = { fx: NaN, fy: NaN }
    for (let i = 0; i < 50; i++) {
      const img = (await page.locator('[data-testid=map-plan-image]').boundingBox())!
      const box = (await page.locator(`[data-testid=map-camera][data-camera-id="${c.id}"]`).boundingBox())!
      at = { fx: (box.x + box.width / 2 - img.x) / img.width, fy: (box.y + box.height / 2 - img.y) / img.height }
      if (Math.abs(at.fx - want.fx) < 0.01 && Math.abs(at.fy - want.fy) < 0.01) break
      await page.waitForTimeout(100)
    }
    t.ok(Math.abs(at.fx - want.fx) < 0.01 && Math.abs(at.fy - want.fy) < 0.01, `${c.name}: at (${at.fx.toFixed(3)}, ${at.fy.toFixed(3)}), expected (${want.fx.toFixed(3)}, ${want.fy.toFixed(3)})`)
  })

  await t.test('a status change turns the map dot green, then red, without a reload', async (t) => {
    const [a] = own
    t.same(await markerState(page, a!.id), { status: 'unknown', fill: GREY })
    const marker = `[data-testid=map-camera][data-camera-id="${a!.id}"]`
    t.equal((await tech.post(`/api/cameras/${a!.id}/health/check`)).json.status, 'online')
    await page.locator(`${marker}[data-status=online]`).waitFor({ timeout: PUSH_MS })
    t.same(await markerState(page, a!.id), { status: 'online', fill: GREEN })

    t.equal((await tech.patch(`/api/cameras/${a!.id}`, { streams: { main: { uri: 'rtsp://127.0.0.1:9/gone', codec: 'h264' } } })).statusCode, 200)
    t.equal((await tech.post(`/api/cameras/${a!.id}/health/check`)).json.status, 'offline')
    await page.locator(`${marker}[data-status=offline]`).waitFor({ timeout: PUSH_MS })
    t.same(await markerState(page, a!.id), { status: 'offline', fill: RED })
  })

  await t.test('the tree and a wall tile follow too', async (t) => {
    const b = own[1]!
    await page.locator('[data-testid=nav] a[data-route=wall]').click()
    const treeCam = page.locator(`[data-testid=tree-camera][data-camera-id="${b.id}"]`)
    await treeCam.waitFor()
    t.equal(await treeCam.locator('.dot').getAttribute('class'), 'dot unknown')
    t.equal(await page.locator(`[data-testid=tree-camera][data-camera-id="${own[0]!.id}"] .dot`).getAttribute('class'), 'dot offline', 'the map’s change is in the tree')
    await treeCam.dblclick()
    const tileDot = page.locator('[data-testid=tile-name]', { hasText: b.name }).locator('.dot')
    await tileDot.waitFor()
    t.equal(await tileDot.getAttribute('class'), 'dot unknown')
    t.equal((await tech.post(`/api/cameras/${b.id}/health/check`)).json.status, 'online')
    await page.locator(`[data-testid=tree-camera][data-camera-id="${b.id}"] .dot.online`).waitFor({ timeout: PUSH_MS })
    await page.locator('[data-testid=tile-name]', { hasText: b.name }).locator('.dot.online').waitFor({ timeout: PUSH_MS })
    t.pass('tree dot and tile dot turned online')
  })

  await t.test('a patrol user sees the plan, no upload form, and not the private site camera', async (t) => {
    const patrol = await newPage(browser)
    await signIn(patrol, base, 'community.patrol')
    await patrol.locator('[data-testid=nav] a[data-route=map]').click()
    await patrol.locator('[data-testid=map][data-mode=plan]').waitFor()
    t.equal(await patrol.locator('[data-testid=plan-upload-open]').count(), 0)
    t.equal(await patrol.locator('[data-testid=plan-delete]').count(), 0)
    const aside = await patrol.locator('[data-testid=map-outside-camera]').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.cameraId)))
    const visible = ((await gw.as(await gw.login('community.patrol')).get('/api/cameras?limit=500')).json.items as Camera[]).filter((c) => c.unitId === wy01.id)
    t.equal(visible.length, 1, 'patrol sees only the shared gate camera of the site')
    t.same(aside, [visible[0]!.id])
    // switching to the coordinate view and back
    await patrol.locator('[data-testid=map-mode-coords]').click()
    await patrol.locator('[data-testid=map][data-mode=coords]').waitFor()
    await patrol.locator('[data-testid=map-mode-plan]').click()
    await patrol.locator('[data-testid=map][data-mode=plan]').waitFor()
    await patrol.locator('[data-testid=lang]').click()
    t.equal(await patrol.locator('[data-testid=map-plan-note]').textContent(), 'Plan of 湖滨社区工作站')
    t.match(await patrol.locator('[data-testid=map-outside] h3').textContent(), /^Cameras outside the plan \(1\)$/)
    await patrol.context().close()
  })

  await t.test('a site user does not get the plan of the community above: coordinate view', async (t) => {
    const sitePage = await newPage(browser)
    await signIn(sitePage, base, 'site.patrol')
    await sitePage.locator('[data-testid=nav] a[data-route=map]').click()
    await sitePage.locator('[data-testid=map-camera]').first().waitFor()
    t.equal(await sitePage.locator('[data-testid=map]').getAttribute('data-mode'), 'coords')
    await sitePage.context().close()
  })

  await t.test('the technician deletes the plan: back to the coordinate view', async (t) => {
    await page.locator('[data-testid=nav] a[data-route=map]').click()
    await page.locator('[data-testid=map][data-mode=plan]').waitFor()
    page.once('dialog', (d) => void d.accept())
    await page.locator('[data-testid=plan-delete]').click()
    await page.locator('[data-testid=map][data-mode=coords]').waitFor()
    t.equal((await tech.get(`/api/plans/${sq01.id}`)).statusCode, 404)
  })

  t.same(errors, [], 'no script errors')
  await page.context().close()
})
