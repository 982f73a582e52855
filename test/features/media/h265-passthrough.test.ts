import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift'
import { joinAnnexB, type AccessUnit } from '../../../src/lib/h264/index.js'
import { H265Depacketizer, h265NalType, isH265Irap, isH265Vcl } from '../../../src/lib/h265/index.js'
import type { RtpPacket } from '../../../src/lib/rtp/index.js'
import { startTestGateway } from '../../support/gateway.js'
import { startRtspTestServer } from '../../support/rtsp-server.js'
import { childProcesses } from './browser.js'

/**
 * H.265 pass-through end to end: an H.265 camera (GStreamer, parameter sets only in the SDP, as
 * some cameras do) watched by a WebRTC receiver that offers nothing but H.265 (werift, in this
 * process, not decoding). What arrives is depacketized with our own H.265 depacketizer and
 * decoded by Debian's ffmpeg: the camera's stream, not a transcode, playable from its first frame.
 */

const run = promisify(execFile)
const FFMPEG = process.env['GW_TEST_FFMPEG'] ?? 'ffmpeg'
const FFPROBE = process.env['GW_TEST_FFPROBE'] ?? 'ffprobe'

interface Received {
  seq: number
  timestamp: number
  marker: boolean
  /** RTP header + payload, as the sender built it (SRTP removed). */
  size: number
  payload: Buffer
  at: number
}

function gatherComplete(pc: RTCPeerConnection, timeoutMs = 3000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    const sub = pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        clearTimeout(timer)
        sub.unSubscribe()
        resolve()
      }
    })
  })
}

t.test('H.265 camera passed through to a viewer that offers H.265', async (t) => {
  const rtsp = await startRtspTestServer({
    width: 640,
    height: 360,
    fps: 15,
    gop: 30,
    mounts: [{ path: '/hevc', codec: 'h265', configInterval: 0 }],
  })
  t.teardown(() => rtsp.close())
  const gw = await startTestGateway(t, { overrides: { media: { idleTimeoutSeconds: 1 } } })
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(gw.app.server.address() as { port: number }).port}`
  const admin = await gw.login('admin')
  const street = ((await gw.as(admin).get('/api/units?tier=street')).json.items as { id: number }[])[0]!
  const created = await gw.as(admin).post('/api/cameras', {
    unitId: street.id,
    name: 'H.265 only',
    class: 1,
    kind: 'fixed',
    streams: { main: { uri: rtsp.url('/hevc'), codec: 'h265', width: 640, height: 360, fps: 15 } },
  })
  t.equal(created.statusCode, 201, 'H.265-only camera registered')
  const cameraId = created.json.id as number
  const patrol = await gw.login('street.patrol')

  // --- the receiver: H.265 only, recvonly, non-trickle ------------------------------------------
  const pc = new RTCPeerConnection({
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H265',
          clockRate: 90000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
        }),
      ],
      audio: [],
    },
    iceUseIpv4: true,
    iceUseIpv6: false,
  })
  t.teardown(() => pc.close())
  const received: Received[] = []
  const payloadTypes = new Set<number>()
  let firstAt = 0
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      const at = performance.now()
      if (received.length === 0) firstAt = at
      payloadTypes.add(rtp.header.payloadType)
      received.push({ seq: rtp.header.sequenceNumber, timestamp: rtp.header.timestamp, marker: rtp.header.marker, size: rtp.serialize().length, payload: Buffer.from(rtp.payload), at })
    })
  })
  pc.addTransceiver('video', { direction: 'recvonly' })
  await pc.setLocalDescription(await pc.createOffer())
  await gatherComplete(pc)
  const offer = pc.localDescription!.sdp
  t.match(offer, /a=rtpmap:\d+ H265\/90000/, 'the offer has H.265')
  t.notMatch(offer, /H264|VP8|VP9|AV1/, 'and nothing else')

  const t0 = performance.now()
  const res = await fetch(`${base}/api/cameras/${cameraId}/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${patrol}` }, body: offer })
  const answer = await res.text()
  t.equal(res.status, 201, 'WHEP session created')
  t.equal(res.headers.get('x-gateway-video'), 'passthrough-h265')
  const location = res.headers.get('location')
  t.match(location, /^\/api\/whep\/sessions\/[0-9a-f-]+$/)
  const answerPt = Number(/a=rtpmap:(\d+) H265\/90000/.exec(answer)?.[1])
  t.ok(answerPt > 0, 'the answer has H.265')
  t.notMatch(answer, /H264/, 'and no H.264')
  await pc.setRemoteDescription({ type: 'answer', sdp: answer })

  // --- receive: until 45 access units have been completed, or 15 s ----------------------------
  const live = new H265Depacketizer()
  let fifteenthAt = 0
  let liveAus = 0
  let fed = 0
  const deadline = Date.now() + 15_000
  while (liveAus < 45 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    for (; fed < received.length; fed++) {
      const r = received[fed]!
      liveAus += live.push(asRtp(r)).length
      if (liveAus >= 15 && fifteenthAt === 0) fifteenthAt = r.at
    }
  }
  t.ok(received.length > 0, 'RTP packets arrived')
  t.ok(fifteenthAt > 0 && fifteenthAt - t0 < 5000, `15 access units within 5 s of the request (${fifteenthAt ? `${Math.round(fifteenthAt - t0)} ms` : `only ${liveAus}`}, first packet ${firstAt ? `${Math.round(firstAt - t0)} ms` : 'never'})`)

  // While the viewer watches: one upstream, the camera's own, and no transcoder anywhere.
  const streams = gw.services.media.streams().filter((s) => s.cameraId === cameraId)
  t.same(
    streams.map((s) => ({ key: s.key, stream: s.stream, codec: s.codec, viewers: s.viewers, width: s.width, height: s.height })),
    [{ key: `${cameraId}:main`, stream: 'main', codec: 'h265', viewers: 1, width: 640, height: 360 }],
    'one live stream: the camera H.265 main stream, with its one viewer (no transcoded variant)',
  )
  t.equal(rtsp.counters.sessionsCreated, 1, 'one RTSP session on the camera')
  t.equal(rtsp.activeSessions, 1)
  const procs = await childProcesses()
  t.same(procs.filter((p) => /ffmpeg/.test(p)), [], 'no ffmpeg running while the viewer watches')
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, new RegExp(`gateway_media_sessions_total\\{camera="${cameraId}",stream="main",mode="passthrough-h265"\\} 1\\b`), 'metrics: one pass-through session')
  t.notMatch(metrics, /mode="transcoded-h264"/, 'metrics: no transcoded session')
  t.notMatch(metrics, /stream="main-transcoded"/, 'metrics: no transcoded stream')

  // --- the packets ----------------------------------------------------------------------------
  t.same([...payloadTypes], [answerPt], 'every packet carries the negotiated payload type')
  const maxSize = Math.max(...received.map((r) => r.size))
  t.ok(maxSize <= 1200, `every RTP packet ≤ 1200 bytes (largest ${maxSize})`)
  // In sequence order, once each (a NACK repair may have arrived late or twice).
  const ordered = inSequenceOrder(received)
  const gaps = ordered.slice(1).filter((r, i) => r.ext !== ordered[i]!.ext + 1).length
  t.equal(gaps, 0, 'no sequence number missing')
  let markerChecked = 0
  const badMarkers: string[] = []
  for (let i = 0; i + 1 < ordered.length; i++) {
    const a = ordered[i]!
    const b = ordered[i + 1]!
    if (b.ext !== a.ext + 1) continue
    markerChecked++
    const lastOfAu = a.timestamp !== b.timestamp
    if (a.marker !== lastOfAu) badMarkers.push(`seq ${a.seq}: marker ${a.marker}, next timestamp ${lastOfAu ? 'differs' : 'same'}`)
  }
  t.ok(markerChecked > 100, `marker checked on ${markerChecked} packets`)
  t.same(badMarkers.slice(0, 5), [], 'marker bit set exactly on the last packet of each access unit')
  const timestamps = new Set(ordered.map((r) => r.timestamp))
  t.equal(ordered.filter((r) => r.marker).length, timestamps.size - (ordered.at(-1)!.marker ? 0 : 1), 'one marker per timestamp')

  // --- the access units -----------------------------------------------------------------------
  const dep = new H265Depacketizer()
  const aus: AccessUnit[] = []
  for (const r of ordered) aus.push(...dep.push(asRtp(r)))
  t.same({ lost: dep.stats.lostPackets, late: dep.stats.latePackets, unsupported: dep.stats.unsupportedPackets, dropped: dep.stats.droppedFrames }, { lost: 0, late: 0, unsupported: 0, dropped: 0 }, 'depacketized cleanly')
  t.ok(aus.length >= 15, `${aus.length} access units`)
  t.ok(aus[0]?.keyframe, 'the first access unit is a keyframe')
  const types = new Set(aus.flatMap((au) => au.nalus.map(h265NalType)))
  for (const [type, name] of [[32, 'VPS'], [33, 'SPS'], [34, 'PPS']] as const) t.ok(types.has(type), `${name} (NAL type ${type}) received`)
  t.ok([...types].some(isH265Irap), `an IRAP picture received (NAL types ${[...types].sort((a, b) => a - b).join(',')})`)
  // The camera sends its parameter sets only in the SDP: each IRAP access unit must carry them
  // in-band, ahead of its first slice, or a decoder joining there cannot start.
  const keyframes = aus.filter((au) => au.nalus.some((n) => isH265Irap(h265NalType(n))))
  t.ok(keyframes.length >= 2, `${keyframes.length} IRAP access units (fast-start GOP and later)`)
  const missing = keyframes
    .map((au, i) => {
      const ts = au.nalus.map(h265NalType)
      const firstVcl = ts.findIndex(isH265Vcl)
      const before = new Set(ts.slice(0, firstVcl))
      return [32, 33, 34].every((x) => before.has(x)) ? null : `IRAP #${i}: ${ts.join(',')}`
    })
    .filter((x) => x !== null)
  t.same(missing, [], 'VPS, SPS and PPS precede the slices of every IRAP access unit')
  t.ok(aus.every((au) => au.nalus.some((n) => isH265Vcl(h265NalType(n)))), 'every access unit has a picture')

  // --- decoded by ffmpeg ----------------------------------------------------------------------
  const dir = mkdtempSync(join(tmpdir(), 'gw-h265-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'received.h265')
  writeFileSync(file, Buffer.concat(aus.map((au) => joinAnnexB(au.nalus))))
  const probe = await run(FFPROBE, ['-v', 'error', '-f', 'hevc', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file])
  const st = (JSON.parse(probe.stdout) as { streams: { codec_name: string; width: number; height: number; nb_read_frames: string }[] }).streams[0]!
  t.equal(st.codec_name, 'hevc')
  t.equal(st.width, 640)
  t.equal(st.height, 360)
  t.equal(probe.stderr.trim(), '', 'ffprobe reports no error')
  const decoded = Number(st.nb_read_frames)
  t.ok(decoded > 10, `ffprobe decoded ${decoded} frames`)
  t.equal(decoded, aus.length, 'one decoded frame per access unit received')
  const dec = await run(FFMPEG, ['-nostdin', '-v', 'error', '-f', 'hevc', '-i', file, '-f', 'null', '-']).catch((err: { code?: number; stderr?: string }) => ({ stdout: '', stderr: `exit ${err.code}: ${err.stderr}` }))
  t.equal(dec.stderr.trim(), '', 'ffmpeg decodes every frame without error (exit 0, nothing on stderr)')
  t.comment(`received ${received.length} packets (largest ${maxSize} bytes), ${aus.length} access units, ${keyframes.length} IRAP, ${st.width}x${st.height}, ffprobe frames ${decoded}`)

  // --- teardown -------------------------------------------------------------------------------
  const del = await fetch(base + location!, { method: 'DELETE', headers: { authorization: `Bearer ${patrol}` } })
  t.equal(del.status, 204, 'DELETE of the session')
  await pc.close()
  t.equal(gw.services.media.sessionCount(), 0, 'no WHEP session left')
  await gw.close()
  await rtsp.close()
  t.same(await childProcesses(), [], 'no child process left')
})

function asRtp(r: Received): RtpPacket {
  return { payloadType: 0, sequenceNumber: r.seq, timestamp: r.timestamp, ssrc: 0, marker: r.marker, csrc: [], payload: r.payload, paddingLength: 0 }
}

/** Unique packets sorted by extended sequence number (relative to the first one received). */
function inSequenceOrder(received: readonly Received[]): (Received & { ext: number })[] {
  const byExt = new Map<number, Received & { ext: number }>()
  let highest: number | undefined
  for (const r of received) {
    let ext: number
    if (highest === undefined) ext = r.seq
    else {
      let d = (r.seq - (highest & 0xffff)) & 0xffff
      if (d >= 0x8000) d -= 0x10000
      ext = highest + d
    }
    if (highest === undefined || ext > highest) highest = ext
    if (!byExt.has(ext)) byExt.set(ext, { ...r, ext })
  }
  return [...byExt.values()].sort((a, b) => a.ext - b.ext)
}
