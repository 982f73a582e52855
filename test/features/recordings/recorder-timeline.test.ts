import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { AnnexBParser, type AnnexBAccessUnit } from '../../../src/lib/ffmpeg/index.js'
import type { StreamSubscriber, VideoFrame } from '../../../src/features/media/index.js'
import { CameraRecorder, type FinishedSegment } from '../../../src/features/recordings/recorder.js'

/**
 * The recorder against streams whose 90 kHz timeline breaks, with real ffmpeg segmenting: a night
 * shift once indexed a segment with its end 2,270 s before its start after a host pause. Each kind
 * of break must end the segment cleanly and start a new one at the next keyframe, and the index
 * must hold no segment that ends before it starts, no overlap, no time running backwards, and no
 * duration other than what its file holds; a 32-bit wrap is no break at all.
 */

const FPS = 25
const TICK = 90_000 / FPS
const FRAME_MS = 1000 / FPS
const GOP = 25

/** 12 s of 320×180 H.264, a keyframe (with its parameter sets) every second, no B-frames. */
function encode(seconds: number): AnnexBAccessUnit[] {
  const bytes = execFileSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=${FPS}:duration=${seconds}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', String(GOP), '-keyint_min', String(GOP), '-sc_threshold', '0', '-x264-params', 'repeat-headers=1', '-f', 'h264', '-'],
    { maxBuffer: 64 << 20 },
  )
  const parser = new AnnexBParser('h264')
  return [...parser.push(bytes), ...parser.flush()]
}
const units = encode(12)
const BREAK_AT = 110 // mid-GOP: the new session must wait for the keyframe at 125

interface Scripted {
  ts: number
  at: number
}

/** Stream and arrival times of each frame: continuous, then `after` applied from frame BREAK_AT on. */
function script(startTs: number, after?: (i: number, normal: Scripted) => Scripted): Scripted[] {
  const base = Date.UTC(2026, 11, 8, 12, 0, 0)
  return units.map((_, i) => {
    const normal = { ts: startTs + i * TICK, at: base + i * FRAME_MS }
    return after && i >= BREAK_AT ? after(i, normal) : normal
  })
}

const probeFrames = (file: string) =>
  Number(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]).toString().trim())

async function record(times: Scripted[]): Promise<{ segments: FinishedSegment[]; orphans: string[]; recorder: CameraRecorder; warnings: object[] }> {
  const root = mkdtempSync(join(tmpdir(), 'gw-rec-timeline-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  let subscriber: StreamSubscriber | undefined
  const segments: FinishedSegment[] = []
  const orphans: string[] = []
  const warnings: object[] = []
  const recorder = new CameraRecorder({
    cameraId: 7,
    mode: 'continuous',
    preSeconds: 0,
    postSeconds: 0,
    segmentSeconds: 2,
    root,
    ffmpegPath: 'ffmpeg',
    subscribe: (sub) => {
      subscriber = sub
      return () => (subscriber = undefined)
    },
    onSegment: (seg) => segments.push(seg),
    onOrphan: (file) => orphans.push(file),
    log: { warn: (obj) => warnings.push(obj), info: () => undefined },
  })
  recorder.start()
  units.forEach((au, i) => {
    const frame: VideoFrame = { codec: 'h264', nalus: au.nalus, keyframe: au.keyframe, timestamp: times[i]!.ts >>> 0, receivedAt: times[i]!.at, bytes: au.nalus.reduce((n, b) => n + b.length, 0) }
    subscriber!.onFrame(frame)
  })
  await recorder.stop()
  segments.sort((a, b) => a.startMs - b.startMs)
  return { segments, orphans, recorder, warnings }
}

/** The index invariants every scenario must keep. */
function checkIndex(tt: Test, segments: FinishedSegment[], orphans: string[]): void {
  tt.same(orphans, [], 'every segment announced by ffmpeg, none left over')
  tt.ok(segments.length >= 3, `segments written: ${segments.length}`)
  for (const [i, s] of segments.entries()) {
    tt.ok(s.endMs > s.startMs, `segment ${i} ends after it starts (${s.startMs} → ${s.endMs})`)
    if (i > 0) tt.ok(s.startMs >= segments[i - 1]!.endMs, `segment ${i} starts at or after the end of segment ${i - 1} (${segments[i - 1]!.endMs} ≤ ${s.startMs})`)
    const fileMs = probeFrames(s.file) * FRAME_MS
    tt.ok(Math.abs(s.endMs - s.startMs - fileMs) <= FRAME_MS, `segment ${i}: indexed ${s.endMs - s.startMs} ms, its file holds ${fileMs} ms`)
    tt.ok(s.keyframesMs.every((k) => k >= 0 && k <= s.endMs - s.startMs), `segment ${i}: keyframe offsets inside it`)
  }
}

/** The time not covered between consecutive segments, ms. */
const holes = (segments: FinishedSegment[]) => segments.slice(1).map((s, i) => s.startMs - segments[i]!.endMs).filter((h) => h > 0)

/** Frames from the break to the next keyframe are lost with the broken session's tail. */
const KEYFRAME_WAIT_MS = (Math.ceil(BREAK_AT / GOP) * GOP - BREAK_AT) * FRAME_MS

t.test('a 32-bit wrap of the timestamp is no break: one session, continuous footage', async (t) => {
  const { segments, orphans, recorder } = await record(script(2 ** 32 - 3 * 90_000))
  checkIndex(t, segments, orphans)
  t.equal(recorder.counters.timelineBreaks, 0, 'no break seen')
  t.equal(recorder.counters.sessions, 1, 'one session')
  t.same(holes(segments), [], 'no hole')
  const total = segments.at(-1)!.endMs - segments[0]!.startMs
  t.ok(Math.abs(total - units.length * FRAME_MS) <= FRAME_MS, `all ${units.length} frames indexed over ${total} ms`)
})

const breaks: { name: string; kind: string; after: (i: number, n: Scripted) => Scripted; hole: [number, number] }[] = [
  {
    // what the night shift saw: a 41.5 s host pause, after which the source's clock was 2,330 s behind
    name: 'host paused 41.5 s, stream time back 2,330 s',
    kind: 'backward',
    after: (_i, n) => ({ ts: n.ts - 2330 * 90_000, at: n.at + 41_500 }),
    hole: [41_500, 41_500 + KEYFRAME_WAIT_MS + 3 * FRAME_MS],
  },
  {
    name: 'camera clock stepped back 2,330 s (NTP), arrival continuous',
    kind: 'backward',
    after: (_i, n) => ({ ts: n.ts - 2330 * 90_000, at: n.at }),
    hole: [KEYFRAME_WAIT_MS - FRAME_MS, KEYFRAME_WAIT_MS + 3 * FRAME_MS],
  },
  {
    name: 'camera clock stepped forward 600 s, arrival continuous',
    kind: 'drift',
    after: (_i, n) => ({ ts: n.ts + 600 * 90_000, at: n.at }),
    hole: [KEYFRAME_WAIT_MS - FRAME_MS, KEYFRAME_WAIT_MS + 3 * FRAME_MS],
  },
  {
    name: 'live source paused 41.5 s (stream time and arrival both jump)',
    kind: 'gap',
    after: (_i, n) => ({ ts: n.ts + 41_500 * 90, at: n.at + 41_500 }),
    hole: [41_500, 41_500 + KEYFRAME_WAIT_MS + 3 * FRAME_MS],
  },
  {
    // the gateway's host paused: the frames queued meanwhile arrive in one burst, their stream time continuous
    name: 'gateway paused 40 s, queued frames arrive in a burst',
    kind: 'drift',
    after: (i, n) => ({ ts: n.ts, at: n.at + 40_000 - Math.max(0, Math.min(i - BREAK_AT, 40)) * (FRAME_MS - 1) }),
    hole: [0, 41_000],
  },
  {
    // modulo 2^32 the new base lies 4 h ahead of the old timestamps: stream and arrival disagree
    name: 'encoder restarted: timestamps from a new random base',
    kind: 'drift',
    after: (i, n) => ({ ts: 123_456 + (i - BREAK_AT) * TICK, at: n.at }),
    hole: [KEYFRAME_WAIT_MS - FRAME_MS, KEYFRAME_WAIT_MS + 3 * FRAME_MS],
  },
]

for (const b of breaks) {
  t.test(`timeline break: ${b.name}`, async (t) => {
    // start high enough that no scenario goes below zero or wraps by accident
    const { segments, orphans, recorder, warnings } = await record(script(3_000_000_000, b.after))
    checkIndex(t, segments, orphans)
    t.equal(recorder.counters.timelineBreaks, 1, 'one break seen')
    t.equal(recorder.counters.sessions, 2, 'the session ended at the break and a new one started')
    t.ok(warnings.some((w) => (w as { break?: string }).break === b.kind), `logged as a ${b.kind} break`)
    const h = holes(segments)
    t.equal(h.length, 1, 'one hole in the index, at the break')
    const hole = h.reduce((a, x) => a + x, 0)
    t.ok(hole >= b.hole[0] && hole <= b.hole[1], `hole of ${hole} ms within [${b.hole[0]}, ${b.hole[1]}]`)
  })
}
