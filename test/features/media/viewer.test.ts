import { EventEmitter } from 'node:events'
import t from 'tap'
import type { FrameSource, FrameSourceHandlers, VideoFrame } from '../../../src/features/media/index.js'
import { LiveStream } from '../../../src/features/media/live-stream.js'
import { Viewer } from '../../../src/features/media/viewer.js'
import type { OutgoingRtp, WebRtcSendPeer } from '../../../src/lib/webrtc/werift-peer.js'

/** Viewer against a fake peer: fast-start burst, per-viewer RTP numbering, marker placement, MTU. */

class FakePeer extends EventEmitter {
  sent: OutgoingRtp[] = []
  video = { codec: 'h264' as const, payloadType: 102, fmtp: '' }
  stats = { packetsSent: 0, bytesSent: 0, packetsLost: 0, fractionLost: 0, pli: 0, fir: 0, nack: 0, retransmitted: 0 }
  closed = false
  sendRtp(p: OutgoingRtp) {
    this.sent.push(p)
  }
  sendFrame(firstSequenceNumber: number, timestamp: number, payloads: readonly Buffer[]) {
    payloads.forEach((payload, i) => this.sent.push({ sequenceNumber: (firstSequenceNumber + i) & 0xffff, timestamp, marker: i === payloads.length - 1, payload }))
  }
  async close() {
    this.closed = true
  }
}

let push: ((f: VideoFrame) => void) | undefined
class ManualSource implements FrameSource {
  readonly kind = 'demo' as const
  constructor(h: FrameSourceHandlers) {
    push = (f) => h.onFrame(f)
  }
  async start() {
    return { codec: 'h264' as const }
  }
  requestKeyframe() {
    return false
  }
  stats() {
    return { packetsLost: 0 }
  }
  async close() {}
}

const frame = (n: number, key: boolean, slices = 1, sliceBytes = 3000): VideoFrame => {
  const nalus = Array.from({ length: slices }, (_, i) => Buffer.alloc(sliceBytes, i + 1).fill(key ? 0x65 : 0x41, 0, 1))
  return { codec: 'h264', nalus, timestamp: 1000 + n * 3600, keyframe: key, bytes: slices * sliceBytes, receivedAt: Date.now() }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('fast start, continuity and packetization', async (t) => {
  const ls = new LiveStream({ key: 'k', cameraId: 1, streamName: 'main', factory: (h) => new ManualSource(h), settings: { idleTimeoutMs: 1000, stallTimeoutMs: 60_000, backoffMinMs: 10, backoffMaxMs: 10, gopCacheBytes: 1 << 20, keyframeRequestMinIntervalMs: 0 } })
  const peer = new FakePeer()
  let firstMs = -1
  const v = new Viewer({ id: 'v1', peer: peer as unknown as WebRtcSendPeer, stream: ls, requestedAt: Date.now(), hooks: { firstFrame: (ms) => (firstMs = ms) } })
  await sleep(10)
  // a GOP arrives before the peer connects: key + 4 P frames, 4 slices each
  for (let n = 0; n < 5; n++) push!(frame(n, n === 0, 4))
  t.equal(peer.sent.length, 0, 'nothing before connect')
  peer.emit('state', 'connected')
  t.equal(peer.sent.length, 24, 'the cached GOP (60 packets) starts with one burst of 24; the rest is paced')
  // A live frame during the catch-up is queued behind the GOP. (The pacer may let a packet or two
  // of the GOP go meanwhile, as time passes on a busy machine: counted by order, not by timing.)
  const beforeLive = peer.sent.length
  push!(frame(5, false, 4))
  t.ok(peer.sent.length < beforeLive + 12, 'a live frame during catch-up does not go out at once')
  // 60 GOP packets + 12 of the live frame: the pacer sends them all within tens of ms
  for (let waited = 0; peer.sent.length < 72 && waited < 5000; waited += 5) await sleep(5)
  t.equal(peer.sent.length, 72, 'the paced GOP and the queued live frame all went out')
  const liveTs = new Set(peer.sent.slice(60).map((p) => p.timestamp))
  t.equal(liveTs.size, 1, 'the last 12 packets are the live frame')
  t.notOk(peer.sent.slice(0, 60).some((p) => liveTs.has(p.timestamp)), 'and none of it went before the GOP was out')
  push!(frame(6, false, 1, 100))
  const byTs = new Map<number, OutgoingRtp[]>()
  for (const p of peer.sent) byTs.set(p.timestamp, [...(byTs.get(p.timestamp) ?? []), p])
  t.equal(byTs.size, 7, '5 cached + 2 live frames sent')
  t.ok(firstMs >= 0, 'first-frame hook')
  for (const [ts, pkts] of byTs) {
    t.same(pkts.map((p) => p.marker), pkts.map((_, i) => i === pkts.length - 1), `marker only on the last packet of frame ${ts}`)
  }
  t.ok(peer.sent.every((p) => p.payload.length + 12 <= 1200), 'every packet ≤ 1200 bytes')
  for (let i = 1; i < peer.sent.length; i++) {
    if (((peer.sent[i]!.sequenceNumber - peer.sent[i - 1]!.sequenceNumber) & 0xffff) !== 1) t.fail(`sequence gap at ${i}`)
  }
  const tss = [...byTs.keys()]
  t.same(tss.slice(1, 5).map((x, i) => (x - tss[i]!) >>> 0), [1, 1, 1, 1], 'cached GOP squeezed one tick apart')
  t.equal((tss[5]! - tss[4]!) >>> 0, 3600, 'live frames keep the source spacing after the burst')
  t.equal((tss[6]! - tss[5]!) >>> 0, 3600)

  // the upstream restarts: nothing until a keyframe, then numbering continues
  const before = peer.sent.length
  v.onDiscontinuity()
  push!(frame(7, false))
  t.equal(peer.sent.length, before, 'P frame after a discontinuity dropped')
  push!(frame(8, true))
  t.ok(peer.sent.length > before)
  t.equal((peer.sent[before]!.sequenceNumber - peer.sent[before - 1]!.sequenceNumber) & 0xffff, 1, 'sequence continuous across the restart')

  // H.265 frames are not sent on an H.264 session
  const n = peer.sent.length
  push!({ ...frame(9, true), codec: 'h265' })
  t.equal(peer.sent.length, n)

  await v.close()
  await v.close()
  t.ok(peer.closed)
  t.equal(ls.subscriberCount, 0, 'unsubscribed')
  await ls.close()
})
