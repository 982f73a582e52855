/// <reference lib="dom" />
import t from 'tap'
import { startOnvifSimulator } from '../support/onvif-sim/index.js'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

t.test('discovery: scan a host, adopt it, errors in plain words', async (t) => {
  const device = await startOnvifSimulator({ address: '127.33.77.1', password: 'Cam-pass-1', discovery: {} })
  t.teardown(() => device.close())
  const { gw, base } = await startWebGateway(t, { overrides: { discovery: { allowedCidrs: ['127.0.0.0/8'], onvifTimeoutMs: 1500 } } })
  const browser = await launchBrowser(t)
  const page = await newPage(browser)
  await signIn(page, base, 'street.technician')
  await page.locator('[data-testid=nav] a[data-route=discovery]').click()
  await page.locator('[data-testid=disc-scan] input[name=hosts]').fill('127.33.77.1')
  await page.locator('[data-testid=disc-scan] button[type=submit]').click()
  await page.locator('[data-testid=disc-progress]', { hasText: '扫描完成' }).waitFor({ timeout: 20_000 }).catch(async (err) => {
    t.comment(await page.locator('[data-testid=discovery]').textContent())
    throw err
  })
  const row = page.locator('[data-testid=disc-candidate]', { hasText: '127.33.77.1' })
  await row.waitFor()
  t.pass('the device is listed as a candidate')

  await row.locator('button').click()
  const form = page.locator('[data-testid=adopt-form]')
  await form.locator('input[name=name]').fill('东门 测试相机')
  await form.locator('input[name=username]').fill('admin')
  await form.locator('input[name=password]').fill('wrong-password')
  await form.locator('button[type=submit]').click()
  await page.locator('[data-testid=adopt-error]').waitFor({ timeout: 15_000 })
  t.match(await page.locator('[data-testid=adopt-error]').textContent(), /用户名或密码错误/, 'a wrong password is said in plain words')

  await form.locator('input[name=password]').fill('Cam-pass-1')
  await form.locator('button[type=submit]').click()
  await page.locator('[data-testid=toast]', { hasText: '已接入' }).waitFor({ timeout: 15_000 })
  const token = await gw.login('street.technician')
  const found = (await gw.as(token).get('/api/cameras?q=东门 测试相机')).json.items
  t.equal(found.length, 1, 'the camera is in the registry')
})
