/// <reference lib="dom" />
import t from 'tap'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

t.test('health dashboard and safety index', async (t) => {
  const { base } = await startWebGateway(t)
  const browser = await launchBrowser(t)
  const page = await newPage(browser)
  await signIn(page, base, 'street.technician')
  await page.locator('[data-testid=nav] a[data-route=health]').click()
  await page.locator('[data-testid=health-rate]').waitFor()
  await page.locator('[data-testid=health-units] tr').first().waitFor()
  t.ok((await page.locator('[data-testid=health-units] tr').count()) >= 16, 'a row per street, station and community')
  await page.locator('[data-testid=health-check-all]').click()
  await page.locator('[data-testid=toast]', { hasText: '已检测' }).waitFor({ timeout: 60_000 })
  t.match(await page.locator('[data-testid=toast]').textContent(), /已检测 \d+ 台/, 'check now reports what it found')
  t.match(await page.locator('[data-testid=health-rate] .rate-value').textContent(), /^(\d+\.\d%|—)$/)

  await page.locator('[data-testid=nav] a[data-route=safety]').click()
  await page.locator('[data-testid=safety-card]').first().waitFor()
  t.ok((await page.locator('[data-testid=safety-card]').count()) >= 4, 'the street and its stations are coloured')
  const colours = await page.locator('[data-testid=safety-card]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.colour))
  t.ok(colours.every((c) => ['green', 'blue', 'orange', 'red'].includes(c!)), `colours: ${colours.join(',')}`)
})
