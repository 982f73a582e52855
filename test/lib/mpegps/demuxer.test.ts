import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ProgramStreamDemuxer, PsRtpReceiver, type PsAccessUnit } from '../../../src/lib/mpegps/index.js'
import { frameRfc4571, Rfc4571Reader, type RtpPacket } from '../../../src/lib/rtp/index.js'

/**
 * The program-stream demuxer against streams written by independent muxers — GStreamer's
 * mpegpsmux (frame-aligned, with a PSM, as GB/T 28181 devices write) and ffmpeg's VOB muxer (no
 * PSM, H.264 and H.265) — compared with what ffmpeg/ffprobe read from the same files; then a
 * seeded corpus of corrupted streams, and the RTP receiver with reordering, loss and SSRC quirks.
 */

const dir = mkdtempSync(join(tmpdir(), 'gw-mpegps-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function gstPs(frames: number): string {
  const file = join(dir, `gst-${frames}.ps`)
  execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', `num-buffers=${frames}`, 'pattern=ball', '!', 'video/x-raw,width=640,height=360,framerate=25/1', '!', 'x264enc', 'key-int-max=25', 'bframes=0', 'speed-preset=ultrafast', '!', 'video/x-h264,stream-format=byte-stream', '!', 'mpegpsmux', '!', 'filesink', `location=${file}`])
  return file
}

function ffmpegPs(codec: 'libx264' | 'libx265', frames: number): string {
  const file = join(dir, `ff-${codec}.ps`)
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25`, '-frames:v', String(frames), '-c:v', codec, ...(codec === 'libx265' ? ['-x265-params', 'log-level=none'] : []), '-bf', '0', '-g', '25', '-f', 'vob', file])
  return file
}

const ffmpegEs = (file: string, format: 'h264' | 'hevc') => execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-c', 'copy', '-f', format, '-'], { maxBuffer: 1 << 28 })
const ffprobePackets = (file: string) =>
  execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,pos', '-of', 'csv=p=0', file])
    .toString()
    .trim()
    .split('\n')
    .map((l) => l.split(',').map(Number) as [number, number])

/** Feeds a stream in chunks of the sizes `sizes()` picks; returns every access unit. */
function demux(data: Buffer, sizes: () => number = () => 1400, demuxer = new ProgramStreamDemuxer()): PsAccessUnit[] {
  const out: PsAccessUnit[] = []
  for (let i = 0; i < data.length; ) {
    const n = Math.max(1, sizes())
    out.push(...demuxer.push(data.subarray(i, i + n)))
    i += n
  }
  out.push(...demuxer.flush())
  return out
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const gstFile = gstPs(100)
const gst = readFileSync(gstFile)

t.test('GStreamer mpegpsmux H.264: the same frames, timestamps and bytes as ffmpeg reads', async (t) => {
  const demuxer = new ProgramStreamDemuxer()
  const aus = demux(gst, () => 1400, demuxer)
  const packets = ffprobePackets(gstFile)
  t.ok(demuxer.stats.psmSeen, 'PSM read')
  t.equal(demuxer.streamTypes.get(0xe0), 0x1b, 'PSM: stream 0xE0 is H.264')
  t.equal(aus.length, packets.length, `${packets.length} frames`)
  t.same(aus.map((a) => a.pts), packets.map((p) => p[0]), 'PTS of every frame as ffprobe reads them')
  t.ok(aus.every((a) => a.codec === 'h264' && a.kind === 'video' && a.streamId === 0xe0))
  t.ok(Buffer.concat(aus.map((a) => a.data)).equals(ffmpegEs(gstFile, 'h264')), 'elementary stream byte for byte as ffmpeg extracts it')
  t.equal(demuxer.stats.resyncs + demuxer.stats.badLengths + demuxer.stats.droppedFrames, 0, 'a clean stream needs no recovery')
  const whole = demux(gst, () => gst.length)
  const r = rng(11)
  const bytewise = demux(gst, () => 1 + Math.floor(r() * 3000))
  t.same(whole.map((a) => a.data.length), aus.map((a) => a.data.length), 'fed at once: the same frames')
  t.same(bytewise.map((a) => a.data.length), aus.map((a) => a.data.length), 'fed in random chunks: the same frames')
})

for (const [codec, format] of [['libx264', 'h264'], ['libx265', 'hevc']] as const) {
  t.test(`ffmpeg VOB ${format} without a PSM: codec told from the stream, bytes as ffmpeg reads them`, async (t) => {
    const file = ffmpegPs(codec, 60)
    const demuxer = new ProgramStreamDemuxer()
    const aus = demux(readFileSync(file), () => 999, demuxer)
    t.notOk(demuxer.stats.psmSeen, 'no PSM in this stream')
    t.ok(aus.length > 0 && aus.every((a) => a.codec === (format === 'hevc' ? 'h265' : 'h264')), `probed as ${format}`)
    t.ok(Buffer.concat(aus.map((a) => a.data)).equals(ffmpegEs(file, format)), 'elementary stream byte for byte as ffmpeg extracts it')
  })
}

t.test('corrupted streams never throw, and frames come back after the damage', async (t) => {
  const clean = demux(gst)
  const tail = clean.slice(-25) // the last GOP
  const tailStart = ffprobePackets(gstFile).at(-25)![1]
  type Damage = (data: Buffer, r: () => number) => Buffer
  const damages: Record<string, Damage> = {
    'random bytes flipped': (d, r) => {
      const c = Buffer.from(d)
      for (let i = 0; i < 200; i++) c[Math.floor(r() * tailStart)] = Math.floor(r() * 256)
      return c
    },
    'garbage inserted between packets': (d, r) => Buffer.concat([d.subarray(0, Math.floor(tailStart / 2)), Buffer.from(Array.from({ length: 5000 }, () => Math.floor(r() * 256))), d.subarray(Math.floor(tailStart / 2))]),
    'PES lengths that lie': (d, r) => {
      const c = Buffer.from(d)
      for (let i = 0; i + 6 < tailStart; i++) if (c[i] === 0 && c[i + 1] === 0 && c[i + 2] === 1 && c[i + 3] === 0xe0 && r() < 0.5) c.writeUInt16BE(Math.floor(r() * 65536), i + 4)
      return c
    },
    'truncated packs': (d, r) => {
      const parts: Buffer[] = []
      let i = 0
      while (i < tailStart) {
        const n = 200 + Math.floor(r() * 4000)
        parts.push(d.subarray(i, Math.min(i + n, tailStart)))
        i += n + Math.floor(r() * 300) // bytes lost
      }
      return Buffer.concat([...parts, d.subarray(tailStart)])
    },
    'no PSM, no system header': (d) => {
      const parts: Buffer[] = []
      let i = 0
      for (;;) {
        const at = [0xbb, 0xbc].map((id) => d.indexOf(Buffer.from([0, 0, 1, id]), i)).filter((x) => x >= 0)
        if (!at.length) break
        const j = Math.min(...at)
        parts.push(d.subarray(i, j))
        i = j + 6 + d.readUInt16BE(j + 4)
      }
      parts.push(d.subarray(i))
      return Buffer.concat(parts)
    },
    'pure garbage': (_d, r) => Buffer.from(Array.from({ length: 200_000 }, () => Math.floor(r() * 256))),
    'a start code and nothing else': () => Buffer.from([0, 0, 1, 0xba, 0x44]),
  }
  for (const [name, damage] of Object.entries(damages)) {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed)
      const data = damage(gst, r)
      let aus: PsAccessUnit[] = []
      t.doesNotThrow(() => (aus = demux(data, () => 1 + Math.floor(r() * 3000))), `${name} (seed ${seed}): no throw`)
      if (name === 'pure garbage' || name === 'a start code and nothing else') {
        t.ok(aus.every((a) => a.data.length > 0), `${name}: nothing empty handed out`)
        continue
      }
      const last = aus.slice(-tail.length)
      t.same(last.map((a) => a.pts), tail.map((a) => a.pts), `${name} (seed ${seed}): the clean GOP after the damage comes through`)
      t.ok(last.every((a, i) => a.data.equals(tail[i]!.data)), `${name} (seed ${seed}): with its bytes intact`)
    }
  }
})

/** The stream as a device sends it: each frame's bytes (cut where ffprobe says frames begin) in RTP payloads of ≤ 1400 bytes, marker on the last. */
function packetize(data: Buffer, ssrc = 0x1234): RtpPacket[] {
  const starts = ffprobePackets(gstFile).map((p) => p[1])
  starts[0] = 0
  const packets: RtpPacket[] = []
  let seq = 65_000 // wraps on the way
  starts.forEach((from, i) => {
    const to = starts[i + 1] ?? data.length
    for (let at = from; at < to; at += 1400) {
      packets.push({ payloadType: 96, sequenceNumber: seq++ & 0xffff, timestamp: i * 3600, ssrc, marker: at + 1400 >= to, csrc: [], payload: data.subarray(at, Math.min(at + 1400, to)), paddingLength: 0 })
    }
  })
  return packets
}

t.test('RTP: frames complete at the marker; reordering put right; a loss resumes at the next keyframe; SSRC quirks', async (t) => {
  const clean = demux(gst)
  const packets = packetize(gst)
  const inOrder = new PsRtpReceiver({ expectedSsrc: 0x1234 })
  const frames = packets.flatMap((p) => inOrder.push(p).video)
  t.equal(frames.length, clean.length, 'every frame, each as soon as its marker packet arrives')
  t.same(frames.map((f) => f.timestamp), clean.map((a) => a.pts), 'timestamps are the PES PTS')
  t.ok(frames[0]!.keyframe && frames.filter((f) => f.keyframe).length === 4, 'keyframes flagged')
  t.same(inOrder.stats.ssrcMismatches, 0)

  // swap neighbours everywhere after the first packet (which sets where the stream starts): the same frames
  const swapped = [...packets]
  for (let i = 1; i + 1 < swapped.length; i += 3) [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!]
  const reorder = new PsRtpReceiver({ expectedSsrc: 999 })
  const reordered = swapped.flatMap((p) => reorder.push(p).video)
  t.same(reordered.map((f) => f.timestamp), frames.map((f) => f.timestamp), 'reordered packets: the same frames')
  t.ok(reorder.stats.reordered > 0 && reorder.stats.lost === 0, `reordered ${reorder.stats.reordered}, lost 0`)
  t.equal(reorder.stats.ssrcMismatches, packets.length, 'an SSRC other than the INVITE asked for is counted and accepted')

  // lose one packet in the middle of the second GOP: nothing until the third GOP's keyframe
  const lossAt = packets.findIndex((p) => p.timestamp === 30 * 3600)
  const lossy = new PsRtpReceiver({ reorderWindow: 8 })
  const afterLoss = packets.filter((_, i) => i !== lossAt).flatMap((p) => lossy.push(p).video)
  t.equal(lossy.stats.lost, 1, 'one packet lost')
  t.same(afterLoss.map((f) => f.timestamp), frames.filter((f) => f.timestamp < 30 * 3600 || f.timestamp >= 50 * 3600).map((f) => f.timestamp), 'frames up to the loss, then from the next keyframe on')
  t.ok(afterLoss.every((f, i) => i === 0 || f.timestamp > afterLoss[i - 1]!.timestamp), 'in order')

  // the device restarts its sender with a new SSRC mid-stream
  const restart = new PsRtpReceiver()
  const half = Math.floor(packets.length / 2)
  const restarted = [...packets.slice(0, half), ...packetize(gst, 0x5678)].flatMap((p) => restart.push(p).video)
  t.equal(restart.stats.ssrcChanges, 1, 'SSRC change seen')
  t.ok(restarted.at(-1)!.timestamp === frames.at(-1)!.timestamp && restarted.length > frames.length / 2, 'the new stream plays from its start')
})

t.test('RFC 4571 framing over TCP survives any chunking', async (t) => {
  const packets = [Buffer.from('a'), Buffer.alloc(1400, 7), Buffer.alloc(65535, 9), Buffer.from('end')]
  const stream = Buffer.concat([...packets.map(frameRfc4571), Buffer.from([0, 0])])
  for (const size of [1, 2, 3, 1000, stream.length]) {
    const reader = new Rfc4571Reader()
    const got: Buffer[] = []
    for (let i = 0; i < stream.length; i += size) got.push(...reader.push(stream.subarray(i, i + size)).map((b) => Buffer.from(b)))
    t.same(got.map((b) => b.length), packets.map((b) => b.length), `chunks of ${size}: packets back`)
    t.ok(got.every((b, i) => b.equals(packets[i]!)), 'intact')
    t.equal(reader.pending, 0)
  }
})
