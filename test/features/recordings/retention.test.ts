import { execFileSync } from 'node:child_process'
import { rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(200)
  }
}

/**
 * Demo cameras (ffmpeg-generated sub streams): eviction under a small quota keeps locked
 * evidence; with only locked footage left, recording stops and a storage alarm is raised; a
 * case lock ends once the case is archived and its retention ran out (audited); on_alarm records
 * the pre-alarm buffer and the post-alarm seconds only.
 */
t.test('retention, disk guard, evidence lock, on_alarm', async (t) => {
  const gw = await startTestGateway(t, {
    overrides: { media: { idleTimeoutSeconds: 1 }, recordings: { segmentSeconds: 2, freeSpaceFloorMb: 0, guardIntervalSeconds: 3600, gapToleranceMs: 1500 } },
  })
  const rec = gw.services.recordings
  const admin = await gw.login('admin')
  const cams = (await gw.as(admin).get('/api/cameras?limit=50')).json.items as { id: number; unitId: number; name: string }[]
  const [a, b] = [cams[0]!, cams[1]!]
  for (const c of [a, b]) t.equal((await gw.as(admin).request('PUT', `/api/cameras/${c.id}/recording`, c === a ? { mode: 'continuous', stream: 'sub' } : { mode: 'on_alarm', stream: 'sub', preSeconds: 3, postSeconds: 3 })).statusCode, 200)

  // --- continuous: a few segments ---
  const segsOf = (id: number) => rec.store.segments(id, 0, Date.now() + 60_000)
  await until('6 segments', () => segsOf(a.id).length >= 6, 60_000)

  const status = (await gw.as(admin).get('/api/recordings/status')).json
  t.ok(status.recorders.some((r: { cameraId: number; state: string }) => r.cameraId === a.id && r.state === 'recording'), 'status lists the recorders')

  // --- on_alarm: nothing before the alarm; the pre-alarm buffer and M s after it ---
  t.equal(segsOf(b.id).length, 0, 'on_alarm camera records nothing without an alarm')
  const alarmAt = Date.now()
  gw.services.bus.emit('alarm.received', { alarmId: 0, kind: 'motion', cameraId: b.id, unitId: b.unitId, caseId: null })
  await until('alarm footage', () => rec.recorder(b.id)?.state === 'buffering' && segsOf(b.id).length > 0 && segsOf(b.id), 30_000)
  await rec.settle()
  const bSegs = segsOf(b.id)
  const first = bSegs[0]!.start_ms
  const last = bSegs.at(-1)!.end_ms
  t.comment(`alarm at ${alarmAt}: footage ${first - alarmAt} ms .. +${last - alarmAt} ms`)
  t.ok(first <= alarmAt - 1500, 'footage starts before the alarm (pre-alarm buffer)')
  t.ok(last >= alarmAt + 2500 && last <= alarmAt + 8000, 'and ends a few seconds after it')

  // several cameras at once, as repeated or comma-separated camera parameters
  const range = `from=${new Date(alarmAt - 60_000).toISOString()}&to=${new Date(Date.now()).toISOString()}`
  for (const q of [`camera=${a.id}&camera=${b.id}`, `camera=${a.id},${b.id}`]) {
    const tl = await gw.as(admin).get(`/api/recordings?${q}&${range}`)
    t.equal(tl.statusCode, 200, tl.body.slice(0, 300))
    t.same(tl.json.cameras.map((c: { cameraId: number }) => c.cameraId), [a.id, b.id], `timeline of two cameras (${q})`)
  }

  // --- eviction under a small quota keeps locked footage ---
  const aSegs = segsOf(a.id)
  const locked = aSegs.slice(0, 2)
  const kase = await gw.as(admin).post('/api/cases', { kind: 'other', title: 'evidence', unitId: a.unitId })
  const lockRes = await gw.as(admin).post('/api/recordings/locks', { cameraId: a.id, from: new Date(locked[0]!.start_ms).toISOString(), to: new Date(locked[1]!.end_ms - 1).toISOString(), reason: 'case evidence', caseId: kase.json.id })
  t.equal(lockRes.statusCode, 201, lockRes.body)
  t.equal((await gw.as(admin).delete(`/api/recordings/locks/${lockRes.json.id}`)).statusCode, 409, 'a case lock cannot be released by hand while the case is open')

  // a symlink planted in the recording root does not lead out of it
  const victim = aSegs.at(-1)!
  const victimPath = join(rec.root, victim.path)
  rmSync(victimPath)
  symlinkSync(join(gw.dataDir, 'gateway.db'), victimPath)
  const viaLink = await gw.as(admin).get(`/api/recordings/segments/${victim.id}`)
  t.equal(viaLink.statusCode, 404, 'a segment whose file became a symlink out of the root: 404')
  t.notMatch(viaLink.body, /SQLite/)
  rmSync(victimPath)
  rec.store.deleteSegment(victim.id)

  const lockedBytes = locked.reduce((n, s) => n + s.size, 0)
  await rec.settle()
  rec.settings.maxBytes = lockedBytes + aSegs[2]!.size + 1
  await rec.guard()
  const left = rec.store.allSegmentPaths().map((r) => r.id)
  t.ok(locked.every((s) => left.includes(s.id)), 'locked segments survive eviction')
  t.ok(rec.counters.evicted > 0, `unlocked footage evicted (${rec.counters.evicted})`)
  t.ok(rec.store.totalBytes() <= rec.settings.maxBytes, 'under the quota again')
  t.notOk(rec.storageFull)
  const oldestLeftUnlocked = rec.store.segments(a.id, 0, Date.now()).filter((s) => !locked.some((l) => l.id === s.id))
  t.ok(oldestLeftUnlocked.every((s) => s.start_ms > locked[1]!.start_ms), 'oldest unlocked went first')

  // --- nothing evictable: recording stops, storage alarm ---
  const storageEvents: unknown[] = []
  gw.services.bus.on('recording.storage', (e) => storageEvents.push(e))
  rec.settings.maxBytes = Math.floor(lockedBytes / 2)
  await rec.guard()
  t.ok(rec.storageFull, 'storage full')
  t.ok(locked.every((s) => rec.store.segment(s.id)), 'locked evidence still not evicted')
  t.equal(rec.recorder(a.id), undefined, 'recording stopped')
  t.equal((await gw.as(admin).get(`/api/cameras/${a.id}/recording`)).json.state, 'stopped_storage')
  t.equal(storageEvents.length, 1, 'recording.storage event on the bus')
  gw.services.ingest.flushNow()
  const alarms = await until('storage alarm', async () => {
    gw.services.ingest.flushNow()
    const r = (await gw.as(admin).get('/api/alarms')).json
    return JSON.stringify(r).includes('storage full') && r
  }, 10_000)
  t.ok(alarms, 'a storage alarm was raised through the alarms ingest')

  // --- case archived and evidence retention over: the lock ends (audited), footage can go ---
  rec.settings.evidenceRetentionDays = 0
  for (const to of ['closed', 'archived']) t.equal((await gw.as(admin).post(`/api/cases/${kase.json.id}/transitions`, { to })).statusCode, 200, `case → ${to}`)
  rec.settings.maxBytes = 1
  await rec.guard()
  t.notOk(locked.some((s) => rec.store.segment(s.id)), 'once released, the old evidence is evicted too')
  const audit = JSON.stringify((await gw.as(admin).get('/api/audit?action=recording.unlock')).json)
  t.match(audit, 'case archived and evidence retention over', 'the release is audited')
  t.match(JSON.stringify((await gw.as(admin).get('/api/audit?action=recording.lock')).json), 'case evidence', 'the lock is audited')

  // recording resumes once below the bounds
  rec.settings.maxBytes = 0
  await rec.guard()
  t.notOk(rec.storageFull, 'storage ok again')
  await until('recording resumes', () => rec.recorder(a.id), 10_000)

  // retention by class: 0.00001 days (< 1 s) deletes everything unlocked that is finished
  t.equal((await gw.as(admin).request('PUT', '/api/recordings/retention', { kind: 'class', key: 1, days: 0.0001 })).statusCode, 200)
  await sleep(200)
  await rec.settle()
  const before = rec.counters.retentionDeleted
  await rec.guard()
  t.ok(rec.counters.retentionDeleted >= before, 'retention by class runs')
  t.equal((await gw.as(admin).get('/api/recordings/retention')).json.rules[0].days, 0.0001)

  await gw.close()
  await sleep(300)
  let left2: string[] = []
  try {
    left2 = execFileSync('pgrep', ['-af', 'ffmpeg']).toString().split('\n').filter((l) => l.includes(gw.dataDir))
  } catch {
    left2 = []
  }
  t.same(left2, [], 'no ffmpeg left behind')
})
