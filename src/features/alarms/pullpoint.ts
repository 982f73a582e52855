import { setTimeout as sleep } from 'node:timers/promises'
import type { EventBus } from '../../core/events.js'
import { OnvifClient, OnvifNotSupportedError, OnvifSubscriptionGoneError, type OnvifEvent, type PullPointSubscription, type PushSubscription } from '../../lib/onvif/index.js'
import type { ConnectGuard } from '../../lib/net/index.js'
import type { Camera, CameraCredentials, RegistryService } from '../registry/index.js'
import type { AlarmIngest } from './ingest.js'
import type { NotifyEndpoint } from './push.js'

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
  /** the camera address policy, checked at every connect (device, events service, subscription manager) */
  connectGuard?: ConnectGuard
}

type Log = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void }

export interface PullPointStatus {
  cameraId: number
  /** `receiving`: a push subscription is live and the camera POSTs its events */
  state: 'subscribing' | 'pulling' | 'receiving' | 'backoff' | 'stopped'
  /** how events arrive: PullPoint, or push (WS-BaseNotification) for a camera without PullPoint; null until known */
  mode: 'pull' | 'push' | null
  subscriptions: number
  renewals: number
  failures: number
  /** failures since the last subscription that worked (0 while one is live) */
  consecutiveFailures: number
  events: number
  lastError: string | null
}

/**
 * ONVIF events for every enabled camera that has them. One independent loop per camera (a slow
 * or dead camera never blocks another): CreatePullPointSubscription, PullMessages long polls,
 * Renew before the camera's termination time, and a new subscription after any failure or a
 * camera reboot (the device forgets subscriptions), with capped exponential backoff and jitter.
 * Every request carries a WS-Addressing MessageID (the ONVIF client adds it; some firmwares refuse
 * Subscribe/Renew without one).
 *
 * A camera without PullPoint (CreatePullPointSubscription not supported, or its capabilities say
 * so) gets a WS-BaseNotification push subscription instead, when `alarms.notifyBaseUrl` is set:
 * Subscribe with a per-subscription token URL (see push.ts), Renew before termination,
 * re-Subscribe after a failure or a reboot (noticed at the next Renew).
 *
 * Some cameras keep a subscription (and a pull) open after the client has gone and cap them at a
 * handful: before any new subscription the old one is Unsubscribed (best effort, short deadline),
 * on failure, on stop and on restart (a restarted camera loop waits for the old one's release).
 */
export class PullPointSupervisor {
  readonly #workers = new Map<number, CameraWorker>()
  /** loops still releasing their subscription; a new loop for the same camera waits for it */
  readonly #stopping = new Map<number, Promise<void>>()
  readonly #off: (() => void)[] = []
  #timer: NodeJS.Timeout | null = null
  #closed = false
  #closing: Promise<void> | null = null

  constructor(private readonly deps: { registry: RegistryService; ingest: AlarmIngest; bus: EventBus; log: Log; settings: PullPointSettings; notify?: NotifyEndpoint | null }) {}

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
      if (want && w.signature === signatureOf(want.camera, want.credentials)) {
        // the clock offset (health rewrites it as the camera clock wanders) is not a reason to
        // subscribe again: the live subscription signs its next request with the new offset
        w.setClockOffset(want.camera.clockOffsetMs)
        continue
      }
      const p = w.stop()
      this.#stopping.set(id, p)
      void p.then(() => {
        if (this.#stopping.get(id) === p) this.#stopping.delete(id)
      })
      this.#workers.delete(id)
    }
    for (const [id, entry] of wanted) {
      if (this.#workers.has(id)) continue
      const w = new CameraWorker(entry.camera, entry.credentials, this.deps)
      this.#workers.set(id, w)
      // a restarted camera: the old loop releases its subscription first
      w.run(this.#stopping.get(id))
    }
  }

  status(): PullPointStatus[] {
    return [...this.#workers.values()].map((w) => w.status())
  }

  /** A camera's subscription for health: failures since the last one that worked; null when none is run for it. */
  eventSubscription(cameraId: number): { consecutiveFailures: number; lastError: string | null } | null {
    const s = this.#workers.get(cameraId)?.status()
    return s ? { consecutiveFailures: s.consecutiveFailures, lastError: s.lastError } : null
  }

  /** Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    for (const off of this.#off) off()
    const workers = [...this.#workers.values()]
    this.#workers.clear()
    this.#closing = Promise.allSettled([...workers.map((w) => w.stop()), ...this.#stopping.values()]).then(() => undefined)
    return this.#closing
  }
}

/**
 * What a running loop cannot adapt to: a change restarts it (Unsubscribe, new subscription). Not the
 * clock offset: a camera clock with 1-second resolution moves it by ≥ 500 ms all the time, and each
 * restart left a gap and re-raised every condition still on (the new subscription's Initialized).
 */
const signatureOf = (c: Camera, cred: CameraCredentials | null) => JSON.stringify([c.onvifUrl, cred?.username ?? null, cred?.password ?? null])

/** deadline of a best-effort Unsubscribe */
const RELEASE_TIMEOUT_MS = 1000

type WorkerDeps = { ingest: AlarmIngest; log: Log; settings: PullPointSettings; notify?: NotifyEndpoint | null | undefined }

class CameraWorker {
  readonly signature: string
  readonly #camera: Camera
  readonly #credentials: CameraCredentials | null
  readonly #deps: WorkerDeps
  readonly #ac = new AbortController()
  #client: OnvifClient | null = null
  #sub: PullPointSubscription | PushSubscription | null = null
  /** token of the live push subscription */
  #token: string | null = null
  #mode: 'pull' | 'push' | null = null
  #failures = 0
  /** camera clock minus ours as health last measured it; read when each client is made, pushed into the live one */
  #clockOffsetMs: number | null
  #warnedNoPush = false
  #done: Promise<void> = Promise.resolve()
  #stopping: Promise<void> | null = null
  readonly #status: PullPointStatus

  constructor(camera: Camera, credentials: CameraCredentials | null, deps: WorkerDeps) {
    this.#camera = camera
    this.#credentials = credentials
    this.#deps = deps
    this.signature = signatureOf(camera, credentials)
    this.#clockOffsetMs = camera.clockOffsetMs
    this.#status = { cameraId: camera.id, state: 'subscribing', mode: null, subscriptions: 0, renewals: 0, failures: 0, consecutiveFailures: 0, events: 0, lastError: null }
  }

  status(): PullPointStatus {
    return { ...this.#status, consecutiveFailures: this.#failures }
  }

  /** The camera clock's offset moved: the next request (Renew, PullMessages) is signed with it. */
  setClockOffset(offsetMs: number | null): void {
    if (offsetMs === null || offsetMs === this.#clockOffsetMs) return
    this.#clockOffsetMs = offsetMs
    if (this.#client) this.#client.clockOffsetMs = offsetMs
  }

  /** @param after the previous loop of this camera, stopping: its subscription is released first (bounded wait) */
  run(after?: Promise<void>): void {
    this.#done = (async () => {
      if (after) await Promise.race([after, sleep(3000, undefined, { ref: false })])
      await this.#loop()
    })().catch(() => undefined)
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#ac.abort()
      // Unsubscribe (bounded) before aborting the in-flight pull: some cameras keep a pull open after the client has gone
      await this.#release()
      // a Create/Subscribe in flight is let finish so that the loop can release what it created (bounded)
      await Promise.race([this.#done, sleep(RELEASE_TIMEOUT_MS + 500, undefined, { ref: false })])
      this.#client?.close()
      await this.#done
      this.#status.state = 'stopped'
    })()
    return this.#stopping
  }

  /** Best-effort Unsubscribe of the current subscription (short deadline), then forget it locally. */
  async #release(): Promise<void> {
    const sub = this.#sub
    const token = this.#token
    this.#sub = null
    this.#token = null
    if (sub) await releaseSub(sub)
    if (token) this.#deps.notify?.unregister(token)
  }

  /** The subscription is gone on the camera (reboot, expiry): forget it without asking. */
  #drop(): void {
    this.#sub?.close()
    this.#sub = null
    if (this.#token) this.#deps.notify?.unregister(this.#token)
    this.#token = null
  }

  #ingest(events: readonly OnvifEvent[]): void {
    for (const event of events) {
      this.#status.events++
      // never awaited: the pull loop goes straight back to the camera, a Notify is answered at once
      this.#deps.ingest.ingest({ cameraId: this.#camera.id, event }).catch((err: unknown) => this.#deps.log.warn({ cameraId: this.#camera.id, err: String(err) }, 'alarm ingest failed'))
    }
  }

  async #loop(): Promise<void> {
    const s = this.#deps.settings
    while (!this.#ac.signal.aborted) {
      try {
        this.#status.state = 'subscribing'
        this.#client = new OnvifClient({
          xaddr: this.#camera.onvifUrl!,
          username: this.#credentials?.username,
          password: this.#credentials?.password,
          timeoutMs: s.requestTimeoutMs ?? 5000,
          clockOffsetMs: this.#clockOffsetMs ?? undefined,
          connectGuard: s.connectGuard,
        })
        if (this.#mode !== 'push') {
          try {
            if (this.#mode === null && (await this.#client.getServices()).pullPointSupport === false) {
              throw new OnvifNotSupportedError('the device reports no PullPoint support (WSPullPointSupport false)')
            }
            await this.#pull(this.#client)
          } catch (err) {
            if (!(err instanceof OnvifNotSupportedError) || this.#mode === 'pull' || this.#ac.signal.aborted) throw err
            // PullPoint is missing on this camera: push, if the gateway can be reached
            if (!this.#deps.notify?.enabled) {
              if (!this.#warnedNoPush) {
                this.#warnedNoPush = true
                this.#deps.log.warn(
                  { cameraId: this.#camera.id, err: err.message },
                  'camera has no ONVIF PullPoint; set alarms.notifyBaseUrl (the gateway URL cameras can reach) to receive its events by push',
                )
              }
              throw err
            }
            this.#mode = 'push'
            this.#status.mode = 'push'
            this.#deps.log.info({ cameraId: this.#camera.id }, 'camera has no ONVIF PullPoint: using push (WS-BaseNotification) events')
          }
        }
        if (this.#mode === 'push') await this.#push(this.#client)
      } catch (err) {
        if (this.#ac.signal.aborted) break
        // a subscription the camera forgot (reboot, expiry): subscribe again at once, once
        const gone = err instanceof OnvifSubscriptionGoneError
        // otherwise the camera may still hold it (a pull that timed out on our side): release it before a new one
        if (gone) this.#drop()
        else await this.#release()
        this.#client?.close()
        this.#client = null
        this.#status.failures++
        this.#status.lastError = err instanceof Error ? err.message : String(err)
        const again = gone && this.#failures === 0
        this.#failures++
        if (again) continue
        const base = s.backoffMinMs ?? 1000
        const capped = Math.min(s.backoffMaxMs ?? 60_000, base * 2 ** Math.min(this.#failures - 1, 16))
        const delay = capped / 2 + Math.random() * (capped / 2)
        this.#status.state = 'backoff'
        if (this.#failures === 1 || this.#failures % 10 === 0) {
          this.#deps.log.warn({ cameraId: this.#camera.id, mode: this.#mode, failures: this.#failures, retryInMs: Math.round(delay), err: this.#status.lastError }, 'event subscription failed')
        }
        try {
          await sleep(delay, undefined, { signal: this.#ac.signal })
        } catch {
          break
        }
      }
    }
    // stopped: stop() releases the subscription and then closes the client (closing it here would
    // abort the Unsubscribe in flight)
  }

  /** PullPoint: returns when stopped, throws on any failure. */
  async #pull(client: OnvifClient): Promise<void> {
    const s = this.#deps.settings
    const term = s.terminationSeconds
    const pullTimeout = s.pullTimeoutSeconds ?? 10
    const sub = await client.createPullPointSubscription({ initialTerminationSec: term })
    if (this.#ac.signal.aborted) {
      await releaseSub(sub)
      return
    }
    this.#sub = sub
    this.#mode = 'pull'
    this.#status.mode = 'pull'
    this.#status.subscriptions++
    this.#status.state = 'pulling'
    this.#failures = 0
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
      this.#ingest(res.events)
    }
  }

  /** Push: Subscribe with a fresh token URL, then Renew before termination. Returns when stopped, throws on any failure. */
  async #push(client: OnvifClient): Promise<void> {
    const notify = this.#deps.notify!
    const term = this.#deps.settings.terminationSeconds
    const { token, consumerUrl } = notify.register({ cameraId: this.#camera.id, deliver: (events) => this.#ingest(events) })
    let sub: PushSubscription
    try {
      sub = await client.subscribe({ consumerUrl, initialTerminationSec: term })
    } catch (err) {
      notify.unregister(token)
      throw err
    }
    if (this.#ac.signal.aborted) {
      await releaseSub(sub)
      notify.unregister(token)
      return
    }
    this.#sub = sub
    this.#token = token
    this.#status.subscriptions++
    this.#status.state = 'receiving'
    this.#failures = 0
    for (;;) {
      const renewIn = ((sub.expiresInMs ?? term * 1000) * 2) / 3
      try {
        await sleep(Math.max(100, renewIn), undefined, { signal: this.#ac.signal })
      } catch {
        return
      }
      await sub.renew(term)
      this.#status.renewals++
    }
  }
}

async function releaseSub(sub: PullPointSubscription | PushSubscription): Promise<void> {
  if (!sub.closed) await Promise.race([sub.unsubscribe(RELEASE_TIMEOUT_MS).catch(() => undefined), sleep(RELEASE_TIMEOUT_MS + 200, undefined, { ref: false })])
  sub.close()
}
