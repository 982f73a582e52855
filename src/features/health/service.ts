import type { FastifyBaseLogger } from 'fastify'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { inTransaction, nowIso, type Db } from '../../core/db.js'
import { NotFoundError, ValidationError } from '../../core/errors.js'
import type { EventBus, GatewayEvents } from '../../core/events.js'
import { scopeOf, type Principal } from '../../core/scope.js'
import type { ConnectGuard } from '../../lib/net/index.js'
import type { StreamPublisher } from '../events/index.js'
import type { OrgService } from '../org/index.js'
import type { Camera, CameraCredentials, CameraStatus, RegistryService } from '../registry/index.js'
import { endpointOf, onvifClockCheck, rtspDescribeCheck, snapshotCheck } from './checks.js'
import { ALL_REASONS, CHECK_NAMES, FAILURE_REASONS, type CameraHealthState, type CheckResult, type HealthSettings, type Period, type ProbeOutcome, type RateBreakdown, type Reason, type Transition } from './model.js'
import { historyBuckets, MAX_BUCKETS, BUCKET_MS, nowBreakdown, windowOf, type Bucket, type TimeBreakdown } from './rate.js'
import { HealthStore } from './store.js'

declare module '../events/index.js' {
  interface StreamEventTypes {
    /** a camera's status changed (online, degraded, offline), for the status dots of the screens */
    'camera.status': { camera: { id: number; unitId: number; status: CameraStatus; previous: CameraStatus; reasons: string[]; since: string } }
  }
}

/**
 * What the live-video feature knows about a camera: a camera someone is watching or recording
 * proves itself every frame, so health uses that instead of probing it. Owned here; app.ts
 * adapts the media feature to it.
 */
export interface LiveStateSource {
  liveState(cameraId: number): { streaming: boolean; since: string } | null
}

/**
 * What the alarms feature knows about a camera's event subscription (PullPoint or push): failures
 * since the last one that worked. Owned here; app.ts adapts the PullPoint supervisor to it.
 */
export interface EventSubscriptionSource {
  eventSubscription(cameraId: number): { consecutiveFailures: number; lastError: string | null } | null
}

/** An event subscription that failed this many times in a row (with its backoff, a minute or more) is a health reason. */
export const EVENTS_FAILING_AFTER = 3

export interface CameraHealth {
  cameraId: number
  status: CameraStatus
  reasons: string[]
  since: string | null
  checkedAt: string | null
  failures: number
  clockOffsetMs: number | null
  checks: CheckResult[]
  transitions: Transition[]
}

export interface SweepReport {
  startedAt: string
  durationMs: number
  checked: number
  online: number
  degraded: number
  offline: number
  unknown: number
  transitions: number
}

export interface Problem {
  cameraId: number
  name: string
  unitId: number
  class: number
  kind: string
  status: CameraStatus
  reasons: string[]
  since: string | null
}

interface Target {
  camera: Camera
  credentials: CameraCredentials | null
}

interface Checked {
  target: Target
  outcome: ProbeOutcome
  at: string
}

const NETWORK: ReadonlySet<string> = new Set(['no_route', 'refused', 'timeout', 'protocol'])
const FAILURE_SET: ReadonlySet<string> = new Set(FAILURE_REASONS)
/** Reasons that a streaming live session disproves; the others (clock, picture, codec) stand. */
const LIVE_CLEARS: ReadonlySet<string> = new Set(['auth_failed', 'onvif_unreachable', 'onvif_error', 'rtsp_error', 'snapshot_failed'])
const SNAPSHOT_REASONS: ReadonlySet<string> = new Set(['covered', 'frozen', 'bad_snapshot', 'snapshot_failed'])

/** Share of the interval a scheduled sweep spreads its camera starts over. */
const SPREAD = 0.5
/**
 * Slowest start rate of a scheduled sweep, ms between camera starts: spreading is for large
 * fleets; 41 demo cameras spread over 30 s left most of them "unknown" for half a minute after
 * start-up, where 40 starts a second is no burst for anyone.
 */
const MAX_SCHEDULED_PACE_MS = 25

/** Time between camera starts of a scheduled sweep: half the interval spread over the fleet, at most MAX_SCHEDULED_PACE_MS. */
export function scheduledPaceMs(intervalSeconds: number, cameras: number): number {
  return Math.min(MAX_SCHEDULED_PACE_MS, (intervalSeconds * 1000 * SPREAD) / Math.max(1, cameras))
}

/**
 * Probes started in one event-loop turn at most. A finished probe otherwise starts the next one in
 * the same turn, so 200 workers stay in lockstep: each turn handles a wave of ~200 replies and
 * opens ~600 connections (0.1–0.4 s without timers or requests served). Starting at most this
 * many per turn keeps turns short and, with probes no longer waiting on long turns, fewer
 * in-flight objects live long enough to be promoted to the old generation.
 */
export const PROBE_STARTS_PER_TURN = 4

const isDemo = (c: Camera) => c.streams.main?.uri.startsWith('demo:') ?? false

export class HealthService {
  readonly #db: Db
  readonly #store: HealthStore
  readonly #registry: RegistryService
  readonly #org: OrgService
  readonly #bus: EventBus
  readonly #settings: HealthSettings
  readonly #log: FastifyBaseLogger | undefined
  #live: LiveStateSource | undefined
  #events: EventSubscriptionSource | undefined
  readonly #stream: StreamPublisher | undefined
  readonly #states = new Map<number, CameraHealthState>()
  readonly #synced = new Set<number>()
  #statesLoaded = false
  #timer: NodeJS.Timeout | undefined
  #sweep: Promise<SweepReport> | undefined
  #closed = false
  #started = false
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #checksTotal: Counter<'check' | 'result'>
  readonly #sweepDuration: Histogram<'trigger'>
  readonly #connectGuard: ConnectGuard | undefined

  /** @param deps.connectGuard the camera address policy, checked at every connect of a probe */
  constructor(deps: { db: Db; registry: RegistryService; org: OrgService; bus: EventBus; stream?: StreamPublisher; settings: HealthSettings; metrics?: Registry; log?: FastifyBaseLogger; live?: LiveStateSource; connectGuard?: ConnectGuard }) {
    this.#db = deps.db
    this.#connectGuard = deps.connectGuard
    this.#store = new HealthStore(deps.db)
    this.#registry = deps.registry
    this.#org = deps.org
    this.#bus = deps.bus
    this.#settings = deps.settings
    this.#log = deps.log
    this.#live = deps.live
    this.#stream = deps.stream
    const registers = deps.metrics ? [deps.metrics] : []
    this.#checksTotal = new Counter({ name: 'gateway_health_checks_total', help: 'Health check results by check and result (ok or reason code)', labelNames: ['check', 'result'] as const, registers })
    for (const check of CHECK_NAMES) this.#checksTotal.inc({ check, result: 'ok' }, 0)
    this.#sweepDuration = new Histogram({
      name: 'gateway_health_sweep_duration_seconds',
      help: 'Duration of one health sweep over the cameras',
      labelNames: ['trigger'] as const,
      buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300],
      registers,
    })
    const store = this.#store
    new Gauge({
      name: 'gateway_health_online_rate',
      help: 'Online rate (online + degraded among checked cameras) over each unit’s subtree; absent while none is checked',
      labelNames: ['unit', 'tier'] as const,
      registers,
      collect() {
        this.reset()
        for (const u of unitRates(store)) if (u.rate !== null) this.set({ unit: u.code, tier: u.tier }, u.rate)
      },
    })
    new Gauge({
      name: 'gateway_health_cameras',
      help: 'Enabled cameras by health status',
      labelNames: ['status'] as const,
      registers,
      collect() {
        this.reset()
        const by: Record<string, number> = { unknown: 0, online: 0, degraded: 0, offline: 0 }
        for (const r of store.unitCounts()) by[r.status] = (by[r.status] ?? 0) + r.n
        for (const [status, n] of Object.entries(by)) this.set({ status }, n)
      },
    })
  }

  /** Connects the alarms feature's event subscriptions (optional: without it they are not judged). */
  setEventSubscriptionSource(events: EventSubscriptionSource | undefined): void {
    this.#events = events
  }

  /** Connects the live-video feature (optional: without it every camera is probed). */
  setLiveStateSource(live: LiveStateSource | undefined): void {
    this.#live = live
  }

  // --- scheduler -------------------------------------------------------------------------------

  /** Starts periodic sweeps (first one after a short random delay). Idempotent. */
  start(): void {
    if (this.#started || this.#closed) return
    this.#started = true
    this.#schedule(1000 + Math.random() * this.#settings.jitterSeconds * 1000)
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.sweep('schedule')
        .catch((err: unknown) => this.#log?.error({ err }, 'health sweep failed'))
        .finally(() => {
          const jitter = (Math.random() * 2 - 1) * this.#settings.jitterSeconds * 1000
          this.#schedule(Math.max(1000, this.#settings.intervalSeconds * 1000 + jitter))
        })
    }, delayMs)
    this.#timer.unref()
  }

  /** Stops sweeps, waits for probes in flight (each bounded by its timeout); writes nothing after. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#sweep?.catch(() => undefined)
    await Promise.allSettled([...this.#inflight])
  }

  /** One sweep over every enabled camera; a sweep already running is joined, never doubled. */
  sweep(trigger: 'schedule' | 'manual' = 'manual'): Promise<SweepReport> {
    if (this.#sweep) return this.#sweep
    const run = this.#runSweep(trigger).finally(() => {
      if (this.#sweep === run) this.#sweep = undefined
    })
    this.#sweep = run
    return run
  }

  async #runSweep(trigger: string): Promise<SweepReport> {
    const t0 = performance.now()
    const startedAt = nowIso()
    // Ids only: each camera is read when its probe starts (10,000 camera objects held for the whole
    // sweep would be ~32 MB, all of it promoted to the old generation).
    const ids = this.#registry.enabledIdsForSystem()
    // A scheduled sweep spreads its starts over at most half the interval (the jitter within a
    // sweep): 10,000 cameras do not open 10,000 connections in one burst. A manual sweep runs flat out.
    const paceMs = trigger === 'schedule' ? scheduledPaceMs(this.#settings.intervalSeconds, ids.length) : this.#settings.sweepPaceMs
    const report = await this.#checkAll(ids, false, paceMs)
    if (this.#closed) return { startedAt, durationMs: Math.round(performance.now() - t0), ...report }
    this.#store.pruneDeleted()
    this.#store.pruneHistory(new Date(Date.now() - this.#settings.historyDays * 86_400_000).toISOString())
    // forget cameras deleted or disabled since (their state is reloaded from the row if they come back)
    const live = new Set(ids)
    for (const id of this.#states.keys()) {
      if (!live.has(id)) {
        this.#states.delete(id)
        this.#synced.delete(id)
      }
    }
    const durationMs = Math.round(performance.now() - t0)
    this.#sweepDuration.observe({ trigger }, durationMs / 1000)
    return { startedAt, durationMs, ...report }
  }

  // --- manual checks ----------------------------------------------------------------------------

  async checkCamera(principal: Principal, cameraId: number): Promise<CameraHealth> {
    const { camera, credentials } = this.#registry.getForUse(scopeOf(principal), cameraId)
    if (!camera.enabled) throw new ValidationError(`camera ${cameraId} is disabled`)
    await this.#checkAll([{ camera, credentials }], true)
    return this.cameraHealth(principal, cameraId)
  }

  /** Checks every enabled camera of a unit's subtree (the caller's own unit by default) now. */
  async checkUnit(principal: Principal, unitId?: number): Promise<Omit<SweepReport, 'startedAt'> & { unitId: number | null }> {
    const scope = scopeOf(principal)
    const path = unitId !== undefined ? this.#org.get(scope, unitId).path : scope.unitPath
    const unitPaths = new Map(this.#store.units().map((u) => [u.id, u.path]))
    const lo = path
    const hi = path.slice(0, -1) + '0'
    const targets: number[] = []
    for (const t of this.#registry.iterateEnabledForSystem()) {
      const p = unitPaths.get(t.camera.unitId) ?? ''
      if (p >= lo && p < hi) targets.push(t.camera.id)
    }
    // Visibility: a private site camera is checked only for those who may see it.
    const visible = targets.filter((id) => {
      try {
        this.#registry.getForUse(scope, id)
        return true
      } catch (err) {
        if (err instanceof NotFoundError) return false
        throw err
      }
    })
    const t0 = performance.now()
    const report = await this.#checkAll(visible, true)
    return { unitId: unitId ?? principal.unitId, durationMs: Math.round(performance.now() - t0), ...report }
  }

  // --- the work --------------------------------------------------------------------------------

  /** Checks the targets (a camera id is read from the registry when its probe starts; skipped if gone or disabled since). */
  async #checkAll(targets: readonly (Target | number)[], manual: boolean, paceMs = 0): Promise<Omit<SweepReport, 'startedAt' | 'durationMs'>> {
    this.#loadStates()
    const report = { checked: 0, online: 0, degraded: 0, offline: 0, unknown: 0, transitions: 0 }
    const pending: Checked[] = []
    let next = 0
    const flush = () => {
      if (!pending.length || this.#closed) return
      const batch = pending.splice(0)
      const r = this.#apply(batch)
      report.transitions += r.transitions
      for (const s of r.statuses) report[s]++
      report.checked += batch.length
    }
    const start = performance.now()
    // the start gate: PROBE_STARTS_PER_TURN per turn, the others wait for the next one
    let started = 0
    let nextTurn: Promise<void> | undefined
    const gate = async () => {
      while (started >= PROBE_STARTS_PER_TURN) {
        nextTurn ??= new Promise<void>((resolve) =>
          setImmediate(() => {
            started = 0
            nextTurn = undefined
            resolve()
          }),
        )
        await nextTurn
      }
      started++
    }
    const worker = async () => {
      while (next < targets.length && !this.#closed) {
        const k = next++
        // pacing, in short naps so that close() is not kept waiting
        for (let wait = start + k * paceMs - performance.now(); wait > 1 && !this.#closed; wait = start + k * paceMs - performance.now()) {
          await new Promise((r) => setTimeout(r, Math.min(wait, 250)))
        }
        if (this.#closed) break
        await gate()
        if (this.#closed) break
        const ref = targets[k]!
        const target = typeof ref === 'number' ? this.#registry.getEnabledForSystem(ref) : ref
        if (!target) continue
        const probe = this.#probe(target, manual)
        this.#inflight.add(probe)
        try {
          const outcome = await probe
          pending.push({ target, outcome, at: nowIso() })
        } catch (err) {
          this.#log?.error({ err, cameraId: target.camera.id }, 'health probe failed unexpectedly')
        } finally {
          this.#inflight.delete(probe)
        }
        if (pending.length >= this.#settings.writeBatchSize) flush()
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#settings.concurrency, targets.length) }, worker))
    flush()
    return report
  }

  #loadStates(): void {
    if (this.#statesLoaded) return
    this.#statesLoaded = true
    for (const row of this.#store.allLatest()) {
      this.#states.set(row.cameraId, {
        cameraId: row.cameraId,
        status: 'unknown',
        reasons: [],
        failures: row.failures,
        checkedAt: row.checkedAt,
        lastSnapshot: row.results.find((r) => r.check === 'snapshot') ?? null,
        snapshotHash: row.snapshotHash,
        sameSnapshotCount: row.sameSnapshotCount,
        checksSinceSnapshot: 0,
        lastAuth: row.results.find((r) => r.check === 'onvif_auth') ?? null,
        checksSinceAuth: 0,
      })
    }
  }

  #stateOf(camera: Camera): CameraHealthState {
    let st = this.#states.get(camera.id)
    if (!st) {
      st = { cameraId: camera.id, status: camera.status, reasons: camera.statusReasons, failures: 0, checkedAt: null, lastSnapshot: null, snapshotHash: null, sameSnapshotCount: 0, checksSinceSnapshot: Number.MAX_SAFE_INTEGER, lastAuth: null, checksSinceAuth: Number.MAX_SAFE_INTEGER }
      this.#states.set(camera.id, st)
    }
    // The registry row gives the status once; from then on this map is the truth (a manual check
    // and a sweep may hold older copies of the camera row).
    if (!this.#synced.has(camera.id)) {
      st.status = camera.status
      st.reasons = camera.statusReasons
      this.#synced.add(camera.id)
    }
    return st
  }

  /** Runs the checks of one camera. Never throws; bounded by about checkTimeoutSeconds. */
  async #probe(target: Target, manual: boolean): Promise<ProbeOutcome> {
    const { camera } = target
    const st = this.#stateOf(camera)
    const outcome: ProbeOutcome = { results: [], failed: false, failureReasons: [], degradedReasons: [], clockOffsetMs: null, snapshotHash: null, snapshotChecked: false, authChecked: false }
    let credentials: CameraCredentials | null
    try {
      credentials = target.credentials // the registry decrypts on read; a changed key throws
    } catch (err) {
      outcome.results.push({ check: 'rtsp_describe', ok: false, reason: 'auth_failed', detail: (err as Error).message.slice(0, 300), ms: 0 })
      outcome.degradedReasons = ['auth_failed']
      return outcome
    }
    const live = this.#live?.liveState(camera.id) ?? null
    const events = this.#eventsVerdict(camera.id)

    // Watched or recorded: the live session is the truth, no probe.
    if (live?.streaming) {
      outcome.results.push({ check: 'live', ok: true, ms: 0, data: { since: live.since } })
      // video flowing proves the RTSP password, not the ONVIF one (cameras often leave RTSP open)
      const onvifRefused = st.lastAuth?.reason === 'auth_failed'
      const kept = st.reasons.filter((r) => (!LIVE_CLEARS.has(r) || (r === 'auth_failed' && onvifRefused)) && !FAILURE_SET.has(r) && r !== 'events_failed') as Reason[]
      if (events) outcome.results.push(events)
      if (events && !events.ok) kept.push('events_failed')
      outcome.degradedReasons = kept
      return outcome
    }
    // Demo cameras are generated locally: online unless their live session fails.
    if (isDemo(camera)) {
      if (live && !live.streaming) {
        outcome.results.push({ check: 'live', ok: false, reason: 'live_failed', detail: 'the demo source is not producing frames', ms: 0, data: { since: live.since } })
        outcome.failed = true
        outcome.failureReasons = ['live_failed']
      } else outcome.results.push({ check: 'demo', ok: true, detail: 'local test source (not probed)', ms: 0 })
      return outcome
    }

    const T = this.#settings.checkTimeoutSeconds * 1000
    const mainUri = camera.streams.main?.uri ?? null
    const rtsp = mainUri && /^rtsps?:/i.test(mainUri) ? endpointOf(mainUri, mainUri.toLowerCase().startsWith('rtsps') ? 322 : 554) : null
    const onvif = camera.onvifUrl ? endpointOf(camera.onvifUrl, camera.onvifUrl.startsWith('https') ? 443 : 80) : null
    if (!rtsp && !onvif) {
      outcome.results.push({ check: 'tcp', ok: false, reason: 'no_endpoint', detail: 'no ONVIF address and no RTSP stream registered', ms: 0 })
      outcome.failed = true
      outcome.failureReasons = ['no_endpoint']
      return outcome
    }

    // The checks run in parallel within the camera's budget. TCP reachability of the RTSP and
    // ONVIF ports is read from the connections DESCRIBE and GetSystemDateAndTime open (a separate
    // connect per port would double the connections of a sweep: 10,000 cameras × 2 more sockets).
    const snapshotDue = !!camera.snapshotUri && (manual || st.checksSinceSnapshot + 1 >= this.#settings.snapshotEveryChecks)
    const expected = camera.streams.main ? { codec: camera.streams.main.codec, width: camera.streams.main.width, height: camera.streams.main.height, fps: camera.streams.main.fps } : null
    const authDue = !!credentials && (manual || st.checksSinceAuth + 1 >= this.#settings.onvifAuthEveryChecks)
    const t0 = performance.now()
    const [describe, clock, snap] = await Promise.all([
      rtsp ? rtspDescribeCheck(mainUri!, credentials, T, expected, this.#connectGuard) : Promise.resolve(null),
      onvif ? onvifClockCheck(camera.onvifUrl!, credentials, T, this.#settings.clockDriftThresholdSeconds * 1000, authDue, this.#connectGuard) : Promise.resolve(null),
      snapshotDue ? snapshotCheck(camera.snapshotUri!, credentials, T, this.#settings.snapshotMaxBytes, this.#connectGuard) : Promise.resolve(null),
    ])
    const tcpMs = Math.round(performance.now() - t0)
    const rtspTcp = describe ? describe.connect : null
    const onvifTcp = clock ? clock.connect : null
    const tcpData = { rtsp: rtsp ? `${rtsp.host}:${rtsp.port}` : null, onvif: onvif ? `${onvif.host}:${onvif.port}` : null, rtspOk: rtspTcp?.ok ?? null, onvifOk: onvifTcp?.ok ?? null }
    const tcpFailures = [rtspTcp && rtspTcp.ok === false ? `rtsp: ${rtspTcp.detail}` : null, onvifTcp && onvifTcp.ok === false ? `onvif: ${onvifTcp.detail}` : null].filter((x) => x !== null)
    const firstTcpFailure = rtspTcp?.ok === false ? rtspTcp : onvifTcp?.ok === false ? onvifTcp : null
    if (firstTcpFailure) outcome.results.push({ check: 'tcp', ok: false, reason: firstTcpFailure.reason, detail: tcpFailures.join('; '), ms: tcpMs, data: tcpData })
    else outcome.results.push({ check: 'tcp', ok: true, ms: tcpMs, data: tcpData })

    const degraded = new Set<Reason>()
    if (onvif && onvifTcp?.ok === false) degraded.add('onvif_unreachable')
    if (describe) {
      outcome.results.push(describe.result)
      const reason = describe.result.reason
      if (reason && (NETWORK.has(reason) || reason === 'address_not_allowed')) {
        outcome.failed = true
        outcome.failureReasons = [reason]
      } else if (reason) {
        if (describe.mismatches.length) describe.mismatches.forEach((m) => degraded.add(m))
        else degraded.add(reason)
      }
    }
    if (clock) {
      outcome.results.push(clock.result)
      if (typeof clock.result.data?.offsetMs === 'number') outcome.clockOffsetMs = clock.result.data.offsetMs
      const reason = clock.result.reason
      if (reason) {
        if (!rtsp && (NETWORK.has(reason) || reason === 'address_not_allowed')) {
          outcome.failed = true
          outcome.failureReasons = [reason]
        } else degraded.add(reason === 'clock_drift' || reason === 'auth_failed' || reason === 'address_not_allowed' ? reason : NETWORK.has(reason) ? 'onvif_unreachable' : 'onvif_error')
      }
    }
    if (clock?.auth) {
      outcome.results.push(clock.auth)
      outcome.authChecked = true
      const reason = clock.auth.reason
      if (reason) degraded.add(reason === 'auth_failed' ? reason : NETWORK.has(reason) ? 'onvif_unreachable' : 'onvif_error')
    } else if (onvif && credentials && clock?.result.ok !== false && st.lastAuth) {
      // Not due this time: the last verdict of the authenticated call stands.
      outcome.results.push({ ...st.lastAuth, data: { ...(st.lastAuth.data ?? {}), carried: true } })
      if (st.lastAuth.reason === 'auth_failed') degraded.add('auth_failed')
    }
    if (events) {
      outcome.results.push(events)
      if (!events.ok) degraded.add('events_failed')
    }
    if (outcome.failed) {
      // unreachable: picture verdicts are moot, and the frozen count must not advance
      return outcome
    }
    if (snap) {
      outcome.results.push(snap.result)
      outcome.snapshotChecked = true
      outcome.snapshotHash = snap.hash
      const reason = snap.result.reason
      if (reason) degraded.add(reason === 'covered' || reason === 'bad_snapshot' || reason === 'auth_failed' || reason === 'address_not_allowed' ? reason : 'snapshot_failed')
    } else if (camera.snapshotUri) {
      // Not due this time: the last snapshot verdict stands.
      const prev = st.lastSnapshot
      if (prev) {
        outcome.results.push({ ...prev, data: { ...(prev.data ?? {}), carried: true } })
        if (prev.reason && SNAPSHOT_REASONS.has(prev.reason)) degraded.add(prev.reason)
      }
    }
    outcome.degradedReasons = [...degraded]
    return outcome
  }

  /** Hysteresis, history and events for a batch of checked cameras: one transaction, one fsync. */
  #apply(batch: Checked[]): { transitions: number; statuses: CameraStatus[] } {
    const events: [keyof GatewayEvents, GatewayEvents['camera.online'] | GatewayEvents['camera.offline']][] = []
    const statuses: CameraStatus[] = []
    const counted: [string, string][] = []
    let transitions = 0
    const N = this.#settings.offlineAfterFailures
    const t0 = performance.now()
    inTransaction(this.#db, () => {
      for (const { target, outcome, at } of batch) {
        const camera = target.camera
        const st = this.#stateOf(camera)
        // frozen: the same picture `frozenAfterChecks` times in a row
        let sameCount = st.sameSnapshotCount
        let hash = st.snapshotHash
        if (outcome.snapshotChecked) {
          sameCount = outcome.snapshotHash !== null && outcome.snapshotHash === st.snapshotHash ? st.sameSnapshotCount + 1 : outcome.snapshotHash ? 1 : 0
          hash = outcome.snapshotHash
          st.checksSinceSnapshot = 0
        } else if (!outcome.failed) st.checksSinceSnapshot = Math.min(st.checksSinceSnapshot + 1, 1_000_000)
        if (outcome.authChecked) {
          st.lastAuth = outcome.results.find((r) => r.check === 'onvif_auth') ?? null
          st.checksSinceAuth = 0
        } else if (!outcome.failed) st.checksSinceAuth = Math.min(st.checksSinceAuth + 1, 1_000_000)
        const reasons = new Set(outcome.degradedReasons)
        if (hash && sameCount >= this.#settings.frozenAfterChecks && !outcome.results.some((r) => r.check === 'live')) reasons.add('frozen')
        else reasons.delete('frozen')

        const failures = outcome.failed ? st.failures + 1 : 0
        let status: CameraStatus
        let newReasons: string[]
        if (outcome.failed) {
          if (failures >= N) {
            status = 'offline'
            newReasons = [...outcome.failureReasons]
          } else {
            status = st.status
            newReasons = st.reasons
          }
        } else {
          newReasons = ALL_REASONS.filter((r) => reasons.has(r))
          status = newReasons.length ? 'degraded' : 'online'
        }
        for (const r of outcome.results) if (!r.data?.carried) counted.push([r.check, r.ok ? 'ok' : (r.reason ?? 'error')])

        this.#store.saveLatest({ cameraId: camera.id, checkedAt: at, failures, results: outcome.results, snapshotHash: hash, sameSnapshotCount: sameCount })
        if (outcome.clockOffsetMs !== null && (camera.clockOffsetMs === null || Math.abs(camera.clockOffsetMs - outcome.clockOffsetMs) >= 500)) {
          this.#registry.setClockOffset(camera.id, outcome.clockOffsetMs)
          camera.clockOffsetMs = outcome.clockOffsetMs
        }
        if (status !== st.status) {
          this.#store.addTransition({ cameraId: camera.id, unitId: camera.unitId, class: camera.class, kind: camera.kind, from: st.status, to: status, reasons: newReasons, at })
          this.#registry.setStatus(camera.id, status, newReasons, at)
          this.#publishStatus(camera, st.status, status, newReasons, at)
          transitions++
          if (status === 'online') events.push(['camera.online', { cameraId: camera.id, unitId: camera.unitId, at }])
          else if (status === 'offline' || status === 'degraded') events.push([`camera.${status}`, { cameraId: camera.id, unitId: camera.unitId, at, reasons: newReasons }])
          camera.status = status
          camera.statusReasons = newReasons
          camera.statusChangedAt = at
        } else if (newReasons.join() !== st.reasons.join()) {
          // Same status, other reasons (degraded: clock drift now, frozen later): no transition.
          this.#registry.setStatus(camera.id, status, newReasons, camera.statusChangedAt ?? at)
          camera.statusReasons = newReasons
        }
        Object.assign(st, { status, reasons: newReasons, failures, checkedAt: at, lastSnapshot: outcome.results.find((r) => r.check === 'snapshot') ?? null, snapshotHash: hash, sameSnapshotCount: sameCount })
        statuses.push(status)
      }
    })
    const writeMs = performance.now() - t0
    if (writeMs > 100) this.#log?.warn({ cameras: batch.length, writeMs: Math.round(writeMs) }, 'slow health write')
    for (const [check, result] of counted) this.#checksTotal.inc({ check, result })
    for (const [name, event] of events) this.#bus.emit(name as 'camera.offline', event as GatewayEvents['camera.offline'])
    return { transitions, statuses }
  }

  /**
   * The push stream's copy of a transition, in the same transaction as the status row. Scoped like
   * the camera: a site camera not shared upward (内保外用) is site-private on the stream too.
   */
  #publishStatus(camera: Camera, previous: CameraStatus, status: CameraStatus, reasons: string[], at: string): void {
    if (!this.#stream) return
    const unit = this.#org.getUnscoped(camera.unitId)
    if (!unit) return
    this.#stream.publish('camera.status', unit.path, { camera: { id: camera.id, unitId: camera.unitId, status, previous, reasons, since: at } }, { sitePrivate: unit.tier === 'site' && !camera.sharedUpward, cameraId: camera.id })
  }

  /** The event subscription's verdict, when the alarms feature runs one for this camera. */
  #eventsVerdict(cameraId: number): CheckResult | null {
    const sub = this.#events?.eventSubscription(cameraId)
    if (!sub) return null
    if (sub.consecutiveFailures >= EVENTS_FAILING_AFTER) {
      return { check: 'events', ok: false, reason: 'events_failed', detail: `event subscription failed ${sub.consecutiveFailures} times in a row${sub.lastError ? `: ${sub.lastError.slice(0, 200)}` : ''}`, ms: 0, data: { failures: sub.consecutiveFailures } }
    }
    return { check: 'events', ok: true, ms: 0, data: { failures: sub.consecutiveFailures } }
  }

  // --- reading ---------------------------------------------------------------------------------

  cameraHealth(principal: Principal, cameraId: number, transitionLimit = 50): CameraHealth {
    const camera = this.#registry.get(principal, cameraId)
    const latest = this.#store.latest(cameraId)
    return {
      cameraId,
      status: camera.status,
      reasons: camera.statusReasons,
      since: camera.statusChangedAt,
      checkedAt: latest?.checkedAt ?? null,
      failures: latest?.failures ?? 0,
      clockOffsetMs: camera.clockOffsetMs,
      checks: latest?.results ?? [],
      transitions: this.#store.transitions(cameraId, transitionLimit),
    }
  }

  summary(principal: Principal, q: { unitId?: number; period: Period; from?: string; to?: string }): {
    unit: { id: number; code: string; name: string; tier: string } | null
    period: Period
    at: string
    now: RateBreakdown
    from?: string
    to?: string
    total?: TimeBreakdown
    buckets?: Bucket[]
  } {
    const scope = scopeOf(principal)
    const unit = q.unitId !== undefined ? this.#org.get(scope, q.unitId) : principal.unitId !== null ? this.#org.get(scope, principal.unitId) : null
    const path = unit?.path ?? scope.unitPath
    const nowMs = Date.now()
    const base = {
      unit: unit ? { id: unit.id, code: unit.code, name: unit.name, tier: unit.tier } : null,
      period: q.period,
      at: new Date(nowMs).toISOString(),
      now: nowBreakdown(this.#store.nowCounts(scope, path)),
    }
    if (q.period === 'now') return base
    for (const [k, v] of [['query.from', q.from], ['query.to', q.to]] as const) if (v !== undefined && Number.isNaN(Date.parse(v))) throw ValidationError.field(k, 'is not a date-time')
    const win = windowOf(q.period, this.#settings.bucketUtcOffsetMinutes, nowMs, q.from, q.to)
    if (win.to <= win.from) throw ValidationError.field('query.from', 'must be before `to`')
    if ((win.to - win.from) / BUCKET_MS[q.period] > MAX_BUCKETS) throw ValidationError.field('query.from', `at most ${MAX_BUCKETS} ${q.period} buckets`)
    const from = new Date(win.from).toISOString()
    const to = new Date(win.to).toISOString()
    const { buckets, total } = historyBuckets(this.#store.history(scope, path, from, to), q.period, win.from, win.to, nowMs)
    return { ...base, from, to, total, buckets }
  }

  /** Offline and degraded cameras the caller may see, offline first, each with its reasons. */
  problems(principal: Principal, unitId: number | undefined, limit: number): { items: Problem[]; truncated: boolean } {
    const items: Problem[] = []
    let truncated = false
    for (const status of ['offline', 'degraded'] as const) {
      let cursor: string | undefined
      do {
        const page = this.#registry.list(principal, { unitId, status, enabled: true }, cursor, 500)
        for (const c of page.items) {
          if (items.length >= limit) {
            truncated = true
            break
          }
          items.push({ cameraId: c.id, name: c.name, unitId: c.unitId, class: c.class, kind: c.kind, status: c.status, reasons: c.statusReasons, since: c.statusChangedAt })
        }
        cursor = page.nextCursor ?? undefined
      } while (cursor && !truncated)
    }
    return { items, truncated }
  }
}

/** Online rate of every unit over its subtree, from current statuses (for the Prometheus gauge). */
export function unitRates(store: HealthStore): { code: string; tier: string; rate: number | null }[] {
  const units = store.units()
  const byId = new Map(units.map((u) => [u.id, { ...u, up: 0, known: 0 }]))
  for (const r of store.unitCounts()) {
    const unit = byId.get(r.unitId)
    if (!unit || r.status === 'unknown') continue
    for (const id of unit.path.split('/').filter(Boolean)) {
      const anc = byId.get(Number(id))
      if (!anc) continue
      anc.known += r.n
      if (r.status !== 'offline') anc.up += r.n
    }
  }
  return [...byId.values()].map((u) => ({ code: u.code, tier: u.tier, rate: u.known ? u.up / u.known : null }))
}

/**
 * Adapts the media feature's live streams (structurally: no import of the feature) to a
 * LiveStateSource. A stream in state `running` is delivering frames; `backoff` is failing.
 */
export function liveStateFrom(media: { streams(): { cameraId: number; state: string }[] }): LiveStateSource {
  const since = new Map<number, string>()
  let cache: Map<number, boolean> | undefined
  let cachedAt = 0
  return {
    liveState(cameraId) {
      const now = Date.now()
      if (!cache || now - cachedAt > 1000) {
        cache = new Map()
        for (const s of media.streams()) {
          if (s.state !== 'running' && s.state !== 'backoff') continue
          const streaming = s.state === 'running'
          cache.set(s.cameraId, (cache.get(s.cameraId) ?? false) || streaming)
        }
        for (const id of since.keys()) if (!cache.has(id)) since.delete(id)
        cachedAt = now
      }
      const streaming = cache.get(cameraId)
      if (streaming === undefined) return null
      const key = cameraId * (streaming ? 1 : -1)
      if (!since.has(key)) {
        since.delete(-key)
        since.set(key, new Date(now).toISOString())
      }
      return { streaming, since: since.get(key)! }
    },
  }
}
