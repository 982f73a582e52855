import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { startRtspTestServer } from '../../support/rtsp-server.js'
import { childProcesses, launchBrowser, openWhepPage } from './browser.js'

/**
 * A camera on a real GStreamer RTSP server (Digest auth, SPS/PPS only in the SDP, single- and
 * multi-slice), watched by headless Chromium: one upstream for 8 viewers, resume after the
 * server is killed and restarted, scoping and errors.
 */
t.test('RTSP camera → WHEP → Chromium', async (t) => {
  const rtsp = await startRtspTestServer({
    user: 'cam',
    password: 'cam-secret',
    auth: 'digest',
    width: 640,
    height: 360,
    fps: 15,
    gop: 30,
    mounts: [{ path: '/single', configInterval: 0 }, { path: '/sliced', slices: 4 }],
  })
  t.teardown(() => rtsp.close())
  const gw = await startTestGateway(t, { overrides: { media: { idleTimeoutSeconds: 1, backoffMinMs: 200, backoffMaxMs: 1000, stallTimeoutSeconds: 3 } } })
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(gw.app.server.address() as { port: number }).port}`
  const admin = await gw.login('admin')
  const units = await gw.as(admin).get('/api/units?tier=street')
  const street = (units.json.items as { id: number; tier: string }[]).find((u) => u.tier === 'street')!
  const create = async (name: string, mount: string) => {
    const res = await gw.as(admin).post('/api/cameras', {
      unitId: street.id,
      name,
      class: 1,
      kind: 'fixed',
      streams: { main: { uri: rtsp.url(mount), codec: 'h264', width: 640, height: 360, fps: 15 } },
      credentials: { username: 'cam', password: 'cam-secret' },
    })
    t.equal(res.statusCode, 201, `create ${name}`)
    return res.json.id as number
  }
  const single = await create('RTSP single-slice', '/single')
  const sliced = await create('RTSP multi-slice', '/sliced')
  const patrol = await gw.login('street.patrol')

  const browser = await launchBrowser(t)
  const wp = await openWhepPage(browser, base)

  // --- 8 viewers, one RTSP session ---
  const viewers: number[] = []
  for (let i = 0; i < 8; i++) {
    const v = await wp.watch(`/api/cameras/${single}/whep`, patrol)
    t.equal(v.status, 201, `viewer ${i} answered`)
    t.equal(v.mode, 'passthrough-h264')
    viewers.push(v.index)
  }
  const firsts = []
  for (const i of viewers) firsts.push(await wp.waitFrames(i, 3, 20_000))
  t.ok(firsts.every((s) => s.frameWidth === 640 && s.frameHeight === 360), 'every viewer decodes 640x360')
  t.comment(`8 viewers decoding: framesDecoded ${firsts.map((s) => s.framesDecoded).join(',')}`)
  const srtpPaths = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(srtpPaths, /^gateway_media_viewers_by_srtp_path\{path="native"\} 8$/m, "Chromium decodes what the native SRTP module protected and sent, for all 8")
  t.equal(rtsp.counters.sessionsCreated, 1, 'exactly one RTSP session for 8 viewers')
  t.equal(rtsp.activeSessions, 1)

  // --- multi-slice ---
  const s = await wp.watch(`/api/cameras/${sliced}/whep`, patrol)
  const sf = await wp.waitFrames(s.index, 10, 20_000)
  t.equal(sf.frameWidth, 640, 'multi-slice stream decodes')
  await wp.close(s.index)

  // close 7 of 8, keep the first
  for (const i of viewers.slice(1)) await wp.close(i)

  // --- the camera goes away and comes back: same page, same RTCPeerConnection ---
  const before = await wp.stats(viewers[0]!)
  await rtsp.kill()
  await new Promise((r) => setTimeout(r, 1500))
  const during = await wp.stats(viewers[0]!)
  await rtsp.restart()
  const after = await wp.waitFrames(viewers[0]!, during.framesDecoded + 15, 20_000)
  t.comment(`resume: framesDecoded ${before.framesDecoded} → ${during.framesDecoded} (server down) → ${after.framesDecoded} after restart`)
  t.ok(after.framesDecoded > during.framesDecoded + 15, 'frames resume without reload')
  t.equal(after.connectionState, 'connected')
  const live = gw.services.media.streams().find((x) => x.cameraId === single)!
  t.ok(live.restarts >= 1, 'upstream restart counted')

  // --- trickle ICE: offer POSTed before gathering, candidates PATCHed ---
  const tr = await wp.watch(`/api/cameras/${sliced}/whep`, patrol, { trickle: true })
  t.equal(tr.status, 201)
  await wp.waitFrames(tr.index, 5, 20_000)
  const patches = await wp.patchStatuses(tr.index)
  t.ok(patches.length > 0 && patches.every((p) => p === 204), `trickle PATCHes answered 204 (${patches.join(',')})`)
  await wp.close(tr.index)

  // --- a technician changes the camera's stream URI: the live stream follows, the viewer stays ---
  const beforeEdit = await wp.stats(viewers[0]!)
  const restartsBefore = gw.services.media.streams().find((x) => x.cameraId === single)!.restarts
  const edit = await gw.as(admin).patch(`/api/cameras/${single}`, { streams: { main: { uri: rtsp.url('/sliced'), codec: 'h264' } } })
  t.equal(edit.statusCode, 200)
  const afterEdit = await wp.waitFrames(viewers[0]!, beforeEdit.framesDecoded + 20, 20_000)
  t.ok(afterEdit.framesDecoded > beforeEdit.framesDecoded + 20, 'frames continue after the URI change')
  t.equal(gw.services.media.streams().find((x) => x.cameraId === single)!.restarts, restartsBefore + 1, 'the upstream was restarted on the new URI')

  // --- errors and scoping ---
  const offerLike = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n'
  const unauth = await gw.app.inject({ method: 'POST', url: `/api/cameras/${single}/whep`, headers: { 'content-type': 'application/sdp' }, payload: offerLike })
  t.equal(unauth.statusCode, 401)
  const bad = await gw.as(patrol).request('POST', `/api/cameras/${single}/whep`, 'this is not sdp', { 'content-type': 'application/sdp' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json.errors[0].field, 'body')
  const bad2 = await gw.as(patrol).request('POST', `/api/cameras/${single}/whep`, offerLike, { 'content-type': 'application/sdp' })
  t.equal(bad2.statusCode, 400, 'offer without video section')
  const community = await gw.login('community.patrol')
  t.equal((await gw.as(community).request('POST', `/api/cameras/${single}/whep`, offerLike, { 'content-type': 'application/sdp' })).statusCode, 404, 'street camera is outside a community user')
  const all = await gw.as(admin).get('/api/cameras?limit=200')
  const mine = await gw.as(community).get('/api/cameras?limit=200')
  const mineIds = new Set((mine.json.items as { id: number }[]).map((c) => c.id))
  const foreign = (all.json.items as { id: number; name: string }[]).find((c) => c.name.includes('桂园社区') && !mineIds.has(c.id))!
  const v404 = await wp.watch(`/api/cameras/${foreign.id}/whep`, community)
  t.equal(v404.status, 404, "another community's camera is 404")
  const snap404 = await gw.as(community).get(`/api/cameras/${foreign.id}/snapshot`)
  t.equal(snap404.statusCode, 404)

  // --- snapshot from the live stream ---
  const snap = await gw.as(patrol).request('GET', `/api/cameras/${single}/snapshot`)
  t.equal(snap.statusCode, 200)
  t.equal(snap.headers['content-type'], 'image/jpeg')

  await browser.close()
  const removedBefore = rtsp.counters.sessionsRemoved
  await gw.close()
  t.equal(gw.services.media.sessionCount(), 0)
  await rtsp.waitForLine((l) => l.startsWith('SESSION_REMOVED') && rtsp.counters.sessionsRemoved > removedBefore, 5000).catch(() => '')
  t.ok(rtsp.counters.sessionsRemoved > removedBefore, 'the RTSP session was torn down on close')
  await rtsp.close()
  t.same(await childProcesses(), [], 'no child process left')
})
