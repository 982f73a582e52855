import t from 'tap'
import { parseH264Sps } from '../../../src/lib/h264/index.js'
import type { VideoFrame } from '../../../src/features/media/index.js'
import { RtspFrameSource } from '../../../src/features/media/rtsp-source.js'
import { startTestGateway } from '../../support/gateway.js'
import { startRtspTestServer } from '../../support/rtsp-server.js'
import { startUdpBlackholeProxy } from '../../support/udp-blackhole-proxy.js'

/**
 * media.rtspTransport: udp end to end through the gateway (system subscription, no browser):
 * a camera streams over UDP; a camera whose UDP media a "firewall" drops (a proxy that redirects
 * the SETUP's client ports into a black hole while RTSP itself passes) falls back to TCP within
 * the UDP window and stays on TCP for its next start; a camera that answers 461 plays over TCP.
 */
t.test('RTSP over UDP through the media service', async (t) => {
  const rtsp = await startRtspTestServer({
    width: 640,
    height: 360,
    fps: 15,
    gop: 15,
    mounts: ['/cam', '/fw', { path: '/tcponly', protocols: 'tcp' }],
  })
  t.teardown(() => rtsp.close())
  const proxy = await startUdpBlackholeProxy({ port: rtsp.port })
  t.teardown(() => proxy.close())
  const gw = await startTestGateway(t, {
    overrides: { media: { rtspTransport: 'udp', rtspUdpTimeoutSeconds: 1, idleTimeoutSeconds: 0.5, backoffMinMs: 200, backoffMaxMs: 1000, stallTimeoutSeconds: 5 } },
  })
  const admin = await gw.login('admin')
  const units = await gw.as(admin).get('/api/units?tier=street')
  const street = (units.json.items as { id: number; tier: string }[]).find((u) => u.tier === 'street')!
  const create = async (name: string, uri: string): Promise<number> => {
    const res = await gw.as(admin).post('/api/cameras', {
      unitId: street.id,
      name,
      class: 1,
      kind: 'fixed',
      streams: { main: { uri, codec: 'h264', width: 640, height: 360, fps: 15 } },
    })
    t.equal(res.statusCode, 201, `create ${name}`)
    return res.json.id as number
  }
  const media = gw.services.media

  /** Subscribes, waits for `count` access units, detaches; resolves with them and the wait. */
  const watch = async (cameraId: number, count: number, timeoutMs = 10_000): Promise<{ frames: VideoFrame[]; ms: number }> => {
    const frames: VideoFrame[] = []
    const started = Date.now()
    let detach = (): void => undefined
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`camera ${cameraId}: ${frames.length}/${count} frames in ${timeoutMs} ms`)), timeoutMs)
        detach = media.subscribeSystem(cameraId, 'main', {
          onFrame: (f) => {
            if (frames.length === 0 && !f.keyframe) return
            frames.push(f)
            if (frames.length >= count) {
              clearTimeout(timer)
              resolve()
            }
          },
        })
      })
    } finally {
      detach()
    }
    return { frames, ms: Date.now() - started }
  }
  const spsSize = (f: VideoFrame) => parseH264Sps(f.nalus.find((n) => (n[0]! & 0x1f) === 7)!)
  const rtcpLines = (mount: string) => rtsp.lines.filter((l) => l.startsWith(`RTCP_RECEIVED mount=${mount} `)).length

  // --- UDP ---
  const cam = await create('UDP camera', rtsp.url('/cam'))
  const udp = await watch(cam, 20)
  t.ok(udp.frames[0]!.keyframe, 'starts with a keyframe')
  t.match(spsSize(udp.frames[0]!), { width: 640, height: 360 })
  t.comment(`UDP: 20 access units in ${udp.ms} ms`)
  t.ok(rtcpLines('/cam') >= 1, 'the server received our RTCP over UDP (TCP sessions send none unasked)')

  // --- UDP dropped by a firewall → TCP ---
  const fw = await create('Firewalled camera', proxy.url('/fw'))
  const fell = await watch(fw, 20)
  t.equal(proxy.rewrites, 1, 'UDP SETUP was tried once')
  t.ok(proxy.swallowed > 0, 'the server streamed UDP into the black hole')
  t.ok(fell.ms >= 900 && fell.ms < 6000, `frames over TCP ${fell.ms} ms after subscribing (UDP window 1 s)`)
  t.match(spsSize(fell.frames[0]!), { width: 640, height: 360 })
  // the stream goes idle and stops; its next start goes straight to TCP
  await new Promise((r) => setTimeout(r, 1500))
  t.notOk(media.streams().some((s) => s.cameraId === fw && s.state === 'running'), 'idle stream stopped')
  const again = await watch(fw, 5)
  t.equal(proxy.rewrites, 1, 'no second UDP attempt: the camera is remembered as UDP-blocked')
  t.ok(again.ms < 3000, `restart over TCP at once (${again.ms} ms)`)

  // --- 461 → TCP inside the client ---
  const tcpOnly = await create('TCP-only camera', rtsp.url('/tcponly'))
  const tcp = await watch(tcpOnly, 10)
  t.ok(tcp.frames.length >= 10, `461 camera streams over TCP (${tcp.ms} ms)`)

  await gw.close()
  for (let i = 0; i < 30 && rtsp.activeSessions > 0; i++) await new Promise((r) => setTimeout(r, 100))
  t.equal(rtsp.activeSessions, 0, 'every RTSP session torn down (the abandoned UDP one included)')
})

t.test('RtspFrameSource over UDP: keyframe requests go to the camera as RTCP PLI', async (t) => {
  const rtsp = await startRtspTestServer({ mounts: [{ path: '/long', gop: 250 }] })
  t.teardown(() => rtsp.close())
  let keyframes = 0
  let frames = 0
  const source = new RtspFrameSource(rtsp.url('/long'), null, { onFrame: (f) => (frames++, f.keyframe && keyframes++), onEnd: () => undefined }, {
    noDataTimeoutMs: 5000,
    requestTimeoutMs: 5000,
    transport: 'udp',
  })
  t.teardown(() => source.close())
  const info = await source.start()
  t.equal(info.codec, 'h264')
  t.equal(source.transport, 'udp')
  while (frames < 3) await new Promise((r) => setTimeout(r, 20))
  const before = keyframes
  t.ok(source.requestKeyframe(), 'PLI sent')
  await rtsp.waitForLine((l) => l.startsWith('RTCP_RECEIVED mount=/long') && l.includes('206/1'), 2000)
  t.pass('the server received the PLI over UDP')
  const until = Date.now() + 2000
  while (keyframes === before && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.ok(keyframes > before, 'a keyframe followed (GOP is 10 s)')
  await source.close()
})
