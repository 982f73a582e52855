/**
 * bench/relay: non-decoding WebRTC receivers (werift RTCPeerConnection), all in this one process,
 * so the relay under test pays for SRTP/ICE/UDP per viewer and nobody pays for decoding.
 * Line commands on stdin (JSON), one JSON reply line on stdout per command:
 *   {"cmd":"join","target":"gateway","base":"http://…","cameraId":1,"token":"…","n":8}
 *   {"cmd":"join","target":"janus","url":"http://…/janus","mountpointId":1,"n":8}
 *      → {"ok":true,"joined":n,"firstPacketMs":[…]}   (request → first RTP packet, per viewer)
 *   {"cmd":"stats"} → {"ok":true,"viewers":[{"received":…,"expected":…,"lost":…,"gapEvents":…}]}
 *   {"cmd":"closeAll"} → {"ok":true}
 * Loss is counted from sequence numbers: expected = highest − first + 1 (with wrap), lost =
 * expected − distinct packets received; gapEvents counts forward jumps. Receivers send no NACK
 * (see track()), so this is loss on the wire, before any repair.
 */
import { createInterface } from 'node:readline'
import { performance } from 'node:perf_hooks'
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift'
import { JanusStreamingClient } from './janus.js'

interface Receiver {
  pc: RTCPeerConnection
  first: number | undefined
  highest: number // extended
  cycles: number
  lastSeq: number | undefined
  seen: Set<number>
  received: number
  gapEvents: number
  firstAt: number
  /** Packets skipped by forward jumps within 2 s of this viewer's first packet (its own start). */
  skippedAtStart: number
  /** … and later (while other viewers join). */
  skippedLater: number
  close(): Promise<void>
}

const receivers: Receiver[] = []

function newPc(): RTCPeerConnection {
  return new RTCPeerConnection({
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
          parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
        }),
      ],
      audio: [],
    },
    iceUseIpv4: true,
    iceUseIpv6: false,
  })
}

function record(r: Receiver, seq: number, t0: number, firstPacket: (ms: number) => void): void {
  if (r.lastSeq === undefined) {
    r.first = seq
    r.highest = seq
    r.lastSeq = seq
    r.seen.add(seq)
    r.received++
    r.firstAt = performance.now()
    firstPacket(r.firstAt - t0)
    return
  }
  // extend relative to the highest seen
  let delta = (seq - (r.highest & 0xffff)) & 0xffff
  if (delta >= 0x8000) delta -= 0x10000
  const ext = r.highest + delta
  if (delta > 1) {
    r.gapEvents++
    if (performance.now() - r.firstAt < 2000) r.skippedAtStart += delta - 1
    else r.skippedLater += delta - 1
  }
  if (ext > r.highest) r.highest = ext
  if (r.seen.has(ext)) return
  r.seen.add(ext)
  r.received++
}

const NOT_RTP = Buffer.alloc(0)

/**
 * Counts packets from the SRTP header (sequence numbers are not encrypted) and skips decryption
 * once DTLS is up: one process can then hold 32 receivers of a 2 Mbps stream without becoming the
 * bottleneck. Werift drops the empty "decrypted" packet as malformed, so no NACK/RR is sent:
 * loss is counted before any repair.
 */
function track(pc: RTCPeerConnection, r: Receiver, t0: number, firstPacket: (ms: number) => void): void {
  pc.onTrack.subscribe((t) => {
    t.onReceiveRtp.subscribe((rtp) => record(r, rtp.header.sequenceNumber, t0, firstPacket))
  })
  pc.connectionStateChange.subscribe((s) => {
    if (s !== 'connected') return
    for (const dtls of pc.dtlsTransports as unknown as { srtp?: { decrypt(buf: Buffer): Buffer } }[]) {
      if (!dtls.srtp) continue
      dtls.srtp.decrypt = (buf: Buffer) => {
        if (buf.length >= 12) record(r, buf.readUInt16BE(2), t0, firstPacket)
        return NOT_RTP
      }
    }
  })
}

function gatherComplete(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000)
    pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

function newReceiver(pc: RTCPeerConnection): Receiver {
  return { pc, first: undefined, highest: 0, cycles: 0, lastSeq: undefined, seen: new Set(), received: 0, gapEvents: 0, firstAt: 0, skippedAtStart: 0, skippedLater: 0, close: async () => void (await pc.close()) }
}

async function joinGateway(base: string, cameraId: number, token: string): Promise<{ first: Promise<number> }> {
  const pc = newPc()
  const r = newReceiver(pc)
  const t0 = performance.now()
  let resolveFirst!: (ms: number) => void
  const first = new Promise<number>((res) => (resolveFirst = res))
  track(pc, r, t0, resolveFirst)
  pc.addTransceiver('video', { direction: 'recvonly' })
  await pc.setLocalDescription(await pc.createOffer())
  await gatherComplete(pc)
  const res = await fetch(`${base}/api/cameras/${cameraId}/whep?stream=main`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: pc.localDescription!.sdp })
  const answer = await res.text()
  if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${answer}`)
  const location = res.headers.get('location')
  await pc.setRemoteDescription({ type: 'answer', sdp: answer })
  r.close = async () => {
    await fetch(base + location, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }).catch(() => undefined)
    await pc.close()
  }
  receivers.push(r)
  return { first }
}

async function joinJanus(url: string, mountpointId: number): Promise<{ first: Promise<number> }> {
  const pc = newPc()
  const r = newReceiver(pc)
  const t0 = performance.now()
  let resolveFirst!: (ms: number) => void
  const first = new Promise<number>((res) => (resolveFirst = res))
  track(pc, r, t0, resolveFirst)
  const janus = new JanusStreamingClient(url)
  const offer = await janus.watch(mountpointId)
  await pc.setRemoteDescription({ type: 'offer', sdp: offer })
  for (const t of pc.getTransceivers()) t.setDirection(t.kind === 'video' ? 'recvonly' : 'inactive')
  await pc.setLocalDescription(await pc.createAnswer())
  await gatherComplete(pc)
  await janus.start(pc.localDescription!.sdp)
  r.close = async () => {
    await janus.destroy()
    await pc.close()
  }
  receivers.push(r)
  return { first }
}

const timeout = <T>(p: Promise<T>, ms: number, fallback: T) => Promise.race([p, new Promise<T>((r) => setTimeout(() => r(fallback), ms))])

const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  void (async () => {
    const msg = JSON.parse(line) as Record<string, any>
    try {
      if (msg.cmd === 'join') {
        const firsts: Promise<number>[] = []
        for (let i = 0; i < msg.n; i++) {
          firsts.push((msg.target === 'janus' ? await joinJanus(msg.url, msg.mountpointId) : await joinGateway(msg.base, msg.cameraId, msg.token)).first)
        }
        const firstPacketMs = await Promise.all(firsts.map((f) => timeout(f, 20_000, NaN)))
        reply({ ok: true, joined: msg.n, firstPacketMs })
      } else if (msg.cmd === 'stats') {
        reply({
          ok: true,
          viewers: receivers.map((r) => {
            const expected = r.first === undefined ? 0 : r.highest - r.first + 1
            return { received: r.received, expected, lost: Math.max(0, expected - r.received), gapEvents: r.gapEvents, skippedAtStart: r.skippedAtStart, skippedLater: r.skippedLater }
          }),
        })
      } else if (msg.cmd === 'closeAll') {
        await Promise.all(receivers.splice(0).map((r) => r.close().catch(() => undefined)))
        reply({ ok: true })
      }
    } catch (err) {
      reply({ ok: false, error: (err as Error).message })
    }
  })()
})
rl.on('close', () => {
  void Promise.all(receivers.map((r) => r.close().catch(() => undefined))).finally(() => process.exit(0))
})

function reply(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n')
}
