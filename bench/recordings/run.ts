/**
 * bench/recordings: the cost of recording and the speed of evidence export (issue 7).
 *
 *  1. CPU and disk write per recorded 2 Mbps camera: BENCH_CAMERAS recorders (default 8), each
 *     fed a 2 Mbps 1280x720 25 fps H.264 stream in real time (access units as the live relay
 *     hands them over), each piping into its own ffmpeg segmenter (stream copy, fragmented MP4),
 *     segments hashed (SHA-256) as the service does. CPU of the ffmpeg children from /proc, and of
 *     the gateway process (which here also runs the feeder). Target: ≤ 1 % of a core per camera.
 *  2. Export of one hour of footage (60 indexed one-minute segments of the same stream) through
 *     the HTTP API: concat + cut (stream copy), SHA-256, signed manifest, zip. Target ≥ 100 MB/s.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { buildGateway } from '../../src/app.js'
import { loadConfig } from '../../src/core/config.js'
import { AnnexBParser } from '../../src/lib/ffmpeg/annexb.js'
import { segmenterArgs } from '../../src/lib/ffmpeg/recording-args.js'
import { fragmentedLayout } from '../../src/lib/mp4/index.js'
import { CameraRecorder } from '../../src/features/recordings/recorder.js'
import { sha256File } from '../../src/features/recordings/service.js'
import type { StreamSubscriber, VideoFrame } from '../../src/features/media/index.js'
import { report, type Figure } from '../lib/report.js'

const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 8)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30)
const EXPORT_MINUTES = Number(process.env.BENCH_EXPORT_MINUTES ?? 60)
const FPS = 25
const work = mkdtempSync(join(tmpdir(), 'gw-bench-recordings-'))
const log = { warn: (o: object, m?: string) => console.warn(m, o), info: () => undefined }
const figures: Record<string, Figure> = {}
const notes: string[] = []

function procTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return Number(f[11]) + Number(f[12]) // utime + stime (fields 14, 15)
  } catch {
    return 0
  }
}
function procWriteBytes(pid: number): number {
  try {
    return Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0)
  } catch {
    return 0
  }
}
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

try {
  // --- a 2 Mbps source ------------------------------------------------------------------------
  const src = join(work, 'source.h264')
  const t0 = performance.now()
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS},noise=alls=12:allf=t`, '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '2M', '-maxrate', '2M', '-bufsize', '2M', '-g', String(FPS * 2), '-pix_fmt', 'yuv420p', '-f', 'h264', src])
  const bytes = readFileSync(src)
  const parser = new AnnexBParser('h264', 64 * 1024 * 1024)
  const aus = [...parser.push(bytes), ...parser.flush()]
  const mbps = (bytes.length * 8) / 60 / 1e6
  notes.push(`source: ${aus.length} access units, ${mbps.toFixed(2)} Mbit/s, 1280x720 ${FPS} fps, GOP 2 s (generated in ${Math.round(performance.now() - t0)} ms)`)

  // --- 1. recording cost ---------------------------------------------------------------------
  const root = join(work, 'rec')
  mkdirSync(root)
  const subs: StreamSubscriber[] = []
  let segBytes = 0
  let segs = 0
  const recorders = Array.from({ length: CAMERAS }, (_, i) =>
    new CameraRecorder({
      cameraId: i + 1,
      mode: 'continuous',
      preSeconds: 0,
      postSeconds: 0,
      segmentSeconds: 10,
      root,
      ffmpegPath: 'ffmpeg',
      subscribe: (s) => {
        subs.push(s)
        return () => subs.splice(subs.indexOf(s), 1)
      },
      onSegment: (seg) => {
        segs++
        segBytes += statSync(seg.file).size
        void sha256File(seg.file)
      },
      onOrphan: () => undefined,
      log,
    }),
  )
  for (const r of recorders) r.start()
  let n = 0
  const startWall = Date.now()
  const feeder = setInterval(() => {
    // real time: as many frames as the wall clock says are due
    const due = Math.floor(((Date.now() - startWall) * FPS) / 1000)
    while (n < due) {
      const au = aus[n % aus.length]!
      const frame: VideoFrame = { codec: 'h264', nalus: au.nalus, timestamp: (n * (90000 / FPS)) >>> 0, keyframe: au.keyframe, bytes: au.nalus.reduce((s, b) => s + b.length, 0), receivedAt: Date.now() }
      for (const s of subs) s.onFrame(frame)
      n++
    }
  }, 10)
  await new Promise((r) => setTimeout(r, 5000)) // warm-up: every ffmpeg running
  const pids = recorders.map((r) => r.sessionPid!).filter(Boolean)
  const ff0 = pids.reduce((s, p) => s + procTicks(p), 0)
  const io0 = pids.reduce((s, p) => s + procWriteBytes(p), 0)
  const cpu0 = process.cpuUsage()
  const w0 = performance.now()
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  const wall = (performance.now() - w0) / 1000
  const ffCpu = (pids.reduce((s, p) => s + procTicks(p), 0) - ff0) / CLK_TCK
  const ioBytes = pids.reduce((s, p) => s + procWriteBytes(p), 0) - io0
  const cpu = process.cpuUsage(cpu0)
  const nodeCpu = (cpu.user + cpu.system) / 1e6
  clearInterval(feeder)
  await Promise.all(recorders.map((r) => r.stop()))
  figures['ffmpeg CPU per camera'] = { value: (ffCpu / wall / CAMERAS) * 100, unit: '% of a core', target: 1, better: 'lower' }
  figures['gateway CPU per camera (incl. feeder)'] = { value: (nodeCpu / wall / CAMERAS) * 100, unit: '% of a core', better: 'lower' }
  figures['total CPU per camera'] = { value: ((ffCpu + nodeCpu) / wall / CAMERAS) * 100, unit: '% of a core', target: 1, better: 'lower' }
  figures['disk write per camera'] = { value: ioBytes / wall / CAMERAS / 1e6, unit: 'MB/s', better: 'lower' }
  notes.push(`${CAMERAS} cameras for ${wall.toFixed(1)} s; ${segs} segments finished (${(segBytes / 1e6).toFixed(1)} MB); ffmpeg write_bytes from /proc (0 when the kernel does not account it: then from segment sizes)`)
  if (ioBytes === 0) figures['disk write per camera'] = { value: segBytes / (wall + 5) / CAMERAS / 1e6, unit: 'MB/s', better: 'lower' }

  // --- 2. export one hour ---------------------------------------------------------------------
  const dataDir = join(work, 'gw')
  const config = loadConfig({ env: {}, overrides: { dataDir, demo: true, log: { level: 'silent' }, recordings: { freeSpaceFloorMb: 0, guardIntervalSeconds: 3600, exportMaxHours: 24 } } })
  const gw = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: 'bench-password-1' } })
  try {
    const rec = gw.services.recordings
    // one 60 s fragmented-MP4 segment made by the recorder's own segmenter arguments
    const one = join(work, 'one')
    mkdirSync(one)
    execFileSync('ffmpeg', segmenterArgs({ codec: 'h264', fps: FPS, segmentSeconds: 3600, pattern: join(one, 's-%05d.mp4') }).map((a) => (a === 'pipe:1' ? join(one, 'list.csv') : a)), { input: bytes, stdio: ['pipe', 'ignore', 'inherit'] })
    const segFile = join(one, readdirSync(one).find((f) => f.endsWith('.mp4'))!)
    const layout = await fragmentedLayout(segFile)
    const sha = await sha256File(segFile)
    const cam = 1
    const base = Date.UTC(2026, 0, 5, 8, 0, 0)
    const dir = join(rec.root, String(cam), '2026-01-05')
    mkdirSync(dir, { recursive: true })
    for (let i = 0; i < EXPORT_MINUTES; i++) {
      const rel = `${cam}/2026-01-05/${base}-${String(i).padStart(5, '0')}.mp4`
      copyFileSync(segFile, join(rec.root, rel))
      rec.store.insertSegment({ camera_id: cam, session: base, seq: i, start_ms: base + i * 60_000, end_ms: base + (i + 1) * 60_000, path: rel, size: layout.fileSize, sha256: sha, init_size: layout.initSize, codec: 'h264', keyframes: JSON.stringify(Array.from({ length: 30 }, (_, k) => k * 2000)), recovered: 0, camera_clock_offset_ms: null })
    }
    const footage = EXPORT_MINUTES * layout.fileSize
    const login = await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'bench-password-1' } })
    const token = login.json().token as string
    execFileSync('sync')
    const e0 = performance.now()
    const res = await gw.app.inject({ method: 'POST', url: '/api/exports', headers: { authorization: `Bearer ${token}` }, payload: { cameraIds: [cam], from: new Date(base).toISOString(), to: new Date(base + EXPORT_MINUTES * 60_000).toISOString(), reason: 'bench' } })
    if (res.statusCode !== 202) throw new Error(res.body)
    // the server stays responsive while the export runs
    const lat: number[] = []
    let state = ''
    while (state !== 'done') {
      const p0 = performance.now()
      const j = (await gw.app.inject({ method: 'GET', url: `/api/exports/${res.json().id}`, headers: { authorization: `Bearer ${token}` } })).json()
      lat.push(performance.now() - p0)
      state = j.state
      if (state === 'failed') throw new Error(j.error)
      await new Promise((r) => setTimeout(r, 100))
    }
    const secs = (performance.now() - e0) / 1000
    const j = (await gw.app.inject({ method: 'GET', url: `/api/exports/${res.json().id}`, headers: { authorization: `Bearer ${token}` } })).json()
    figures[`export of ${EXPORT_MINUTES} min`] = { value: secs, unit: 's', better: 'lower' }
    figures['export throughput'] = { value: footage / secs / 1e6, unit: 'MB/s', target: 100, better: 'higher' }
    figures['API latency during export (max)'] = { value: Math.max(...lat), unit: 'ms', better: 'lower' }
    notes.push(`export: ${(footage / 1e6).toFixed(0)} MB of footage in ${EXPORT_MINUTES} segments → zip ${(j.size / 1e6).toFixed(0)} MB (concat+cut by ffmpeg -c copy, SHA-256, signed manifest, store-only zip)`)
  } finally {
    await gw.close()
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
report('recordings', figures, notes)
