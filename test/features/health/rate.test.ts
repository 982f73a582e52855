import t from 'tap'
import { bucketStart, historyBuckets, windowOf } from '../../../src/features/health/rate.js'
import { analyzeJpeg, looksCovered, streamFactsOf } from '../../../src/features/health/checks.js'
import { DARK_JPEG, LIVE_JPEGS } from '../../support/onvif-sim/index.js'
import { parseSdp } from '../../../src/lib/sdp/index.js'

const iso = (ms: number) => new Date(ms).toISOString()
const at = (s: string) => Date.parse(s)

t.test('buckets align in China Standard Time (UTC+8), weeks on Monday', async (t) => {
  t.equal(iso(bucketStart(at('2020-01-01T15:59:59Z'), 'day', 480)), '2019-12-31T16:00:00.000Z', 'before local midnight: the previous day')
  t.equal(iso(bucketStart(at('2020-01-01T16:00:00Z'), 'day', 480)), '2020-01-01T16:00:00.000Z', 'local midnight starts a day')
  t.equal(iso(bucketStart(at('2020-01-01T12:00:00Z'), 'week', 480)), '2019-12-29T16:00:00.000Z', 'Wednesday 2020-01-01 is in the week of Monday 2019-12-30 (local)')
  t.equal(iso(bucketStart(at('2020-01-01T10:30:00Z'), 'hour', 480)), '2020-01-01T10:00:00.000Z')
  const w = windowOf('hour', 0, at('2020-01-01T12:30:00Z'))
  t.same([iso(w.from), iso(w.to)], ['2019-12-31T13:00:00.000Z', '2020-01-01T13:00:00.000Z'], 'default: the last 24 hours, whole buckets')
})

t.test('time-weighted rate; unknown time and the future are not counted', async (t) => {
  const rows = [
    { camera_id: 1, class: 1, kind: 'fixed', to_status: 'online' as const, at: '2020-01-01T00:00:00.000Z' },
    { camera_id: 1, class: 1, kind: 'fixed', to_status: 'offline' as const, at: '2020-01-01T00:15:00.000Z' },
    { camera_id: 2, class: 3, kind: 'dome', to_status: 'unknown' as const, at: '2020-01-01T00:00:00.000Z' },
    { camera_id: 2, class: 3, kind: 'dome', to_status: 'degraded' as const, at: '2020-01-01T00:30:00.000Z' },
  ]
  const now = at('2020-01-01T01:30:00Z')
  const { buckets, total } = historyBuckets(rows, 'hour', at('2020-01-01T00:00:00Z'), at('2020-01-01T03:00:00Z'), now)
  t.match(buckets[0], { onlineSeconds: 900, offlineSeconds: 2700, degradedSeconds: 1800, rate: 0.5 }, '(15 + 30) of (60 + 30) camera-minutes')
  t.match(buckets[1], { onlineSeconds: 0, offlineSeconds: 1800, degradedSeconds: 1800, rate: 0.5 }, 'only until now')
  t.match(buckets[2], { rate: null }, 'the future is unknown')
  t.match(total.byClass, { 1: { rate: 0.166667 }, 3: { rate: 1 } }, 'rates rounded to 6 places')
  t.match(total.byKind, { dome: { degradedSeconds: 3600 } })
})

t.test('history pruning keeps each camera\'s last transition before the cutoff', async (t) => {
  const { openDatabase, migrate } = await import('../../../src/core/db.js')
  const { healthMigrations } = await import('../../../src/features/health/index.js')
  const { HealthStore } = await import('../../../src/features/health/store.js')
  const { orgMigrations } = await import('../../../src/features/org/index.js')
  const { registryMigrations } = await import('../../../src/features/registry/index.js')
  const db = openDatabase(':memory:')
  t.teardown(() => db.close())
  migrate(db, [...orgMigrations, ...registryMigrations, ...healthMigrations])
  const store = new HealthStore(db)
  const add = (cameraId: number, to: 'online' | 'offline', at: string) => store.addTransition({ cameraId, unitId: 1, class: 1, kind: 'fixed', from: 'unknown', to, reasons: [], at })
  add(1, 'online', '2020-01-01T00:00:00.000Z')
  add(1, 'offline', '2020-02-01T00:00:00.000Z')
  add(1, 'online', '2021-01-01T00:00:00.000Z')
  add(2, 'online', '2020-01-01T00:00:00.000Z')
  t.equal(store.pruneHistory('2020-06-01T00:00:00.000Z'), 1)
  t.same(store.transitions(1, 10).map((x) => x.at), ['2021-01-01T00:00:00.000Z', '2020-02-01T00:00:00.000Z'])
  t.equal(store.transitions(2, 10).length, 1)
})

t.test('pictures: covered, detailed, broken', async (t) => {
  const dark = analyzeJpeg(DARK_JPEG)
  t.ok(looksCovered(dark), `a near-black picture is covered (mean ${dark.mean})`)
  const live = analyzeJpeg(LIVE_JPEGS[0]!)
  t.notOk(looksCovered(live), 'a picture with detail is not (and is not even decoded)')
  t.throws(() => analyzeJpeg(Buffer.from('<html>not a picture</html>')), /not a JPEG/)
  t.throws(() => analyzeJpeg(DARK_JPEG.subarray(0, 200)))
})

t.test('stream facts from the SDP', async (t) => {
  const sdp = parseSdp(['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=x', 't=0 0', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H265/90000', 'a=x-dimensions:1920,1080', 'a=framerate:25', 'a=control:trackID=1', ''].join('\r\n'), { baseUrl: 'rtsp://127.0.0.1/x' })
  t.same(streamFactsOf(sdp), { codec: 'h265', width: 1920, height: 1080, fps: 25 })
})
