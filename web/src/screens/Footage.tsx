import type Hls from 'hls.js'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { ApiError, cases as casesApi, footage, type Camera, type Case, type CameraTimeline, type ExportJob, type Segment, type VerifyReport } from '../lib/api'
import { t, useLang, type Key } from '../lib/i18n'
import { app, hasRole, toast } from '../lib/state'
import { useStore } from '../lib/store'
import { StatusDot } from './CameraTree'

/**
 * Footage (录像检索): pick cameras and a period, see each camera's segments and gaps on a timeline,
 * play the HLS playlist (hls.js; Chromium has no native HLS) seekable by wall clock, export signed
 * evidence with a progress bar and a download, and verify an export file.
 */

const pad = (n: number) => String(n).padStart(2, '0')
/** ms → the value of an <input type="datetime-local" step="1"> (local time) */
export function toLocalInput(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}
/** a datetime-local value (local time) → ms, NaN when empty or invalid */
const fromLocalInput = (s: string): number => (s ? new Date(s).getTime() : NaN)
const clock = (ms: number) => {
  const d = new Date(ms)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}
const dateTime = (ms: number) => `${toLocalInput(ms).slice(0, 10)} ${clock(ms)}`
const bytes = (n: number | null) => (n === null ? '' : n > 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`)

interface Frag {
  /** media time (s) where the fragment starts in the player */
  start: number
  duration: number
  /** wall clock (ms) of its first frame, from EXT-X-PROGRAM-DATE-TIME */
  pdt: number
}

export function FootageScreen() {
  useLang()
  const me = useStore(app, (s) => s.me)
  const units = useStore(app, (s) => s.units)
  const cameras = useStore(app, (s) => s.cameras)
  const treeSelection = useStore(app, (s) => s.selection)
  const mustLinkCase = hasRole(me, 'researcher') && !hasRole(me, 'admin')

  // --- what to search -----------------------------------------------------------------------------
  const [picked, setPicked] = useState<number[]>(() => treeSelection.slice(0, 16))
  const [query, setQuery] = useState('')
  const [from, setFrom] = useState(() => toLocalInput(Date.now() - 30 * 60_000))
  const [to, setTo] = useState(() => toLocalInput(Date.now() + 60_000))
  const [result, setResult] = useState<{ fromMs: number; toMs: number; cameras: CameraTimeline[] } | null>(null)
  const [searching, setSearching] = useState(false)

  const unitName = useMemo(() => new Map(units.map((u) => [u.id, u.name])), [units])
  const q = query.trim().toLowerCase()
  const listed = useMemo(() => {
    const shown = cameras.filter((c) => !q || c.name.toLowerCase().includes(q) || (unitName.get(c.unitId) ?? '').toLowerCase().includes(q))
    const groups = new Map<number, Camera[]>()
    for (const c of shown) groups.set(c.unitId, [...(groups.get(c.unitId) ?? []), c])
    return [...groups.entries()].map(([unitId, cams]) => ({ unitId, name: unitName.get(unitId) ?? String(unitId), cams: cams.sort((a, b) => a.name.localeCompare(b.name, 'zh')) }))
  }, [cameras, q, unitName])

  const toggle = (id: number) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : p.length >= 16 ? p : [...p, id]))
  const preset = (minutes: number) => {
    const now = Date.now()
    setFrom(toLocalInput(now - minutes * 60_000))
    setTo(toLocalInput(now + 60_000))
  }

  // --- playback -------------------------------------------------------------------------------------
  const videoRef = useRef<HTMLVideoElement>(null)
  const hlsRef = useRef<Hls | null>(null)
  const fragsRef = useRef<Frag[]>([])
  const pendingSeek = useRef<number | null>(null)
  const [playing, setPlaying] = useState<{ cameraId: number; name: string } | null>(null)
  const [wallNow, setWallNow] = useState<number | null>(null)
  const [playError, setPlayError] = useState<string | null>(null)

  const stopPlayback = () => {
    hlsRef.current?.destroy()
    hlsRef.current = null
    fragsRef.current = []
  }
  useEffect(() => stopPlayback, [])

  /** media time for a wall-clock moment; a moment in a gap goes to the next segment */
  const mediaTimeOf = (wallMs: number): { time: number; skipped: boolean } | null => {
    const frags = fragsRef.current
    if (!frags.length) return null
    for (const f of frags) {
      if (wallMs < f.pdt) return { time: f.start, skipped: true }
      if (wallMs < f.pdt + f.duration * 1000) return { time: f.start + (wallMs - f.pdt) / 1000, skipped: false }
    }
    const last = frags.at(-1)!
    return { time: last.start + Math.max(0, last.duration - 0.5), skipped: true }
  }
  const wallOf = (time: number): number | null => {
    const frags = fragsRef.current
    let best: Frag | undefined
    for (const f of frags) if (f.start <= time + 0.001) best = f
    return best ? best.pdt + (time - best.start) * 1000 : null
  }
  const seekWall = (wallMs: number) => {
    const v = videoRef.current
    const m = mediaTimeOf(wallMs)
    if (!v || !m) {
      pendingSeek.current = wallMs
      return
    }
    if (m.skipped) toast(t('fx.gapSkipped'))
    v.currentTime = m.time
    void v.play().catch(() => {})
  }

  const play = async (cam: CameraTimeline, wallMs: number) => {
    if (!result) return
    setPlayError(null)
    if (playing?.cameraId === cam.cameraId && hlsRef.current && fragsRef.current.length) {
      seekWall(wallMs)
      return
    }
    stopPlayback()
    const video = videoRef.current
    if (!video) return
    setPlaying({ cameraId: cam.cameraId, name: cam.name })
    pendingSeek.current = wallMs
    const url = footage.playlistUrl(cam.cameraId, new Date(result.fromMs).toISOString(), new Date(result.toMs).toISOString())
    // hls.js is loaded on first playback only (its own chunk)
    const { default: Hls } = await import('hls.js')
    if (!Hls.isSupported()) {
      // a browser that plays HLS by itself (Safari): no wall-clock mapping, start at the beginning
      video.src = url
      void video.play().catch(() => {})
      return
    }
    // No worker: the page's CSP allows scripts from 'self' only (no blob: workers). Loading starts
    // once the playlist is known, at the media time of the wall-clock moment asked for.
    const hls = new Hls({ enableWorker: false, autoStartLoad: false, xhrSetup: (xhr) => {
      xhr.withCredentials = true
    } })
    hlsRef.current = hls
    hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
      const first = fragsRef.current.length === 0
      fragsRef.current = data.details.fragments.map((f) => ({ start: f.start, duration: f.duration, pdt: f.programDateTime ?? 0 }))
      if (!first) return
      const want = pendingSeek.current
      pendingSeek.current = null
      const m = want !== null ? mediaTimeOf(want) : null
      if (m?.skipped) toast(t('fx.gapSkipped'))
      hls.startLoad(m?.time ?? 0)
      video.currentTime = m?.time ?? 0
      void video.play().catch(() => {})
    })
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (data.fatal) {
        setPlayError(data.details)
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError()
      }
    })
    hls.attachMedia(video)
    hls.loadSource(url)
  }

  const search = async () => {
    const fromMs = fromLocalInput(from)
    const toMs = fromLocalInput(to)
    if (!picked.length) return toast(t('fx.pickFirst'), 'error')
    if (!(toMs > fromMs)) return toast(t('common.error', { msg: `${t('fx.to')} > ${t('fx.from')}` }), 'error')
    setSearching(true)
    try {
      const r = await footage.timeline(picked, new Date(fromMs).toISOString(), new Date(toMs).toISOString())
      stopPlayback()
      setPlaying(null)
      setWallNow(null)
      setResult({ fromMs, toMs, cameras: r.cameras })
      const segs = r.cameras.flatMap((c) => c.segments)
      if (segs.length) {
        setExFrom(toLocalInput(Math.min(...segs.map((s) => Date.parse(s.start)))))
        setExTo(toLocalInput(Math.ceil(Math.max(...segs.map((s) => Date.parse(s.end))) / 1000) * 1000))
      }
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error')
    } finally {
      setSearching(false)
    }
  }

  // --- export ----------------------------------------------------------------------------------------
  const [caseList, setCaseList] = useState<Case[]>([])
  const [caseId, setCaseId] = useState('')
  const [reason, setReason] = useState('')
  const [frameExact, setFrameExact] = useState(false)
  const [exFrom, setExFrom] = useState('')
  const [exTo, setExTo] = useState('')
  const [job, setJob] = useState<ExportJob | null>(null)
  const [exportError, setExportError] = useState<string | null>(null)
  useEffect(() => {
    casesApi
      .list({ limit: '200' })
      .then((r) => setCaseList(r.items.filter((c) => c.state !== 'archived')))
      .catch(() => setCaseList([]))
  }, [])
  // poll the job until it ends
  useEffect(() => {
    if (!job || job.state === 'done' || job.state === 'failed') return
    const timer = setTimeout(() => {
      footage
        .exportJob(job.id)
        .then(setJob)
        .catch((err) => setExportError(err instanceof Error ? err.message : String(err)))
    }, 500)
    return () => clearTimeout(timer)
  }, [job])

  const exportCameras = result ? result.cameras.filter((c) => c.segments.length).map((c) => c.cameraId) : []
  const exportReady = exportCameras.length > 0 && exFrom !== '' && exTo !== '' && (!mustLinkCase || (caseId !== '' && reason.trim() !== ''))
  const startExport = async () => {
    setExportError(null)
    const fromMs = fromLocalInput(exFrom)
    const toMs = fromLocalInput(exTo)
    if (!(toMs > fromMs)) return setExportError(`${t('fx.to')} > ${t('fx.from')}`)
    try {
      const created = await footage.createExport({
        cameraIds: exportCameras,
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
        ...(caseId ? { caseId: Number(caseId) } : {}),
        ...(reason.trim() ? { reason: reason.trim() } : {}),
        ...(frameExact ? { frameExact: true } : {}),
      })
      setJob(created)
    } catch (err) {
      setExportError(err instanceof ApiError ? [err.message, ...err.errors.map((e) => `${e.field}: ${e.message}`)].join(' · ') : String(err))
    }
  }

  // --- verify --------------------------------------------------------------------------------------
  const [verdict, setVerdict] = useState<{ file: string; report: VerifyReport } | null>(null)
  const [verifying, setVerifying] = useState(false)
  const verify = async (file: File | undefined) => {
    if (!file) return
    setVerifying(true)
    setVerdict(null)
    try {
      setVerdict({ file: file.name, report: await footage.verify(file) })
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error')
    } finally {
      setVerifying(false)
    }
  }

  const span = result ? result.toMs - result.fromMs : 1
  const pct = (ms: number) => (result ? Math.min(100, Math.max(0, ((ms - result.fromMs) / span) * 100)) : 0)
  const ticks = result ? Array.from({ length: 7 }, (_, i) => result.fromMs + (span * i) / 6) : []

  return (
    <div class="footage-screen" data-testid="footage">
      <aside class="side fx-side">
        <div class="panel-head">
          <h2>{t('fx.cameras')}</h2>
          <span class="muted small" data-testid="fx-picked-count">{t('fx.picked', { n: picked.length })}</span>
          {picked.length > 0 && <button class="small ghost" onClick={() => setPicked([])}>{t('fx.clear')}</button>}
        </div>
        <div class="pad-x">
          <input type="search" placeholder={t('fx.search')} value={query} onInput={(e) => setQuery(e.currentTarget.value)} style={{ width: '100%' }} />
        </div>
        <div class="fx-cams">
          {listed.map((g) => (
            <div key={g.unitId} class="fx-group">
              <div class="fx-unit muted small">{g.name}</div>
              {g.cams.map((c) => (
                <label key={c.id} class="check fx-cam" data-testid="fx-camera" data-camera={c.id}>
                  <input type="checkbox" checked={picked.includes(c.id)} onChange={() => toggle(c.id)} />
                  <StatusDot status={c.status} />
                  <span>{c.name}</span>
                </label>
              ))}
            </div>
          ))}
        </div>
      </aside>

      <div class="page fx-main">
        <div class="page-head">
          <h1>{t('nav.footage')}</h1>
          <label class="fx-time">
            {t('fx.from')}
            <input type="datetime-local" step="1" value={from} onInput={(e) => setFrom(e.currentTarget.value)} data-testid="fx-from" />
          </label>
          <label class="fx-time">
            {t('fx.to')}
            <input type="datetime-local" step="1" value={to} onInput={(e) => setTo(e.currentTarget.value)} data-testid="fx-to" />
          </label>
          <div class="seg">
            <button onClick={() => preset(15)}>{t('fx.last15m')}</button>
            <button onClick={() => preset(60)}>{t('fx.last1h')}</button>
            <button onClick={() => preset(24 * 60)}>{t('fx.last24h')}</button>
          </div>
          <button class="primary" onClick={() => void search()} disabled={searching || !picked.length} data-testid="fx-query">
            {t('fx.query')}
          </button>
        </div>
        {!picked.length && !result && <p class="notice warn">{t('fx.pickFirst')}</p>}

        {result && (
          <div class="card" data-testid="fx-timeline">
            <div class="row">
              <strong>{t('fx.timeline')}</strong>
              <span class="fx-legend small muted">
                <span class="fx-swatch rec" /> {t('fx.legend.rec')} <span class="fx-swatch gap" /> {t('fx.legend.gap')}
              </span>
            </div>
            {result.cameras.map((c) => (
              <div key={c.cameraId} class={`fx-row ${playing?.cameraId === c.cameraId ? 'playing' : ''}`} data-testid="fx-row" data-camera={c.cameraId} data-segments={c.segments.length}>
                <div class="fx-row-name">
                  <span>{c.name}</span>
                  <span class="muted small">{c.segments.length ? t('fx.segments', { n: c.segments.length, gaps: c.gaps.length }) : t('fx.noFootage')}</span>
                  {cameraClockNote(c.segments)}
                </div>
                <div
                  class="fx-track"
                  data-testid="fx-track"
                  title={t('fx.clickToPlay')}
                  onClick={(e) => {
                    const box = e.currentTarget.getBoundingClientRect()
                    void play(c, result.fromMs + ((e.clientX - box.left) / box.width) * span)
                  }}
                >
                  {c.gaps.map((g, i) => (
                    <span key={`g${i}`} class="fx-gap" style={{ left: `${pct(Date.parse(g.from))}%`, width: `${pct(Date.parse(g.to)) - pct(Date.parse(g.from))}%` }} title={`${dateTime(Date.parse(g.from))} – ${clock(Date.parse(g.to))}`} />
                  ))}
                  {c.segments.map((s) => (
                    <span
                      key={s.id}
                      class={`fx-seg ${s.locked ? 'locked' : ''}`}
                      data-testid="fx-seg"
                      style={{ left: `${pct(Date.parse(s.start))}%`, width: `max(2px, ${pct(Date.parse(s.end)) - pct(Date.parse(s.start))}%)` }}
                      title={`${dateTime(Date.parse(s.start))} – ${clock(Date.parse(s.end))}`}
                    />
                  ))}
                  {playing?.cameraId === c.cameraId && wallNow !== null && <span class="fx-head" style={{ left: `${pct(wallNow)}%` }} />}
                </div>
              </div>
            ))}
            <div class="fx-ticks small muted">
              {ticks.map((ms, i) => (
                <span key={i} style={{ left: `${(i / 6) * 100}%` }}>{clock(ms)}</span>
              ))}
            </div>
          </div>
        )}

        {result && (
          <div class="fx-grid">
            <div class="card">
              <div class="row">
                <strong>{t('fx.player')}</strong>
                <span class="muted small">{playing ? t('fx.playing', { name: playing.name }) : t('fx.clickToPlay')}</span>
              </div>
              <video
                ref={videoRef}
                class="fx-video"
                data-testid="fx-video"
                controls
                muted
                playsInline
                onTimeUpdate={(e) => setWallNow(wallOf(e.currentTarget.currentTime))}
              />
              <div class="row small">
                <span>
                  {t('fx.wallClock')}: <b data-testid="fx-wallclock" data-ms={wallNow ?? ''}>{wallNow !== null ? dateTime(wallNow) : '—'}</b>
                </span>
                {wallNow !== null && (
                  <>
                    <button class="small" onClick={() => setExFrom(toLocalInput(Math.floor(wallNow / 1000) * 1000))}>{t('fx.setIn')}</button>
                    <button class="small" onClick={() => setExTo(toLocalInput(Math.ceil(wallNow / 1000) * 1000))}>{t('fx.setOut')}</button>
                  </>
                )}
              </div>
              {playError && <p class="notice error">{t('fx.playError', { msg: playError })}</p>}
            </div>

            <div class="card" data-testid="fx-export">
              <strong>{t('fx.export')}</strong>
              <div class="form-grid">
                <label>
                  {t('fx.from')}
                  <input type="datetime-local" step="1" value={exFrom} onInput={(e) => setExFrom(e.currentTarget.value)} data-testid="fx-ex-from" />
                </label>
                <label>
                  {t('fx.to')}
                  <input type="datetime-local" step="1" value={exTo} onInput={(e) => setExTo(e.currentTarget.value)} data-testid="fx-ex-to" />
                </label>
                <label class="wide">
                  {t('fx.case')}
                  <select value={caseId} onChange={(e) => setCaseId(e.currentTarget.value)} data-testid="fx-case">
                    <option value="">{t('fx.pickCase')}</option>
                    {caseList.map((c) => (
                      <option key={c.id} value={String(c.id)}>
                        {c.number} · {c.title} ({t(`cstate.${c.state}` as Key)})
                      </option>
                    ))}
                  </select>
                </label>
                <label class="wide">
                  {t('fx.reason')}
                  <input value={reason} placeholder={t('fx.reasonHint')} maxLength={1000} onInput={(e) => setReason(e.currentTarget.value)} data-testid="fx-reason" />
                </label>
                <label class="check wide">
                  <input type="checkbox" checked={frameExact} onChange={(e) => setFrameExact(e.currentTarget.checked)} /> {t('fx.frameExact')}
                </label>
              </div>
              {mustLinkCase && (caseId === '' || reason.trim() === '') && <p class="muted small">{t('fx.needCase')}</p>}
              <div class="row">
                <button class="primary" disabled={!exportReady || (job !== null && (job.state === 'queued' || job.state === 'running'))} onClick={() => void startExport()} data-testid="fx-export-start">
                  {t('fx.start')}
                </button>
                <span class="muted small">{exportCameras.length ? exportCameras.map((id) => result.cameras.find((c) => c.cameraId === id)?.name).join('、') : t('fx.noFootage')}</span>
              </div>
              {exportError && <p class="notice error" data-testid="fx-export-error">{exportError}</p>}
              {job && (
                <div class="fx-job" data-testid="fx-job" data-state={job.state}>
                  <div class="row small">
                    <span>{t(`fx.state.${job.state}` as Key)}</span>
                    <span class="num" data-testid="fx-progress-text">{Math.round(job.progress)}%</span>
                  </div>
                  <div class={`fx-progress ${job.state}`} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(job.progress)} data-testid="fx-progress">
                    <span style={{ width: `${Math.min(100, Math.max(0, job.progress))}%` }} />
                  </div>
                  {job.state === 'failed' && <p class="notice error">{job.error ?? t('fx.state.failed')}</p>}
                  {job.state === 'done' && (
                    <a class="fx-download" href={footage.downloadUrl(job.id)} download data-testid="fx-download">
                      ⬇ {t('fx.download')} {bytes(job.size)}
                    </a>
                  )}
                </div>
              )}
            </div>
          </div>
        )}

        <div class="card" data-testid="fx-verify">
          <strong>{t('fx.verify')}</strong>
          <div class="row">
            <label class="file-btn">
              <input type="file" accept=".zip,application/zip" data-testid="fx-verify-file" onChange={(e) => void verify(e.currentTarget.files?.[0])} />
              <span>{t('fx.chooseZip')}</span>
            </label>
            <span class="muted small">{verifying ? t('fx.verifying') : t('fx.verifyHint')}</span>
          </div>
          {verdict && <Verdict file={verdict.file} report={verdict.report} />}
        </div>
      </div>
    </div>
  )
}

function Verdict({ file, report }: { file: string; report: VerifyReport }) {
  return (
    <div class="fx-verdict" data-testid="fx-verdict" data-ok={String(report.ok)}>
      <p class={`notice ${report.ok ? 'ok' : 'error'}`} data-testid="fx-verdict-summary">
        {report.ok ? '✔ ' : '✘ '}
        {report.ok ? t('fx.intact') : t('fx.notIntact')} <span class="small">({file})</span>
      </p>
      <ul class="fx-checks">
        <li class={report.signature === 'valid' ? 'good' : 'bad'} data-testid="fx-signature">{t(`fx.sig.${report.signature}` as Key)}</li>
        {report.key.fingerprint && (
          <li class={report.key.source === 'trusted' ? 'good' : 'bad'}>
            {t(`fx.key.${report.key.source}` as Key)} · <span class="muted small">{t('fx.fingerprint')} {report.key.fingerprint.slice(0, 16)}…</span>
          </li>
        )}
      </ul>
      <table class="grid">
        <tbody>
          {report.files.map((f) => (
            <tr key={f.name} data-testid="fx-file" data-status={f.status}>
              <td>{f.name}</td>
              <td class={f.status === 'ok' ? 'good' : 'bad'}>{t(`fx.file.${f.status}` as Key)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.problems.length > 0 && (
        <ul class="small muted">
          {report.problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** Seconds a camera's own clock was off when its newest segment with a known offset was written: shown from 1 s. */
function cameraClockNote(segments: readonly Segment[]) {
  const known = segments.filter((s) => s.cameraClockOffsetMs !== null)
  const offsetMs = known.at(-1)?.cameraClockOffsetMs
  if (offsetMs === undefined || offsetMs === null || Math.abs(offsetMs) < 1000) return null
  const offset = `${offsetMs > 0 ? '+' : '−'}${(Math.abs(offsetMs) / 1000).toFixed(1)}`
  return (
    <span class="muted small" data-testid="fx-camera-clock" data-offset-ms={offsetMs}>
      {t('fx.cameraClock', { offset })}
    </span>
  )
}
