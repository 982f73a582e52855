/// <reference lib="dom" />
import t from 'tap'
import type { Page } from 'playwright-core'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

type Tiles = { cameraId: number | null; phase: string; stream: string; stats: { framesDecoded: number } | null; attempts: number }[]
const tiles = (page: Page) => page.evaluate(() => window.__gwWall!.tiles()) as Promise<Tiles>

async function waitFor(page: Page, what: string, test: (tiles: Tiles) => boolean, timeoutMs = 30_000): Promise<Tiles> {
  const until = Date.now() + timeoutMs
  let last: Tiles = []
  while (Date.now() < until) {
    last = await tiles(page)
    if (test(last)) return last
    await page.waitForTimeout(250)
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`)
}

t.test('video wall: drag cameras onto a wall of 4, live video, reconnect, saved layout', async (t) => {
  const { gw, base } = await startWebGateway(t)
  const browser = await launchBrowser(t)
  const page = await newPage(browser)
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await signIn(page, base, 'street.patrol')
  await page.locator('[data-testid=tree-camera]').first().waitFor()
  t.equal(await page.locator('[data-testid=wall]').getAttribute('data-size'), '4', 'a new user starts on a wall of 4')

  const treeCams = page.locator('[data-testid=tree-camera]')
  const ids: number[] = []
  for (let i = 0; i < 4; i++) {
    const cam = treeCams.nth(i)
    ids.push(Number(await cam.getAttribute('data-camera-id')))
    await cam.dragTo(page.locator(`[data-tile="${i}"]`))
  }
  const wall = await waitFor(page, 'four cameras on the wall', (ts) => ts.length === 4 && ts.every((x) => x.cameraId !== null))
  t.same(wall.map((x) => x.cameraId), ids, 'each dragged camera lands on the tile it was dropped on')
  t.ok(wall.every((x) => x.stream === 'sub'), 'a wall of 4 uses sub streams')

  const live = await waitFor(page, 'frames decoded in every tile', (ts) => ts.every((x) => (x.stats?.framesDecoded ?? 0) > 0), 45_000)
  t.ok(live.every((x) => x.phase === 'live'), 'all four tiles are live')
  t.ok(live.every((x) => x.stats!.framesDecoded > 0), `frames decoded per tile: ${live.map((x) => x.stats!.framesDecoded).join(', ')}`)
  const names = await page.locator('[data-testid=tile-name]').allTextContents()
  t.equal(names.length, 4)
  t.match(await page.locator('[data-testid=tile-clock]').first().textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, 'each tile shows a live clock')

  // on-demand stats
  t.equal(await page.locator('[data-testid=tile-stats]').count(), 0)
  await page.keyboard.press('i')
  await page.locator('[data-testid=tile-stats]').first().waitFor()
  t.match(await page.locator('[data-testid=tile-stats]').first().textContent(), /帧率 \d+.*码率 \d+ kbps.*延迟 \d+ ms/)

  // the layout is saved for this user
  await page.waitForTimeout(800)
  const token = await gw.login('street.patrol')
  const saved = (await gw.as(token).get('/api/wall/layout')).json
  t.same(saved, { size: 4, tiles: ids, updatedAt: saved.updatedAt }, 'the wall is saved server-side')

  // a dropped tile shows it and reconnects by itself
  await page.evaluate(() => window.__gwWall!.drop(2))
  await waitFor(page, 'tile 3 to notice the drop', (ts) => ts[2]!.phase === 'lost', 10_000)
  t.match(await page.locator('[data-tile="2"] [data-testid=tile-msg]').textContent(), /信号中断/, 'the tile says the signal was lost')
  const back = await waitFor(page, 'tile 3 to come back', (ts) => ts[2]!.phase === 'live' && ts[2]!.attempts >= 1, 20_000)
  t.ok(back[2]!.stats!.framesDecoded > 0, 'the dropped tile is live again without a reload')

  // a wall of 1 takes the main stream; a reload restores the saved wall
  await page.keyboard.press('1')
  const one = await waitFor(page, 'a wall of 1 on the main stream', (ts) => ts.length === 1 && ts[0]!.stream === 'main' && (ts[0]!.stats?.framesDecoded ?? 0) > 0)
  t.equal(one[0]!.cameraId, ids[0])
  await page.keyboard.press('4')
  await page.waitForTimeout(800)
  await page.reload()
  await page.locator('[data-testid=wall-tile]').first().waitFor()
  await waitFor(page, 'the saved wall after a reload', (ts) => ts.length === 4 && ts.every((x, i) => x.cameraId === ids[i]))
  t.pass('the wall survives a reload')

  // full screen by double-click switches the tile to the main stream
  await page.locator('[data-tile="0"]').dblclick()
  const fs = await waitFor(page, 'full-screen tile on main', (ts) => ts[0]!.stream === 'main', 10_000).catch(() => null)
  if (fs) t.pass('a full-screen tile takes the main stream')
  else t.comment('fullscreen is not available in this headless browser')

  t.same(errors, [], 'no page errors')
})

t.test('patrol tour: create from ticked cameras, run, advance, pause, stop', async (t) => {
  const { base } = await startWebGateway(t)
  const browser = await launchBrowser(t)
  const page = await newPage(browser)
  await signIn(page, base, 'street.patrol')
  await page.locator('[data-testid=tree-camera]').first().waitFor()
  const picked: number[] = []
  for (let i = 0; i < 3; i++) {
    const cam = page.locator('[data-testid=tree-camera]').nth(i)
    picked.push(Number(await cam.getAttribute('data-camera-id')))
    await cam.locator('input[type=checkbox]').check()
  }
  await page.locator('input[name=tour-name]').fill('夜间重点巡查')
  await page.locator('input[name=tour-interval]').fill('3')
  await page.locator('[data-testid=tour-form] button[type=submit]').click()
  const item = page.locator('[data-testid=tour-item]', { hasText: '夜间重点巡查' })
  await item.waitFor()
  t.match(await item.textContent(), /3 台.*每 3 秒/)

  await page.locator('[data-testid=layouts] button[data-size="1"]').click()
  await item.locator('[data-testid=tour-run]').click()
  const step = page.locator('[data-testid=tour-step]')
  await step.waitFor()
  t.equal(await step.getAttribute('data-step'), '0')
  t.same((await tiles(page)).map((x) => x.cameraId), [picked[0]])
  await page.waitForFunction(() => document.querySelector('[data-testid=tour-step]')?.getAttribute('data-step') === '1', null, { timeout: 6000 })
  t.same((await tiles(page)).map((x) => x.cameraId), [picked[1]], 'the tour advanced by itself after its interval')

  await page.keyboard.press('n')
  t.equal(await step.getAttribute('data-step'), '2', 'N moves to the next step')
  await page.keyboard.press('n')
  t.equal(await step.getAttribute('data-step'), '0', 'and wraps around')
  await page.keyboard.press('p')
  t.equal(await step.getAttribute('data-step'), '2', 'P goes back')
  await page.keyboard.press(' ')
  await page.waitForTimeout(4000)
  t.equal(await step.getAttribute('data-step'), '2', 'a paused tour stays put')
  await page.locator('[data-testid=tour-pause]').click()
  await page.waitForFunction(() => document.querySelector('[data-testid=tour-step]')?.getAttribute('data-step') === '0', null, { timeout: 6000 })
  t.pass('resumed, it advances again')
  await page.locator('[data-testid=tour-stop]').click()
  t.equal(await page.locator('[data-testid=tour-bar]').count(), 0)
})
