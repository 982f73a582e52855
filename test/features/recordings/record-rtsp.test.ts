import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { startRtspTestServer } from '../../support/rtsp-server.js'
import { readZipDirectory } from '../../../src/lib/zip/index.js'
import { verifyExportZip } from '../../../src/features/recordings/verify.js'
import { publicKeyFromPem } from '../../../src/features/recordings/signing.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const ffprobe = (file: string, entries: string) => JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_entries', entries, file]).toString())
const pgrepFfmpeg = (needle: string): string[] => {
  try {
    return execFileSync('pgrep', ['-af', 'ffmpeg']).toString().split('\n').filter((l) => l.includes(needle))
  } catch {
    return []
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(250)
  }
}

/**
 * Records a camera on the real GStreamer RTSP server with 5 s segments: hashes and no gaps, a
 * stream cut shows as a gap, a 10 s export from the middle (duration within a GOP, decodes,
 * verifies), tampering named, scoping and traversal, a killed ffmpeg leaves a playable indexed
 * segment after a restart, no ffmpeg left behind.
 */
t.test('record an RTSP camera, search, play, export, verify', async (t) => {
  const rtsp = await startRtspTestServer({ width: 640, height: 360, fps: 25, gop: 25, bitrate: 1500 })
  t.teardown(() => rtsp.close())
  const overrides = {
    ...(process.env.REC_DEBUG ? { log: { level: 'warn' } } : {}),
    media: { idleTimeoutSeconds: 1, backoffMinMs: 200, backoffMaxMs: 1000, stallTimeoutSeconds: 5 },
    recordings: { segmentSeconds: 5, freeSpaceFloorMb: 0, guardIntervalSeconds: 3600, gapToleranceMs: 1500 },
  }
  let gw = await startTestGateway(t, { overrides })
  const dataDir = gw.dataDir
  const admin = await gw.login('admin')
  const street = ((await gw.as(admin).get('/api/units?tier=street')).json.items as { id: number }[])[0]!
  const res = await gw.as(admin).post('/api/cameras', { unitId: street.id, name: 'RTSP rec', class: 1, kind: 'fixed', streams: { main: { uri: rtsp.url('/test'), codec: 'h264', width: 640, height: 360, fps: 25 } } })
  t.equal(res.statusCode, 201)
  const cam = res.json.id as number
  // what the health checks record for an ONVIF camera whose clock runs 37.25 s ahead of ours
  gw.services.registry.setClockOffset(cam, 37_250)
  const tech = await gw.login('street.technician')
  const researcher = await gw.login('street.researcher')
  const stationResearcher = await gw.login('station.researcher')
  const patrol = await gw.login('street.patrol')

  // settings: patrol may not set them; technician may
  t.equal((await gw.as(patrol).request('PUT', `/api/cameras/${cam}/recording`, { mode: 'continuous' })).statusCode, 403)
  const put = await gw.as(tech).request('PUT', `/api/cameras/${cam}/recording`, { mode: 'continuous' })
  t.equal(put.statusCode, 200, put.body)
  t.equal(put.json.mode, 'continuous')
  t.equal((await gw.as(stationResearcher).get(`/api/cameras/${cam}/recording`)).statusCode, 404, 'settings out of scope: 404')

  const t0 = Date.now()
  // --- 30 s of footage ---------------------------------------------------------------------------
  const timeline = async (tok = researcher) => (await gw.as(tok).get(`/api/recordings?camera=${cam}&from=${new Date(t0 - 60_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`)).json
  await until('5 segments', async () => (await timeline()).cameras[0].segments.length >= 5 && true, 60_000)
  let tl = await timeline()
  t.ok(tl.cameras[0].segments.every((s: { cameraClockOffsetMs: number | null }) => s.cameraClockOffsetMs === 37_250), 'each segment carries the camera clock offset of when it was written')
  const segs = tl.cameras[0].segments as { id: number; start: string; end: string; sha256: string; size: number; durationMs: number; keyframesMs: number[] }[]
  t.ok(segs.every((s) => /^[0-9a-f]{64}$/.test(s.sha256) && s.size > 0), 'segments carry SHA-256 and size')
  t.ok(segs.every((s) => s.durationMs >= 4000 && s.durationMs <= 7000), `segments ~5 s: ${segs.map((s) => s.durationMs).join(',')}`)
  const inner = (tl.cameras[0].gaps as { from: string; to: string }[]).filter((g) => Date.parse(g.from) > Date.parse(segs[0]!.start) && Date.parse(g.to) < Date.parse(segs.at(-1)!.end))
  t.same(inner, [], 'no gaps between segments of continuous recording')
  // the file on disk matches its hash
  const segFile = await gw.as(researcher).get(`/api/recordings/segments/${segs[1]!.id}`)
  t.equal(segFile.statusCode, 200)
  t.equal(segFile.headers['content-type'], 'video/mp4')
  const ranged = await gw.as(researcher).request('GET', `/api/recordings/segments/${segs[1]!.id}`, undefined, { range: 'bytes=0-99' })
  t.equal(ranged.statusCode, 206, 'HTTP Range on segments')
  t.equal(ranged.headers['content-range'], `bytes 0-99/${segs[1]!.size}`)

  // HLS
  const pl = await gw.as(researcher).get(`/api/recordings/${cam}/playlist.m3u8?from=${segs[0]!.start}&to=${segs.at(-1)!.end}`)
  t.equal(pl.statusCode, 200)
  t.match(pl.body, /#EXT-X-VERSION:7/)
  t.match(pl.body, /#EXT-X-MAP:URI="\/api\/recordings\/segments\/\d+",BYTERANGE="\d+@0"/)
  t.match(pl.body, /#EXT-X-PROGRAM-DATE-TIME:\d{4}-/)
  const audit = await gw.as(admin).get('/api/audit?action=recording.playback')
  t.ok(JSON.stringify(audit.json).includes('recording.playback'), 'playback audited')

  // scoping and traversal
  t.equal((await gw.as(stationResearcher).get(`/api/recordings?camera=${cam}&from=${segs[0]!.start}&to=${segs[1]!.end}`)).statusCode, 404, 'timeline out of scope: 404')
  t.equal((await gw.as(stationResearcher).get(`/api/recordings/segments/${segs[0]!.id}`)).statusCode, 404, 'segment out of scope: 404')
  t.equal((await gw.as(stationResearcher).get(`/api/recordings/${cam}/playlist.m3u8?from=${segs[0]!.start}&to=${segs[1]!.end}`)).statusCode, 404, 'playlist out of scope: 404')
  for (const bad of ['../../gateway.db', '..%2f..%2fgateway.db', '%2e%2e%2fkeys', '1%2f..%2f..%2fx', '999999', '1.mp4', '-1']) {
    const r = await gw.as(researcher).get(`/api/recordings/segments/${bad}`)
    t.ok([400, 404].includes(r.statusCode), `segment ${bad} → ${r.statusCode}`)
  }
  for (const bad of ['../../gateway.db', '..%2F..%2Fkeys%2Fevidence-ed25519.pem', '%2e%2e', 'not-a-uuid', '..%2f..%2f..%2fgateway.db']) {
    const r = await gw.as(researcher).get(`/api/exports/${bad}/download`)
    // "../../x/download" is normalized out of /api by the URL parser: the web app's fallback answers, never a file
    t.ok([400, 404].includes(r.statusCode) || (r.statusCode === 200 && !r.body.startsWith('SQLite') && String(r.headers['content-type']).startsWith('text/html')), `download ${bad} → ${r.statusCode}`)
  }

  // --- a stream cut shows as a gap ------------------------------------------------------------
  const beforeCut = Date.now()
  await rtsp.kill()
  await sleep(5000)
  await rtsp.restart()
  await until('footage after the cut', async () => {
    const c = (await timeline()).cameras[0]
    return c.segments.some((s: { start: string }) => Date.parse(s.start) > beforeCut + 4000) && c
  }, 60_000)
  tl = await timeline()
  const gaps = (tl.cameras[0].gaps as { from: string; to: string; durationMs: number }[]).filter((g) => Date.parse(g.to) < Date.now() - 1000 && Date.parse(g.from) > t0)
  t.equal(gaps.length, 1, `the cut is one gap: ${JSON.stringify(gaps)}`)
  t.ok(gaps[0] && gaps[0].durationMs >= 3000, 'gap lasts about as long as the cut')
  const plGap = await gw.as(researcher).get(`/api/recordings/${cam}/playlist.m3u8?from=${new Date(t0 - 60_000).toISOString()}&to=${new Date().toISOString()}`)
  t.match(plGap.body, /## gap [^\n]+\n#EXT-X-DISCONTINUITY/, 'the playlist marks the gap with a discontinuity')
  t.equal((await gw.as(researcher).request('GET', `/api/recordings/segments/${segs[1]!.id}`, undefined, { range: 'bytes=999999999-' })).statusCode, 416, 'unsatisfiable range → 416')

  // --- export 10 s from the middle of the first run --------------------------------------------
  const all = tl.cameras[0].segments as typeof segs
  const from = Date.parse(all[0]!.start) + 7500 // mid-GOP (1 s GOPs)
  const to = from + 10_000
  t.equal((await gw.as(researcher).post('/api/exports', { cameraIds: [cam], from: new Date(from).toISOString(), to: new Date(to).toISOString(), reason: 'x' })).json?.errors?.[0]?.field, 'body.caseId', 'researcher without case → 400 naming caseId')
  const noReason = await gw.as(researcher).post('/api/exports', { cameraIds: [cam], from: new Date(from).toISOString(), to: new Date(to).toISOString(), caseId: 1 })
  t.equal(noReason.statusCode, 400)
  t.equal(noReason.json.errors[0].field, 'body.reason', 'researcher without reason → 400 naming reason')
  t.equal((await gw.as(stationResearcher).post('/api/exports', { cameraIds: [cam], from: new Date(from).toISOString(), to: new Date(to).toISOString(), caseId: 1, reason: 'r' })).statusCode, 404, 'export of out-of-scope camera: 404')

  const kase = await gw.as(patrol).post('/api/cases', { kind: 'other', title: '视侦 test case', unitId: street.id })
  t.equal(kase.statusCode, 201, kase.body)
  const caseId = kase.json.id as number
  const ex = await gw.as(researcher).post('/api/exports', { cameraIds: [cam], from: new Date(from).toISOString(), to: new Date(to).toISOString(), caseId, reason: '盗窃案 视频取证' })
  t.equal(ex.statusCode, 202, ex.body)
  const job = await until('export done', async () => {
    const j = (await gw.as(researcher).get(`/api/exports/${ex.json.id}`)).json
    if (j.state === 'failed') throw new Error(j.error)
    return j.state === 'done' && j
  }, 60_000)
  t.equal(job.progress, 100)
  const progressEvents = gw.services.db.prepare("SELECT payload FROM stream_events WHERE type = 'export.progress'").all() as { payload: string }[]
  t.ok(progressEvents.length >= 2 && progressEvents.some((e) => JSON.parse(e.payload).state === 'done'), `export progress on the live event stream (${progressEvents.length} events)`)
  t.equal((await gw.as(stationResearcher).get(`/api/exports/${ex.json.id}`)).statusCode, 404, 'export out of scope: 404')
  const dl = await gw.app.inject({ method: 'GET', url: `/api/exports/${ex.json.id}/download`, headers: { authorization: `Bearer ${researcher}` } })
  t.equal(dl.statusCode, 200)
  const zipBuf = dl.rawPayload
  t.equal(zipBuf.length, job.size)
  const part = await gw.app.inject({ method: 'GET', url: `/api/exports/${ex.json.id}/download`, headers: { authorization: `Bearer ${researcher}`, range: 'bytes=10-19' } })
  t.equal(part.statusCode, 206, 'download supports Range')
  t.same(part.rawPayload, zipBuf.subarray(10, 20))

  const work = mkdtempSync(join(tmpdir(), 'gw-export-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  const zipPath = join(work, 'export.zip')
  writeFileSync(zipPath, zipBuf)
  const entries = await readZipDirectory(zipPath)
  t.same(entries.map((e) => e.name).sort(), [`camera-${cam}.mp4`, 'manifest.json', 'manifest.sig', 'public-key.pem'])
  execFileSync('unzip', ['-q', '-o', zipPath, '-d', work])
  const manifest = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8'))
  t.equal(manifest.reason, '盗窃案 视频取证')
  t.equal(manifest.case.id, caseId)
  t.equal(manifest.exporter.username, 'street.researcher')
  t.ok(manifest.gateway.version)
  t.ok(manifest.files[0].segments.length >= 2 && manifest.files[0].segments.every((s: { sha256: string }) => s.sha256.length === 64), 'segment hashes in the manifest')
  t.ok(manifest.files[0].segments.every((s: { cameraClockOffsetMs: number | null }) => s.cameraClockOffsetMs === 37_250), "and each segment's camera clock offset")
  t.match(manifest.clock, /cameraClockOffsetMs is the camera's clock minus the gateway's/)
  const mp4 = join(work, `camera-${cam}.mp4`)
  const probe = ffprobe(mp4, 'format=duration:stream=codec_name,width,height')
  const dur = Number(probe.format.duration)
  t.comment(`asked 10 s, delivered ${dur} s; delivered ${JSON.stringify(manifest.files[0].delivered)}`)
  t.ok(dur >= 9.9 && dur <= 11.05, `export duration within one GOP (1 s) of 10 s: ${dur}`)
  t.ok(Date.parse(manifest.files[0].delivered.from) <= from && Date.parse(manifest.files[0].delivered.from) >= from - 1000, 'delivered from the keyframe at or before "from"')
  t.equal(probe.streams[0].codec_name, 'h264')
  // decodes end to end
  execFileSync('ffmpeg', ['-v', 'error', '-xerror', '-i', mp4, '-f', 'null', '-'])
  t.pass('the exported MP4 decodes without error')

  // frame-exact: re-encoded, cut to the frame
  const exact = await gw.as(admin).post('/api/exports', { cameraIds: [cam], from: new Date(from).toISOString(), to: new Date(to).toISOString(), frameExact: true })
  t.equal(exact.statusCode, 202, exact.body)
  await until('exact export done', async () => {
    const j = (await gw.as(admin).get(`/api/exports/${exact.json.id}`)).json
    if (j.state === 'failed') throw new Error(j.error)
    return j.state === 'done' && j
  }, 60_000)
  const exactZip = (await gw.app.inject({ method: 'GET', url: `/api/exports/${exact.json.id}/download`, headers: { authorization: `Bearer ${admin}` } })).rawPayload
  const exactDir = join(work, 'exact')
  writeFileSync(join(work, 'exact.zip'), exactZip)
  execFileSync('unzip', ['-q', '-o', join(work, 'exact.zip'), '-d', exactDir])
  const exactDur = Number(ffprobe(join(exactDir, `camera-${cam}.mp4`), 'format=duration').format.duration)
  t.ok(Math.abs(exactDur - 10) <= 0.1, `frame-exact export is 10 s to the frame: ${exactDur}`)

  const pem = (await gw.as(researcher).get('/api/exports/public-key')).body
  t.match(pem, /BEGIN PUBLIC KEY/)
  t.equal((await gw.app.inject({ method: 'GET', url: '/api/exports/public-key' })).statusCode, 200, 'public key needs no sign-in')
  const key = publicKeyFromPem(pem)
  const good = await verifyExportZip(zipPath, key)
  t.ok(good.ok, `manifest verifies: ${good.problems.join('; ')}`)
  const byApi = await gw.as(researcher).request('POST', '/api/exports/verify', zipBuf, { 'content-type': 'application/zip' })
  t.equal(byApi.statusCode, 200)
  t.equal(byApi.json.ok, true, 'verify endpoint accepts the untouched zip')
  t.equal((await gw.as(researcher).post('/api/exports/verify', { exportId: ex.json.id })).json.ok, true, 'verify by export id')

  // a flipped byte in the video
  const mp4Entry = entries.find((e) => e.name.endsWith('.mp4'))!
  const flipped = Buffer.from(zipBuf)
  flipped[mp4Entry.dataOffset + Math.floor(mp4Entry.size / 2)]! ^= 0x01
  const flippedPath = join(work, 'flipped.zip')
  writeFileSync(flippedPath, flipped)
  const bad1 = await verifyExportZip(flippedPath, key)
  t.equal(bad1.ok, false)
  t.same(bad1.files.filter((f) => f.status !== 'ok').map((f) => [f.name, f.status]), [[`camera-${cam}.mp4`, 'hash_mismatch']], 'the flipped file is named')
  const bad1Api = await gw.as(researcher).request('POST', '/api/exports/verify', flipped, { 'content-type': 'application/zip' })
  t.equal(bad1Api.json.ok, false)
  t.match(bad1Api.json.problems.join('\n'), `camera-${cam}.mp4`)

  // an edited manifest (same length, so offsets stay put)
  const mEntry = entries.find((e) => e.name === 'manifest.json')!
  const edited = Buffer.from(zipBuf)
  const mText = edited.subarray(mEntry.dataOffset, mEntry.dataOffset + mEntry.size).toString('utf8')
  const changed = mText.replace('盗窃案', '抢劫案')
  t.not(changed, mText)
  Buffer.from(changed).copy(edited, mEntry.dataOffset)
  const editedPath = join(work, 'edited.zip')
  writeFileSync(editedPath, edited)
  const bad2 = await verifyExportZip(editedPath, key)
  t.equal(bad2.ok, false)
  t.equal(bad2.signature, 'invalid')
  t.equal(bad2.manifest, 'edited')
  t.match(bad2.problems.join('\n'), /manifest\.json was edited/)

  // CLI verify
  const cli = (file: string) => {
    try {
      return { code: 0, out: execFileSync('npx', ['tsx', 'src/cli.ts', 'verify', file, '--public-key', join(work, 'public-key.pem')], { env: { ...process.env, GW_DATA_DIR: dataDir } }).toString() }
    } catch (err) {
      const e = err as { status: number; stdout: Buffer }
      return { code: e.status, out: e.stdout.toString() }
    }
  }
  t.equal(cli(zipPath).code, 0, 'CLI verify: intact → exit 0')
  const cliBad = cli(flippedPath)
  t.equal(cliBad.code, 1, 'CLI verify: tampered → exit 1')
  t.match(cliBad.out, `camera-${cam}.mp4`)

  // the case holds the footage, and it is locked
  const locks = (await gw.as(researcher).get(`/api/recordings/locks?camera=${cam}`)).json.items
  t.ok(locks.some((l: { caseId: number }) => l.caseId === caseId), 'export for a case locks the footage')
  const caseDetail = (await gw.as(researcher).get(`/api/cases/${caseId}`)).json
  t.ok(caseDetail.attachments.some((a: { kind: string }) => a.kind === 'footage'), 'the export is attached to the case as footage')

  // --- a killed ffmpeg mid-segment: playable segment, consistent index after restart -------------
  const rec = gw.services.recordings.recorder(cam)!
  await until('recording', () => rec.state === 'recording' && rec.sessionPid)
  // kill mid-segment: when the segment being written (a file not yet indexed) holds a few fragments
  const camDir = () => execFileSync('find', [join(gw.services.recordings.root, String(cam)), '-name', '*.mp4', '-size', '+150k']).toString().trim().split('\n').filter(Boolean)
  await until('a segment in progress with fragments', () => {
    const indexed = new Set(gw.services.recordings.store.allSegmentPaths().map((r) => join(gw.services.recordings.root, r.path)))
    return camDir().some((f) => !indexed.has(f)) && rec.state === 'recording'
  }, 30_000)
  const pid = rec.killFfmpeg()
  t.ok(pid, 'ffmpeg killed')
  await until('recovered after kill', () => gw.services.recordings.counters.recovered > 0 && true, 20_000).catch((err: Error) => {
    const files = execFileSync('find', [gw.services.recordings.root, '-name', '*.mp4']).toString()
    throw new Error(`${err.message}: ${JSON.stringify(gw.services.recordings.counters)} killed ${pid}, now ${rec.state} ${rec.sessionPid}; rows ${JSON.stringify(gw.services.recordings.store.allSegmentPaths())}; files ${files}`)
  })
  await gw.services.recordings.settle()
  const stillRecording = await until('recording again', async () => (await timeline()).cameras[0].segments.some((s: { start: string }) => Date.parse(s.start) > Date.now() - 8000) && true, 30_000)
  t.ok(stillRecording, 'recording continues after ffmpeg died')
  const recovered = (await timeline()).cameras[0].segments.filter((s: { recovered: boolean }) => s.recovered)
  t.ok(recovered.every((s: { cameraClockOffsetMs: number | null }) => s.cameraClockOffsetMs === null), 'a segment recovered after a crash has no offset: when it was written is not known')
  t.ok(recovered.length >= 1, 'the killed segment is indexed (recovered)')
  const recFile = join(gw.services.recordings.root, gw.services.recordings.store.segment(recovered[0].id)!.path)
  t.ok(Number(ffprobe(recFile, 'format=duration').format.duration) > 0.5, 'the killed segment plays (ffprobe)')
  execFileSync('ffmpeg', ['-v', 'error', '-i', recFile, '-f', 'null', '-'])

  // restart: the index stays consistent (every file indexed once, every row has its file)
  const root = gw.services.recordings.root
  gw = await gw.restart()
  const rows = gw.services.recordings.store.allSegmentPaths()
  const files = execFileSync('find', [root, '-name', '*.mp4', '-path', `*/${cam}/*`]).toString().trim().split('\n').filter(Boolean)
  const indexed = new Set(rows.map((r) => join(root, r.path)))
  t.ok(files.every((f) => indexed.has(f)), 'every segment file is indexed after restart')
  t.equal(new Set(rows.map((r) => r.path)).size, rows.length, 'no duplicate rows')
  await gw.close()
  await sleep(500)
  t.same(pgrepFfmpeg(dataDir), [], 'no ffmpeg left running for this gateway')
})
