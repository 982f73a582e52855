import t from 'tap'
import { AnnexBParser, demoSourceArgs, redactSecrets, runToBuffer, sanitizeDrawText, snapshotFromAnnexBArgs, SupervisedProcess, liveChildCount } from '../../../src/lib/ffmpeg/index.js'

t.test('demo args are an argv array with the pattern, clock, label and x264 settings', async (t) => {
  const args = demoSourceArgs({ width: 1280, height: 720, fps: 25, label: "湖滨社区 出入口'; rm -rf /:[x]", clockStartMs: Date.UTC(2026, 0, 1) })
  t.ok(Array.isArray(args))
  t.ok(args.includes('testsrc2=size=1280x720:rate=25'))
  const vf = args[args.indexOf('-vf') + 1]!
  t.match(vf, /湖滨社区 出入口 rm -rf x/, 'label sanitised')
  t.notMatch(vf, /rm -rf \//)
  t.match(args[args.indexOf('-x264-params') + 1]!, /aud=1/)
  t.equal(args[args.indexOf('-g') + 1], '50', 'GOP 2 s')
  t.equal(args[args.indexOf('-bf') + 1], '0')
  t.equal(args.at(-1), 'pipe:1')
  t.equal(sanitizeDrawText('a:b\\c%{x}'), 'abcx')
})

t.test('redaction hides URL credentials and listed secrets', async (t) => {
  t.equal(redactSecrets('rtsp://admin:s3cret@10.0.0.1/x failed', []), 'rtsp://***:***@10.0.0.1/x failed')
  t.equal(redactSecrets('password hunter22 here', ['hunter22']), 'password *** here')
})

const frames = async (slices: number) => {
  const args = demoSourceArgs({ width: 320, height: 180, fps: 25, label: 'unit', durationSeconds: 2.2, slices })
  const out = await runToBuffer('ffmpeg', args.filter((a) => a !== '-re'), null, 20_000)
  const p = new AnnexBParser('h264')
  const aus = []
  for (let o = 0; o < out.length; o += 1000) aus.push(...p.push(out.subarray(o, o + 1000)))
  aus.push(...p.flush())
  return aus
}

t.test('Annex B parser: access units from a chunked pipe, single- and multi-slice', async (t) => {
  for (const slices of [1, 4]) {
    const aus = await frames(slices)
    t.equal(aus.length, 55, `${slices} slice(s): 55 frames`)
    t.equal(aus.filter((a) => a.keyframe).length, 2, 'two keyframes (GOP 2 s)')
    t.ok(aus[0]!.keyframe)
    const vcl = aus[1]!.nalus.filter((n) => (n[0]! & 0x1f) === 1).length
    t.equal(vcl, slices, `${slices} slice NALs in a P frame`)
    t.notOk(aus.some((a) => a.nalus.some((n) => (n[0]! & 0x1f) === 9)), 'AUDs removed')
  }
})

t.test('snapshot: one keyframe → JPEG', async (t) => {
  const aus = await frames(1)
  const key = Buffer.concat(aus[0]!.nalus.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]))
  const jpeg = await runToBuffer('ffmpeg', snapshotFromAnnexBArgs('h264'), key, 10_000)
  t.equal(jpeg[0], 0xff)
  t.equal(jpeg[1], 0xd8)
})

t.test('supervised process: close kills with SIGTERM, is idempotent, leaves no child', async (t) => {
  const p = new SupervisedProcess({ command: 'sleep', args: ['30'] })
  t.equal(liveChildCount() >= 1, true)
  const [a, b] = await Promise.all([p.close(), p.close()])
  t.equal(a, b)
  t.equal(a.signal, 'SIGTERM')
  t.equal(a.requested, true)
  t.equal(p.running, false)
  const stubborn = new SupervisedProcess({ command: 'sh', args: ['-c', 'trap "" TERM; sleep 30'], killTimeoutMs: 200 })
  await new Promise((r) => setTimeout(r, 100))
  const e = await stubborn.close()
  t.equal(e.signal, 'SIGKILL', 'SIGKILL fallback')
  const missing = new SupervisedProcess({ command: '/nonexistent/ffmpeg', args: [] })
  missing.on('error', () => undefined)
  const m = await missing.exited
  t.equal(m.code, null)
  t.equal(liveChildCount(), 0)
})
