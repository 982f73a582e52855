import { setTimeout as sleep } from 'node:timers/promises'
import type { EventBus } from '../../core/events.js'
import { OnvifClient, OnvifSubscriptionGoneError, type PullPointSubscription } from '../../lib/onvif/index.js'
import type { Camera, CameraCredentials, RegistryService } from '../registry/index.js'
import type { AlarmIngest } from './ingest.js'

export interface PullPointSettings {
  /** InitialTerminationTime / Renew duration asked of the camera */
  terminationSeconds: number
  /** PullMessages long-poll timeout */
  pullTimeoutSeconds?: number
  /** per-request deadline of the ONVIF client */
  requestTimeoutMs?: number
  backoffMinMs?: number
  backoffMaxMs?: number
  /** how often the camera list is compared with the running subscriptions */
  resyncSeconds?: number
}

type Log = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void }

export interface PullPointStatus {
  cameraId: number
  state: 'subscribing' | 'pulling' | 'backoff' | 'stopped'
  subscriptions: number
  renewals: number
  failures: number
  events: number
  lastError: string | null
}

/**
 * ONVIF events by PullPoint for every enabled camera that has them. One independent loop per
 * camera (a slow or dead camera never blocks another): CreatePullPointSubscription, PullMessages
 * long polls, Renew before the camera's termination time, and a new subscription after any
 * failure or a camera reboot (the device forgets subscriptions), with capped exponential backoff
 * and jitter. Every request carries a WS-Addressing MessageID (the ONVIF client adds it; some
 * firmwares refuse Subscribe/Renew without one). close() aborts open pulls (some cameras keep a
 * pull open after the client has gone) and unsubscribes best-effort.
 */
export class PullPointSupervisor {
  readonly #workers = new Map<number, CameraWorker>()
  readonly #off: (() => void)[] = []
  #timer: NodeJS.Timeout | null = null
  #closed = false
  #closing: Promise<void> | null = null

  constructor(private readonly deps: { registry: RegistryService; ingest: AlarmIngest; bus: EventBus; log: Log; settings: PullPointSettings }) {}

  start(): void {
    if (this.#closed || this.#timer) return
    this.resync()
    this.#timer = setInterval(() => this.resync(), (this.deps.settings.resyncSeconds ?? 60) * 1000)
    this.#timer.unref()
    for (const name of ['camera.created', 'camera.updated', 'camera.deleted'] as const) this.#off.push(this.deps.bus.on(name, () => this.resync()))
  }

  /** Starts loops for new or changed cameras with events, stops those that went away. */
  resync(): void {
    if (this.#closed) return
    const wanted = new Map<number, { camera: Camera; credentials: CameraCredentials | null }>()
    for (const entry of this.deps.registry.iterateEnabledForSystem()) {
      if (entry.camera.capabilities.events && entry.camera.onvifUrl) wanted.set(entry.camera.id, entry)
    }
    for (const [id, w] of this.#workers) {
      const want = wanted.get(id)
      if (!want || w.signature !== signatureOf(want.camera, want.credentials)) {
        void w.stop()
        this.#workers.delete(id)
      }
    }
    for (const [id, entry] of wanted) {
      if (this.#workers.has(id)) continue
      const w = new CameraWorker(entry.camera, entry.credentials, this.deps)
      this.#workers.set(id, w)
      w.run()
    }
  }

  status(): PullPointStatus[] {
    return [...this.#workers.values()].map((w) => w.status())
  }

  /** Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    for (const off of this.#off) off()
    const workers = [...this.#workers.values()]
    this.#workers.clear()
    this.#closing = Promise.allSettled(workers.map((w) => w.stop())).then(() => undefined)
    return this.#closing
  }
}

const signatureOf = (c: Camera, cred: CameraCredentials | null) => JSON.stringify([c.onvifUrl, cred?.username ?? null, cred?.password ?? null, c.clockOffsetMs])

class CameraWorker {
  readonly signature: string
  readonly #camera: Camera
  readonly #credentials: CameraCredentials | null
  readonly #deps: { ingest: AlarmIngest; log: Log; settings: PullPointSettings }
  readonly #ac = new AbortController()
  #client: OnvifClient | null = null
  #sub: PullPointSubscription | null = null
  #done: Promise<void> = Promise.resolve()
  readonly #status: PullPointStatus

  constructor(camera: Camera, credentials: CameraCredentials | null, deps: { ingest: AlarmIngest; log: Log; settings: PullPointSettings }) {
    this.#camera = camera
    this.#credentials = credentials
    this.#deps = deps
    this.signature = signatureOf(camera, credentials)
    this.#status = { cameraId: camera.id, state: 'subscribing', subscriptions: 0, renewals: 0, failures: 0, events: 0, lastError: null }
  }

  status(): PullPointStatus {
    return { ...this.#status }
  }

  run(): void {
    this.#done = this.#loop().catch(() => undefined)
  }

  async stop(): Promise<void> {
    if (this.#ac.signal.aborted) return this.#done
    this.#ac.abort()
    const sub = this.#sub
    this.#sub = null
    if (sub) {
      // best-effort Unsubscribe (bounded), then abort the in-flight pull: some cameras keep a pull open after the client has gone
      await Promise.race([sub.unsubscribe().catch(() => undefined), sleep(1000, undefined, { ref: false })])
      sub.close()
    }
    this.#client?.close()
    await this.#done
    this.#status.state = 'stopped'
  }

  async #loop(): Promise<void> {
    const s = this.#deps.settings
    const term = s.terminationSeconds
    const pullTimeout = s.pullTimeoutSeconds ?? 10
    let failures = 0
    while (!this.#ac.signal.aborted) {
      try {
        this.#status.state = 'subscribing'
        this.#client = new OnvifClient({
          xaddr: this.#camera.onvifUrl!,
          username: this.#credentials?.username,
          password: this.#credentials?.password,
          timeoutMs: s.requestTimeoutMs ?? 5000,
          clockOffsetMs: this.#camera.clockOffsetMs ?? undefined,
        })
        const sub = await this.#client.createPullPointSubscription({ initialTerminationSec: term })
        if (this.#ac.signal.aborted) {
          sub.close()
          break
        }
        this.#sub = sub
        this.#status.subscriptions++
        this.#status.state = 'pulling'
        failures = 0
        // renew when a third of the camera's lifetime is left (its clock, relative: clock-neutral)
        let renewAt = Date.now() + ((sub.expiresInMs ?? term * 1000) * 2) / 3
        while (!this.#ac.signal.aborted) {
          if (Date.now() >= renewAt) {
            await sub.renew(term)
            this.#status.renewals++
            renewAt = Date.now() + ((sub.expiresInMs ?? term * 1000) * 2) / 3
          }
          const wait = Math.max(1, Math.min(pullTimeout, Math.floor((renewAt - Date.now()) / 1000)))
          const res = await sub.pull({ timeoutSec: wait, messageLimit: 100 })
          for (const event of res.events) {
            this.#status.events++
            // never awaited: the pull loop goes straight back to the camera
            this.#deps.ingest.ingest({ cameraId: this.#camera.id, event }).catch((err: unknown) => this.#deps.log.warn({ cameraId: this.#camera.id, err: String(err) }, 'alarm ingest failed'))
          }
        }
      } catch (err) {
        if (this.#ac.signal.aborted) break
        this.#sub?.close()
        this.#sub = null
        this.#client?.close()
        this.#client = null
        this.#status.failures++
        this.#status.lastError = err instanceof Error ? err.message : String(err)
        // a subscription the camera forgot (reboot, expiry): subscribe again at once, once
        const gone = err instanceof OnvifSubscriptionGoneError && failures === 0
        failures++
        if (gone) continue
        const base = s.backoffMinMs ?? 1000
        const capped = Math.min(s.backoffMaxMs ?? 60_000, base * 2 ** Math.min(failures - 1, 16))
        const delay = capped / 2 + Math.random() * (capped / 2)
        this.#status.state = 'backoff'
        if (failures === 1 || failures % 10 === 0) this.#deps.log.warn({ cameraId: this.#camera.id, failures, retryInMs: Math.round(delay), err: this.#status.lastError }, 'event subscription failed')
        try {
          await sleep(delay, undefined, { signal: this.#ac.signal })
        } catch {
          break
        }
      }
    }
    this.#sub?.close()
    this.#client?.close()
  }
}
