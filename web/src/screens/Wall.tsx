import { useEffect, useState } from 'preact/hooks'
import { api, ApiError } from '../lib/api'
import { useNow } from '../lib/clock'
import { t, useLang } from '../lib/i18n'
import {
  app,
  clearWall,
  hasRole,
  moveSelection,
  refreshTours,
  setWallSize,
  startTour,
  stopTour,
  toast,
  toggleTourPause,
  tourStep,
  WALL_SIZES,
  type WallSize,
} from '../lib/state'
import { useStore } from '../lib/store'
import { CameraTree } from './CameraTree'
import { caseFromTile, fullscreenTile, snapshotTile, VideoTile } from './VideoTile'

function isTyping(e: KeyboardEvent): boolean {
  const el = e.target as HTMLElement | null
  if (!el) return false
  // Space and Enter on a focused button press the button, not a shortcut
  if ((e.key === ' ' || e.key === 'Enter') && (el.tagName === 'BUTTON' || el.tagName === 'A')) return true
  return el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable
}

export function WallScreen() {
  useLang()
  const size = useStore(app, (s) => s.wallSize)
  const tiles = useStore(app, (s) => s.tiles)
  const selected = useStore(app, (s) => s.selectedTile)
  const statsVisible = useStore(app, (s) => s.statsVisible)
  const cameras = useStore(app, (s) => s.cameras)
  const [help, setHelp] = useState(false)
  const byId = new Map(cameras.map((c) => [c.id, c]))
  const cols = Math.sqrt(size)
  // main stream for a wall of one, sub streams for bigger walls (a full-screen tile switches to main)
  const stream = size === 1 ? 'main' : 'sub'

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return
      const s = app.get()
      const cam = s.tiles[s.selectedTile]
      const layouts: Record<string, WallSize> = { '1': 1, '4': 4, '9': 9, '0': 16 }
      switch (e.key) {
        case 'ArrowRight':
          moveSelection(1)
          break
        case 'ArrowLeft':
          moveSelection(-1)
          break
        case 'ArrowDown':
          moveSelection(Math.sqrt(s.wallSize))
          break
        case 'ArrowUp':
          moveSelection(-Math.sqrt(s.wallSize))
          break
        case 'n':
        case 'N':
        case 'PageDown':
          tourStep(1)
          break
        case 'p':
        case 'P':
        case 'PageUp':
          tourStep(-1)
          break
        case ' ':
          toggleTourPause()
          break
        case 'f':
        case 'F':
        case 'Enter':
          fullscreenTile(s.selectedTile)
          break
        case 's':
        case 'S':
          if (cam) snapshotTile(s.selectedTile, s.cameras.find((c) => c.id === cam)?.name ?? String(cam))
          break
        case 'c':
        case 'C':
          if (cam) void caseFromTile(cam, s.cameras.find((c) => c.id === cam)?.name ?? String(cam))
          break
        case 'i':
        case 'I':
          app.set({ statsVisible: !s.statsVisible })
          break
        case '?':
          setHelp((h) => !h)
          break
        case 'Escape':
          setHelp(false)
          return
        default:
          if (layouts[e.key]) setWallSize(layouts[e.key]!)
          else return
      }
      e.preventDefault()
    }
    addEventListener('keydown', onKey)
    return () => removeEventListener('keydown', onKey)
  }, [])

  return (
    <div class="wall-screen">
      <aside class="side">
        <CameraTree />
      </aside>
      <section class="wall-area">
        <div class="toolbar">
          <span class="muted">{t('wall.layout')}</span>
          <div class="seg" role="group" data-testid="layouts">
            {WALL_SIZES.map((n) => (
              <button key={n} class={n === size ? 'on' : ''} onClick={() => setWallSize(n)} data-size={n} title={`${n}`}>
                <LayoutIcon n={n} />
                {n}
              </button>
            ))}
          </div>
          <button class={statsVisible ? 'on' : ''} onClick={() => app.set({ statsVisible: !statsVisible })} data-testid="toggle-stats">
            {t('wall.stats')}
          </button>
          <button onClick={clearWall}>{t('wall.clear')}</button>
          <button class="ghost" onClick={() => setHelp(!help)} title={t('keys.title')} data-testid="keys-help">
            ⌨ ?
          </button>
          <TourBar />
        </div>
        <div class="wall" style={{ gridTemplateColumns: `repeat(${cols}, 1fr)`, gridTemplateRows: `repeat(${cols}, 1fr)` }} data-testid="wall" data-size={size}>
          {tiles.map((id, i) => (
            <VideoTile key={i} index={i} cameraId={id} camera={id === null ? null : byId.get(id) ?? null} stream={stream} selected={i === selected} statsVisible={statsVisible} />
          ))}
        </div>
        {help && <KeyHelp onClose={() => setHelp(false)} />}
      </section>
      <aside class="side right">
        <ToursPanel />
      </aside>
    </div>
  )
}

function LayoutIcon({ n }: { n: number }) {
  const k = Math.sqrt(n)
  const cells = []
  for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) cells.push(<rect key={`${r}${c}`} x={1 + (c * 14) / k} y={1 + (r * 14) / k} width={14 / k - 1} height={14 / k - 1} rx="0.5" />)
  return (
    <svg class="layout-icon" viewBox="0 0 16 16" aria-hidden="true">
      {cells}
    </svg>
  )
}

function TourBar() {
  useLang()
  const run = useStore(app, (s) => s.run)
  const now = useNow()
  if (!run) return null
  const left = Math.max(0, Math.ceil((run.stepStartedAt + run.tour.intervalSeconds * 1000 - now) / 1000))
  return (
    <div class="tourbar" data-testid="tour-bar">
      <span class="tour-name">⟳ {run.tour.name}</span>
      <span class="tour-step" data-testid="tour-step" data-step={run.step}>
        {t('tour.step', { step: run.step + 1, steps: run.steps })}
      </span>
      <span class="muted small">{run.paused ? t('tour.paused') : t('tour.next_in', { s: left })}</span>
      <button onClick={() => tourStep(-1)} title="P">{t('tour.prev')}</button>
      <button onClick={toggleTourPause} title="Space" data-testid="tour-pause">{run.paused ? t('tour.resume') : t('tour.pause')}</button>
      <button onClick={() => tourStep(1)} title="N" data-testid="tour-next">{t('tour.next')}</button>
      <button class="danger" onClick={stopTour} data-testid="tour-stop">{t('tour.stop')}</button>
    </div>
  )
}

function ToursPanel() {
  useLang()
  const tours = useStore(app, (s) => s.tours)
  const selection = useStore(app, (s) => s.selection)
  const run = useStore(app, (s) => s.run)
  const me = useStore(app, (s) => s.me)
  const canEdit = hasRole(me, 'admin', 'patrol')
  const [name, setName] = useState('')
  const [interval, setIntervalS] = useState(10)
  const [busy, setBusy] = useState(false)

  const create = async (e: Event) => {
    e.preventDefault()
    if (!selection.length) return toast(t('tour.pickFirst'), 'error')
    setBusy(true)
    try {
      const unitId = me?.unit?.id
      const tour = await api.createTour({ name: name.trim(), intervalSeconds: interval, cameraIds: selection, ...(unitId ? {} : { unitId: app.get().units[0]?.id }) })
      toast(t('tour.created', { name: tour.name }))
      setName('')
      app.set({ selection: [] })
      await refreshTours()
    } catch (err) {
      toast(err instanceof ApiError ? err.message : String(err), 'error')
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="tours" data-testid="tours">
      <div class="panel-head">
        <h2>{t('tour.title')}</h2>
      </div>
      {tours.length === 0 && <p class="muted pad">{t('tour.none')}</p>}
      <ul class="tour-list">
        {tours.map((tour) => (
          <li key={tour.id} class={run?.tour.id === tour.id ? 'running' : ''} data-testid="tour-item" data-tour-id={tour.id}>
            <div class="tour-title">{tour.name}</div>
            <div class="muted small">
              {t('tour.cameras', { n: tour.cameraIds.length })} · {t('tour.every', { s: tour.intervalSeconds })}
            </div>
            <div class="row">
              {run?.tour.id === tour.id ? (
                <button key="stop" class="danger small" onClick={stopTour}>{t('tour.stop')}</button>
              ) : (
                <button
                  key="run"
                  class="primary small"
                  onClick={(e) => {
                    // the keyboard now drives the tour (Space, N, P): do not leave focus on a button
                    e.currentTarget.blur()
                    startTour(tour)
                  }}
                  data-testid="tour-run"
                  disabled={tour.cameraIds.length === 0}
                >
                  ▶ {t('tour.run')}
                </button>
              )}
              {canEdit && (
                <button
                  class="ghost small"
                  onClick={async () => {
                    if (run?.tour.id === tour.id) stopTour()
                    try {
                      await api.deleteTour(tour.id)
                      await refreshTours()
                    } catch (err) {
                      toast(err instanceof ApiError ? err.message : String(err), 'error')
                    }
                  }}
                >
                  {t('tour.delete')}
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      {canEdit && (
        <form class="tour-form" onSubmit={create} data-testid="tour-form">
          <h3>{t('tour.new')}</h3>
          <p class="muted small">{selection.length ? t('tree.selected', { n: selection.length }) : t('tour.pickFirst')}</p>
          <label>
            {t('tour.name')}
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={100} name="tour-name" />
          </label>
          <label>
            {t('tour.interval')}
            <input type="number" min={3} max={3600} value={interval} onInput={(e) => setIntervalS(Number(e.currentTarget.value))} name="tour-interval" />
          </label>
          <button class="primary" type="submit" disabled={busy || !selection.length || !name.trim()}>
            {t('tour.create')}
          </button>
        </form>
      )}
    </section>
  )
}

function KeyHelp({ onClose }: { onClose: () => void }) {
  useLang()
  const rows: [string, string][] = [
    ['← → ↑ ↓', t('keys.nextTile')],
    ['N / P', t('keys.tour')],
    ['Space', t('keys.pause')],
    ['F / Enter', t('keys.full')],
    ['S', t('keys.snap')],
    ['C', t('keys.case')],
    ['I', t('keys.stats')],
    ['1 / 4 / 9 / 0', t('keys.layout')],
    ['?', t('keys.help')],
  ]
  return (
    <div class="modal-back" onClick={onClose}>
      <div class="modal" onClick={(e) => e.stopPropagation()} data-testid="key-help">
        <h2>{t('keys.title')}</h2>
        <table class="keys">
          <tbody>
            {rows.map(([k, v]) => (
              <tr key={k}>
                <td><kbd>{k}</kbd></td>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button onClick={onClose}>{t('common.close')}</button>
      </div>
    </div>
  )
}
