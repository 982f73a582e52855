import { EventEmitter } from 'node:events'

/**
 * The gateway's internal event bus: features publish facts (a camera went offline, a case
 * changed) and others subscribe, without importing each other. Event names and payloads are
 * declared here so publishers and subscribers agree at compile time.
 */
export interface GatewayEvents {
  'audit.appended': { id: number; action: string }
  'camera.created': { cameraId: number; unitId: number }
  'camera.updated': { cameraId: number; unitId: number; changed: string[] }
  'camera.deleted': { cameraId: number; unitId: number }
  'camera.online': { cameraId: number; unitId: number; at: string }
  'camera.offline': { cameraId: number; unitId: number; at: string; reasons: string[] }
  'camera.degraded': { cameraId: number; unitId: number; at: string; reasons: string[] }
  'alarm.received': { alarmId: number; kind: string; cameraId: number | null; unitId: number; caseId: number | null }
  'case.opened': { caseId: number; number: string; kind: string; priority: string; unitId: number }
  'case.transition': { caseId: number; from: string; to: string; unitId: number }
  'case.escalated': { caseId: number; fromUnitId: number; toUnitId: number }
}

export class EventBus {
  readonly #emitter = new EventEmitter({ captureRejections: false })
  constructor() {
    this.#emitter.setMaxListeners(100)
  }
  on<K extends keyof GatewayEvents>(name: K, listener: (event: GatewayEvents[K]) => void): () => void {
    this.#emitter.on(name, listener)
    return () => this.#emitter.off(name, listener)
  }
  emit<K extends keyof GatewayEvents>(name: K, event: GatewayEvents[K]): void {
    // A throwing subscriber must not break the publisher (a failed SSE write must not undo a case).
    for (const listener of this.#emitter.listeners(name)) {
      try {
        ;(listener as (e: GatewayEvents[K]) => void)(event)
      } catch (err) {
        this.#emitter.emit('error', err)
      }
    }
  }
  onError(listener: (err: unknown) => void): void {
    this.#emitter.on('error', listener)
  }
  close(): void {
    this.#emitter.removeAllListeners()
  }
}
