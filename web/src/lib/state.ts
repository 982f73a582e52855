import { api, setUnauthorizedHandler, type Camera, type Me, type Role, type Tour, type Unit } from './api'
import { connectEvents, disconnectEvents, liveEvents, onCameraStatus, reconnectEventsIfClosed, type CameraStatusChange } from './events'
import { createStore } from './store'

export type WallSize = 1 | 4 | 9 | 16
export const WALL_SIZES: WallSize[] = [1, 4, 9, 16]

export interface TourRun {
  tour: Tour
  /** index of the current page of cameras shown on the wall */
  step: number
  steps: number
  paused: boolean
  /** when the current step started (ms), for the countdown */
  stepStartedAt: number
  /** the wall as it was before the tour, restored when it stops */
  savedTiles: (number | null)[]
}

export interface AppState {
  me: Me | null
  /** true while we ask /api/auth/me on start-up */
  checking: boolean
  /** why the login screen is shown: an expired session says so */
  expired: boolean
  units: Unit[]
  cameras: Camera[]
  camerasLoaded: boolean
  wallSize: WallSize
  tiles: (number | null)[]
  /** cameras of tiles hidden by a smaller layout, given back when the wall grows again */
  spareTiles: (number | null)[]
  selectedTile: number
  statsVisible: boolean
  /** cameras ticked in the tree, e.g. to make a tour */
  selection: number[]
  tours: Tour[]
  run: TourRun | null
  toast: { text: string; kind: 'info' | 'error' } | null
}

export const app = createStore<AppState>({
  me: null,
  checking: true,
  expired: false,
  units: [],
  cameras: [],
  camerasLoaded: false,
  wallSize: 4,
  tiles: [null, null, null, null],
  spareTiles: [],
  selectedTile: 0,
  statsVisible: false,
  selection: [],
  tours: [],
  run: null,
  toast: null,
})

export const hasRole = (me: Me | null, ...roles: Role[]) => !!me && roles.some((r) => me.user.roles.includes(r))

setUnauthorizedHandler(() => {
  disconnectEvents()
  if (app.get().me) app.set({ me: null, expired: true, run: null })
})

let toastTimer: ReturnType<typeof setTimeout> | undefined
export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  app.set({ toast: { text, kind } })
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => app.set({ toast: null }), kind === 'error' ? 6000 : 3000)
}

export async function loadSession(): Promise<void> {
  try {
    const me = await api.me()
    app.set({ me, checking: false })
    await loadData()
  } catch {
    app.set({ me: null, checking: false })
  }
}

/** when the camera list was last read whole (the slow poll's clock) */
let lastCameraRefresh = 0

export async function loadData(): Promise<void> {
  // the stream first: a status change while the lists load is then not missed
  connectEvents()
  const [units, cameras, layout, tours] = await Promise.all([api.units(), api.allCameras(), api.layout(), api.tours()])
  lastCameraRefresh = Date.now()
  app.set({ units, cameras: withPushed(cameras), camerasLoaded: true, wallSize: layout.size, tiles: fit(layout.tiles, layout.size), spareTiles: [], tours, selectedTile: 0 })
}

export async function refreshCameras(): Promise<void> {
  lastCameraRefresh = Date.now()
  app.set({ cameras: withPushed(await api.allCameras()) })
}

// Status dots by push: each camera.status event updates that camera in place (tree, map, wall).
// A list read while an event was on its way may be older than the event: the newer status wins.
const pushed = new Map<number, CameraStatusChange>()
function withPushed(cameras: Camera[]): Camera[] {
  return cameras.map((c) => {
    const p = pushed.get(c.id)
    return p && (c.statusChangedAt === null || p.since > c.statusChangedAt) ? { ...c, status: p.status, statusReasons: p.reasons, statusChangedAt: p.since } : c
  })
}
onCameraStatus((change) => {
  pushed.set(change.id, change)
  const { cameras } = app.get()
  const i = cameras.findIndex((c) => c.id === change.id)
  if (i < 0) return
  const next = [...cameras]
  next[i] = { ...cameras[i]!, status: change.status, statusReasons: change.reasons, statusChangedAt: change.since }
  app.set({ cameras: next })
})

// After the stream was down, read the cameras once: what changed meanwhile may not be replayed.
let streamWasUp = false
let streamDropped = false
liveEvents.subscribe(() => {
  const { connected } = liveEvents.get()
  if (connected === streamWasUp) return
  streamWasUp = connected
  if (!connected) streamDropped = true
  else if (streamDropped && app.get().me) {
    streamDropped = false
    refreshCameras().catch(() => {})
  }
})

export async function refreshTours(): Promise<void> {
  app.set({ tours: await api.tours() })
}

export function fit(tiles: (number | null)[], size: number): (number | null)[] {
  return Array.from({ length: size }, (_, i) => tiles[i] ?? null)
}

// --- the wall ----------------------------------------------------------------------------------
let saveTimer: ReturnType<typeof setTimeout> | undefined
function saveSoon(): void {
  if (app.get().run) return // a running tour does not overwrite the saved wall
  clearTimeout(saveTimer)
  saveTimer = setTimeout(() => {
    const { wallSize, tiles, me } = app.get()
    if (!me) return
    api.saveLayout(wallSize, tiles).catch((err: Error) => toast(err.message, 'error'))
  }, 400)
}

export function setWallSize(size: WallSize): void {
  const { tiles, spareTiles, selectedTile, run } = app.get()
  if (run) {
    // a running tour refills the wall from its own list; the user's wall stays put aside
    app.set({ wallSize: size, selectedTile: Math.min(selectedTile, size - 1) })
    showStep(run.step, true)
    return
  }
  const all = [...tiles, ...spareTiles]
  app.set({ wallSize: size, tiles: fit(all, size), spareTiles: all.slice(size), selectedTile: Math.min(selectedTile, size - 1) })
  saveSoon()
}

export function putCamera(tile: number, cameraId: number | null): void {
  const tiles = [...app.get().tiles]
  tiles[tile] = cameraId
  app.set({ tiles, selectedTile: tile })
  saveSoon()
}

/** Opens a camera on the selected tile if it is empty, else on the first empty tile, else the selected one. */
export function openCamera(cameraId: number): void {
  const { tiles, selectedTile } = app.get()
  if (tiles.includes(cameraId)) {
    app.set({ selectedTile: tiles.indexOf(cameraId) })
    return
  }
  const target = tiles[selectedTile] === null ? selectedTile : tiles.indexOf(null) >= 0 ? tiles.indexOf(null) : selectedTile
  putCamera(target, cameraId)
}

export function clearWall(): void {
  app.set({ tiles: fit([], app.get().wallSize), spareTiles: [] })
  saveSoon()
}

export function selectTile(i: number): void {
  app.set({ selectedTile: i })
}

export function moveSelection(delta: number): void {
  const { selectedTile, wallSize } = app.get()
  app.set({ selectedTile: (selectedTile + delta + wallSize) % wallSize })
}

export function toggleSelection(cameraId: number): void {
  const sel = app.get().selection
  app.set({ selection: sel.includes(cameraId) ? sel.filter((id) => id !== cameraId) : [...sel, cameraId] })
}

// --- patrol tours ------------------------------------------------------------------------------
let tourTimer: ReturnType<typeof setInterval> | undefined

function showStep(step: number, keepClock = false): void {
  const run = app.get().run
  if (!run) return
  const size = app.get().wallSize
  const ids = run.tour.cameraIds
  const steps = Math.max(1, Math.ceil(ids.length / size))
  const s = ((step % steps) + steps) % steps
  const tiles = Array.from({ length: size }, (_, i) => ids[s * size + i] ?? null)
  app.set({ tiles, run: { ...run, step: s, steps, stepStartedAt: keepClock ? run.stepStartedAt : Date.now() } })
}

export function startTour(tour: Tour): void {
  stopTour()
  app.set({ run: { tour, step: 0, steps: 1, paused: false, stepStartedAt: Date.now(), savedTiles: [...app.get().tiles, ...app.get().spareTiles] } })
  showStep(0)
  tourTimer = setInterval(() => {
    const run = app.get().run
    if (!run || run.paused) return
    if (Date.now() - run.stepStartedAt >= run.tour.intervalSeconds * 1000) showStep(run.step + 1)
  }, 250)
}

export function tourStep(delta: number): void {
  const run = app.get().run
  if (run) showStep(run.step + delta)
}

export function toggleTourPause(): void {
  const run = app.get().run
  if (!run) return
  // resuming restarts the step's clock so the current page gets its full interval
  app.set({ run: { ...run, paused: !run.paused, stepStartedAt: Date.now() } })
}

export function stopTour(): void {
  clearInterval(tourTimer)
  const run = app.get().run
  if (!run) return
  const size = app.get().wallSize
  app.set({ run: null, tiles: fit(run.savedTiles, size), spareTiles: run.savedTiles.slice(size) })
  saveSoon()
}

export async function logout(): Promise<void> {
  stopTour()
  disconnectEvents()
  try {
    await api.logout()
  } catch {
    /* the session may already be gone */
  }
  app.set({ me: null, expired: false, cameras: [], units: [], camerasLoaded: false, selection: [], tours: [] })
}

// Session expiry without any request: ask the server now and then. Status dots come by push; the
// camera list is polled only while the stream is down, and re-read every 10 minutes regardless
// (names, reasons and other edits that are not pushed).
const POLL_MS = 60_000
const FULL_REFRESH_MS = 10 * 60_000
setInterval(() => {
  if (!app.get().me || document.visibilityState !== 'visible') return
  reconnectEventsIfClosed()
  api
    .me()
    .then(() => (!liveEvents.get().connected || Date.now() - lastCameraRefresh >= FULL_REFRESH_MS ? refreshCameras() : undefined))
    .catch(() => {})
}, POLL_MS)
