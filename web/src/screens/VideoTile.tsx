import { useEffect, useRef, useState } from 'preact/hooks'
import type { Camera, PtzFeatures } from '../lib/api'
import { formatClock, stamp, useNow } from '../lib/clock'
import { t, useLang, type Key } from '../lib/i18n'
import { ApiError, cases, ptz } from '../lib/api'
import { app, hasRole, putCamera, selectTile, toast } from '../lib/state'
import { showCase } from './Cases'
import { readStats, startWhep, WhepError, type TileStats, type WhepSession } from '../lib/whep'
import { CAMERA_MIME, StatusDot } from './CameraTree'

type Phase = 'idle' | 'connecting' | 'live' | 'lost' | 'notFound' | 'noVideo'

interface TileDebug {
  cameraId: number | null
  phase: Phase
  stream: 'main' | 'sub'
  stats: TileStats | null
  attempts: number
  /** how the gateway delivers it (x-gateway-video), e.g. passthrough or transcode */
  mode: string | null
  /** simulates a dropped connection (tests, support) */
  drop?: () => void
}

/** Test and support hook: what each tile is doing, read with `window.__gwWall.tiles()`. */
const debugTiles = new Map<number, TileDebug>()
declare global {
  interface Window {
    __gwWall?: { tiles(): Omit<TileDebug, 'drop'>[]; drop(index: number): void }
  }
}
window.__gwWall = {
  tiles: () => [...debugTiles.entries()].sort((a, b) => a[0] - b[0]).map(([, { drop: _drop, ...v }]) => ({ ...v })),
  drop: (index) => debugTiles.get(index)?.drop?.(),
}

const STALL_MS = 6000
const FIRST_FRAME_MS = 12000
const MAX_BACKOFF_S = 30

/** Backoff before reconnect attempt n (1-based): 1, 2, 4, 8, … 30 s, with ±25% jitter. */
export function backoffMs(attempt: number): number {
  const base = Math.min(MAX_BACKOFF_S, 2 ** Math.max(0, attempt - 1)) * 1000
  return Math.round(base * (0.75 + Math.random() * 0.5))
}

export function snapshotTile(index: number, cameraName: string): void {
  const video = document.querySelector<HTMLVideoElement>(`[data-tile="${index}"] video`)
  if (!video || !video.videoWidth) {
    toast(t('wall.snapshotNone'), 'error')
    return
  }
  const canvas = document.createElement('canvas')
  canvas.width = video.videoWidth
  canvas.height = video.videoHeight
  const ctx = canvas.getContext('2d')!
  ctx.drawImage(video, 0, 0)
  const name = `${cameraName.replace(/[\\/:*?"<>|\s]+/g, '_')}_${stamp(Date.now())}.png`
  canvas.toBlob((blob) => {
    if (!blob) return
    const a = document.createElement('a')
    a.href = URL.createObjectURL(blob)
    a.download = name
    a.click()
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000)
    toast(t('wall.snapshotSaved', { name }))
  }, 'image/png')
}

/** A patrol officer opens a case from what they are watching; the gateway takes the snapshot. */
export async function caseFromTile(cameraId: number, cameraName: string): Promise<void> {
  if (!hasRole(app.get().me, 'admin', 'patrol')) return
  try {
    if (document.fullscreenElement) await document.exitFullscreen().catch(() => {})
    const c = await cases.create({ kind: 'other', priority: 'normal', title: t('case.fromTileTitle', { camera: cameraName }), cameraIds: [cameraId], snapshot: true })
    toast(t('case.created', { number: c.number }))
    showCase(c.id)
  } catch (err) {
    toast(err instanceof ApiError ? err.message : String(err), 'error')
  }
}

/** Hold to move, release to stop: what a PTZ joystick does. */
function PtzPad({ cameraId, features }: { cameraId: number; features: PtzFeatures | null }) {
  useLang()
  // a head without a space (a fixed lens has no zoom) gets no buttons for it; unknown: all shown
  const dirs: [string, number, number, number, string][] = [
    ...(features && !features.panTilt.continuous ? [] : ([
      ['▲', 0, 0.5, 0, 'up'],
      ['◀', -0.5, 0, 0, 'left'],
      ['▶', 0.5, 0, 0, 'right'],
      ['▼', 0, -0.5, 0, 'down'],
    ] as [string, number, number, number, string][])),
    ...(features && !features.zoom.continuous ? [] : ([
      ['＋', 0, 0, 0.5, 'zoom-in'],
      ['－', 0, 0, -0.5, 'zoom-out'],
    ] as [string, number, number, number, string][])),
  ]
  const fail = (err: unknown) => toast(err instanceof ApiError ? err.message : String(err), 'error')
  return (
    <div class="ptz-pad" onClick={(e) => e.stopPropagation()} onDblClick={(e) => e.stopPropagation()} data-testid="ptz-pad">
      {dirs.map(([label, pan, tilt, zoom, name]) => (
        <button
          key={name}
          class={`ptz-${name}`}
          title={`${t('wall.ptz')} ${label}`}
          onPointerDown={(e) => {
            ;(e.currentTarget as HTMLElement).setPointerCapture(e.pointerId)
            ptz.move(cameraId, pan, tilt, zoom).catch(fail)
          }}
          onPointerUp={() => ptz.stop(cameraId).catch(fail)}
          onPointerCancel={() => ptz.stop(cameraId).catch(fail)}
        >
          {label}
        </button>
      ))}
    </div>
  )
}

export function fullscreenTile(index: number): void {
  const el = document.querySelector<HTMLElement>(`[data-tile="${index}"]`)
  if (!el) return
  if (document.fullscreenElement) void document.exitFullscreen()
  else void el.requestFullscreen?.().catch(() => {})
}

export function VideoTile(props: { index: number; camera: Camera | null; cameraId: number | null; stream: 'main' | 'sub'; selected: boolean; statsVisible: boolean }) {
  useLang()
  const { index, camera, cameraId } = props
  const now = useNow()
  const videoRef = useRef<HTMLVideoElement>(null)
  const tileRef = useRef<HTMLDivElement>(null)
  const [phase, setPhase] = useState<Phase>('idle')
  const [stats, setStats] = useState<TileStats | null>(null)
  const [retry, setRetry] = useState<{ at: number; attempt: number } | null>(null)
  const [fullscreen, setFullscreen] = useState(false)
  const [dragOver, setDragOver] = useState(false)
  const [mode, setMode] = useState<string | null>(null)
  // A full-screen tile is a wall of one: it takes the main stream.
  const stream = fullscreen ? 'main' : props.stream

  useEffect(() => {
    const onChange = () => setFullscreen(document.fullscreenElement === tileRef.current)
    document.addEventListener('fullscreenchange', onChange)
    return () => document.removeEventListener('fullscreenchange', onChange)
  }, [])

  useEffect(() => {
    const debug: TileDebug = { cameraId, phase: 'idle', stream, stats: null, attempts: 0, mode: null }
    debugTiles.set(index, debug)
    setStats(null)
    setRetry(null)
    if (cameraId === null) {
      setPhase('idle')
      return () => debugTiles.delete(index)
    }
    let cancelled = false
    let session: WhepSession | null = null
    let abort = new AbortController()
    let retryTimer: ReturnType<typeof setTimeout> | undefined
    let watchTimer: ReturnType<typeof setInterval> | undefined
    let attempt = 0
    const show = (p: Phase) => {
      debug.phase = p
      setPhase(p)
    }
    const teardown = () => {
      clearInterval(watchTimer)
      abort.abort()
      session?.close()
      session = null
      if (videoRef.current) videoRef.current.srcObject = null
    }
    const scheduleReconnect = (p: Phase, waitMs?: number) => {
      teardown()
      if (cancelled) return
      attempt++
      debug.attempts = attempt
      const ms = waitMs ?? backoffMs(attempt)
      show(p)
      setRetry({ at: Date.now() + ms, attempt })
      retryTimer = setTimeout(() => void connect(), ms)
    }
    const connect = async () => {
      if (cancelled) return
      abort = new AbortController()
      show('connecting')
      setRetry(null)
      try {
        session = await startWhep(cameraId, stream, abort.signal)
      } catch (err) {
        if (cancelled) return
        if (err instanceof WhepError && err.status === 401) return // the app goes back to the login screen
        if (err instanceof WhepError && err.status === 404) {
          // no such camera for this user, or the live-video API is not there: try again slowly
          const noRoute = /no route/i.test(err.message)
          return scheduleReconnect(noRoute ? 'noVideo' : 'notFound', 30_000)
        }
        return scheduleReconnect('lost')
      }
      if (cancelled) {
        session.close()
        return
      }
      debug.mode = session.mode
      setMode(session.mode)
      debug.drop = () => session?.pc.close()
      const video = videoRef.current!
      video.srcObject = session.stream
      void video.play().catch(() => {})
      const startedAt = Date.now()
      let lastFrames = 0
      let lastProgress = 0
      let mark: { bytes: number; at: number } | null = null
      const pc = session.pc
      watchTimer = setInterval(async () => {
        if (cancelled || !session) return
        const state = pc.connectionState
        if (state === 'failed' || state === 'closed') return scheduleReconnect('lost')
        const read = await readStats(pc, mark).catch(() => null)
        if (!read || cancelled) return
        mark = read.mark
        debug.stats = read.stats
        setStats(read.stats)
        if (read.stats.framesDecoded > lastFrames) {
          lastFrames = read.stats.framesDecoded
          lastProgress = Date.now()
          if (debug.phase !== 'live') {
            attempt = 0
            show('live')
          }
        }
        const stalled = lastProgress ? Date.now() - lastProgress > STALL_MS : Date.now() - startedAt > FIRST_FRAME_MS
        if (stalled) scheduleReconnect('lost')
      }, 1000)
    }
    void connect()
    return () => {
      cancelled = true
      clearTimeout(retryTimer)
      teardown()
      debugTiles.delete(index)
    }
  }, [cameraId, stream, index])

  const retryIn = retry ? Math.max(0, Math.ceil((retry.at - now) / 1000)) : 0
  return (
    <div
      ref={tileRef}
      class={`tile phase-${phase}${props.selected ? ' selected' : ''}${dragOver ? ' drag-over' : ''}`}
      data-tile={index}
      data-testid="wall-tile"
      data-camera-id={cameraId ?? ''}
      data-phase={phase}
      data-frames={stats?.framesDecoded ?? 0}
      onClick={() => selectTile(index)}
      onDblClick={() => fullscreenTile(index)}
      onDragOver={(e) => {
        if (e.dataTransfer?.types.includes(CAMERA_MIME)) {
          e.preventDefault()
          e.dataTransfer.dropEffect = 'copy'
          setDragOver(true)
        }
      }}
      onDragLeave={() => setDragOver(false)}
      onDrop={(e) => {
        e.preventDefault()
        setDragOver(false)
        const id = Number(e.dataTransfer?.getData(CAMERA_MIME))
        if (id > 0) putCamera(index, id)
      }}
    >
      <video ref={videoRef} muted autoplay playsInline />
      {cameraId === null ? (
        <div class="tile-empty">
          <span class="tile-no">{index + 1}</span>
          <span>{t('wall.empty')}</span>
        </div>
      ) : (
        <>
          <div class="tile-top">
            <span class="tile-name" data-testid="tile-name">
              {camera && <StatusDot status={camera.status} />}
              {camera?.name ?? `#${cameraId}`}
            </span>
            <span class="tile-clock" data-testid="tile-clock">
              <span class="tile-date">{formatClock(now).slice(0, 11)}</span>
              {formatClock(now).slice(11)}
            </span>
          </div>
          {phase !== 'live' && (
            <div class={`tile-msg ${phase}`} data-testid="tile-msg">
              {phase === 'connecting' && t('wall.connecting')}
              {phase === 'lost' && (retry ? t('wall.reconnecting', { s: retryIn, n: retry.attempt }) : t('wall.lost'))}
              {phase === 'notFound' && t('wall.notFound')}
              {phase === 'noVideo' && t('wall.noVideo')}
            </div>
          )}
          {props.statsVisible && (
            <div class="tile-stats" data-testid="tile-stats">
              <span>{t(`wall.${stream}` as Key)}{mode ? ` · ${mode}` : ''}</span>
              <span>{stats?.width ? `${stats.width}×${stats.height}` : '—'}</span>
              <span>{t('wall.fps')} {stats ? stats.fps.toFixed(0) : '—'}</span>
              <span>{t('wall.bitrate')} {stats ? `${stats.bitrateKbps.toFixed(0)} kbps` : '—'}</span>
              <span>{t('wall.delay')} {stats ? `${stats.delayMs.toFixed(0)} ms` : '—'}</span>
              <span>{t('wall.frames')} {stats?.framesDecoded ?? 0}</span>
            </div>
          )}
          {camera?.capabilities.ptz && <PtzPad cameraId={camera.id} features={camera.capabilities.ptzFeatures ?? null} />}
          <div class="tile-actions">
            {hasRole(app.get().me, 'admin', 'patrol') && (
              <button title={t('case.fromTile')} onClick={(e) => { e.stopPropagation(); void caseFromTile(cameraId, camera?.name ?? String(cameraId)) }} data-testid="tile-case">
                {t('case.fromTile')}
              </button>
            )}
            <button title={t('wall.snapshot')} onClick={(e) => { e.stopPropagation(); snapshotTile(index, camera?.name ?? String(cameraId)) }}>{t('wall.snapshot')}</button>
            <button title={t('wall.fullscreen')} onClick={(e) => { e.stopPropagation(); fullscreenTile(index) }}>{t('wall.fullscreen')}</button>
            <button title={t('wall.close')} onClick={(e) => { e.stopPropagation(); putCamera(index, null) }} data-testid="tile-close">✕</button>
          </div>
        </>
      )}
    </div>
  )
}
