import t, { type Test } from 'tap'
import { GenericNack, RTCPeerConnection, RTCRtpCodecParameters, RtcpTransportLayerFeedback, type RTCRtpTransceiver } from 'werift'
import { chooseVideoCodec, WebRtcSendPeer, type SrtpPath } from '../../../src/lib/webrtc/werift-peer.js'

/**
 * A connected WebRtcSendPeer against a real WebRTC receiver (a werift peer connection on
 * loopback), once with the native SRTP module and once with werift's JavaScript SRTP: every
 * packet arrives decryptable, numbered and marked as sent, and a NACK gets the packets again.
 */

interface Got {
  seq: number
  timestamp: number
  marker: boolean
  payloadType: number
  payload: Buffer
}

async function connectedPair(t: Test, nativeSrtp: boolean) {
  const rx = new RTCPeerConnection({
    codecs: {
      video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }], parameters: 'packetization-mode=1;profile-level-id=42e01f' })],
      audio: [],
    },
    iceUseIpv4: true,
    iceUseIpv6: false,
  })
  t.teardown(() => rx.close())
  const got: Got[] = []
  rx.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      got.push({ seq: rtp.header.sequenceNumber, timestamp: rtp.header.timestamp, marker: rtp.header.marker, payloadType: rtp.header.payloadType, payload: Buffer.from(rtp.payload) })
    })
  })
  const transceiver: RTCRtpTransceiver = rx.addTransceiver('video', { direction: 'recvonly' })
  await rx.setLocalDescription(await rx.createOffer())
  await new Promise<void>((resolve) => {
    if (rx.iceGatheringState === 'complete') return resolve()
    const timer = setTimeout(resolve, 3000)
    rx.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') (clearTimeout(timer), resolve())
    })
  })
  const offer = rx.localDescription!.sdp
  const video = chooseVideoCodec(offer, ['h264'], '42e01f')!
  const peer = await WebRtcSendPeer.answer({ offerSdp: offer, video, nativeSrtp, ice: { bindAddress: '127.0.0.1' } })
  t.teardown(() => peer.close())
  const connected = new Promise<void>((resolve) => peer.on('state', (s) => s === 'connected' && resolve()))
  await rx.setRemoteDescription({ type: 'answer', sdp: peer.answerSdp })
  await Promise.race([connected, new Promise((_, reject) => setTimeout(() => reject(new Error('did not connect in 10 s')), 10_000))])
  return { peer, got, transceiver, video }
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
  return cond()
}

for (const [nativeSrtp, path] of [[true, 'native'], [false, 'javascript']] as [boolean, SrtpPath][]) {
  t.test(`sending over ${path} SRTP`, async (t) => {
    const { peer, got, transceiver, video } = await connectedPair(t, nativeSrtp)
    t.equal(peer.srtpPath, nativeSrtp ? 'pending' : 'javascript', 'before the first packet: undecided, unless turned off')

    // 30 frames of 1..30 packets, 10 ms apart (back to back, 465 packets overflow the receiving
    // socket's buffer on loopback), then two single packets.
    const first = 65_000 // wraps past 65535
    let seq = first
    const frames: Buffer[][] = []
    const sentAt = new Map<number, number>()
    for (let f = 0; f < 30; f++) {
      const payloads = Array.from({ length: f + 1 }, (_, i) => Buffer.from([0x41, f, i, ...Buffer.alloc(200 + ((f * 31 + i) % 900), f)]))
      frames.push(payloads)
      sentAt.set(3000 * f, Date.now())
      peer.sendFrame(seq, 3000 * f, payloads)
      seq = (seq + payloads.length) & 0xffff
      await new Promise((r) => setTimeout(r, 10))
    }
    const expected = frames.flatMap((payloads, f) => payloads.map((payload, i) => ({ timestamp: 3000 * f, marker: i === payloads.length - 1, payload })))
    peer.sendRtp({ sequenceNumber: seq, timestamp: 90_000, marker: false, payload: Buffer.from([0x41, 0xaa]) })
    sentAt.set(90_000, Date.now())
    peer.sendRtp({ sequenceNumber: (seq + 1) & 0xffff, timestamp: 90_000, marker: true, payload: Buffer.from([0x41, 0xbb]) })
    expected.push({ timestamp: 90_000, marker: false, payload: Buffer.from([0x41, 0xaa]) }, { timestamp: 90_000, marker: true, payload: Buffer.from([0x41, 0xbb]) })

    t.equal(peer.srtpPath, path)
    t.ok(await until(() => got.length >= expected.length, 5000), `all ${expected.length} packets arrived (${got.length})`)
    t.same(got.map((g) => g.seq), expected.map((_, i) => (first + i) & 0xffff), 'in order, consecutive, across the wrap')
    t.same(got.map((g) => g.marker), expected.map((e) => e.marker), 'the marker on the last packet of each frame only')
    t.same(got.map((g) => g.timestamp), expected.map((e) => e.timestamp), 'timestamps')
    t.ok(got.every((g) => g.payloadType === video.payloadType), 'the negotiated payload type')
    t.equal(got.filter((g, i) => !g.payload.equals(expected[i]!.payload)).length, 0, 'payloads intact')
    t.equal(peer.stats.packetsSent, expected.length)

    // NACK three packets of the last frames: they come again, byte for byte.
    const before = got.length
    const lost = [got[before - 3]!.seq, got[before - 10]!.seq, got[before - 40]!.seq]
    const nack = new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: transceiver.receiver.tracks[0]?.ssrc ?? 0, lost }) })
    await (transceiver.receiver as unknown as { dtlsTransport: { sendRtcp(p: unknown[]): Promise<void> } }).dtlsTransport.sendRtcp([nack])
    t.ok(await until(() => got.length >= before + 3, 3000), 'three packets again')
    const again = got.slice(before)
    t.same(again.map((g) => g.seq).sort(), [...lost].sort(), 'the NACKed sequence numbers')
    t.ok(again.every((g) => got.find((x) => x.seq === g.seq)!.payload.equals(g.payload)), 'with the same payloads')
    if (path === 'native') t.equal(peer.stats.retransmitted, 3, 'counted')

    // A sender report (every 0.5–1.5 s): its NTP time is the wall clock of a frame sent, in
    // binary fraction (werift's own ntpTime() reads the fraction's decimal digits, up to 1 s off).
    const srs: { ntpMs: number; rtp: number; at: number }[] = []
    const sub = transceiver.receiver.onRtcp.subscribe((p) => {
      if (p.type !== 200) return
      const info = (p as unknown as { senderInfo: { ntpTimestamp: bigint; rtpTimestamp: number } }).senderInfo
      const ntpMs = (Number(info.ntpTimestamp >> 32n) - 2_208_988_800) * 1000 + (Number(info.ntpTimestamp & 0xffffffffn) / 2 ** 32) * 1000
      srs.push({ ntpMs, rtp: info.rtpTimestamp, at: Date.now() })
    })
    t.ok(await until(() => srs.length > 0, 4000), 'a sender report arrived')
    sub.unSubscribe()
    const sr = srs[0]!
    const frameSentAt = sentAt.get(sr.rtp)
    t.ok(frameSentAt !== undefined, 'its RTP timestamp is one of a frame sent')
    t.ok(Math.abs(sr.ntpMs - frameSentAt!) <= 20, `its NTP time is when that frame was sent (${(sr.ntpMs - frameSentAt!).toFixed(1)} ms off)`)
    await peer.close()
    t.equal(peer.state, 'closed')
  })
}
