import type { Case, CameraStatus } from './api'
import { createStore } from './store'

/**
 * The live event stream (Server-Sent Events, scoped by the server to the user's subtree). The
 * browser's EventSource reconnects by itself and resumes with Last-Event-ID. Screens listen to
 * `liveEvents`; new urgent or high-priority alarms and one-button alarms ring and flash anywhere;
 * camera status changes go to `onCameraStatus` listeners (the status dots of tree, map and wall).
 */
export interface LiveEvent {
  id: number
  type: string
  case?: Partial<Case> & { id: number }
}

export const liveEvents = createStore<{ last: LiveEvent | null; connected: boolean; flash: (Partial<Case> & { id: number }) | null }>({ last: null, connected: false, flash: null })

let source: EventSource | null = null
const TYPES = ['alarm.new', 'case.created', 'case.updated', 'case.transition', 'case.escalated', 'case.overdue']

export interface CameraStatusChange {
  id: number
  unitId: number
  status: CameraStatus
  previous: CameraStatus
  reasons: string[]
  since: string
}
const statusListeners = new Set<(c: CameraStatusChange) => void>()
/** Called for every camera.status event; returns the unsubscribe. */
export function onCameraStatus(fn: (c: CameraStatusChange) => void): () => void {
  statusListeners.add(fn)
  return () => statusListeners.delete(fn)
}

export function isPressing(c: Partial<Case>): boolean {
  return c.priority === 'urgent' || c.priority === 'high' || c.kind === 'one_button_alarm' || c.kind === 'one_button_help'
}

let audio: AudioContext | null = null
/** Two short tones: no sound file to ship, works offline. */
export function ring(): void {
  try {
    audio ??= new AudioContext()
    const now = audio.currentTime
    for (const [i, f] of [880, 660, 880].entries()) {
      const osc = audio.createOscillator()
      const gain = audio.createGain()
      osc.frequency.value = f
      gain.gain.setValueAtTime(0.0001, now + i * 0.22)
      gain.gain.exponentialRampToValueAtTime(0.25, now + i * 0.22 + 0.02)
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.22 + 0.2)
      osc.connect(gain).connect(audio.destination)
      osc.start(now + i * 0.22)
      osc.stop(now + i * 0.22 + 0.21)
    }
  } catch {
    /* no audio device: the flash still shows */
  }
}

let flashTimer: ReturnType<typeof setTimeout> | undefined
export function connectEvents(): void {
  if (source) return
  source = new EventSource('/api/events/stream', { withCredentials: true })
  source.onopen = () => liveEvents.set({ connected: true })
  source.onerror = () => liveEvents.set({ connected: false })
  for (const type of TYPES) {
    source.addEventListener(type, (msg) => {
      let data: { id: number; case?: LiveEvent['case'] }
      try {
        data = JSON.parse((msg as MessageEvent<string>).data) as typeof data
      } catch {
        return
      }
      const ev: LiveEvent = { id: data.id, type, case: data.case }
      liveEvents.set({ last: ev })
      if (type === 'case.created' && ev.case && isPressing(ev.case)) {
        ring()
        liveEvents.set({ flash: ev.case })
        clearTimeout(flashTimer)
        flashTimer = setTimeout(() => liveEvents.set({ flash: null }), 15_000)
      }
    })
  }
  source.addEventListener('camera.status', (msg) => {
    let data: { camera?: CameraStatusChange }
    try {
      data = JSON.parse((msg as MessageEvent<string>).data) as typeof data
    } catch {
      return
    }
    if (data.camera) for (const fn of [...statusListeners]) fn(data.camera)
  })
}

/**
 * EventSource retries by itself after a network error, but gives up for good on an HTTP error
 * (a gateway restarting behind a proxy, say): start a new one then. Called by the slow poll.
 */
export function reconnectEventsIfClosed(): void {
  if (source && source.readyState === EventSource.CLOSED) {
    source = null
    connectEvents()
  }
}

export function disconnectEvents(): void {
  source?.close()
  source = null
  liveEvents.set({ connected: false, flash: null })
}
