import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  H265Depacketizer,
  H265NalType,
  H265ParameterSets,
  H265RtpPacketizer,
  h265NalType,
  packetizeH265,
  parseH265PpsIds,
  parseH265Sps,
} from '../../../src/lib/h265/index.js'
import { parseSdp } from '../../../src/lib/sdp/index.js'
import { serializeRtpPacket } from '../../../src/lib/rtp/index.js'

const b64 = (s: string): Buffer => Buffer.from(s, 'base64')
const sdp = parseSdp(readFileSync(new URL('../../fixtures/sdp/hikvision-h265.sdp', import.meta.url), 'utf8'))
const { vps: [VPS], sps: [SPS], pps: [PPS] } = sdp.media[0]!.h265!

/** A NAL unit of the given type with a valid 2-byte header (LayerId 0, TID 1). */
function nal(type: number, size: number): Buffer {
  const b = Buffer.alloc(size, 0xab)
  b[0] = type << 1
  b[1] = 1
  return b
}

// libx265 SPS; sizes as reported by ffprobe.
const VECTORS = [
  { name: 'Hikvision-style 4 MP from the SDP fixture', sps: SPS!, width: 2688, height: 1520, levelIdc: 150 },
  { name: '1080p', sps: b64('QgEBAWAAAAMAkAAAAwAAAwB4oAPAgBDlllZpJMrwFoCAAAADAIAAAAyE'), width: 1920, height: 1080, levelIdc: 120 },
  { name: '1000x562 (conformance window)', sps: b64('QgEBAWAAAAMAkAAAAwAAAwBdoAfSAI58mWVmkkyvAWgIAAADAAgAAAMAyEA='), width: 1000, height: 562, levelIdc: 93 },
  { name: '4K', sps: b64('QgEBAWAAAAMAkAAAAwAAAwCWoAHgIAIcWWVmkkyvAWgIAAADAAgAAAMAyEA='), width: 3840, height: 2160 },
]

for (const v of VECTORS) {
  t.test(`SPS ${v.name}`, async (t) => {
    const { name: _n, sps, ...expected } = v
    t.match(parseH265Sps(sps), { ...expected, profileIdc: 1, chromaFormatIdc: 1, bitDepthLuma: 8 })
  })
}

t.test('codec string and PPS ids', async (t) => {
  t.equal(parseH265Sps(SPS!).codec, 'hvc1.1.6.L150.90')
  t.same(parseH265PpsIds(PPS!), { ppsId: 0, spsId: 0 })
  t.equal(h265NalType(VPS!), H265NalType.VPS)
})

t.test('packetize → depacketize round trip: AP for parameter sets, FU for slices, ≤ 1200 bytes', async (t) => {
  const aud = Buffer.from([0x46, 0x01, 0x50])
  const frames = [
    { nalus: [aud, VPS!, SPS!, PPS!, nal(H265NalType.IDR_W_RADL, 6000), nal(H265NalType.IDR_W_RADL, 700)], timestamp: 0 },
    { nalus: [aud, nal(H265NalType.TRAIL_R, 2500)], timestamp: 3000 },
  ]
  const p = new H265RtpPacketizer({ initialSequenceNumber: 65535 })
  const dep = new H265Depacketizer()
  const out = []
  for (const f of frames) {
    const packets = p.packetize(f)
    t.ok(packets.every((pk) => serializeRtpPacket(pk).length <= 1200))
    t.same(packets.map((pk) => pk.marker), packets.map((_, i) => i === packets.length - 1))
    if (f.timestamp === 0) t.equal((packets[0]!.payload[0]! >> 1) & 0x3f, H265NalType.AP, 'AUD+VPS+SPS+PPS in one AP')
    for (const pk of packets) out.push(...dep.push(pk))
  }
  t.same(out.map((a) => a.nalus), frames.map((f) => f.nalus))
  t.same(out.map((a) => a.keyframe), [true, false])
  const fu = packetizeH265([nal(H265NalType.CRA_NUT, 1000)], 300)
  t.ok(fu.length > 1 && fu.every((b) => b.length <= 300))
  t.equal(fu[0]![2]! & 0xc0, 0x80, 'S bit')
  t.equal(fu.at(-1)![2]! & 0xc0, 0x40, 'E bit')
})

t.test('loss drops frames until the next IRAP', async (t) => {
  const p = new H265RtpPacketizer()
  const packets = [
    ...p.packetize({ nalus: [nal(H265NalType.IDR_N_LP, 3000)], timestamp: 0 }),
    ...p.packetize({ nalus: [nal(H265NalType.TRAIL_R, 3000)], timestamp: 1 }),
    ...p.packetize({ nalus: [nal(H265NalType.TRAIL_R, 300)], timestamp: 2 }),
    ...p.packetize({ nalus: [nal(H265NalType.CRA_NUT, 300)], timestamp: 3 }),
  ]
  const dep = new H265Depacketizer()
  const lost = packets.findIndex((pk) => pk.timestamp === 1)
  const out = packets.filter((_, i) => i !== lost).flatMap((pk) => dep.push(pk))
  t.same(out.map((a) => a.timestamp), [0, 3])
  t.equal(dep.stats.lostPackets, 1)
})

t.test('an IRAP picture missing its first slice segment (a stream joined mid-frame) does not end the wait for a keyframe', async (t) => {
  const continuing = (size: number) => {
    const n = nal(H265NalType.IDR_W_RADL, size)
    n[2] = 0x2b // first_slice_segment_in_pic_flag 0
    return n
  }
  const p = new H265RtpPacketizer()
  const packets = [
    ...p.packetize({ nalus: [continuing(2000), continuing(500)], timestamp: 0 }),
    ...p.packetize({ nalus: [nal(H265NalType.TRAIL_R, 300)], timestamp: 1 }),
    ...p.packetize({ nalus: [nal(H265NalType.IDR_W_RADL, 2000), continuing(500)], timestamp: 2 }),
  ]
  const dep = new H265Depacketizer()
  t.same(packets.flatMap((pk) => dep.push(pk)).map((a) => a.timestamp), [2], 'the partial keyframe and the frame after it dropped; the whole keyframe delivered')
  t.equal(dep.stats.droppedFrames, 2)
})

t.test('VPS/SPS/PPS injected before IRAP pictures that lack them', async (t) => {
  const ps = new H265ParameterSets([VPS!, SPS!, PPS!])
  t.match(ps.spsInfo, { width: 2688, height: 1520 })
  const aud = Buffer.from([0x46, 0x01, 0x50])
  const out = ps.process([aud, nal(H265NalType.IDR_W_RADL, 10)])
  t.same(out.map(h265NalType), [H265NalType.AUD, H265NalType.VPS, H265NalType.SPS, H265NalType.PPS, H265NalType.IDR_W_RADL])
  const trail = [nal(H265NalType.TRAIL_R, 10)]
  t.equal(ps.process(trail), trail)
})

t.test('packetizeH265 cuts a fragmented NAL from one allocation of the given allocator, same bytes as without', async (t) => {
  const big = nal(H265NalType.IDR_N_LP, 4000)
  const sizes: number[] = []
  const alloc = (n: number): Buffer => {
    sizes.push(n)
    return Buffer.alloc(n, 0xee)
  }
  const withAlloc = packetizeH265([big], 1188, alloc)
  t.same(withAlloc.map((p) => p.toString('hex')), packetizeH265([big], 1188).map((p) => p.toString('hex')), 'identical payloads')
  const fragments = Math.ceil((big.length - 2) / (1188 - 3))
  t.same(sizes, [big.length - 2 + 3 * fragments], 'one allocation for all FU fragments')
  t.ok(withAlloc.length === fragments && withAlloc.every((p) => p.buffer === withAlloc[0]!.buffer), 'the fragments share a backing store')
})
