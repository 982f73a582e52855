import { execFileSync } from 'node:child_process'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { startRtspTestServer } from '../../support/rtsp-server.js'

/**
 * Issue 26's evidence bug end to end: a camera on the real GStreamer RTSP server whose RTP
 * timestamps step back 2,330 s mid-stream (as after the night shift's host pause), recorded
 * continuously. Every indexed segment must end after it starts, none may overlap, each must last
 * what its file holds (ffprobe), and a search over the whole time shows no hole at the step.
 */

const dir = mkdtempSync(join(tmpdir(), 'gw-tsjump-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

async function until<T>(what: string, fn: () => Promise<T | false | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

t.test('a backward timestamp step in the camera stream: footage indexed with true durations, no overlap, no hole', async (t) => {
  const rtsp = await startRtspTestServer({ width: 640, height: 360, fps: 25, gop: 25, bitrate: 1000, mounts: [{ path: '/jump', tsJumpMs: -2_330_000 }] })
  t.teardown(() => rtsp.close())
  const gw = await startTestGateway(t, { overrides: { media: { idleTimeoutSeconds: 1, backoffMinMs: 200, backoffMaxMs: 1000, stallTimeoutSeconds: 5 }, recordings: { segmentSeconds: 3, freeSpaceFloorMb: 0, guardIntervalSeconds: 3600, gapToleranceMs: 1500 } } })
  const admin = await gw.login('admin')
  const street = ((await gw.as(admin).get('/api/units?tier=street')).json.items as { id: number }[])[0]!
  const created = await gw.as(admin).post('/api/cameras', { unitId: street.id, name: 'ts jump', class: 1, kind: 'fixed', streams: { main: { uri: rtsp.url('/jump'), codec: 'h264', width: 640, height: 360, fps: 25 } } })
  t.equal(created.statusCode, 201, created.body)
  const cam = created.json.id as number
  const tech = await gw.login('street.technician')
  t.equal((await gw.as(tech).request('PUT', `/api/cameras/${cam}/recording`, { mode: 'continuous' })).statusCode, 200)
  const t0 = Date.now()
  const researcher = await gw.login('street.researcher')
  type Seg = { id: number; start: string; end: string; durationMs: number }
  const timeline = async () => (await gw.as(researcher).get(`/api/recordings?camera=${cam}&from=${new Date(t0 - 60_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`)).json.cameras[0] as { segments: Seg[]; gaps: { from: string; to: string }[] }

  await until('footage before the step', async () => (await timeline()).segments.length >= 2)
  const jumps = await rtsp.jumpTimestamps()
  t.equal(jumps.length, 1, `the server stepped its timestamps: ${jumps[0]}`)
  const steppedAt = Date.now()
  await until('footage after the step', async () => (await timeline()).segments.some((s) => Date.parse(s.start) > steppedAt + 4000))
  await gw.close() // the last segment finished and indexed

  const gw2 = await gw.restart()
  const researcher2 = await gw2.login('street.researcher')
  const tl = (await gw2.as(researcher2).get(`/api/recordings?camera=${cam}&from=${new Date(t0 - 60_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`)).json.cameras[0] as { segments: Seg[]; gaps: { from: string; to: string }[] }
  const segs = tl.segments
  t.ok(segs.length >= 4, `${segs.length} segments`)
  for (const [i, s] of segs.entries()) {
    t.ok(s.durationMs > 0 && Date.parse(s.end) > Date.parse(s.start), `segment ${i} ends after it starts (${s.durationMs} ms)`)
    if (i > 0) t.ok(Date.parse(s.start) >= Date.parse(segs[i - 1]!.end), `segment ${i} does not overlap the one before`)
    const file = join(dir, `${s.id}.mp4`)
    const res = await gw2.app.inject({ method: 'GET', url: `/api/recordings/segments/${s.id}`, headers: { authorization: `Bearer ${researcher2}` } })
    writeFileSync(file, res.rawPayload)
    const frames = Number(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]).toString().trim())
    t.ok(Math.abs(frames * 40 - s.durationMs) <= 120, `segment ${i}: indexed ${s.durationMs} ms, its file holds ${frames * 40} ms`)
  }
  // the stream never stopped: the step is no hole in the footage
  const inner = tl.gaps.filter((g) => Date.parse(g.from) >= Date.parse(segs[0]!.start) && Date.parse(g.to) <= Date.parse(segs.at(-1)!.end))
  t.same(inner, [], 'no gap at the step')
})
