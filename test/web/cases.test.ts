/// <reference lib="dom" />
import t from 'tap'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

t.test('alarms and cases: a webhook alarm appears live, rings, and is handled from the screen', async (t) => {
  const { gw, base } = await startWebGateway(t)
  const browser = await launchBrowser(t)
  const admin = gw.as(await gw.login('street.admin'))
  const street = (await admin.get('/api/units?tier=street')).json.items[0]
  const source = await admin.post('/api/alarm-sources', { name: '一键报警箱 测试', unitId: street.id })
  t.equal(source.statusCode, 201, source.body)
  const camera = (await admin.get('/api/cameras?limit=1')).json.items[0]

  const page = await newPage(browser)
  await signIn(page, base, 'street.patrol')
  await page.locator('[data-testid=nav] a[data-route=cases]').click()
  await page.locator('[data-testid=live-dot].on').waitFor({ timeout: 10_000 })
  t.pass('the live event stream is connected')

  const res = await gw.app.inject({
    method: 'POST',
    url: '/api/alarms',
    headers: { 'x-alarm-token': source.json.token },
    payload: { kind: 'one_button_alarm', cameraId: camera.id, description: '居民按下一键报警' },
  })
  t.equal(res.statusCode, 202, res.body)

  const flash = page.locator('[data-testid=alarm-flash]')
  await flash.waitFor({ timeout: 10_000 })
  t.match(await flash.textContent(), /一键报警/, 'a new one-button alarm flashes on screen')
  const item = page.locator('[data-testid=case-item]').first()
  await item.waitFor()
  t.match(await item.getAttribute('class'), /fresh/, 'and is highlighted in the queue')
  await flash.click()
  const detail = page.locator('[data-testid=case-detail]')
  await detail.waitFor()
  t.equal(await detail.getAttribute('data-state'), 'registered')
  const first = page.locator('[data-testid=case-actions] button[data-to]').first()
  const to = await first.getAttribute('data-to')
  await first.click()
  await page.waitForFunction((to) => document.querySelector('[data-testid=case-detail]')?.getAttribute('data-state') === to, to)
  t.pass(`the case moved to ${to} with one click`)
  await page.locator('input[name=comment]').fill('已派巡逻队前往')
  await page.locator('input[name=comment]').press('Enter')
  await page.locator('[data-testid=case-timeline] li', { hasText: '已派巡逻队前往' }).waitFor()
  t.pass('a comment lands on the timeline')
})

t.test('a patrol officer opens a case from a wall tile, with a snapshot', async (t) => {
  const { base } = await startWebGateway(t)
  const browser = await launchBrowser(t)
  const page = await newPage(browser)
  await signIn(page, base, 'street.patrol')
  await page.locator('[data-testid=tree-camera]').first().dblclick()
  await page.waitForFunction(() => (window.__gwWall?.tiles()[0]?.stats?.framesDecoded ?? 0) > 0, null, { timeout: 30_000 })
  await page.keyboard.press('c')
  const detail = page.locator('[data-testid=case-detail]')
  await detail.waitFor({ timeout: 15_000 })
  t.match(await detail.textContent(), /视频巡查发现/)
  await page.locator('[data-testid=case-snapshot]').waitFor({ timeout: 20_000 })
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>('[data-testid=case-snapshot]')
    return !!img && img.complete && img.naturalWidth > 0
  }, null, { timeout: 20_000 })
  t.pass('the snapshot taken at the time is shown')
})
