import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { startRtspTestServer } from '../../support/rtsp-server.js'
import { childProcesses, launchBrowser, openWhepPage } from './browser.js'

/**
 * The H.265 rule: an H.265 main stream goes to a viewer that cannot take H.265 as the camera's
 * H.264 sub stream when it has one, else transcoded to H.264 by ffmpeg. The header says which.
 */
t.test('H.265 camera: H.264 sub stream, else transcoded', async (t) => {
  const rtsp = await startRtspTestServer({
    width: 640,
    height: 360,
    fps: 15,
    gop: 30,
    mounts: [{ path: '/hevc', codec: 'h265' }, { path: '/avc-sub', codec: 'h264', width: 320, height: 180 }],
  })
  t.teardown(() => rtsp.close())
  const gw = await startTestGateway(t, { overrides: { media: { idleTimeoutSeconds: 1 } } })
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(gw.app.server.address() as { port: number }).port}`
  const admin = await gw.login('admin')
  const street = ((await gw.as(admin).get('/api/units?tier=street')).json.items as { id: number }[])[0]!
  const create = async (name: string, streams: object) => {
    const res = await gw.as(admin).post('/api/cameras', { unitId: street.id, name, class: 1, kind: 'fixed', streams })
    t.equal(res.statusCode, 201, `create ${name}`)
    return res.json.id as number
  }
  const withSub = await create('H.265 with H.264 sub', {
    main: { uri: rtsp.url('/hevc'), codec: 'h265', width: 640, height: 360, fps: 15 },
    sub: { uri: rtsp.url('/avc-sub'), codec: 'h264', width: 320, height: 180, fps: 15 },
  })
  const only265 = await create('H.265 only', { main: { uri: rtsp.url('/hevc'), codec: 'h265', width: 640, height: 360, fps: 15 } })
  const patrol = await gw.login('street.patrol')
  const browser = await launchBrowser(t)
  const wp = await openWhepPage(browser, base)

  const a = await wp.watch(`/api/cameras/${withSub}/whep?stream=main`, patrol)
  t.equal(a.status, 201)
  t.equal(a.mode, 'h264-substream')
  const sa = await wp.waitFrames(a.index, 5, 20_000)
  t.equal(sa.frameWidth, 320, 'the sub stream is what is decoded')

  const b = await wp.watch(`/api/cameras/${only265}/whep?stream=main`, patrol)
  t.equal(b.status, 201)
  t.equal(b.mode, 'transcoded-h264')
  const sb = await wp.waitFrames(b.index, 5, 30_000)
  t.equal(sb.frameWidth, 640, 'transcoded 640x360 decodes')
  t.comment(`transcoded: framesDecoded ${sb.framesDecoded}, ${sb.frameWidth}x${sb.frameHeight}, first frame ${Math.round(sb.ms)} ms`)

  // A viewer whose offer supports H.265 gets it passed through (shares the camera's one session).
  const h265Offer = [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 49', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=fingerprint:sha-256 3D:46:7F:D4:75:B2:23:3E:D0:AE:68:5C:DC:A3:21:38:0F:16:B2:1E:5D:22:90:0E:E5:C4:CE:19:AB:31:2F:E3',
    'a=setup:actpass', 'a=mid:0', 'a=recvonly', 'a=rtcp-mux',
    'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1;profile-level-id=42e01f',
    'a=rtpmap:49 H265/90000', 'a=fmtp:49 level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST', '',
  ].join('\r\n')
  const c = await gw.as(patrol).request('POST', `/api/cameras/${only265}/whep`, h265Offer, { 'content-type': 'application/sdp' })
  t.equal(c.statusCode, 201)
  t.equal(c.headers['x-gateway-video'], 'passthrough-h265')
  t.match(c.body, /a=rtpmap:49 H265\/90000/)
  t.notMatch(c.body, /H264/)
  t.equal(rtsp.counters.sessionsCreated, 2, 'one session per mount: /avc-sub and /hevc (transcoder fed by the H.265 session)')
  const modes = gw.services.media.streams().map((x) => `${x.cameraId}:${x.stream}:${x.codec}`).sort()
  t.comment(`live streams: ${modes.join(' ')}`)

  await browser.close()
  await gw.close()
  await rtsp.close()
  t.same(await childProcesses(), [], 'no ffmpeg or server left')
})
