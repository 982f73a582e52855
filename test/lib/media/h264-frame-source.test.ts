import { spawn } from 'node:child_process'
import t from 'tap'
import {
  H264Depacketizer,
  H264NalType,
  h264NalType,
  isH264Vcl,
  joinAnnexB,
  type AccessUnit,
} from '../../../src/lib/h264/index.js'
import { H264FrameSource, type VideoFrame } from '../../../src/lib/media/index.js'
import { serializeRtpPacket } from '../../../src/lib/rtp/index.js'
import { startRtspTestServer, type RtspTestMount } from '../../support/rtsp-server.js'

function frames(source: H264FrameSource, count: number, timeoutMs = 8000): Promise<VideoFrame[]> {
  const out: VideoFrame[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${out.length}/${count} frames`)), timeoutMs)
    const on = (f: VideoFrame): void => {
      out.push(f)
      if (out.length < count) return
      clearTimeout(timer)
      source.off('frame', on)
      resolve(out)
    }
    source.on('frame', on)
  })
}

/** Decodes an Annex B stream with ffprobe: number of decoded frames and their size. */
async function ffprobe(stream: Buffer): Promise<{ frames: number; width: number; height: number; stderr: string }> {
  const p = spawn('ffprobe', ['-v', 'error', '-f', 'h264', '-count_frames', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'json', 'pipe:0'])
  let out = ''
  let stderr = ''
  p.stdout.on('data', (d) => (out += d))
  p.stderr.on('data', (d) => (stderr += d))
  p.stdin.end(stream)
  await new Promise((r) => p.once('close', r))
  const s = JSON.parse(out).streams[0]
  return { frames: Number(s.nb_read_frames), width: s.width, height: s.height, stderr }
}

const CASES: Array<{ name: string; mount: RtspTestMount; slices: number; sdpOnly: boolean }> = [
  { name: 'single slice, SPS/PPS in-band', mount: { path: '/single', width: 640, height: 480, gop: 10 }, slices: 1, sdpOnly: false },
  {
    name: 'four slices, SPS/PPS only in the SDP',
    mount: { path: '/multi', width: 1280, height: 720, gop: 10, slices: 4, configInterval: 0 },
    slices: 4,
    sdpOnly: true,
  },
]

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const server = await startRtspTestServer({ mounts: [c.mount] })
    t.teardown(() => server.close())
    const source = new H264FrameSource({ url: server.url(c.mount.path), timeoutMs: 5000 })
    t.teardown(() => source.close())

    // What the camera sends, before our pipeline: a second depacketizer on the raw RTP.
    const raw: AccessUnit[] = []
    const rawDep = new H264Depacketizer()
    source.client.on('rtp', (_i, p) => raw.push(...rawDep.push(p)))

    const info = await source.start()
    t.equal(info.width, c.mount.width, 'width from the SPS matches what the server was asked')
    t.equal(info.height, c.mount.height)
    t.match(info.codec, /^avc1\.42/)

    const got = await frames(source, 30)
    const keyframes = got.filter((f) => f.keyframe)
    t.ok(keyframes.length >= 2, `several IDRs (${keyframes.length})`)
    t.ok(got[0]!.keyframe, 'starts on a keyframe')

    const rawIdrs = raw.filter((a) => a.keyframe)
    const rawHasParams = rawIdrs.map((a) => a.nalus.some((n) => h264NalType(n) === H264NalType.SPS))
    if (c.sdpOnly) t.ok(rawHasParams.every((h) => !h), 'camera side: no SPS in-band at all')
    else t.ok(rawHasParams.every((h) => h), 'camera side: SPS before every IDR')

    for (const f of keyframes) {
      const types = f.nalus.map(h264NalType)
      const firstSlice = types.findIndex((ty) => isH264Vcl(ty))
      t.ok(types.indexOf(H264NalType.SPS) >= 0 && types.indexOf(H264NalType.SPS) < firstSlice, 'SPS before the IDR slices')
      t.ok(types.indexOf(H264NalType.PPS) >= 0 && types.indexOf(H264NalType.PPS) < firstSlice, 'PPS before the IDR slices')
    }
    const slicesPerFrame = got.map((f) => f.nalus.filter((n) => isH264Vcl(h264NalType(n))).length)
    t.ok(slicesPerFrame.every((n) => n === c.slices), `${c.slices} slice(s) per frame: ${[...new Set(slicesPerFrame)]}`)

    // Repacketize for a viewer.
    const packetizer = source.createPacketizer({ payloadType: 102 })
    const viewerDep = new H264Depacketizer()
    const back: AccessUnit[] = []
    let packetCount = 0
    for (const f of got) {
      const packets = packetizer.packetize(f)
      packetCount += packets.length
      const sizes = packets.map((p) => serializeRtpPacket(p).length)
      t.ok(Math.max(...sizes) <= 1200, `frame ${f.timestamp}: largest packet ${Math.max(...sizes)} ≤ 1200`)
      t.same(packets.map((p) => p.marker), packets.map((_, i) => i === packets.length - 1), 'marker only on the last packet')
      for (const p of packets) back.push(...viewerDep.push(p))
    }
    t.ok(packetCount > got.length, 'frames were split into several packets')
    t.same(back.map((a) => a.nalus), got.map((f) => f.nalus), 'viewer side depacketizes to the same access units')

    const decoded = await ffprobe(joinAnnexB(got.flatMap((f) => f.nalus)))
    t.equal(decoded.frames, got.length, `ffprobe decodes every frame ${decoded.stderr}`)
    t.equal(decoded.width, c.mount.width)
    t.equal(decoded.height, c.mount.height)

    const cached = source.gop.frames()
    t.ok(cached.length > 0 && cached[0]!.keyframe, 'GOP cache starts with a keyframe')
    t.ok(cached.slice(1).every((f) => !f.keyframe))
    t.equal(source.stats.lostPackets, 0)
  })
}

t.test('requestKeyframe() sends a PLI the GStreamer server answers with an IDR', async (t) => {
  const server = await startRtspTestServer({ gop: 250 })
  t.teardown(() => server.close())
  const source = new H264FrameSource({ url: server.url() })
  t.teardown(() => source.close())
  t.equal(source.requestKeyframe(), false, 'not playing yet')
  await source.start()
  await frames(source, 3)
  t.ok(source.requestKeyframe())
  const next = await frames(source, 25, 3000)
  t.ok(next.some((f) => f.keyframe), 'keyframe well before the 10 s GOP ends')
})

t.test('close event from the source when the camera goes away', async (t) => {
  const server = await startRtspTestServer()
  t.teardown(() => server.close())
  const source = new H264FrameSource({ url: server.url() })
  t.teardown(() => source.close())
  const closed = new Promise<Error | undefined>((r) => source.once('close', r))
  await source.start()
  await frames(source, 2)
  await server.kill()
  t.type(await closed, Error)
})
