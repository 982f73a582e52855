import t, { type Test } from 'tap'
import { H264Depacketizer } from '../../../src/lib/h264/index.js'
import { parseRtpPacket, RtpParseError, SequenceUnwrapper } from '../../../src/lib/rtp/index.js'
import { FrameCounter, MAX_NATIVE_FRAME_BYTES, type H264FrameAssembly } from '../../../src/lib/rtsp/index.js'
import { harness } from '../../support/interleaved-reader.js'

/**
 * The native reader's H.264 frame assembly (native/ingest/h264_frames.h) against H264Depacketizer,
 * whose rules it ports: the same packets, fed to both, must give the same frames and counts.
 */

interface Frame {
  /** NAL units, each after a 4-byte big-endian length */
  bytes: Buffer
  timestamp: number
  keyframe: boolean
}

interface Counts {
  packets: number
  malformed: number
  lost: number
  late: number
  unsupported: number
  frames: number
  dropped: number
  /** reception (RFC 3550 A.1) of the last SSRC */
  ssrc: number
  baseSeq: number
  maxSeq: number
  received: number
}

function lengthPrefixed(nalus: readonly Buffer[]): Buffer {
  return Buffer.concat(nalus.flatMap((n) => [Buffer.from([n.length >>> 24, (n.length >> 16) & 0xff, (n.length >> 8) & 0xff, n.length & 0xff]), n]))
}

/** What H264Depacketizer makes of `packets`, fed as RtspSource feeds it (reset when the SSRC changes). */
function depacketizeInJs(packets: readonly Buffer[]): { frames: Frame[]; counts: Counts } {
  const dep = new H264Depacketizer()
  const frames: Frame[] = []
  let malformed = 0
  let ssrc: number | undefined
  let unwrapper = new SequenceUnwrapper()
  let baseSeq = 0
  let maxSeq = 0
  let received = 0
  for (const raw of packets) {
    let p
    try {
      p = parseRtpPacket(raw)
    } catch (err) {
      if (!(err instanceof RtpParseError)) throw err
      malformed++
      continue
    }
    if (ssrc !== p.ssrc) {
      if (ssrc !== undefined) dep.reset()
      unwrapper = new SequenceUnwrapper()
      baseSeq = maxSeq = unwrapper.unwrap(p.sequenceNumber)
      received = 0
      ssrc = p.ssrc
    } else {
      maxSeq = Math.max(maxSeq, unwrapper.unwrap(p.sequenceNumber))
    }
    received++
    for (const au of dep.push(p)) frames.push({ bytes: lengthPrefixed(au.nalus), timestamp: au.timestamp, keyframe: au.keyframe })
  }
  const s = dep.stats
  return {
    frames,
    counts: { packets: s.packets, malformed, lost: s.lostPackets, late: s.latePackets, unsupported: s.unsupportedPackets, frames: s.frames, dropped: s.droppedFrames, ssrc: ssrc ?? 0, baseSeq, maxSeq, received },
  }
}

interface Tap {
  teardown(fn: () => unknown): void
}

/** A reader assembling channel 0; frames it completes are collected. */
async function nativeAssembler(t: Tap): Promise<{ assembly: H264FrameAssembly; frames: Frame[]; onData: Buffer[]; peer: import('node:net').Socket }> {
  const h = await harness(t, 1000)
  const frames: Frame[] = []
  const assembly = h.reader.assembleH264(0, 90_000, (slab, offset, length, timestamp, keyframe) => {
    frames.push({ bytes: Buffer.from(slab.subarray(offset, offset + length)), timestamp, keyframe })
  })
  return { assembly, frames, onData: h.calls.map((c) => c.bytes), peer: h.peer }
}

function countsOf(a: H264FrameAssembly): Counts {
  const c = a.counters
  return {
    packets: c[FrameCounter.packets]!,
    malformed: c[FrameCounter.malformed]!,
    lost: c[FrameCounter.lost]!,
    late: c[FrameCounter.late]!,
    unsupported: c[FrameCounter.unsupported]!,
    frames: c[FrameCounter.frames]!,
    dropped: c[FrameCounter.dropped]!,
    ssrc: c[FrameCounter.ssrc]!,
    baseSeq: c[FrameCounter.baseSeq]!,
    maxSeq: c[FrameCounter.maxSeq]!,
    received: c[FrameCounter.received]!,
  }
}

async function depacketizeNatively(t: Tap, packets: readonly Buffer[]): Promise<{ frames: Frame[]; counts: Counts; bytes: number }> {
  const n = await nativeAssembler(t)
  for (const p of packets) n.assembly.feed(p)
  return { frames: n.frames, counts: countsOf(n.assembly), bytes: n.assembly.counters[FrameCounter.bytes]! }
}

// --- building RTP ---------------------------------------------------------------------------

interface RtpOptions {
  seq: number
  timestamp: number
  marker?: boolean
  ssrc?: number
  padding?: number
  /** header extension words */
  extensionWords?: number
  csrcs?: number
}

function rtp(payload: Buffer, o: RtpOptions): Buffer {
  const csrcs = o.csrcs ?? 0
  const ext = o.extensionWords === undefined ? Buffer.alloc(0) : Buffer.alloc(4 + 4 * o.extensionWords, 0xee)
  if (o.extensionWords !== undefined) ext.writeUInt16BE(o.extensionWords, 2)
  const pad = o.padding ?? 0
  const header = Buffer.alloc(12 + 4 * csrcs)
  header[0] = 0x80 | (pad > 0 ? 0x20 : 0) | (o.extensionWords !== undefined ? 0x10 : 0) | csrcs
  header[1] = (o.marker ? 0x80 : 0) | 96
  header.writeUInt16BE(o.seq & 0xffff, 2)
  header.writeUInt32BE(o.timestamp >>> 0, 4)
  header.writeUInt32BE((o.ssrc ?? 0x1234abcd) >>> 0, 8)
  const padding = Buffer.alloc(pad)
  if (pad > 0) padding[pad - 1] = pad
  return Buffer.concat([header, ext, payload, padding])
}

/**
 * A NAL unit of `type` with `size` bytes in all, its body a pattern that tells units apart. A
 * slice is its picture's first (first_mb_in_slice 0) unless `firstSlice` is false.
 */
function nal(type: number, size: number, tag: number, firstSlice = true): Buffer {
  const b = Buffer.alloc(size)
  b[0] = 0x60 | type
  for (let i = 1; i < size; i++) b[i] = (tag * 31 + i) & 0xff
  if (type >= 1 && type <= 5 && size >= 2) b[1] = firstSlice ? b[1]! | 0x80 : b[1]! & 0x7f
  return b
}

const stapA = (...nalus: Buffer[]) => Buffer.concat([Buffer.of(0x78), ...nalus.flatMap((n) => [Buffer.of(n.length >> 8, n.length & 0xff), n])])

/** FU-A pieces of `unit`, each carrying at most `max` bytes of it. */
function fuA(unit: Buffer, max: number): Buffer[] {
  const pieces: Buffer[] = []
  const body = unit.subarray(1)
  for (let o = 0; o < body.length; o += max) {
    const start = o === 0
    const end = o + max >= body.length
    pieces.push(Buffer.concat([Buffer.of((unit[0]! & 0xe0) | 28, (start ? 0x80 : 0) | (end ? 0x40 : 0) | (unit[0]! & 0x1f)), body.subarray(o, o + max)]))
  }
  return pieces
}

/** Payloads of one frame: small units aggregated (STAP-A), large ones fragmented (FU-A), as cameras do. */
function payloadsOf(nalus: readonly Buffer[], mtu = 1200): Buffer[] {
  const out: Buffer[] = []
  let small: Buffer[] = []
  const flush = () => {
    if (small.length === 1) out.push(small[0]!)
    else if (small.length > 1) out.push(stapA(...small))
    small = []
  }
  for (const n of nalus) {
    if (n.length <= 200) {
      small.push(n)
      continue
    }
    flush()
    if (n.length <= mtu) out.push(n)
    else out.push(...fuA(n, mtu))
  }
  flush()
  return out
}

/** A seeded PRNG (mulberry32), so a failing stream can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** A camera's stream of `frameCount` frames (a keyframe every `gop`), then impaired as networks and cameras do. */
function impairedStream(seed: number, frameCount: number, gop: number): Buffer[] {
  const random = prng(seed)
  const packets: Buffer[] = []
  let seq = Math.floor(random() * 65536)
  let ts = Math.floor(random() * 2 ** 32)
  let ssrc = 0x5eed0000 + seed
  let tag = 0
  for (let f = 0; f < frameCount; f++) {
    const key = f % gop === 0
    const slices = 1 + Math.floor(random() * 3)
    const nalus = key ? [nal(9, 2, tag++), nal(7, 14, tag++), nal(8, 4, tag++)] : [nal(9, 2, tag++)]
    for (let s = 0; s < slices; s++) {
      const size = key ? 20_000 + Math.floor(random() * 100_000) : 50 + Math.floor(random() * 6000)
      nalus.push(nal(key ? 5 : 1, size, tag++, s === 0))
    }
    const payloads = payloadsOf(nalus)
    payloads.forEach((payload, i) => {
      const padding = random() < 0.05 ? 1 + Math.floor(random() * 20) : 0
      const extensionWords = random() < 0.05 ? Math.floor(random() * 3) : undefined
      const csrcs = random() < 0.02 ? 1 + Math.floor(random() * 2) : 0
      packets.push(rtp(payload, { seq: seq++, timestamp: ts, marker: i === payloads.length - 1, ssrc, padding, extensionWords, csrcs }))
    })
    ts += 3600
    if (random() < 0.01) {
      // The encoder restarted: a new SSRC, sequence and timestamps.
      ssrc = (ssrc + 0x101) >>> 0
      seq = Math.floor(random() * 65536)
      ts = Math.floor(random() * 2 ** 32)
    }
  }
  const out: Buffer[] = []
  // Joined in the middle of the first frame, as a client of a camera's shared stream may be.
  for (let i = Math.floor(random() * 3); i < packets.length; i++) {
    const p = packets[i]!
    const r = random()
    if (r < 0.004) continue // lost
    if (r < 0.008) {
      out.push(p, p) // duplicated
      continue
    }
    if (r < 0.012 && i + 1 < packets.length) {
      out.push(packets[i + 1]!, p) // reordered
      i++
      continue
    }
    if (r < 0.016) {
      const noMarker = Buffer.from(p)
      noMarker[1] = noMarker[1]! & 0x7f // a sender that does not set the marker
      out.push(noMarker)
      continue
    }
    if (r < 0.018) {
      out.push(Buffer.concat([Buffer.of(0x80), p.subarray(1, 12), Buffer.of(0x79, 0, 1, 0x61)])) // STAP-B in its place: unsupported
      continue
    }
    if (r < 0.02) out.push(Buffer.from([0x00, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1])) // not RTP v2
    out.push(p)
  }
  return out
}

// --- tests ----------------------------------------------------------------------------------

async function expectSame(t: Test, packets: Buffer[], what: string): Promise<{ frames: Frame[]; counts: Counts }> {
  const js = depacketizeInJs(packets)
  const native = await depacketizeNatively(t, packets)
  t.equal(native.frames.length, js.frames.length, `${what}: as many frames`)
  const firstDifferent = js.frames.findIndex((f, i) => {
    const n = native.frames[i]
    return !n || n.timestamp !== f.timestamp || n.keyframe !== f.keyframe || !n.bytes.equals(f.bytes)
  })
  t.equal(firstDifferent, -1, `${what}: the same frames, byte for byte`)
  t.same(native.counts, js.counts, `${what}: the same counts`)
  t.equal(native.bytes, packets.reduce((n, p) => n + p.length, 0), `${what}: every byte counted`)
  return js
}

t.test('single NAL units, STAP-A and FU-A: the same frames as H264Depacketizer', async (t) => {
  const sps = nal(7, 14, 1)
  const pps = nal(8, 4, 2)
  const idr = nal(5, 5000, 3)
  const p1 = nal(1, 900, 4)
  const p2a = nal(1, 300, 5)
  const p2b = nal(1, 2500, 6)
  const frames = [
    [stapA(sps, pps), ...fuA(idr, 1200)],
    [p1],
    [p2a, ...fuA(p2b, 1000)],
  ]
  let seq = 65530 // wraps within the stream
  const packets = frames.flatMap((payloads, f) => payloads.map((p, i) => rtp(p, { seq: seq++, timestamp: 4_294_960_000 + f * 3600, marker: i === payloads.length - 1 })))
  const js = await expectSame(t, packets, 'clean stream')
  t.equal(js.frames.length, 3)
  t.same(js.frames.map((f) => f.keyframe), [true, false, false])
  t.same(js.frames[0]!.bytes, lengthPrefixed([sps, pps, idr]), 'the keyframe: SPS, PPS and the reassembled IDR slice')
  t.same(js.frames[2]!.bytes, lengthPrefixed([p2a, p2b]), 'two slices in one frame')
  t.equal(js.counts.maxSeq - js.counts.baseSeq + 1, packets.length, 'extended sequence numbers across the wrap')
})

t.test('loss, late and duplicate packets, a lost marker, padding, extensions, CSRCs, empty and unsupported payloads', async (t) => {
  const key = [stapA(nal(7, 14, 1), nal(8, 4, 2)), ...fuA(nal(5, 4000, 3), 1200)]
  // [what, packets, the timestamps of the frames expected (when the case is about which come)]
  const cases: [string, (seq: () => number) => Buffer[], number[]?][] = [
    ['frames before the first keyframe are dropped', (seq) => [rtp(nal(1, 100, 9), { seq: seq(), timestamp: 0, marker: true }), ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 3600, marker: i === key.length - 1 }))]],
    [
      'joined in the middle of a multi-slice keyframe: it is dropped, and frames wait for a whole one',
      (seq) => {
        const slices = [nal(5, 900, 1), nal(5, 900, 2, false), nal(5, 900, 3, false)]
        const partial = slices.slice(1).map((p, i, all) => rtp(p, { seq: seq(), timestamp: 0, marker: i === all.length - 1 }))
        const next = rtp(nal(1, 300, 4), { seq: seq(), timestamp: 3600, marker: true })
        const whole = slices.map((p, i, all) => rtp(p, { seq: seq(), timestamp: 7200, marker: i === all.length - 1 }))
        return [...partial, next, ...whole]
      },
      [7200],
    ],
    [
      'a lost FU-A piece breaks the frame, and frames wait for the next keyframe',
      (seq) => {
        const first = key.map((p, i) => rtp(p, { seq: seq(), timestamp: 0, marker: i === key.length - 1 }))
        const second = fuA(nal(1, 3000, 4), 1200).map((p, i, all) => rtp(p, { seq: seq(), timestamp: 3600, marker: i === all.length - 1 }))
        const third = [rtp(nal(1, 500, 5), { seq: seq(), timestamp: 7200, marker: true })]
        const fourth = key.map((p, i) => rtp(p, { seq: seq(), timestamp: 10_800, marker: i === key.length - 1 }))
        return [...first, second[0]!, second[2]!, ...third, ...fourth]
      },
    ],
    [
      'late and duplicate packets are ignored',
      (seq) => {
        const ps = key.map((p, i) => rtp(p, { seq: seq(), timestamp: 0, marker: i === key.length - 1 }))
        return [ps[0]!, ps[1]!, ps[1]!, ps[0]!, ps[2]!, ps[3]!, ps[4]!, ps[2]!]
      },
    ],
    [
      'a frame without a marker ends when the timestamp changes',
      (seq) => [...key.map((p) => rtp(p, { seq: seq(), timestamp: 0 })), rtp(nal(1, 700, 6), { seq: seq(), timestamp: 3600 }), rtp(nal(1, 700, 7), { seq: seq(), timestamp: 7200, marker: true })],
    ],
    [
      'a timestamp change inside an FU-A breaks the frame',
      (seq) => {
        const pieces = fuA(nal(5, 3000, 8), 1200)
        return [rtp(pieces[0]!, { seq: seq(), timestamp: 0 }), rtp(pieces[1]!, { seq: seq(), timestamp: 0 }), ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 3600, marker: i === key.length - 1 }))]
      },
    ],
    [
      'a marker inside an FU-A, a single NAL inside an FU-A, an FU-A without its start',
      (seq) => {
        const pieces = fuA(nal(5, 3000, 8), 1200)
        return [
          ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 0, marker: i === key.length - 1 })),
          rtp(pieces[0]!, { seq: seq(), timestamp: 3600 }), rtp(pieces[1]!, { seq: seq(), timestamp: 3600, marker: true }),
          ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 7200, marker: i === key.length - 1 })),
          rtp(pieces[0]!, { seq: seq(), timestamp: 10_800 }), rtp(nal(1, 50, 9), { seq: seq(), timestamp: 10_800, marker: true }),
          ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 14_400, marker: i === key.length - 1 })),
          rtp(pieces[1]!, { seq: seq(), timestamp: 18_000 }), rtp(pieces[2]!, { seq: seq(), timestamp: 18_000, marker: true }),
          ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 21_600, marker: i === key.length - 1 })),
          rtp(pieces[0]!, { seq: seq(), timestamp: 25_200 }), rtp(pieces[0]!, { seq: seq(), timestamp: 25_200, marker: true }),
        ]
      },
    ],
    [
      'padding, header extensions and CSRC lists are skipped',
      (seq) => key.map((p, i) => rtp(p, { seq: seq(), timestamp: 0, marker: i === key.length - 1, padding: 1 + i * 3, extensionWords: i % 2 ? i : undefined, csrcs: i % 3 })),
    ],
    [
      'an empty payload breaks its frame; STAP-B, MTAP, FU-B and reserved types are counted unsupported',
      (seq) => [
        ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 0, marker: i === key.length - 1 })),
        rtp(Buffer.alloc(0), { seq: seq(), timestamp: 3600 }), rtp(nal(1, 100, 2), { seq: seq(), timestamp: 3600, marker: true }),
        ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 7200, marker: i === key.length - 1 })),
        ...[25, 26, 27, 29, 30, 31, 0].map((type) => rtp(Buffer.of(0x60 | type, 1, 2, 3), { seq: seq(), timestamp: 10_800 })),
        rtp(nal(1, 100, 3), { seq: seq(), timestamp: 10_800, marker: true }),
      ],
    ],
    [
      'a malformed STAP-A breaks its frame; an FU-A shorter than 3 bytes too',
      (seq) => [
        ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 0, marker: i === key.length - 1 })),
        rtp(Buffer.of(0x78, 0, 9, 0x61, 1), { seq: seq(), timestamp: 3600, marker: true }),
        ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 7200, marker: i === key.length - 1 })),
        rtp(Buffer.of(0x78, 0, 0, 0, 1, 0x61), { seq: seq(), timestamp: 10_800, marker: true }),
        ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 14_400, marker: i === key.length - 1 })),
        rtp(Buffer.of(0x7c, 0x81), { seq: seq(), timestamp: 18_000, marker: true }),
        ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 21_600, marker: i === key.length - 1 })),
      ],
    ],
    [
      'malformed units (not RTP v2, truncated headers, bad padding) are counted and skipped',
      (seq) => {
        const good = key.map((p, i) => rtp(p, { seq: seq(), timestamp: 0, marker: i === key.length - 1 }))
        const truncatedExtension = rtp(nal(1, 10, 1), { seq: 1, timestamp: 0, extensionWords: 4 }).subarray(0, 18)
        const badPadding = rtp(nal(1, 10, 1), { seq: 1, timestamp: 0, padding: 4 })
        badPadding[badPadding.length - 1] = 200
        const zeroPadding = rtp(nal(1, 10, 1), { seq: 1, timestamp: 0, padding: 4 })
        zeroPadding[zeroPadding.length - 1] = 0
        return [Buffer.alloc(5), Buffer.alloc(12), rtp(nal(1, 10, 1), { seq: 1, timestamp: 0, csrcs: 3 }).subarray(0, 20), truncatedExtension, badPadding, zeroPadding, ...good]
      },
    ],
    [
      'an SSRC change starts over: new reception figures, and frames wait for its keyframe',
      (seq) => [
        ...key.map((p, i) => rtp(p, { seq: seq(), timestamp: 0, marker: i === key.length - 1 })),
        rtp(nal(1, 300, 4), { seq: 40_000, timestamp: 99, ssrc: 0xbeef, marker: true }),
        ...key.map((p, i) => rtp(p, { seq: 40_001 + i, timestamp: 3699, ssrc: 0xbeef, marker: i === key.length - 1 })),
        rtp(nal(1, 300, 5), { seq: 40_001 + key.length, timestamp: 7299, ssrc: 0xbeef, marker: true }),
      ],
    ],
  ]
  for (const [what, build, expected] of cases) {
    let next = 100
    const packets = build(() => next++)
    await t.test(what, async (t) => {
      const js = await expectSame(t, packets, what)
      if (expected) t.same(js.frames.map((f) => f.timestamp), expected, 'the frames expected')
    })
  }
})

t.test('impaired camera streams (seeded): the same frames and counts as H264Depacketizer', async (t) => {
  const total = { lost: 0, late: 0, dropped: 0, unsupported: 0, malformed: 0 }
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const packets = impairedStream(seed, 400, 25)
    const js = await expectSame(t, packets, `seed ${seed}`)
    t.ok(js.counts.frames > 40, `seed ${seed}: ${js.counts.frames} frames of 400 came through`)
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += js.counts[k]
  }
  t.ok(Object.values(total).every((n) => n > 0), `the streams had every impairment: ${JSON.stringify(total)}`)
})

/** Packets as a broken or hostile camera might send: any header bits, any lengths, payloads that lie about their sizes. */
function garbageStream(seed: number, count: number): Buffer[] {
  const random = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  const pool = Buffer.from(Array.from({ length: 1 << 16 }, () => Math.floor(random() * 256)))
  const bytes = (n: number) => {
    const at = Math.floor(random() * (pool.length - n))
    return pool.subarray(at, at + n)
  }
  const out: Buffer[] = []
  let seq = 0
  let ts = 0
  for (let i = 0; i < count; i++) {
    seq += pick([1, 1, 1, 1, 0, 2, 5, -1, 30_000])
    if (random() < 0.2) ts += pick([3600, 1, -3600, 2 ** 31])
    const payloadType = pick([1, 5, 5, 7, 8, 24, 24, 28, 28, 28, 0, 25, 29, 31])
    let payload: Buffer
    if (payloadType === 24) {
      // STAP-A whose sizes may overrun, be zero or leave a byte over
      const parts = [Buffer.of(0x78)]
      for (let n = Math.floor(random() * 4); n > 0; n--) {
        const size = pick([0, 1, 5, 300, 65_535])
        const real = random() < 0.7 ? size : Math.floor(random() * 10)
        parts.push(Buffer.of(size >> 8, size & 0xff), Buffer.concat([Buffer.of(pick([0x65, 0x41, 0x67])), bytes(Math.max(0, real - 1))]))
      }
      if (random() < 0.2) parts.push(Buffer.of(7))
      payload = Buffer.concat(parts)
    } else if (payloadType === 28 || payloadType === 29) {
      payload = Buffer.concat([Buffer.of(0x60 | payloadType, (random() < 0.3 ? 0x80 : 0) | (random() < 0.3 ? 0x40 : 0) | pick([1, 5, 5, 7])), bytes(pick([0, 1, 100, 1400, 3000]))])
    } else {
      payload = Buffer.concat([Buffer.of(0x60 | payloadType), bytes(pick([0, 1, 2, 50, 1400]))])
    }
    if (random() < 0.05) payload = Buffer.alloc(0)
    const packet = rtp(payload, {
      seq,
      timestamp: ts,
      marker: random() < 0.3,
      ssrc: pick([1, 1, 1, 1, 2]),
      padding: random() < 0.05 ? 1 + Math.floor(random() * 8) : 0,
      extensionWords: random() < 0.05 ? Math.floor(random() * 4) : undefined,
      csrcs: random() < 0.03 ? Math.floor(random() * 16) : 0,
    })
    const r = random()
    if (r < 0.03) packet[0] = Math.floor(random() * 256) // any version, flags, CSRC count
    else if (r < 0.05) packet[packet.length - 1] = Math.floor(random() * 256) // any padding length
    out.push(r < 0.07 ? packet.subarray(0, Math.floor(random() * packet.length)) : packet)
  }
  return out
}

t.test('garbage from a broken camera (seeded): no crash, and the same frames and counts as H264Depacketizer', async (t) => {
  let frames = 0
  for (const seed of [11, 12, 13, 14]) frames += (await expectSame(t, garbageStream(seed, 20_000), `garbage seed ${seed}`)).counts.frames
  t.ok(frames > 100, `frames came through the garbage (${frames}), so delivery was exercised too`)
})

t.test('a frame larger than the assembly buffer is dropped as broken; the next keyframe comes through', async (t) => {
  const huge = fuA(nal(5, MAX_NATIVE_FRAME_BYTES + 10_000, 1), 1400)
  const next = [nal(7, 14, 2), nal(8, 4, 3), nal(5, 3000, 4)]
  let seq = 0
  const packets = [
    ...huge.map((p, i) => rtp(p, { seq: seq++, timestamp: 0, marker: i === huge.length - 1 })),
    ...payloadsOf(next).map((p, i, all) => rtp(p, { seq: seq++, timestamp: 3600, marker: i === all.length - 1 })),
  ]
  const native = await depacketizeNatively(t, packets)
  t.equal(native.counts.dropped, 1, 'the huge frame dropped')
  t.equal(native.frames.length, 1)
  t.same(native.frames[0]!.bytes, lengthPrefixed(next), 'the next keyframe, whole')
  t.equal(depacketizeInJs(packets).frames.length, 2, 'H264Depacketizer, which has no such limit, keeps both')
})

t.test('frames handed over in slabs: each frame its own bytes, not overwritten by the frames after it', async (t) => {
  const h = await harness(t, 1000)
  const views: Buffer[] = []
  const assembly = h.reader.assembleH264(0, 90_000, (slab, offset, length) => views.push(slab.subarray(offset, offset + length)))
  // Small frames share a slab; a frame bigger than what is left of one starts the next.
  const sizes = [100_000, 120_000, 50_000, 300_000, 20, 200_000, 100_000, 30, 40]
  const sent: Buffer[] = []
  let seq = 0
  sizes.forEach((size, f) => {
    const nalus = [nal(5, size, f)]
    sent.push(lengthPrefixed(nalus))
    const payloads = payloadsOf(nalus)
    payloads.forEach((p, i) => assembly.feed(rtp(p, { seq: seq++, timestamp: f * 3600, marker: i === payloads.length - 1 })))
  })
  t.equal(views.length, sizes.length)
  t.ok(views.every((v, i) => v.equals(sent[i]!)), 'every frame as sent, after all were assembled')
  t.ok(new Set(views.map((v) => v.buffer)).size < views.length, 'frames share slabs')
})

t.test('over the connection: the channel assembled, other channels and RTSP messages to onData as before', async (t) => {
  const h = await harness(t, 5000)
  const frames: Frame[] = []
  let frameArrived: () => void = () => undefined
  const assembly = h.reader.assembleH264(0, 90_000, (slab, offset, length, timestamp, keyframe) => {
    frames.push({ bytes: Buffer.from(slab.subarray(offset, offset + length)), timestamp, keyframe })
    frameArrived()
  })
  const keyframe = [nal(7, 14, 1), nal(8, 4, 2), nal(5, 6000, 3)]
  const interleave = (channel: number, b: Buffer) => Buffer.concat([Buffer.of(0x24, channel, b.length >> 8, b.length & 0xff), b])
  const rtcp = interleave(1, Buffer.from([0x80, 200 + 1, 0, 1, 0, 0, 0, 1]))
  const audio = interleave(2, rtp(Buffer.alloc(160, 0xd5), { seq: 7, timestamp: 160, ssrc: 77, marker: true }))
  const video = payloadsOf(keyframe).map((p, i, all) => interleave(0, rtp(p, { seq: 500 + i, timestamp: 9000, marker: i === all.length - 1 })))
  const arrived = new Promise<void>((r) => (frameArrived = r))
  await new Promise<void>((r) => h.peer.write(Buffer.concat([video[0]!, rtcp, ...video.slice(1, 3), audio, ...video.slice(3)]), () => r()))
  await arrived
  while (h.calls.reduce((n, c) => n + c.bytes.length, 0) < rtcp.length + audio.length) await h.nextCall()
  t.equal(frames.length, 1, 'one frame')
  t.same(frames[0]!.bytes, lengthPrefixed(keyframe), 'assembled from the channel’s units')
  t.ok(frames[0]!.keyframe)
  t.same(Buffer.concat(h.calls.map((c) => c.bytes)), Buffer.concat([rtcp, audio]), 'onData got the other channels’ units, whole and in order, and none of the video')

  // An RTSP message, then video while JavaScript's parser holds part of the next: all to onData,
  // which is where the client hands the channel's units to feed().
  const before = h.calls.length
  h.aligned = false
  const response = Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n')
  const more = interleave(0, rtp(nal(1, 100, 4), { seq: 500 + video.length, timestamp: 12_600, marker: true }))
  await new Promise<void>((r) => h.peer.write(Buffer.concat([response, more]), () => r()))
  while (h.calls.slice(before).reduce((n, c) => n + c.bytes.length, 0) < response.length + more.length) await h.nextCall()
  t.same(Buffer.concat(h.calls.slice(before).map((c) => c.bytes)), Buffer.concat([response, more]), 'the message and what follows it, to onData')
  t.equal(frames.length, 1, 'nothing assembled behind the parser’s back')
  assembly.feed(more.subarray(4))
  t.equal(frames.length, 2, 'fed by the parser: assembled')
  t.equal(assembly.counters[FrameCounter.packets], video.length + 1)
})

t.test('reception: jitter grows when frames arrive faster than their timestamps say', async (t) => {
  const n = await nativeAssembler(t)
  for (let i = 0; i < 10; i++) n.assembly.feed(rtp(nal(5, 100, i), { seq: i, timestamp: i * 9000, marker: true }))
  const jitter = n.assembly.counters[FrameCounter.jitter]!
  // Ten 100 ms frames fed within milliseconds: each transit differs by nearly 9000 ticks.
  t.ok(jitter > 2000 && jitter < 9000, `jitter ${jitter.toFixed(0)} ticks`)
})
