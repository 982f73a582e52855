/// <reference lib="dom" />
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('footage: timeline, playback, export with progress, download and verify', async (t) => {
  const { gw, base } = await startWebGateway(t, { overrides: { recordings: { segmentSeconds: 2, freeSpaceFloorMb: 0, guardIntervalSeconds: 3600, gapToleranceMs: 1500 } } })
  // a camera in the station researcher's scope records continuously
  const researcherApi = gw.as(await gw.login('station.researcher'))
  const cams = (await researcherApi.get('/api/cameras?limit=50')).json.items as { id: number; name: string; unitId: number }[]
  t.ok(cams.length > 0, 'the station researcher sees cameras')
  const cam = cams[0]!
  // as the health checks record an ONVIF camera whose clock runs 12.4 s behind the gateway's
  gw.services.registry.setClockOffset(cam.id, -12_400)
  const tech = gw.as(await gw.login('street.technician'))
  const put = await tech.request('PUT', `/api/cameras/${cam.id}/recording`, { mode: 'continuous' })
  t.equal(put.statusCode, 200, put.body)
  const t0 = Date.now()
  const range = () => `from=${new Date(t0 - 60_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`
  const deadline = Date.now() + 60_000
  for (;;) {
    const tl = await researcherApi.get(`/api/recordings?camera=${cam.id}&${range()}`)
    if (tl.statusCode === 200 && tl.json.cameras[0].segments.length >= 2) break
    if (Date.now() > deadline) throw new Error(`no footage: ${tl.body}`)
    await sleep(500)
  }
  t.pass('the camera has at least 2 segments')
  // a case in scope, opened by the station's patrol officer
  const patrol = gw.as(await gw.login('station.patrol'))
  const kase = await patrol.post('/api/cases', { kind: 'other', title: '录像取证测试', cameraIds: [cam.id] })
  t.equal(kase.statusCode, 201, kase.body)

  if (process.env.FOOTAGE_API_ONLY) return
  const browser = await launchBrowser(t)
  const page = await newPage(browser)
  await signIn(page, base, 'station.researcher')
  await page.locator('[data-testid=nav] a[data-route=footage]').click()
  await page.locator('[data-testid=footage]').waitFor()
  await page.locator(`[data-testid=fx-camera][data-camera="${cam.id}"] input[type=checkbox]`).check()
  await page.locator('[data-testid=fx-query]').click()
  const row = page.locator(`[data-testid=fx-row][data-camera="${cam.id}"]`)
  await row.waitFor()
  t.ok(Number(await row.getAttribute('data-segments')) >= 2, 'the timeline shows the segments')
  t.ok((await row.locator('[data-testid=fx-seg]').count()) >= 2, 'segments are drawn')
  t.ok((await row.locator('.fx-gap').count()) >= 1, 'the time before recording started is a gap')
  const clockNote = row.locator('[data-testid=fx-camera-clock]')
  t.equal(await clockNote.getAttribute('data-offset-ms'), '-12400', "the camera's clock offset of its footage is shown")
  t.match(await clockNote.textContent(), /−12\.4/)

  // click on the second segment: playback starts at that wall-clock moment
  const seg = row.locator('[data-testid=fx-seg]').nth(1)
  const box = (await seg.boundingBox())!
  const track = (await row.locator('[data-testid=fx-track]').boundingBox())!
  const shown = await page.evaluate(() => [document.querySelector('[data-testid=fx-from]'), document.querySelector('[data-testid=fx-to]')].map((e) => new Date((e as HTMLInputElement).value).getTime()))
  const clickX = box.x + box.width / 2
  const target = shown[0]! + ((clickX - track.x) / track.width) * (shown[1]! - shown[0]!)
  await page.mouse.click(clickX, box.y + box.height / 2)
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=fx-video]') as HTMLVideoElement | null
    return !!v && v.readyState >= 2 && v.currentTime > 0
  }, undefined, { timeout: 30_000 })
  const c1 = await page.locator('[data-testid=fx-video]').evaluate((v) => (v as HTMLVideoElement).currentTime)
  await sleep(1500)
  const c2 = await page.locator('[data-testid=fx-video]').evaluate((v) => (v as HTMLVideoElement).currentTime)
  t.ok(c2 > c1, `playback advances (${c1.toFixed(2)} → ${c2.toFixed(2)})`)
  const wall = await page.locator('[data-testid=fx-wallclock]').textContent()
  const wallMs = Number(await page.locator('[data-testid=fx-wallclock]').getAttribute('data-ms'))
  t.ok(Math.abs(wallMs - target) < 3000, `playback started where the timeline was clicked (${Math.round((wallMs - target) / 100) / 10} s off, 1.5 s of it played)`)
  t.match(wall, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, `the picture's wall-clock time is shown: ${wall}`)

  // export with a case and a reason: the progress bar reaches 100 %, then a download
  const start = page.locator('[data-testid=fx-export-start]')
  t.ok(await start.isDisabled(), 'a researcher cannot export without a case and a reason')
  await page.locator('[data-testid=fx-case]').selectOption(String(kase.json.id))
  await page.locator('[data-testid=fx-reason]').fill('调取案发时段录像')
  await start.click()
  await page.locator('[data-testid=fx-job][data-state=done]').waitFor({ timeout: 60_000 })
  t.equal(await page.locator('[data-testid=fx-progress]').getAttribute('aria-valuenow'), '100', 'the progress bar reaches 100 %')
  t.equal(await page.locator('[data-testid=fx-progress-text]').textContent(), '100%')
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=fx-download]').click()])
  const dir = mkdtempSync(join(tmpdir(), 'gw-footage-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'export.zip')
  await download.saveAs(file)
  t.ok(statSync(file).size > 1000, 'the evidence package downloads')
  t.match(download.suggestedFilename(), /\.zip$/)

  // verify the downloaded file through the screen
  await page.locator('[data-testid=fx-verify-file]').setInputFiles(file)
  const verdict = page.locator('[data-testid=fx-verdict]')
  await verdict.waitFor({ timeout: 30_000 })
  t.equal(await verdict.getAttribute('data-ok'), 'true', 'the package verifies')
  t.match(await page.locator('[data-testid=fx-verdict-summary]').textContent(), /校验通过/)
  t.match(await page.locator('[data-testid=fx-signature]').textContent(), /签名有效/)
  const statuses = await page.locator('[data-testid=fx-file]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.status))
  t.ok(statuses.length >= 1 && statuses.every((s) => s === 'ok'), `each file intact: ${statuses.join(',')}`)

  // a tampered copy is reported in plain words
  const bytes = readFileSync(file)
  const tampered = Buffer.from(bytes)
  const at = tampered.indexOf(Buffer.from('mdat'))
  t.ok(at > 0, 'the video data is in the zip')
  tampered[at + 200] = tampered[at + 200]! ^ 0xff
  const bad = join(dir, 'tampered.zip')
  writeFileSync(bad, tampered)
  await page.locator('[data-testid=fx-verify-file]').setInputFiles(bad)
  await page.locator('[data-testid=fx-verdict][data-ok=false]').waitFor({ timeout: 30_000 })
  t.match(await page.locator('[data-testid=fx-verdict-summary]').textContent(), /校验未通过/)
  t.ok((await page.locator('[data-testid=fx-file][data-status=hash_mismatch]').count()) >= 1, 'the altered file is named')
})
