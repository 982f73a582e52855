/// <reference lib="dom" />
/**
 * Screenshots of the main screens for the docs: a demo gateway on a temporary data dir, the built
 * web application (run scripts/build-web.sh first), headless Chromium. Writes docs/screenshots/*.png.
 *
 *   npx tsx scripts/screenshots.ts
 *   SHOTS_ONLY=footage|map npx tsx scripts/screenshots.ts   (that screenshot alone)
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
  const config = loadConfig({ env: {}, overrides: { dataDir, demo: true, log: { level: 'warn' }, http: { port: 0 }, recordings: { segmentSeconds: 2, freeSpaceFloorMb: 0 }, cameras: { allowedCidrs: [...loadConfig({ env: {} }).cameras.allowedCidrs, '127.0.0.0/8'] } } })
  const gw = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: 'screenshots-gw-pass' } })
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

  // the map: a district plan drawn here (roads, a river, a block per community at its coordinates),
  // uploaded as the street's plan, with health checked so the dots have colours
  const mapShot = async () => {
    const login = async (username: string) => (await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: DEMO_PASSWORD } })).json().token as string
    const tech = { authorization: `Bearer ${await login('station.technician')}` }
    const units = (await gw.app.inject({ url: '/api/units', headers: tech })).json().items as { id: number; tier: string; name: string; path: string; lat: number | null; lon: number | null }[]
    const station = units.find((u) => u.tier === 'police_station')!
    const all = (await gw.app.inject({ url: '/api/cameras?limit=500', headers: tech })).json().items as { id: number; unitId: number; location: { lat: number; lon: number } }[]
    const cams = all.filter((c) => units.find((u) => u.id === c.unitId)?.path.startsWith(station.path))
    const lats = cams.map((c) => c.location.lat)
    const lons = cams.map((c) => c.location.lon)
    // the station's cameras with a margin, widened to a 16:10 picture (a degree of longitude is cos(lat) of one of latitude)
    const k = Math.cos((lats[0]! * Math.PI) / 180)
    let latSpan = Math.max(...lats) - Math.min(...lats) + 0.004
    let lonSpan = Math.max(...lons) - Math.min(...lons) + 0.006
    if ((lonSpan * k) / latSpan < 1.6) lonSpan = (1.6 * latSpan) / k
    else latSpan = (lonSpan * k) / 1.6
    const midLat = (Math.max(...lats) + Math.min(...lats)) / 2
    const midLon = (Math.max(...lons) + Math.min(...lons)) / 2
    const corners = { nwLat: midLat + latSpan / 2, nwLon: midLon - lonSpan / 2, seLat: midLat - latSpan / 2, seLon: midLon + lonSpan / 2 }
    // one site camera made unreachable: the map shows a red dot among the green ones
    const broken = cams.find((c) => units.find((u) => u.id === c.unitId)?.tier === 'site')!
    await gw.app.inject({ method: 'PATCH', url: `/api/cameras/${broken.id}`, headers: tech, payload: { streams: { main: { uri: 'rtsp://127.0.0.1:9/gone', codec: 'h264' } } } })
    await gw.app.inject({ method: 'POST', url: `/api/health/check?unit=${station.id}`, headers: tech })
    for (let i = 0; i < 2; i++) await gw.app.inject({ method: 'POST', url: `/api/cameras/${broken.id}/health/check`, headers: tech })
    const page = await open('station.technician')
    const png = await page.evaluate(
      ({ corners, units, title }) => {
        const W = 1600
        const H = Math.round((W * (corners.nwLat - corners.seLat)) / ((corners.seLon - corners.nwLon) * Math.cos((corners.nwLat * Math.PI) / 180)))
        const canvas = document.createElement('canvas')
        canvas.width = W
        canvas.height = H
        const g = canvas.getContext('2d')!
        // no helper functions in here: tsx would wrap them in a __name() the page does not have
        const sx = W / (corners.seLon - corners.nwLon)
        const sy = H / (corners.nwLat - corners.seLat)
        g.fillStyle = '#101b2c'
        g.fillRect(0, 0, W, H)
        g.strokeStyle = '#0f3a5f'
        g.lineWidth = 46
        g.beginPath()
        g.moveTo(0, H * 0.86)
        g.bezierCurveTo(W * 0.3, H * 0.7, W * 0.55, H * 1.02, W, H * 0.8)
        g.stroke()
        for (const u of units) {
          if (u.lat === null || u.lon === null || u.tier !== 'community') continue
          g.fillStyle = '#17263d'
          g.strokeStyle = '#2b4063'
          g.lineWidth = 2
          g.beginPath()
          const ux = (u.lon - corners.nwLon) * sx
          const uy = (corners.nwLat - u.lat) * sy
          g.roundRect(ux - 62, uy - 48, 124, 96, 8)
          g.fill()
          g.stroke()
          g.fillStyle = '#7f93b5'
          g.font = '20px "Noto Sans CJK SC", sans-serif'
          g.fillText(u.name.replace('工作站', ''), ux - 56, uy + 40)
        }
        g.strokeStyle = '#33496e'
        g.lineWidth = 14
        for (const f of [0.2, 0.5, 0.8]) {
          g.beginPath()
          g.moveTo(0, H * f)
          g.lineTo(W, H * f)
          g.stroke()
          g.beginPath()
          g.moveTo(W * f, 0)
          g.lineTo(W * f, H)
          g.stroke()
        }
        g.fillStyle = '#a9b8d3'
        g.font = 'bold 30px "Noto Sans CJK SC", sans-serif'
        g.fillText(title, 28, 88)
        return canvas.toDataURL('image/png').split(',')[1]!
      },
      { corners, units, title: `${station.name} 辖区平面图` },
    )
    const query = new URLSearchParams(Object.entries(corners).map(([k, v]) => [k, String(v)]))
    const put = await gw.app.inject({ method: 'PUT', url: `/api/plans/${station.id}?${query}`, headers: { ...tech, 'content-type': 'image/png' }, payload: Buffer.from(png, 'base64') })
    if (put.statusCode !== 201) throw new Error(`plan upload: ${put.statusCode} ${put.body}`)
    await page.locator('[data-testid=nav] a[data-route=map]').click()
    await page.locator('[data-testid=map][data-mode=plan]').waitFor()
    await page.locator('[data-testid=map-camera]').first().waitFor()
    await page.waitForTimeout(500)
    await shot(page, 'map')
    await page.context().close()
  }

  try {
    if (process.env.SHOTS_ONLY === 'map') return await mapShot()
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

    await wall.context().close()
    await mapShot()

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
