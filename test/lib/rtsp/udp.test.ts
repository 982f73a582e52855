import dgram from 'node:dgram'
import net from 'node:net'
import t from 'tap'
import { H264Depacketizer, parseH264Sps, type AccessUnit } from '../../../src/lib/h264/index.js'
import { buildPli, parseRtcp, serializeRtpPacket } from '../../../src/lib/rtp/index.js'
import { RtspClient, RtspConnectionError, RtspUdpUnavailableError } from '../../../src/lib/rtsp/index.js'
import { startRtspTestServer, type RtspTestServer } from '../../support/rtsp-server.js'
import { startUdpBlackholeProxy } from '../../support/udp-blackhole-proxy.js'

/**
 * RTP over UDP (`transport: 'udp'`) against GStreamer's RTSP server: frames, receiver reports,
 * PLI to the server's RTCP port, anti-spoofing, port release, failures and the TCP fallbacks.
 */

type TestClient = RtspClient & { closed: Promise<Error | undefined> }
interface Tap {
  teardown(fn: () => unknown): void
}

function client(t: Tap, opts: ConstructorParameters<typeof RtspClient>[0]): TestClient {
  const c = new RtspClient({ timeoutMs: 5000, transport: 'udp', ...opts }) as TestClient
  c.closed = new Promise((resolve) => c.once('close', resolve))
  t.teardown(() => c.close())
  return c
}

function collectFrames(c: RtspClient, count: number, timeoutMs = 5000): Promise<AccessUnit[]> {
  const dep = new H264Depacketizer()
  const frames: AccessUnit[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('rtp', onRtp)
      reject(new Error(`only ${frames.length}/${count} frames in ${timeoutMs} ms`))
    }, timeoutMs)
    const onRtp = (_track: number, packet: Parameters<H264Depacketizer['push']>[0]): void => {
      frames.push(...dep.push(packet))
      if (frames.length >= count) {
        clearTimeout(timer)
        c.off('rtp', onRtp)
        resolve(frames)
      }
    }
    c.on('rtp', onRtp)
  })
}

function bindExclusive(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4')
    s.once('error', reject)
    s.bind({ port, exclusive: true }, () => resolve(s))
  })
}

const closeSocket = (s: dgram.Socket): Promise<void> => new Promise((r) => s.close(() => r()))

let s: RtspTestServer
t.before(async () => {
  s = await startRtspTestServer({
    width: 640,
    height: 360,
    mounts: ['/test', { path: '/long', gop: 250 }, { path: '/tcponly', protocols: 'tcp' }],
  })
})
t.teardown(() => s.close())

t.test('UDP PLAY: frames of the right size arrive on an even/odd port pair', async (t) => {
  const c = client(t, { url: s.url() })
  const { tracks } = await c.play()
  const track = tracks[0]!
  t.equal(track.transport, 'udp')
  t.equal(track.rtpChannel, -1)
  const [rtp, rtcp] = track.clientPorts!
  t.equal(rtp % 2, 0, 'RTP port even')
  t.equal(rtcp, rtp + 1, 'RTCP port next')
  t.ok(track.serverPorts, `server_port ${track.serverPorts?.join('-')}`)
  t.equal(track.source, '127.0.0.1')
  const frames = await collectFrames(c, 10)
  t.ok(frames[0]!.keyframe, 'first frame a keyframe')
  const sps = frames[0]!.nalus.find((n) => (n[0]! & 0x1f) === 7)
  t.ok(sps, 'SPS in-band before the IDR')
  t.match(parseH264Sps(sps!), { width: 640, height: 360 })
  t.equal(c.stats.udpIgnored, 0)
  t.ok(c.stats.rtpPackets >= 10)
  await c.close()
  t.equal(await c.closed, undefined)
})

t.test('receiver reports reach the server periodically', async (t) => {
  const before = s.lines.filter((l) => l.startsWith('RTCP_RECEIVED mount=/test')).length
  const c = client(t, { url: s.url(), rtcpIntervalMs: 250 })
  await c.play()
  await collectFrames(c, 2)
  await new Promise((r) => setTimeout(r, 1300))
  const reports = s.lines.filter((l) => l.startsWith('RTCP_RECEIVED mount=/test')).slice(before)
  t.ok(reports.length >= 4, `${reports.length} RTCP packets received by the server`)
  t.ok(reports.every((l) => / types=201,202(,203)?$/.test(l)), 'each a compound RR + SDES (+ BYE from the previous client)')
  t.ok(c.stats.rtcpSent >= 4)
})

t.test('PLI over UDP gets a keyframe before the (10 s) GOP ends', async (t) => {
  const c = client(t, { url: s.url('/long') })
  const { tracks } = await c.play()
  await collectFrames(c, 5)
  const dep = new H264Depacketizer({ waitForKeyframe: false })
  const keyframe = new Promise<number>((resolve) => {
    c.on('rtp', (_i, p) => {
      for (const au of dep.push(p)) if (au.keyframe) resolve(Date.now())
    })
  })
  const sent = Date.now()
  t.ok(c.sendRtcp(0, buildPli(c.ssrc, tracks[0]!.ssrc!)))
  const at = await Promise.race([keyframe, new Promise<number>((r) => setTimeout(() => r(Infinity), 3000))])
  t.ok(at - sent < 1000, `keyframe ${at - sent} ms after PLI`)
  await s.waitForLine((l) => l.startsWith('RTCP_RECEIVED mount=/long') && l.includes('206/1'), 2000)
  t.pass('server saw the PLI (PSFB fmt 1)')
})

t.test('datagrams from another port than the server port are ignored', async (t) => {
  const c = client(t, { url: s.url() })
  const { tracks } = await c.play()
  await collectFrames(c, 2)
  const spoofed: number[] = []
  c.on('rtp', (_i, p) => {
    if (p.ssrc === 0xbadbad) spoofed.push(p.sequenceNumber)
  })
  const rogue = dgram.createSocket('udp4')
  await new Promise<void>((r) => rogue.bind(0, '127.0.0.1', r))
  t.teardown(() => closeSocket(rogue))
  const packet = serializeRtpPacket({
    marker: true,
    payloadType: 96,
    sequenceNumber: 1,
    timestamp: 0,
    ssrc: 0xbadbad,
    csrc: [],
    payload: Buffer.from([0x65, 0x88, 0x84]),
    paddingLength: 0,
  })
  const [rtpPort, rtcpPort] = tracks[0]!.clientPorts!
  for (let i = 0; i < 5; i++) rogue.send(packet, rtpPort, '127.0.0.1')
  rogue.send(buildPli(1, 2), rtcpPort, '127.0.0.1')
  await new Promise((r) => setTimeout(r, 300))
  t.equal(spoofed.length, 0, 'no spoofed packet emitted')
  t.equal(c.stats.udpIgnored, 6, 'all six counted as ignored')
  t.ok((await collectFrames(c, 2)).length >= 2, 'the real stream continues')
})

t.test('close() releases the port pair (from a configured range)', async (t) => {
  const c = client(t, { url: s.url(), udpPortRange: [47100, 47119] })
  const { tracks } = await c.play()
  const ports = tracks[0]!.clientPorts!
  t.ok(ports[0] >= 47100 && ports[1] <= 47119, `ports ${ports.join('-')} in range`)
  await collectFrames(c, 2)
  await c.close()
  await c.close()
  const again = await Promise.all(ports.map(bindExclusive))
  t.pass('both ports can be bound again')
  await Promise.all(again.map(closeSocket))
})

t.test('no free pair in the range → RtspUdpUnavailableError bind', async (t) => {
  const held = await Promise.all([47130, 47131].map(bindExclusive))
  t.teardown(() => Promise.all(held.map(closeSocket)))
  const c = client(t, { url: s.url(), udpPortRange: [47130, 47131] })
  const err = await c.play().catch((e: unknown) => e)
  t.type(err, RtspUdpUnavailableError)
  t.equal((err as RtspUdpUnavailableError).reason, 'bind')
})

t.test('461 Unsupported Transport → that SETUP is retried over TCP interleaved', async (t) => {
  const c = client(t, { url: s.url('/tcponly') })
  const { tracks } = await c.play()
  t.equal(tracks[0]!.transport, 'tcp')
  t.equal(tracks[0]!.rtpChannel, 0)
  t.ok((await collectFrames(c, 5)).length >= 5, 'frames over TCP')
  t.ok(s.lines.some((l) => l.includes('method=SETUP uri=/tcponly')))
})

t.test('UDP dropped on the way (firewall) → RtspUdpUnavailableError no-data within the window', async (t) => {
  const proxy = await startUdpBlackholeProxy({ port: s.port })
  t.teardown(() => proxy.close())
  const c = client(t, { url: proxy.url(), udpFirstDataTimeoutMs: 1000 })
  const teardowns = s.counters.requests['TEARDOWN'] ?? 0
  await c.play()
  const started = Date.now()
  const err = await c.closed
  t.type(err, RtspUdpUnavailableError)
  t.equal((err as RtspUdpUnavailableError).reason, 'no-data')
  t.match((err as Error).message, /use TCP/)
  const took = Date.now() - started
  t.ok(took >= 900 && took < 2500, `after ${took} ms`)
  t.equal(proxy.rewrites, 1)
  t.ok(proxy.swallowed > 0, 'the server did stream, into the black hole')
  t.equal(c.stats.rtpPackets, 0)
  t.equal(s.counters.requests['TEARDOWN'] ?? 0, teardowns + 1, 'the UDP session was torn down, not left streaming into the void')
})

t.test('server killed mid-stream → close event with an error; sockets released', async (t) => {
  const own = await startRtspTestServer()
  t.teardown(() => own.close())
  const c = client(t, { url: own.url() })
  const { tracks } = await c.play()
  await collectFrames(c, 3)
  await own.kill()
  const err = await c.closed
  t.type(err, RtspConnectionError)
  t.equal(c.state, 'closed')
  const again = await Promise.all(tracks[0]!.clientPorts!.map(bindExclusive))
  await Promise.all(again.map(closeSocket))
  t.pass('ports free after the failure')
})

/** A scripted RTSP server on 127.0.0.1 whose media comes from `source` (Transport source=). */
async function fakeCamera(t: Tap, serverPorts: [number, number], source: string): Promise<{ port: number; requests: string[] }> {
  const requests: string[] = []
  const srv = net.createServer((sock) => {
    let buf = ''
    sock.on('data', (d) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const req = buf.slice(0, end)
        buf = buf.slice(end + 4)
        const [method] = req.split(' ', 1)
        requests.push(req)
        const cseq = /CSeq: *(\d+)/i.exec(req)?.[1] ?? '0'
        const head = (extra: string, body = ''): string =>
          `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n${extra}${body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`
        if (method === 'DESCRIBE') {
          const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n'
          sock.write(head('Content-Type: application/sdp\r\n', sdp))
        } else if (method === 'SETUP') {
          const cp = /client_port=(\d+-\d+)/.exec(req)?.[1]
          sock.write(head(`Session: 4242;timeout=60\r\nTransport: RTP/AVP;unicast;client_port=${cp};server_port=${serverPorts[0]}-${serverPorts[1]};source=${source}\r\n`))
        } else if (method === 'OPTIONS') {
          sock.write(head('Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n'))
        } else {
          sock.write(head('Session: 4242\r\n'))
        }
      }
    })
    sock.on('error', () => undefined)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())))
  return { port: (srv.address() as net.AddressInfo).port, requests }
}

async function bindOn(address: string, port = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.bind(port, address, () => resolve())
  })
  return s
}

t.test('Transport source= decides where media is accepted from and where RTCP goes; BYE on close', async (t) => {
  // The camera's media address differs from its RTSP address; an impostor on the RTSP address
  // sends from the same port number.
  const mediaRtp = await bindOn('127.0.0.2')
  const mediaRtcp = await bindOn('127.0.0.2')
  const impostor = await bindOn('127.0.0.1', mediaRtp.address().port)
  t.teardown(() => Promise.all([mediaRtp, mediaRtcp, impostor].map(closeSocket)))
  const rtcpIn: Buffer[] = []
  mediaRtcp.on('message', (m) => rtcpIn.push(m))
  const cam = await fakeCamera(t, [mediaRtp.address().port, mediaRtcp.address().port], '127.0.0.2')
  const c = client(t, { url: `rtsp://127.0.0.1:${cam.port}/x`, noDataTimeoutMs: 0 })
  const { tracks } = await c.play()
  t.equal(tracks[0]!.source, '127.0.0.2')
  t.same(tracks[0]!.serverPorts, [mediaRtp.address().port, mediaRtcp.address().port])
  const ssrcs: number[] = []
  c.on('rtp', (_i, p) => ssrcs.push(p.ssrc))
  const rtp = (ssrc: number, seq: number): Buffer =>
    serializeRtpPacket({ marker: true, payloadType: 96, sequenceNumber: seq, timestamp: seq * 3600, ssrc, csrc: [], payload: Buffer.from([0x41, 0x9a]), paddingLength: 0 })
  const [clientRtp] = tracks[0]!.clientPorts!
  for (let i = 0; i < 3; i++) {
    mediaRtp.send(rtp(0x1111, i), clientRtp, '127.0.0.1')
    impostor.send(rtp(0x2222, i), clientRtp, '127.0.0.1')
  }
  const until = Date.now() + 2000
  while ((ssrcs.length < 3 || c.stats.udpIgnored < 3 || rtcpIn.length < 1) && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.same(ssrcs, [0x1111, 0x1111, 0x1111], 'only the source address is accepted')
  t.equal(c.stats.udpIgnored, 3, 'the impostor on the RTSP address is ignored')
  const punch = parseRtcp(rtcpIn[0]!)
  t.match(punch[0], { type: 201, ssrc: c.ssrc }, 'punch RR reached the source address RTCP port')
  // a receiver report with a block for the stream once packets arrived
  t.ok(c.sendRtcp(0, buildPli(c.ssrc, 0x1111)))
  await c.close()
  const until2 = Date.now() + 1000
  while (!rtcpIn.some((m) => parseRtcp(m).some((p) => p.type === 203)) && Date.now() < until2) await new Promise((r) => setTimeout(r, 20))
  const bye = rtcpIn.map((m) => parseRtcp(m)).find((ps) => ps.some((p) => p.type === 203))
  t.ok(bye, 'RTCP BYE sent on close')
  t.match(bye![0], { type: 201, reports: [{ ssrc: 0x1111, highestSequence: 2, cumulativeLost: 0 }] }, 'with a report block for the stream')
  t.ok(cam.requests.some((r) => r.startsWith('TEARDOWN')))
  t.ok(rtcpIn.some((m) => parseRtcp(m).some((p) => p.type === 206)), 'the PLI went to the source address too')
})

t.test('under an address policy, a Transport source= naming another address is not followed: RTCP goes only to the checked peer', async (t) => {
  const elsewhereRtp = await bindOn('127.0.0.2')
  const elsewhereRtcp = await bindOn('127.0.0.2')
  t.teardown(() => Promise.all([elsewhereRtp, elsewhereRtcp].map(closeSocket)))
  const rtcpElsewhere: Buffer[] = []
  elsewhereRtcp.on('message', (m) => rtcpElsewhere.push(m))
  const cam = await fakeCamera(t, [elsewhereRtp.address().port, elsewhereRtcp.address().port], '127.0.0.2')
  const checked: string[] = []
  const c = client(t, {
    url: `rtsp://127.0.0.1:${cam.port}/x`,
    noDataTimeoutMs: 0,
    connectGuard: async (host) => {
      checked.push(host)
      return host
    },
  })
  const { tracks } = await c.play()
  t.same(checked, ['127.0.0.1'], 'the connection went through the guard')
  t.equal(tracks[0]!.source, '127.0.0.1', 'the source stays the address connected to')
  t.ok(c.sendRtcp(0, buildPli(c.ssrc, 0x1111)))
  await new Promise((r) => setTimeout(r, 300))
  t.same(rtcpElsewhere, [], 'nothing was sent to the address the camera named')
})
