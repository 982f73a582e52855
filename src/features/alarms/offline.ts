import type { EventBus } from '../../core/events.js'
import type { CasesService } from '../cases/index.js'
import type { RegistryService } from '../registry/index.js'
import type { AlarmIngest } from './ingest.js'
import type { AlarmStore } from './store.js'

/**
 * Camera outages from the health feature: `camera.offline` lasting longer than the configured delay
 * opens one camera_offline fault case (through the alarm pipeline, so rules apply); `camera.online`
 * before then cancels; online after the case exists adds a timeline note.
 * Pending delays are in memory; start() re-arms them after a restart from the cameras the registry
 * still marks offline (with the time already spent offline counted).
 */
export class OfflineWatcher {
  readonly #timers = new Map<number, NodeJS.Timeout>()
  readonly #off: (() => void)[] = []
  #closed = false

  constructor(private readonly deps: { bus: EventBus; ingest: AlarmIngest; cases: CasesService; store: AlarmStore; delaySeconds: number; log: (err: unknown) => void }) {
    this.#off.push(deps.bus.on('camera.offline', (e) => this.#offline(e.cameraId, e.at, e.reasons)))
    this.#off.push(deps.bus.on('camera.online', (e) => this.#online(e.cameraId, e.at)))
    this.#off.push(deps.bus.on('camera.deleted', (e) => this.#cancel(e.cameraId)))
  }

  /** After a restart: cameras still offline get their wait back, minus the time already spent offline. */
  start(registry: RegistryService): void {
    for (const { camera } of registry.iterateEnabledForSystem()) {
      if (camera.status !== 'offline' || !camera.statusChangedAt) continue
      if (this.deps.cases.openCaseOf(camera.id, 'camera_offline') !== undefined) continue
      const spentMs = Math.max(0, Date.now() - Date.parse(camera.statusChangedAt))
      this.#offline(camera.id, camera.statusChangedAt, camera.statusReasons, Math.max(0, this.deps.delaySeconds * 1000 - spentMs))
    }
  }

  get pending(): number {
    return this.#timers.size
  }

  close(): void {
    this.#closed = true
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
    for (const off of this.#off) off()
  }

  #cancel(cameraId: number): void {
    const t = this.#timers.get(cameraId)
    if (t) clearTimeout(t)
    this.#timers.delete(cameraId)
  }

  #offline(cameraId: number, at: string, reasons: string[], delayMs = this.deps.delaySeconds * 1000): void {
    if (this.#closed || this.#timers.has(cameraId)) return
    const t = setTimeout(() => {
      this.#timers.delete(cameraId)
      const camera = this.deps.store.camera(cameraId)
      const unit = camera && this.deps.ingest.unit(camera.unitId)
      if (!camera || !unit) return
      this.deps.ingest
        .submit({ kind: 'camera_offline', origin: 'health', source: null, camera, unit, occurredAt: at, description: reasons.length ? `offline since ${at}: ${reasons.join('; ')}` : `offline since ${at}`, payload: { reasons, offlineSince: at } })
        .catch(this.deps.log)
    }, delayMs)
    t.unref()
    this.#timers.set(cameraId, t)
  }

  #online(cameraId: number, at: string): void {
    if (this.#timers.has(cameraId)) {
      this.#cancel(cameraId)
      return
    }
    const caseId = this.deps.cases.openCaseOf(cameraId, 'camera_offline')
    if (caseId === undefined) return
    try {
      this.deps.cases.noteWithTransaction(caseId, { name: 'system:health', id: null }, `camera back online at ${at}`, { online: true, at })
    } catch (err) {
      this.deps.log(err)
    }
  }
}
