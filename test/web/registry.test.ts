/// <reference lib="dom" />
import t from 'tap'
import { ADMIN_PASSWORD } from '../support/gateway.js'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

t.test('registry screens for technicians', async (t) => {
  const { gw, base } = await startWebGateway(t)
  const browser = await launchBrowser(t)
  const page = await newPage(browser)
  await signIn(page, base, 'street.technician')
  await page.locator('[data-testid=nav] a[data-route=registry]').click()
  await page.locator('[data-testid=reg-row]').first().waitFor()
  const token = await gw.login('street.technician')
  const all = (await gw.as(token).get('/api/cameras?limit=500')).json.items as { id: number; name: string }[]
  t.equal(await page.locator('[data-testid=reg-row]').count(), Math.min(100, all.length), 'the list shows the cameras in scope')

  await t.test('search narrows the list', async (t) => {
    await page.locator('[data-testid=reg-search]').fill('门禁')
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=reg-row]')).every((r) => r.textContent!.includes('门禁')))
    t.equal(await page.locator('[data-testid=reg-row]').count(), 12, 'twelve door-access units')
    await page.locator('[data-testid=reg-search]').fill('')
  })

  await t.test('CSV import shows every bad row with its line number, and imports nothing', async (t) => {
    const csv = [
      'name,unit_code,class,kind,lat,lon',
      '新建 东门,JD01-SQ02,2,fixed,30.57,114.36',
      '坏类别,JD01-SQ02,7,fixed,,',
      '无此单位,NO-SUCH-UNIT,2,fixed,,',
      ',JD01-SQ02,2,ptz,,',
      '坏纬度,JD01-SQ02,2,dome,123,114.36',
    ].join('\n')
    await page.locator('[data-testid=reg-import-file]').setInputFiles({ name: 'cameras.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
    await page.locator('[data-testid=reg-import-errors]').waitFor()
    const lines = await page.locator('[data-testid=reg-import-error]').evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.line)))
    t.same([...new Set(lines)].sort(), [3, 4, 5, 6], 'lines 3 to 6 are reported, line 2 is fine')
    const text = await page.locator('[data-testid=reg-import-errors]').textContent()
    t.match(text, /unit_code/)
    t.match(text, /NO-SUCH-UNIT/)
    t.equal((await gw.as(token).get('/api/cameras?q=新建 东门')).json.items.length, 0, 'nothing was imported')
  })

  await t.test('a good CSV imports and the new camera appears', async (t) => {
    const csv = 'name,unit_code,class,kind,lat,lon,tags\n新建 东门,JD01-SQ02,2,fixed,30.57,114.36,测试;东门\n'
    await page.locator('[data-testid=reg-import-file]').setInputFiles({ name: 'ok.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
    await page.locator('[data-testid=reg-import-ok]').waitFor()
    t.match(await page.locator('[data-testid=reg-import-ok]').textContent(), /新增 1/)
    await page.locator('[data-testid=reg-row]', { hasText: '新建 东门' }).waitFor()
    t.pass('the list shows the imported camera')
  })

  await t.test('edit a camera', async (t) => {
    const row = page.locator('[data-testid=reg-row]', { hasText: '新建 东门' })
    await row.locator('[data-testid=reg-edit]').click()
    const form = page.locator('[data-testid=camera-form]')
    await form.locator('input[name=name]').fill('新建 东门（已改名）')
    await form.locator('select[name=kind]').selectOption('ptz')
    await form.locator('button[type=submit]').click()
    await page.locator('[data-testid=reg-row]', { hasText: '新建 东门（已改名）' }).waitFor()
    const cam = (await gw.as(token).get('/api/cameras?q=已改名')).json.items[0]
    t.equal(cam.kind, 'ptz')
    t.same(cam.tags, ['测试', '东门'], 'fields not edited keep their values')
  })

  await t.test('create a camera; a bad value is explained', async (t) => {
    await page.locator('[data-testid=reg-new]').click()
    const form = page.locator('[data-testid=camera-form]')
    await form.locator('input[name=name]').fill('手工新增 球机')
    await form.locator('input[name=lat]').fill('200')
    await form.locator('input[name=main]').fill('rtsp://10.20.30.40:554/main')
    await form.locator('button[type=submit]').click()
    await page.locator('[data-testid=camera-form-error]').waitFor()
    t.match(await page.locator('[data-testid=camera-form-error]').textContent(), /lat/)
    await form.locator('input[name=lat]').fill('30.58')
    await form.locator('input[name=lon]').fill('114.37')
    await form.locator('button[type=submit]').click()
    await page.locator('[data-testid=reg-row]', { hasText: '手工新增 球机' }).waitFor()
    t.pass('created')
  })

  await t.test('CSV export downloads the cameras in scope', async (t) => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=reg-export]').click()])
    t.match(download.suggestedFilename(), /^cameras-\d{4}-\d\d-\d\d\.csv$/)
    const path = await download.path()
    const { readFileSync } = await import('node:fs')
    const text = readFileSync(path!, 'utf8')
    t.match(text, /^\uFEFF?name,unit_code,class,kind/)
    t.match(text, '手工新增 球机')
  })

  await t.test('admins get users and the audit log with chain verification', async (t) => {
    const admin = await newPage(browser)
    await signIn(admin, base, 'street.admin')
    await admin.locator('[data-testid=nav] a[data-route=users]').click()
    await admin.locator('[data-testid=users-table] tbody tr').first().waitFor()
    t.ok((await admin.locator('[data-testid=users-table]').textContent())!.includes('community.patrol'))
    await admin.locator('[data-testid=user-form] input[name=username]').fill('night.watch')
    await admin.locator('[data-testid=user-form] input[name=password]').fill('a-long-enough-password-2026')
    await admin.locator('[data-testid=user-form] button[type=submit]').click()
    await admin.locator('[data-testid=users-table] td', { hasText: 'night.watch' }).first().waitFor()
    t.pass('a user is created')
    await admin.locator('[data-testid=nav] a[data-route=audit]').click()
    await admin.locator('[data-testid=audit-table] tbody tr').first().waitFor()
    t.match(await admin.locator('[data-testid=audit-table]').textContent(), /user\.create/)
    t.equal(await admin.locator('[data-testid=audit-verify]').count(), 0, 'a street admin does not verify the gateway-wide chain')
    await admin.context().close()

    const root = await newPage(browser)
    await signIn(root, base, 'admin', ADMIN_PASSWORD)
    await root.locator('[data-testid=nav] a[data-route=audit]').click()
    await root.locator('[data-testid=audit-verify]').click()
    await root.locator('[data-testid=audit-verdict]').waitFor()
    t.match(await root.locator('[data-testid=audit-verdict]').textContent(), /哈希链完整/)
    await root.context().close()
  })
})
