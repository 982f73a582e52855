import t, { type Test } from 'tap'
import { GenericNack, RTCPeerConnection, RTCRtpCodecParameters, RtcpTransportLayerFeedback, type RTCRtpTransceiver } from 'werift'
import { chooseVideoCodec, WebRtcSendPeer, type SenderReportSource, type SrtpPath } from '../../../src/lib/webrtc/werift-peer.js'

/**
 * A connected WebRtcSendPeer against a real WebRTC receiver (a werift peer connection on
 * loopback), once with the native SRTP module and once with werift's JavaScript SRTP: every
 * packet arrives decryptable, numbered and marked as sent, and a NACK gets the packets again; RTCP
 * sender reports arrive, built and protected natively on the native path, by werift's loop otherwise.
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
    for (let f = 0; f < 30; f++) {
      const payloads = Array.from({ length: f + 1 }, (_, i) => Buffer.from([0x41, f, i, ...Buffer.alloc(200 + ((f * 31 + i) % 900), f)]))
      frames.push(payloads)
      peer.sendFrame(seq, 3000 * f, payloads)
      seq = (seq + payloads.length) & 0xffff
      await new Promise((r) => setTimeout(r, 10))
    }
    const expected = frames.flatMap((payloads, f) => payloads.map((payload, i) => ({ timestamp: 3000 * f, marker: i === payloads.length - 1, payload })))
    peer.sendRtp({ sequenceNumber: seq, timestamp: 90_000, marker: false, payload: Buffer.from([0x41, 0xaa]) })
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

    await peer.close()
    t.equal(peer.state, 'closed')
  })
}

interface SenderReportSeen {
  ssrc: number
  ntpMs: number
  rtp: number
  packetCount: number
  octetCount: number
  /** The CNAME of the SDES that followed it in the same compound packet, if any. */
  cname?: string
}

/** Every SR the receiver decrypts, in order, each with the SDES CNAME that came after it. */
function watchSenderReports(transceiver: RTCRtpTransceiver): { srs: SenderReportSeen[]; stop(): void } {
  const srs: SenderReportSeen[] = []
  const dtls = (transceiver.receiver as unknown as { dtlsTransport: { onRtcp: { subscribe(f: (p: unknown) => void): { unSubscribe(): void } } } }).dtlsTransport
  const sub = dtls.onRtcp.subscribe((p) => {
    const packet = p as { type: number; ssrc?: number; senderInfo?: { ntpTimestamp: bigint; rtpTimestamp: number; packetCount: number; octetCount: number }; chunks?: { source: number; items: { type: number; text: string }[] }[] }
    if (packet.type === 200 && packet.senderInfo) {
      const info = packet.senderInfo
      const ntpMs = (Number(info.ntpTimestamp >> 32n) - 2_208_988_800) * 1000 + (Number(info.ntpTimestamp & 0xffffffffn) / 2 ** 32) * 1000
      srs.push({ ssrc: packet.ssrc!, ntpMs, rtp: info.rtpTimestamp, packetCount: info.packetCount, octetCount: info.octetCount })
    } else if (packet.type === 202 && srs.length > 0 && srs.at(-1)!.cname === undefined) {
      const last = srs.at(-1)!
      const chunk = packet.chunks?.find((c) => c.source === last.ssrc)
      last.cname = chunk?.items.find((i) => i.type === 1)?.text
    }
  })
  return { srs, stop: () => sub.unSubscribe() }
}

for (const [nativeSrtp, path, source] of [[true, 'native', 'native'], [false, 'javascript', 'werift']] as [boolean, SrtpPath, SenderReportSource][]) {
  t.test(`sender reports over ${path} SRTP`, async (t) => {
    const { peer, transceiver } = await connectedPair(t, nativeSrtp)
    const watch = watchSenderReports(transceiver)
    t.teardown(() => watch.stop())
    t.equal(peer.senderReportSource, 'none', 'nothing sent yet, no reports either')
    // werift announces the sender's CNAME in the answer (a=ssrc:<ssrc> cname:<cname>)
    const announced = /^a=ssrc:(\d+) cname:(\S+)/m.exec(peer.answerSdp)
    t.ok(announced, 'the answer announces the SSRC and CNAME')
    const ssrc = Number(announced![1])
    const cname = announced![2]

    // ~30 frames a second of 1–4 packets until three reports and an RTT have come (at most 6 s)
    interface Sent { at: number; packets: number; octets: number }
    const frames = new Map<number, Sent>()
    let seq = 100
    let packets = 0
    let octets = 0
    let maxFrameGap = 0
    let prevAt = 0
    const end = Date.now() + 6000
    for (let f = 0; Date.now() < end && (watch.srs.length < 3 || peer.roundTripTimeMs === undefined); f++) {
      const payloads = Array.from({ length: 1 + (f % 4) }, (_, i) => Buffer.alloc(300 + ((f * 53 + i * 17) % 700), f & 0xff))
      const timestamp = (1_000_000 + 3000 * f) >>> 0
      const at = Date.now()
      peer.sendFrame(seq, timestamp, payloads)
      seq = (seq + payloads.length) & 0xffff
      packets += payloads.length
      octets += payloads.reduce((n, p) => n + p.length, 0)
      frames.set(timestamp, { at, packets, octets })
      if (prevAt) maxFrameGap = Math.max(maxFrameGap, at - prevAt)
      prevAt = at
      await new Promise((r) => setTimeout(r, 33))
    }
    await new Promise((r) => setTimeout(r, 100)) // the last report's datagram
    const srs = watch.srs.filter((sr) => sr.ssrc === ssrc)
    t.ok(srs.length >= 3, `sender reports arrived (${srs.length})`)
    t.equal(peer.senderReportSource, source, `sent by ${source === 'native' ? 'the native path; werift\'s runRtcp loop never started' : 'werift\'s runRtcp loop'}`)
    t.ok(srs.every((sr) => sr.cname === cname), `each followed by an SDES with the sender's CNAME (${cname})`)
    for (const [i, sr] of srs.entries()) {
      const frame = frames.get(sr.rtp)
      t.ok(frame, `report ${i}: its RTP timestamp is one of a frame sent (${sr.rtp})`)
      if (!frame) continue
      t.ok(Math.abs(sr.ntpMs - frame.at) <= 20, `report ${i}: its NTP time is when that frame was sent (${(sr.ntpMs - frame.at).toFixed(1)} ms off)`)
      // werift's loop reports its counters whenever its timer fires, not at a frame's end
      if (path === 'native') t.same([sr.packetCount, sr.octetCount], [frame.packets, frame.octets], `report ${i}: packets and payload octets sent up to and including that frame`)
    }
    if (path === 'native') {
      // 0.5–1.5 s apart, plus up to one frame interval (a report waits for a frame's end). Not on
      // werift's path: its reports carry a pair up to 250 ms older than the report itself.
      const gaps = srs.slice(1).map((sr, i) => sr.ntpMs - srs[i]!.ntpMs)
      t.ok(gaps.every((g) => g >= 499 && g <= 1500 + maxFrameGap + 5), `about once a second: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms apart`)
    }
    t.ok(peer.roundTripTimeMs !== undefined && peer.roundTripTimeMs >= 0 && peer.roundTripTimeMs < 200, `werift measures the RTT from the viewer's receiver reports against the last report (${peer.roundTripTimeMs?.toFixed(1)} ms)`)
    if (path === 'native') t.equal(peer.stats.senderReports, srs.length, 'every report sent arrived, and no other sender sent any')
    else t.equal(peer.stats.senderReports, 0, 'the native path sent none')
    await peer.close()
  })
}
