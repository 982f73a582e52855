import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { childProcesses, launchBrowser, openWhepPage } from './browser.js'

/** Demo camera → LiveStream → werift → WHEP → headless Chromium decodes it. */
t.test('Chromium decodes the demo camera over WHEP', async (t) => {
  const gw = await startTestGateway(t, { overrides: { media: { idleTimeoutSeconds: 1 } } })
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (gw.app.server.address() as { port: number }).port
  const base = `http://127.0.0.1:${port}`
  const token = await gw.login('street.patrol')
  const cams = await gw.as(token).get('/api/cameras?limit=5')
  const cam = cams.json.items[0]
  t.match(cam.streams.main.uri, /^demo:/)

  const browser = await launchBrowser(t)
  const wp = await openWhepPage(browser, base)
  const v = await wp.watch(`/api/cameras/${cam.id}/whep?stream=main`, token)
  t.equal(v.status, 201, 'WHEP answered 201')
  t.match(v.location, /^\/api\/whep\/sessions\/[0-9a-f-]{36}$/)
  t.equal(v.mode, 'passthrough-h264')
  const first = await wp.waitFrames(v.index, 0, 20_000)
  t.comment(`first frame decoded ${Math.round(first.ms)} ms after the request`)
  const later = await wp.waitFrames(v.index, first.framesDecoded + 25, 10_000)
  t.comment(`framesDecoded ${first.framesDecoded} → ${later.framesDecoded}, ${later.frameWidth}x${later.frameHeight}`)
  t.equal(later.frameWidth, 1280)
  t.equal(later.frameHeight, 720)

  // A second viewer of the same stream starts from the cached GOP; the upstream is shared.
  const v2 = await wp.watch(`/api/cameras/${cam.id}/whep?stream=main`, token)
  const f2 = await wp.waitFrames(v2.index, 0, 10_000)
  t.comment(`second viewer: first frame after ${Math.round(f2.ms)} ms (timing ${JSON.stringify(await wp.timing(v2.index))})`)
  const streams = gw.services.media.streams().filter((s) => s.cameraId === cam.id)
  t.equal(streams.length, 1)
  t.equal(streams[0]!.viewers, 2)

  // sub stream: 640x360
  const v3 = await wp.watch(`/api/cameras/${cam.id}/whep?stream=sub`, token)
  const f3 = await wp.waitFrames(v3.index, 5, 15_000)
  t.equal(f3.frameWidth, 640)
  t.equal(f3.frameHeight, 360)

  // DELETE ends the session; the audit has the view and its end.
  const del = await gw.as(token).delete(v.location!)
  t.equal(del.statusCode, 204)
  t.equal((await gw.as(token).delete(v.location!)).statusCode, 404)
  const adminTok = await gw.login('admin')
  const audit = await gw.as(adminTok).get('/api/audit?limit=50')
  const actions = (audit.json.items as { action: string }[]).map((e) => e.action)
  t.ok(actions.includes('video.view'), 'video.view audited')
  t.ok(actions.includes('video.view_end'), 'video.view_end audited')

  const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' })
  t.match(metrics.body, /gateway_media_viewers\{camera="\d+",stream="main"\} 1/)
  t.match(metrics.body, /gateway_media_time_to_first_frame_seconds_count/)

  await browser.close()
  await gw.close()
  await new Promise((r) => setTimeout(r, 300))
  t.same(await childProcesses(), [], 'no ffmpeg left')
})
