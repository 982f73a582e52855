import t from 'tap'
import { H264FrameSource, type VideoFrame } from '../../src/lib/media/index.js'
import { startRtspTestServer } from '../support/rtsp-server.js'

/**
 * scripts/rtsp-test-server.py's timestamp discontinuities (ts_jump_ms), as the recorder and soak
 * tests use them: at each jumpTimestamps() the mount's RTP timestamps step by the amount asked, between
 * two frames, while the frames keep coming at the live rate.
 */
t.test('ts_jump_ms steps the RTP timestamps, backwards and forwards, without pausing the frames', async (t) => {
  const fps = 10
  const server = await startRtspTestServer({ mounts: [{ path: '/jump', width: 320, height: 240, fps, gop: 10, tsJumpMs: -30_000 }, { path: '/ahead', width: 320, height: 240, fps, gop: 10, tsJumpMs: 3_600_000 }] })
  t.teardown(() => server.close())

  for (const [path, stepMs] of [['/jump', -30_000], ['/ahead', 3_600_000]] as const) {
    const source = new H264FrameSource({ url: server.url(path), timeoutMs: 5000 })
    t.teardown(() => source.close())
    const got: { ts: number; at: number }[] = []
    source.on('frame', (f: VideoFrame) => got.push({ ts: f.timestamp, at: Date.now() }))
    await source.start()
    const waitFrames = async (n: number): Promise<void> => {
      const deadline = Date.now() + 15_000
      while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    }
    await waitFrames(5)
    const jumpedAt = got.length
    const [line] = await server.jumpTimestamps()
    t.match(line, new RegExp(`^TS_JUMP mount=${path} step_ms=${stepMs} total_ms=${stepMs}$`), `${path}: the step is announced`)
    await waitFrames(jumpedAt + 10)
    const deltas = got.slice(1).map((g, i) => (((g.ts - got[i]!.ts) | 0) / 90))
    const frameMs = 1000 / fps
    const steps = deltas.filter((d) => Math.abs(d) > 10 * frameMs)
    t.equal(steps.length, 1, `${path}: one discontinuity in ${deltas.length} frame intervals`)
    t.ok(Math.abs(steps[0]! - frameMs - stepMs) <= 2 * frameMs, `${path}: it steps the timestamps by ${stepMs} ms (${Math.round(steps[0]!)} ms between two frames)`)
    const after = got.slice(jumpedAt)
    const wallMs = after[after.length - 1]!.at - after[0]!.at
    t.ok(wallMs < (after.length - 1) * frameMs * 3, `${path}: frames keep coming at about the live rate (${after.length} in ${wallMs} ms)`)
    await source.close()
  }
})
