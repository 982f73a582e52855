import t from 'tap'
import type { FrameSource, FrameSourceHandlers, VideoFrame } from '../../../src/features/media/index.js'
import { LiveStream, type LiveStreamSettings } from '../../../src/features/media/live-stream.js'

/** LiveStream against scripted sources: sharing, idle stop, pinning, stall restart, backoff, timeline. */

const settings: LiveStreamSettings = { idleTimeoutMs: 400, stallTimeoutMs: 300, backoffMinMs: 50, backoffMaxMs: 200, gopCacheBytes: 1 << 20, keyframeRequestMinIntervalMs: 100 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Polls (the machine may be loaded: timings are lower bounds, never exact). */
async function waitFor(pred: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > end) return false
    await sleep(10)
  }
  return true
}

class FakeSource implements FrameSource {
  readonly kind = 'demo' as const
  closed = false
  keyRequests = 0
  #timer: NodeJS.Timeout | undefined
  #n = 0
  constructor(readonly h: FrameSourceHandlers, readonly opts: { fail?: boolean; stallAfter?: number; tsBase: number; jump?: { atFrame: number; byTicks: number } }) {}
  async start() {
    if (this.opts.fail) throw new Error('connection refused')
    this.#timer = setInterval(() => {
      if (this.opts.stallAfter !== undefined && this.#n >= this.opts.stallAfter) return
      const key = this.#n % 10 === 0
      const nal = Buffer.from([key ? 0x65 : 0x41, 0x88, this.#n & 0xff])
      const jumped = this.opts.jump && this.#n >= this.opts.jump.atFrame ? this.opts.jump.byTicks : 0
      this.h.onFrame({ codec: 'h264', nalus: [nal], timestamp: (this.opts.tsBase + this.#n * 3600 + jumped) >>> 0, keyframe: key, bytes: 3, receivedAt: Date.now() })
      this.#n++
    }, 10)
    return { codec: 'h264' as const, width: 64, height: 64 }
  }
  requestKeyframe() {
    this.keyRequests++
    return true
  }
  stats() {
    return { packetsLost: 0 }
  }
  async close() {
    this.closed = true
    clearInterval(this.#timer)
  }
}

t.test('one source for many subscribers; idle stop; pin keeps it', async (t) => {
  const sources: FakeSource[] = []
  const ls = new LiveStream({ key: 'k', cameraId: 1, streamName: 'main', settings, factory: (h) => { const s = new FakeSource(h, { tsBase: 1000 }); sources.push(s); return s } })
  const got: VideoFrame[][] = [[], [], []]
  const unsubs = got.map((g) => ls.subscribe({ onFrame: (f) => g.push(f) }))
  t.ok(await waitFor(() => got.every((g) => g.length > 3)), 'every subscriber gets frames')
  t.equal(sources.length, 1, 'one upstream')
  t.equal(ls.state, 'running')
  t.ok(ls.gop()[0]?.keyframe, 'GOP starts at a keyframe')
  t.ok(ls.requestKeyframe())
  t.notOk(ls.requestKeyframe(), 'rate-limited')
  for (const u of unsubs) u()
  const leftAt = Date.now()
  await sleep(20)
  t.equal(ls.state, 'running', 'still running inside the idle time')
  t.ok(await waitFor(() => ls.state === 'idle'), 'stopped after the idle time')
  t.ok(Date.now() - leftAt >= 390, 'not before it')
  t.ok(sources[0]!.closed)
  ls.setPinned(true)
  t.ok(await waitFor(() => ls.state === 'running'), 'pinned: runs with no subscriber')
  await sleep(600)
  t.equal(ls.state, 'running', 'and stays running past the idle time')
  t.equal(sources.length, 2)
  await ls.close()
  await ls.close()
  t.ok(sources[1]!.closed, 'close stops the upstream')
  t.throws(() => ls.subscribe({ onFrame: () => undefined }))
})

t.test('stall → restart; failure → backoff; timeline continuous across restarts', async (t) => {
  const sources: FakeSource[] = []
  let attempt = 0
  const ls = new LiveStream({
    key: 'k', cameraId: 2, streamName: 'main', settings,
    factory: (h) => {
      attempt++
      // 1st: stalls after 15 frames; 2nd, 3rd: fail; 4th: fine, with a different timestamp base.
      const s = new FakeSource(h, attempt === 1 ? { stallAfter: 15, tsBase: 5000 } : attempt < 4 ? { fail: true, tsBase: 0 } : { tsBase: 4_000_000_000 })
      sources.push(s)
      return s
    },
  })
  const frames: VideoFrame[] = []
  let discontinuities = 0
  ls.subscribe({ onFrame: (f) => frames.push(f), onDiscontinuity: () => discontinuities++ })
  const deadline = Date.now() + 5000
  while (attempt < 4 || frames.length < 30) {
    if (Date.now() > deadline) break
    await sleep(20)
  }
  t.ok(attempt >= 4, `retried (${attempt} attempts)`)
  t.equal(ls.state, 'running', 'running again')
  t.equal(discontinuities, 1, 'subscribers told once')
  t.equal(ls.counters.restarts, 1)
  t.ok(sources.slice(0, 3).every((s) => s.closed), 'failed sources closed')
  for (let i = 1; i < frames.length; i++) {
    const d = (frames[i]!.timestamp - frames[i - 1]!.timestamp) >>> 0
    if (d === 0 || d > 90000 * 5) t.fail(`timestamp jump at ${i}: ${d}`)
  }
  t.pass('timestamps increase across the restart')
  await ls.close()
})

t.test('nextKeyframe starts the upstream and releases it', async (t) => {
  const ls = new LiveStream({ key: 'k', cameraId: 3, streamName: 'sub', settings, factory: (h) => new FakeSource(h, { tsBase: 0 }) })
  const key = await ls.nextKeyframe(2000)
  t.ok(key.keyframe)
  t.ok(await waitFor(() => ls.state === 'idle'), 'no holder left: idle again')
  await ls.close()
})

t.test('a break in the upstream timeline re-bases the output: it never runs backwards or leaps', async (t) => {
  // the clock steps of a camera (NTP back 2,330 s, forward 600 s) and an encoder restart from a new base
  const jumps = [-2330 * 90_000, 600 * 90_000, 123_456 - 1_000_000]
  for (const byTicks of jumps) {
    const ls = new LiveStream({ key: 'k', cameraId: 4, streamName: 'main', settings, factory: (h) => new FakeSource(h, { tsBase: 1_000_000, jump: { atFrame: 15, byTicks } }) })
    const frames: VideoFrame[] = []
    let discontinuities = 0
    const unsubscribe = ls.subscribe({ onFrame: (f) => frames.push(f), onDiscontinuity: () => discontinuities++ })
    t.ok(await waitFor(() => frames.length >= 30), `frames flow (jump ${byTicks})`)
    t.equal(ls.counters.timelineBreaks, 1, 'the break is seen once')
    t.equal(ls.counters.restarts, 0, 'no restart: the upstream is fine')
    t.equal(discontinuities, 0, 'viewers keep their stream')
    // between two frames 10 ms apart on the wall clock, 40 ms apart in stream time: at most ~1 s
    // even on a loaded machine, never backwards, never the camera's jump
    const bad = frames.slice(1).map((f, i) => (f.timestamp - frames[i]!.timestamp) | 0).filter((d) => d <= 0 || d > 90_000)
    t.same(bad, [], 'output timestamps step forward by less than a second throughout')
    unsubscribe()
    await ls.close()
  }
})
