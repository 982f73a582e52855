/// <reference lib="dom" />
/**
 * Screenshots of the main screens for the docs: a demo gateway on a temporary data dir, the built
 * web application (run scripts/build-web.sh first), headless Chromium. Writes docs/screenshots/*.png.
 *
 *   npx tsx scripts/screenshots.ts
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { buildGateway } from '../src/app.js'
import { loadConfig } from '../src/core/config.js'
import { projectRoot } from '../src/core/paths.js'
import { DEMO_PASSWORD } from '../src/features/demo/index.js'

const OUT = join(projectRoot, 'docs', 'screenshots')
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required']

async function main(): Promise<void> {
  if (!existsSync(join(projectRoot, 'web', 'dist', 'index.html'))) throw new Error('web/dist is missing: run `bash scripts/build-web.sh` first')
  mkdirSync(OUT, { recursive: true })
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-shots-'))
  const config = loadConfig({ env: {}, overrides: { dataDir, demo: true, log: { level: 'warn' }, http: { port: 0 }, recordings: { segmentSeconds: 2, freeSpaceFloorMb: 0 } } })
  const gw = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: 'screenshots-admin-pass' } })
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const addr = gw.app.server.address()
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ARGS, headless: true })
  const shot = async (page: Page, name: string) => {
    await page.screenshot({ path: join(OUT, `${name}.png`) })
    process.stdout.write(`  docs/screenshots/${name}.png\n`)
  }
  const open = async (username: string | null) => {
    const context = await browser.newContext({ viewport: { width: 1600, height: 900 }, locale: 'zh-CN', acceptDownloads: true })
    const page = await context.newPage()
    await page.goto(`${base}/`)
    if (username) {
      await page.locator('input[name=username]').fill(username)
      await page.locator('input[name=password]').fill(DEMO_PASSWORD)
      await page.locator('form[data-testid=login-form] button[type=submit]').click()
      await page.locator('[data-testid=nav]').waitFor()
    }
    return page
  }
  const waitLive = (page: Page, n: number) =>
    page.waitForFunction((n) => {
      const tiles = window.__gwWall?.tiles() ?? []
      return tiles.filter((x) => (x.stats?.framesDecoded ?? 0) > 5).length >= n
    }, n, { timeout: 60_000 })

  try {
    // footage: two cameras recording (the second from later on: a gap), playback, an export for a case, verified
    {
      const login = async (username: string) => (await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: DEMO_PASSWORD } })).json().token as string
      const tech = { authorization: `Bearer ${await login('street.technician')}` }
      const researcher = { authorization: `Bearer ${await login('station.researcher')}` }
      const cams = (await gw.app.inject({ url: '/api/cameras?limit=2', headers: researcher })).json().items as { id: number }[]
      await gw.app.inject({ method: 'PUT', url: `/api/cameras/${cams[0]!.id}/recording`, headers: tech, payload: { mode: 'continuous' } })
      await new Promise((r) => setTimeout(r, 8000))
      await gw.app.inject({ method: 'PUT', url: `/api/cameras/${cams[1]!.id}/recording`, headers: tech, payload: { mode: 'continuous' } })
      await new Promise((r) => setTimeout(r, 10_000))
      const patrol = { authorization: `Bearer ${await login('station.patrol')}` }
      const kase = (await gw.app.inject({ method: 'POST', url: '/api/cases', headers: patrol, payload: { kind: 'intrusion', title: '东湖派出所门前 夜间翻越围栏', cameraIds: [cams[0]!.id] } })).json()
      const page = await open('station.researcher')
      await page.setViewportSize({ width: 1600, height: 1200 })
      await page.locator('[data-testid=nav] a[data-route=footage]').click()
      for (const c of cams) await page.locator(`[data-testid=fx-camera][data-camera="${c.id}"] input[type=checkbox]`).check()
      const now = Date.now()
      const local = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19)
      await page.locator('[data-testid=fx-from]').fill(local(now - 30_000))
      await page.locator('[data-testid=fx-to]').fill(local(now + 5000))
      await page.locator('[data-testid=fx-query]').click()
      const seg = page.locator(`[data-testid=fx-row][data-camera="${cams[0]!.id}"] [data-testid=fx-seg]`).nth(3)
      await seg.click()
      await page.waitForFunction(() => ((document.querySelector('[data-testid=fx-video]') as HTMLVideoElement | null)?.readyState ?? 0) >= 2, undefined, { timeout: 30_000 })
      await page.locator('[data-testid=fx-case]').selectOption(String(kase.id))
      await page.locator('[data-testid=fx-reason]').fill('调取案发前后录像，移交办案单位')
      await page.locator('[data-testid=fx-export-start]').click()
      await page.locator('[data-testid=fx-job][data-state=done]').waitFor({ timeout: 60_000 })
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=fx-download]').click()])
      const zip = join(dataDir, 'export-shot.zip')
      await download.saveAs(zip)
      await page.locator('[data-testid=fx-verify-file]').setInputFiles(zip)
      await page.locator('[data-testid=fx-verdict]').waitFor()
      await page.locator('[data-testid=fx-video]').evaluate((v) => (v as HTMLVideoElement).pause())
      await page.waitForTimeout(500)
      await shot(page, 'footage')
      await page.context().close()
      if (process.env.SHOTS_ONLY === 'footage') return
    }

    // login
    const login = await open(null)
    await login.locator('input[name=username]').fill('street.patrol')
    await shot(login, 'login')
    await login.context().close()

    // the wall of 9 with live video and stats
    const wall = await open('street.patrol')
    await wall.locator('[data-testid=tree-camera]').first().waitFor()
    await wall.locator('[data-testid=layouts] button[data-size="9"]').click()
    for (const unit of await wall.locator('[data-testid=tree-unit][data-tier=community]').all().then((u) => u.slice(0, 2))) await unit.click()
    const cams = wall.locator('[data-testid=tree-camera]')
    for (let i = 0; i < 9; i++) await cams.nth(i).dblclick()
    await waitLive(wall, 9)
    await wall.keyboard.press('i')
    await wall.waitForTimeout(2500)
    await shot(wall, 'wall')

    // the tree, searched and expanded
    await wall.locator('[data-testid=tree-search]').fill('社区')
    await wall.waitForTimeout(300)
    await wall.locator('aside.side').first().screenshot({ path: join(OUT, 'tree.png') })
    process.stdout.write('  docs/screenshots/tree.png\n')
    await wall.locator('[data-testid=tree-search]').fill('')

    // a patrol tour running on a wall of 4
    for (let i = 2; i < 9; i++) await cams.nth(i).locator('input[type=checkbox]').check()
    await wall.locator('input[name=tour-name]').fill('夜间重点部位轮巡')
    await wall.locator('input[name=tour-interval]').fill('15')
    await wall.locator('[data-testid=tour-form] button[type=submit]').click()
    await wall.locator('[data-testid=tour-item]').first().waitFor()
    await wall.locator('[data-testid=layouts] button[data-size="4"]').click()
    await wall.locator('[data-testid=tour-run]').first().click()
    await wall.keyboard.press('i')
    await waitLive(wall, 4)
    await wall.waitForTimeout(1500)
    await shot(wall, 'tour')
    await wall.locator('[data-testid=tour-stop]').click()

    // the map
    await wall.locator('[data-testid=nav] a[data-route=map]').click()
    await wall.locator('[data-testid=map-camera]').first().waitFor()
    await wall.waitForTimeout(300)
    await shot(wall, 'map')
    await wall.context().close()

    // an alarm through the webhook, and the case screen
    {
      const token = (await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'street.admin', password: DEMO_PASSWORD } })).json().token as string
      const auth = { authorization: `Bearer ${token}` }
      const street = (await gw.app.inject({ url: '/api/units?tier=street', headers: auth })).json().items[0]
      const source = (await gw.app.inject({ method: 'POST', url: '/api/alarm-sources', headers: auth, payload: { name: '一键报警箱', unitId: street.id } })).json()
      const cams = (await gw.app.inject({ url: '/api/cameras?limit=20', headers: auth })).json().items as { id: number }[]
      const page = await open('street.patrol')
      await page.locator('[data-testid=nav] a[data-route=cases]').click()
      await page.locator('[data-testid=live-dot].on').waitFor()
      for (const [i, kind] of (['motion', 'tamper', 'one_button_alarm'] as const).entries()) {
        await gw.app.inject({ method: 'POST', url: '/api/alarms', headers: { 'x-alarm-token': source.token }, payload: { kind, cameraId: cams[i * 3 + 5]!.id, description: kind === 'one_button_alarm' ? '居民按下一键报警，称楼道有可疑人员' : undefined } })
      }
      await page.locator('[data-testid=alarm-flash]').waitFor()
      await page.locator('[data-testid=alarm-flash]').click()
      await page.locator('[data-testid=case-detail]').waitFor()
      await page.locator('[data-testid=case-actions] button[data-to]').first().click()
      await page.locator('input[name=comment]').fill('已通知街面巡逻组前往处置')
      await page.locator('input[name=comment]').press('Enter')
      await page.locator('[data-testid=case-timeline] li', { hasText: '街面巡逻组' }).waitFor()
      await page.waitForTimeout(1500)
      await shot(page, 'cases')
      await page.context().close()
    }

    // health and safety index
    {
      const page = await open('street.technician')
      await page.locator('[data-testid=nav] a[data-route=health]').click()
      await page.locator('[data-testid=health-check-all]').click()
      await page.locator('[data-testid=toast]').waitFor({ timeout: 60_000 })
      await page.locator('[data-testid=health-units] tr').first().waitFor()
      await page.waitForTimeout(800)
      await shot(page, 'health')
      await page.locator('[data-testid=nav] a[data-route=safety]').click()
      await page.locator('[data-testid=safety-card]').first().waitFor()
      await shot(page, 'safety')
      await page.context().close()
    }

    // the registry with an import error report
    const reg = await open('street.technician')
    await reg.locator('[data-testid=nav] a[data-route=registry]').click()
    await reg.locator('[data-testid=reg-row]').first().waitFor()
    const csv = 'name,unit_code,class,kind,lat,lon\n新建 东门,JD01-SQ02,2,fixed,30.57,114.36\n坏类别,JD01-SQ02,7,fixed,,\n无此单位,NO-SUCH-UNIT,2,fixed,,\n'
    await reg.locator('[data-testid=reg-import-file]').setInputFiles({ name: 'cameras.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
    await reg.locator('[data-testid=reg-import-errors]').waitFor()
    await shot(reg, 'registry')
    await reg.context().close()

    // the audit log, verified
    const admin = await open('street.admin')
    await admin.locator('[data-testid=nav] a[data-route=audit]').click()
    await admin.locator('[data-testid=audit-table] tbody tr').first().waitFor()
    await admin.locator('[data-testid=audit-verify]').click()
    await admin.locator('[data-testid=audit-verdict]').waitFor()
    await shot(admin, 'audit')
    await admin.context().close()
  } finally {
    await browser.close()
    await gw.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`screenshots: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  },
)
