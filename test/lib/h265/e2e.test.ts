import { spawn } from 'node:child_process'
import t from 'tap'
import { joinAnnexB, type AccessUnit } from '../../../src/lib/h264/index.js'
import {
  H265Depacketizer,
  H265NalType,
  H265ParameterSets,
  H265RtpPacketizer,
  h265NalType,
  isH265Vcl,
  parseH265Sps,
} from '../../../src/lib/h265/index.js'
import { serializeRtpPacket } from '../../../src/lib/rtp/index.js'
import { RtspClient } from '../../../src/lib/rtsp/index.js'
import { startRtspTestServer } from '../../support/rtsp-server.js'

t.test('H.265 from GStreamer (x265enc, SDP-only parameter sets, 2 slices) through our pipeline', async (t) => {
  const server = await startRtspTestServer({
    mounts: [{ path: '/hevc', codec: 'h265', width: 640, height: 360, gop: 10, configInterval: 0, slices: 2 }],
  })
  t.teardown(() => server.close())
  const client = new RtspClient({ url: server.url('/hevc'), timeoutMs: 5000 })
  t.teardown(() => client.close())
  const sdp = await client.describe()
  const media = sdp.media[0]!
  t.equal(media.codec, 'H265')
  t.match(parseH265Sps(media.h265!.sps[0]!), { width: 640, height: 360 })

  const dep = new H265Depacketizer()
  const ps = new H265ParameterSets([...media.h265!.vps, ...media.h265!.sps, ...media.h265!.pps])
  const raw: AccessUnit[] = []
  const received: AccessUnit[] = []
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received.length} frames`)), 10_000)
    client.on('rtp', (_i, p) => {
      for (const au of dep.push(p)) {
        raw.push(au)
        received.push({ ...au, nalus: ps.process(au.nalus) })
      }
      if (received.length >= 25) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  await client.play()
  await done
  const frames = received.slice(0, 25)
  const irap = frames.filter((f) => f.keyframe)
  t.ok(irap.length >= 2, `IRAPs: ${irap.length}`)
  for (const f of irap) {
    const types = f.nalus.map(h265NalType)
    const first = types.findIndex((ty) => isH265Vcl(ty))
    for (const ps of [H265NalType.VPS, H265NalType.SPS, H265NalType.PPS]) {
      t.ok(types.indexOf(ps) >= 0 && types.indexOf(ps) < first, `type ${ps} before the IRAP slices`)
    }
  }
  t.ok(raw.slice(1).filter((a) => a.keyframe).every((a) => !a.nalus.some((n) => h265NalType(n) === H265NalType.SPS)),
    'camera side: no SPS in-band after the first IRAP')
  t.ok(frames.some((f) => f.nalus.filter((n) => isH265Vcl(h265NalType(n))).length === 2), 'multi-slice frames')

  const packetizer = new H265RtpPacketizer()
  const viewer = new H265Depacketizer()
  const back: AccessUnit[] = []
  for (const f of frames) {
    const packets = packetizer.packetize(f)
    t.ok(packets.every((p) => serializeRtpPacket(p).length <= 1200), 'all packets ≤ 1200 bytes')
    t.same(packets.map((p) => p.marker), packets.map((_, i) => i === packets.length - 1), 'marker only last')
    for (const p of packets) back.push(...viewer.push(p))
  }
  t.same(back.map((a) => a.nalus), frames.map((f) => f.nalus))

  const probe = spawn('ffprobe', ['-v', 'error', '-f', 'hevc', '-count_frames', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'json', 'pipe:0'])
  let out = ''
  probe.stdout.on('data', (d) => (out += d))
  probe.stdin.end(joinAnnexB(frames.flatMap((f) => f.nalus)))
  await new Promise((r) => probe.once('close', r))
  t.match(JSON.parse(out).streams[0], { width: 640, height: 360, nb_read_frames: String(frames.length) })
})
