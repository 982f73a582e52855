import t from 'tap'
import {
  H264Depacketizer,
  H264NalType,
  H264ParameterSets,
  H264RtpPacketizer,
  h264NalType,
  joinAnnexB,
  packetizeH264,
  splitAnnexB,
  type AccessUnit,
} from '../../../src/lib/h264/index.js'
import { parseRtpPacket, serializeRtpPacket, type RtpPacket } from '../../../src/lib/rtp/index.js'

const SPS = Buffer.from('Z0LAHtoCgPbAWoMDA1KAAAADAIAAABlHixdQ', 'base64')
const PPS = Buffer.from('aM48gA==', 'base64')
const AUD = Buffer.from([0x09, 0xf0])

function nal(type: number, size: number, fill = 0xab): Buffer {
  const b = Buffer.alloc(size, fill)
  b[0] = 0x60 | type
  return b
}

function rtp(seq: number, timestamp: number, payload: Buffer, marker: boolean): RtpPacket {
  return { payloadType: 96, sequenceNumber: seq & 0xffff, timestamp, ssrc: 1, marker, csrc: [], payload, paddingLength: 0 }
}

/** Packetizes access units the way the gateway does and returns the packets in order. */
function packets(aus: Array<Pick<AccessUnit, 'nalus' | 'timestamp'>>, initialSequenceNumber = 100): RtpPacket[] {
  const p = new H264RtpPacketizer({ initialSequenceNumber, ssrc: 1 })
  return aus.flatMap((au) => p.packetize(au))
}

t.test('packetizer: every packet ≤ 1200 bytes, marker only on the last packet of a multi-slice frame', async (t) => {
  const au = { nalus: [AUD, SPS, PPS, nal(5, 5000), nal(5, 900), nal(5, 3000), nal(5, 40)], timestamp: 3000 }
  const out = new H264RtpPacketizer({ initialSequenceNumber: 65534, ssrc: 7 }).packetize(au)
  for (const p of out) t.ok(serializeRtpPacket(p).length <= 1200, `packet ${p.sequenceNumber} ≤ 1200`)
  t.same(out.map((p) => p.marker), out.map((_, i) => i === out.length - 1))
  t.same(out.map((p) => p.sequenceNumber).slice(0, 3), [65534, 65535, 0], 'sequence wraps')
  t.ok(out.every((p) => p.timestamp === 3000 && p.ssrc === 7))
  t.equal(out[0]!.payload[0]! & 0x1f, H264NalType.STAP_A, 'AUD+SPS+PPS aggregated in one STAP-A')
  const dep = new H264Depacketizer()
  const aus = out.flatMap((p) => dep.push(p))
  t.equal(aus.length, 1)
  t.same(aus[0]!.nalus, au.nalus, 'depacketizes back to the same NAL units')
  t.equal(aus[0]!.keyframe, true)
})

t.test('packetizeH264 honours other sizes and keeps lone NALs unwrapped', async (t) => {
  const payloads = packetizeH264([nal(1, 100)], 1188)
  t.equal(payloads.length, 1)
  t.equal(payloads[0]![0]! & 0x1f, 1, 'single NAL unit packet')
  const fu = packetizeH264([nal(5, 1000)], 300)
  t.ok(fu.every((p) => p.length <= 300))
  t.equal(fu[0]![1]! & 0x80, 0x80, 'start bit on first fragment')
  t.equal(fu.at(-1)![1]! & 0x40, 0x40, 'end bit on last fragment')
  t.ok(fu.slice(1, -1).every((p) => (p[1]! & 0xc0) === 0))
  t.equal(fu[0]![0]! & 0x60, 0x60, 'NRI copied into the FU indicator')
  t.throws(() => new H264RtpPacketizer({ maxPacketSize: 14 }))
})

t.test('filler data is dropped before packetization', async (t) => {
  const out = packets([{ nalus: [nal(1, 500), nal(12, 3000, 0xff)], timestamp: 1 }])
  t.equal(out.length, 1)
  t.equal(out[0]!.payload[0]! & 0x1f, 1)
})

t.test('depacketizer: STAP-A, FU-A, single NAL; frames end on the marker', async (t) => {
  const dep = new H264Depacketizer()
  const stap = Buffer.concat([Buffer.from([0x78, 0, SPS.length]), SPS, Buffer.from([0, PPS.length]), PPS])
  const idr = nal(5, 20)
  const fuA = Buffer.concat([Buffer.from([0x7c, 0x85]), idr.subarray(1, 10)])
  const fuB = Buffer.concat([Buffer.from([0x7c, 0x45]), idr.subarray(10)])
  t.same(dep.push(rtp(1, 90, stap, false)), [])
  t.same(dep.push(rtp(2, 90, fuA, false)), [])
  const [au] = dep.push(rtp(3, 90, fuB, true))
  t.same(au?.nalus, [SPS, PPS, idr])
  t.equal(au?.keyframe, true)
  t.equal(au?.timestamp, 90)
  const p = nal(1, 30)
  t.same(dep.push(rtp(4, 180, p, true)).map((a) => [a.keyframe, a.nalus]), [[false, [p]]])
  t.match(dep.stats, { packets: 4, frames: 2, lostPackets: 0, droppedFrames: 0 })
})

t.test('depacketizer waits for the first keyframe', async (t) => {
  const dep = new H264Depacketizer()
  t.same(dep.push(rtp(1, 0, nal(1, 10), true)), [])
  t.equal(dep.push(rtp(2, 3000, nal(5, 10), true)).length, 1)
  t.equal(dep.stats.droppedFrames, 1)
  const all = new H264Depacketizer({ waitForKeyframe: false })
  t.equal(all.push(rtp(1, 0, nal(1, 10), true)).length, 1)
})

t.test('packet loss: the broken frame and the following P-frames are dropped until the next IDR', async (t) => {
  const gop = (ts: number): Array<Pick<AccessUnit, 'nalus' | 'timestamp'>> => [
    { nalus: [SPS, PPS, nal(5, 4000)], timestamp: ts },
    { nalus: [nal(1, 2500)], timestamp: ts + 3000 },
    { nalus: [nal(1, 2500)], timestamp: ts + 6000 },
  ]
  const stream = packets([...gop(0), ...gop(9000)])
  // Lose a middle fragment of the first P-frame.
  const lostIndex = stream.findIndex((p) => p.timestamp === 3000) + 1
  const dep = new H264Depacketizer()
  const out = stream.filter((_, i) => i !== lostIndex).flatMap((p) => dep.push(p))
  t.same(out.map((a) => a.timestamp), [0, 9000, 12000, 15000])
  t.equal(dep.stats.lostPackets, 1)
  t.equal(dep.stats.droppedFrames, 2, 'broken P-frame and the next one')
})

t.test('a lost marker packet: the frame is cut by the next timestamp and dropped as incomplete', async (t) => {
  const stream = packets([
    { nalus: [SPS, PPS, nal(5, 3000)], timestamp: 0 },
    { nalus: [nal(5, 3000)], timestamp: 3000 },
    { nalus: [nal(1, 100)], timestamp: 6000 },
  ])
  const firstMarker = stream.findIndex((p) => p.marker)
  const dep = new H264Depacketizer()
  const out = stream.filter((_, i) => i !== firstMarker).flatMap((p) => dep.push(p))
  t.same(out.map((a) => a.timestamp), [3000, 6000])
})

t.test('a sender that never sets the marker still yields frames on timestamp change', async (t) => {
  const stream = packets([
    { nalus: [nal(5, 100)], timestamp: 0 },
    { nalus: [nal(1, 100)], timestamp: 3000 },
  ]).map((p) => ({ ...p, marker: false }))
  const dep = new H264Depacketizer()
  const out = stream.flatMap((p) => dep.push(p))
  t.same(out.map((a) => a.timestamp), [0], 'the last frame waits for the next timestamp')
})

t.test('duplicates and late packets are ignored, sequence wrap is not a loss', async (t) => {
  const stream = packets(
    [
      { nalus: [nal(5, 3000)], timestamp: 0 },
      { nalus: [nal(1, 3000)], timestamp: 3000 },
    ],
    65533,
  )
  const dep = new H264Depacketizer()
  const out: AccessUnit[] = []
  for (const p of stream) {
    out.push(...dep.push(p))
    out.push(...dep.push(p))
  }
  t.equal(out.length, 2)
  t.equal(dep.stats.lostPackets, 0)
  t.equal(dep.stats.latePackets, stream.length)
})

t.test('FU-A without its start fragment, and unsupported payloads, are handled', async (t) => {
  const dep = new H264Depacketizer({ waitForKeyframe: false })
  t.same(dep.push(rtp(1, 0, Buffer.from([0x7c, 0x45, 1, 2]), true)), [], 'middle/end fragment alone')
  t.equal(dep.stats.droppedFrames, 1)
  t.same(dep.push(rtp(2, 10, Buffer.from([0x79, 0, 0, 1, 2, 3]), true)), [], 'STAP-B not supported')
  t.equal(dep.stats.unsupportedPackets, 1)
  t.same(dep.push(rtp(3, 20, Buffer.from([0x78, 0, 9, 1]), true)), [], 'STAP-A with size beyond payload')
})

t.test('parameter sets: SDP SPS/PPS injected before IDRs that lack them, after the AUD', async (t) => {
  const ps = new H264ParameterSets([SPS, PPS])
  t.match(ps.spsInfo, { width: 640, height: 480 })
  const idr = nal(5, 50)
  const out = ps.process([AUD, idr])
  t.same(out.map(h264NalType), [9, 7, 8, 5])
  const p = [nal(1, 10)]
  t.equal(ps.process(p), p, 'P-frames untouched')
  const complete = [SPS, PPS, idr]
  t.equal(ps.process(complete), complete, 'already complete IDR untouched')
})

t.test('parameter sets: the last in-band SPS/PPS win over the SDP ones', async (t) => {
  const sps720 = Buffer.from('Z00AKeKQCgC3YC3AQEBpB4kRUA==', 'base64')
  const pps2 = Buffer.from('aO48gA==', 'base64')
  const ps = new H264ParameterSets([SPS, PPS])
  ps.process([sps720, pps2, nal(5, 10)])
  t.match(ps.spsInfo, { width: 1280, height: 720 })
  t.same(ps.process([nal(5, 10)]).slice(0, 2), [sps720, pps2])
  const empty = new H264ParameterSets()
  const idr = [nal(5, 10)]
  t.equal(empty.process(idr), idr, 'nothing known yet: nothing to inject')
})

t.test('Annex B split/join', async (t) => {
  const stream = joinAnnexB([SPS, PPS, nal(5, 10)])
  t.same(splitAnnexB(stream), [SPS, PPS, nal(5, 10)])
  t.same(splitAnnexB(Buffer.from([0, 0, 1, 0x09, 0x10, 0, 0, 0, 1, 0x67, 1])), [Buffer.from([0x09, 0x10]), Buffer.from([0x67, 1])])
})

t.test('serialized packets parse back', async (t) => {
  const out = packets([{ nalus: [nal(5, 2000)], timestamp: 5 }])
  const back = out.map((p) => parseRtpPacket(serializeRtpPacket(p)))
  t.same(back.map((p) => [p.sequenceNumber, p.marker, p.payload.length]), out.map((p) => [p.sequenceNumber, p.marker, p.payload.length]))
})

t.test('packetizeH264 cuts a fragmented NAL from one allocation of the given allocator, same bytes as without', async (t) => {
  const big = nal(5, 5000, 0x11)
  const sizes: number[] = []
  const alloc = (n: number): Buffer => {
    sizes.push(n)
    return Buffer.alloc(n, 0xee)
  }
  const withAlloc = packetizeH264([AUD, SPS, PPS, big, nal(1, 300)], 1188, alloc)
  const plain = packetizeH264([AUD, SPS, PPS, big, nal(1, 300)], 1188)
  t.same(withAlloc.map((p) => p.toString('hex')), plain.map((p) => p.toString('hex')), 'identical payloads')
  const fragments = Math.ceil((big.length - 1) / (1188 - 2))
  t.same(sizes, [1 + 3 * 2 + AUD.length + SPS.length + PPS.length, big.length - 1 + 2 * fragments], 'one STAP-A and one allocation for all FU-A fragments')
  const fu = withAlloc.filter((p) => (p[0]! & 0x1f) === H264NalType.FU_A)
  t.equal(fu.length, fragments)
  t.ok(fu.every((p) => p.buffer === fu[0]!.buffer), 'the fragments share a backing store')
})

t.test('depacketizer: fragmented NALs reassemble intact across many arena slabs; single NALs are views', async (t) => {
  const aus = Array.from({ length: 120 }, (_, i) => ({
    // sizes from 1.3 KB to ~40 KB, some above a quarter of a reassembly slab
    nalus: [nal(i % 30 === 0 ? 5 : 1, 1300 + ((i * 7919) % 40_000), i & 0xff), nal(1, 200, (i + 1) & 0xff)],
    timestamp: 3000 * i,
  }))
  const dep = new H264Depacketizer({ waitForKeyframe: false })
  const pkts = packets(aus)
  const out = pkts.flatMap((p) => dep.push(p))
  t.equal(out.length, aus.length)
  const mismatched = out.filter((au, i) => !au.nalus.every((n, j) => n.equals(aus[i]!.nalus[j]!))).length
  t.equal(mismatched, 0, 'every NAL byte for byte')
  const single = new H264Depacketizer({ waitForKeyframe: false })
  const payload = nal(1, 100)
  const [au] = single.push(rtp(1, 0, payload, true))
  t.equal(au!.nalus[0]!.buffer, payload.buffer, 'a single NAL unit packet is not copied')
})
