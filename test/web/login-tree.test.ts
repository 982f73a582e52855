/// <reference lib="dom" />
import t from 'tap'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

t.test('login, camera tree, scoping and session expiry in a real browser', async (t) => {
  const { gw, base } = await startWebGateway(t)
  const browser = await launchBrowser(t)

  await t.test('street.patrol signs in and sees the whole street by tier', async (t) => {
    const page = await newPage(browser)
    await page.goto(`${base}/`)
    t.equal(await page.locator('h1').first().textContent(), '雪亮工程 视频网关', 'Simplified Chinese by default')
    await page.locator('input[name=username]').fill('street.patrol')
    await page.locator('input[name=password]').fill('wrong-password')
    await page.locator('button[type=submit]').click()
    await page.locator('[data-testid=login-error]').waitFor()
    t.pass('a wrong password shows an error on the login form')

    await signIn(page, base, 'street.patrol')
    await page.locator('[data-testid=tree-camera]').first().waitFor()
    const api = (await gw.as(await gw.login('street.patrol')).get('/api/cameras?limit=500')).json.items as { id: number }[]
    const tiers = await page.locator('[data-testid=tree-unit]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.tier))
    t.ok(tiers.includes('street') && tiers.includes('police_station') && tiers.includes('community'), 'street, stations and communities are in the tree')
    const root = page.locator('[data-testid=tree-unit][data-tier=street] [data-testid=unit-count]')
    t.match(await root.textContent(), new RegExp(`/${api.length}$`), 'the street node counts every camera the user may see')

    // a collapsed community opens on click and shows its cameras with class and kind
    const community = page.locator('[data-testid=tree-unit][data-tier=community]').first()
    await community.click()
    const cam = page.locator('[data-testid=tree-camera]', { hasText: '湖滨社区 视频门禁' })
    await cam.waitFor()
    t.match(await cam.textContent(), /二类.*视频门禁/, 'class and kind are shown')
    t.equal(await cam.locator('.dot').count(), 1, 'a status dot')

    // nav follows roles: patrol staff get no registry, users or audit
    const routes = await page.locator('[data-testid=nav] a').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.route))
    t.same(routes, ['wall', 'cases', 'map', 'health', 'safety'])

    // search narrows the tree
    await page.locator('[data-testid=tree-search]').fill('卡口')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=tree-camera]').length === 1)
    t.match(await page.locator('[data-testid=tree-camera]').first().textContent(), /主干道 路口卡口/)

    // English is complete for what is on screen
    await page.locator('[data-testid=lang]').click()
    t.equal(await page.locator('[data-testid=nav] a[data-route=wall]').textContent(), 'Video wall')
    t.match(await page.locator('[data-testid=tree-camera]').first().textContent(), /Class 1.*Checkpoint/)
    await page.context().close()
  })

  await t.test('community.patrol sees only their community and its sites’ shared cameras', async (t) => {
    const page = await newPage(browser)
    await signIn(page, base, 'community.patrol')
    await page.locator('[data-testid=tree-camera]').first().waitFor()
    const units = await page.locator('[data-testid=tree-unit]').evaluateAll((els) => els.map((e) => ({ tier: (e as HTMLElement).dataset.tier, name: e.querySelector('.unit-name')!.textContent })))
    t.same(units.map((u) => u.tier).sort(), ['community', 'site'])
    t.equal(units.find((u) => u.tier === 'community')!.name, '湖滨社区工作站')
    // open the site node to list its cameras
    await page.locator('[data-testid=tree-unit][data-tier=site]').click()
    const names = await page.locator('[data-testid=tree-camera] .cam-name').allTextContents()
    t.same(names.sort(), ['湖滨社区 出入口', '湖滨社区 视频门禁', '湖滨花园小区 大门'].sort(), 'own cameras and the site’s shared gate camera, not its private garage camera')
    const api = (await gw.as(await gw.login('community.patrol')).get('/api/cameras?limit=500')).json.items as unknown[]
    t.equal(names.length, api.length, 'the tree shows exactly what the API lets the user see')
    await page.context().close()
  })

  await t.test('an expired session goes back to the login screen and says so', async (t) => {
    const page = await newPage(browser)
    await signIn(page, base, 'street.technician')
    const routes = await page.locator('[data-testid=nav] a').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.route))
    t.same(routes, ['wall', 'cases', 'map', 'health', 'safety', 'registry', 'discovery'], 'technicians get the registry and discovery')
    await page.context().clearCookies() // the server-side session is gone for this browser
    await page.locator('[data-testid=layouts] button[data-size="9"]').click() // saving the layout meets a 401
    await page.locator('[data-testid=expired]').waitFor({ timeout: 5000 })
    t.ok(await page.locator('form[data-testid=login-form]').isVisible(), 'back on the login form')
    await page.context().close()
  })

  await t.test('the SPA is served for client routes, API 404s stay problem+json', async (t) => {
    const deep = await fetch(`${base}/registry`)
    t.equal(deep.status, 200)
    t.match(await deep.text(), '<div id="app">')
    t.match(deep.headers.get('content-security-policy') ?? '', "default-src 'self'")
    const api404 = await fetch(`${base}/api/nope`)
    t.equal(api404.status, 404)
    t.match(api404.headers.get('content-type') ?? '', 'application/problem+json')
    t.equal((await fetch(`${base}/assets/missing.js`)).status, 404, 'a missing asset is a 404, not the app')
    const traversal = await fetch(`${base}/..%2f..%2fpackage.json`)
    t.notMatch(await traversal.text(), 'sharp-eyes-gateway', 'no traversal out of web/dist')
  })
})
