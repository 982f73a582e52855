import type { FastifyBaseLogger } from 'fastify'
import type { GatewayConfig } from '../../core/config.js'
import type { Db } from '../../core/db.js'
import { ConflictError, ForbiddenError, NotFoundError, TooManyRequestsError, ValidationError } from '../../core/errors.js'
import { decodeCursor, encodeCursor } from '../../core/http/cursor.js'
import { hasRole, scopeOf, type Principal } from '../../core/scope.js'
import { OnvifClient, parseXAddr, type DeviceReport, type StreamChoice } from '../../lib/onvif/index.js'
import { MulticastProbe, UnicastSweep, type DiscoveredDevice } from '../../lib/wsdiscovery/index.js'
import type { AddressPolicy as CameraAddressPolicy } from '../../lib/net/index.js'
import type { AuditLog } from '../audit/index.js'
import type { OrgService } from '../org/index.js'
import { endpointOfUri, type Camera, type CameraClass, type CameraCredentials, type CameraInput, type CameraKind, type RegistryService } from '../registry/index.js'
import { CameraDeviceError, deviceError, deviceErrorSummary } from './device-errors.js'
import { AddressPolicy } from './policy.js'
import { DiscoveryStore, originOf, type CandidateRow, type CandidateSource, type CandidateState, type JobRow } from './store.js'

export type DiscoverySettings = GatewayConfig['discovery']

export interface ScanRequest {
  multicast?: boolean
  ranges?: string[]
  hosts?: { host: string; port?: number }[]
}

export interface AdoptFields {
  unitId: number
  name?: string
  class: CameraClass
  kind: CameraKind
  credentials: CameraCredentials
  tags?: string[]
  sharedUpward?: boolean
  location?: CameraInput['location']
}

export interface FieldChange {
  field: string
  before: unknown
  after: unknown
}

export interface CandidateView {
  id: number
  endpointRef: string
  address: string
  xaddrs: string[]
  scopes: string[]
  name: string | null
  location: string | null
  hardware: string | null
  types: string[]
  source: CandidateSource
  firstSeen: string
  lastSeen: string
  scanId: number | null
  state: CandidateState
  /** the matching camera, only when it is in the caller's part of the org tree */
  camera: { id: number; name: string; unitId: number; onvifUrl: string | null } | null
}

interface ScanProgress {
  phase: 'probing' | 'checking-hosts' | 'finishing' | 'done'
  probesPlanned: number
  probesSent: number
  replies: number
  candidates: number
  refused: number
  hostsChecked: number
  /** since the scan started */
  elapsedMs: number
  /** when the last new device replied, ms after the start */
  lastNewDeviceAfterMs: number | null
  errors: string[]
}

interface RefreshProgress {
  total: number
  done: number
  changed: number
  failed: number
}

interface RunningJob {
  id: number
  kind: 'scan' | 'unit_refresh'
  unitPath: string
  progress: ScanProgress | RefreshProgress
  candidateIds: Set<number>
  results: unknown[]
  stop: () => void
  done: Promise<void>
  /** probes sent so far by sweeps still running */
  liveProbes?: () => number
}

/** Bounded concurrency: at most `n` tasks run; the rest wait in order. */
export class Semaphore {
  #free: number
  readonly #waiting: (() => void)[] = []
  constructor(n: number) {
    this.#free = n
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--
    else await new Promise<void>((r) => this.#waiting.push(r))
    try {
      return await fn()
    } finally {
      const next = this.#waiting.shift()
      if (next) next()
      else this.#free++
    }
  }
}

/**
 * Replies are stored in batches, one transaction (one fsync under synchronous=FULL) each, so that
 * writing candidates never holds the event loop while hundreds of replies arrive.
 */
const FLUSH_INTERVAL_MS = 250
/** An interrogation may take at most this many times discovery.onvifTimeoutMs in all. */
const INTERROGATION_DEADLINE_CALLS = 4

const CODEC: Record<string, 'h264' | 'h265' | 'mjpeg' | 'other'> = { H264: 'h264', H265: 'h265', JPEG: 'mjpeg' }

function streamInput(s: StreamChoice | undefined): (NonNullable<NonNullable<CameraInput['streams']>['main']>) | null {
  if (!s) return null
  const v = s.video
  return {
    uri: s.streamUri,
    codec: v ? CODEC[v.encoding] ?? 'other' : null,
    width: v && v.width >= 16 ? v.width : null,
    height: v && v.height >= 16 ? v.height : null,
    fps: v?.frameRateLimit && v.frameRateLimit > 0 ? v.frameRateLimit : null,
    profileToken: s.profileToken.slice(0, 64),
  }
}

const cut = (s: string | undefined, n = 100) => (s && s.trim() ? s.trim().slice(0, n) : null)

/** What an interrogation says about a camera, as registry input (no placement, no names). */
export function reportToInput(report: DeviceReport, xaddr: string): CameraInput {
  const snap = report.main?.snapshotUri ?? report.sub?.snapshotUri ?? report.profiles.find((p) => p.snapshotUri)?.snapshotUri
  return {
    onvifUrl: xaddr,
    device: { manufacturer: cut(report.info.manufacturer), model: cut(report.info.model), serial: cut(report.info.serialNumber), firmware: cut(report.info.firmwareVersion) },
    streams: { main: streamInput(report.main), sub: streamInput(report.sub) },
    snapshotUri: snap && /^https?:/i.test(snap) ? snap : null,
    capabilities: {
      ptz: report.capabilities.ptz,
      events: report.capabilities.events,
      ptzFeatures: report.ptzNode ? { panTilt: { ...report.ptzNode.panTilt }, zoom: { ...report.ptzNode.zoom }, presets: report.ptzNode.maxPresets > 0 } : null,
    },
    clockOffsetMs: Math.round(report.clock.offsetMs),
  }
}

/** Flattened comparable fields of a camera, for "what changed". */
function flat(c: Camera): Record<string, unknown> {
  const out: Record<string, unknown> = {
    onvifUrl: c.onvifUrl,
    endpointRef: c.endpointRef,
    'device.manufacturer': c.device.manufacturer,
    'device.model': c.device.model,
    'device.serial': c.device.serial,
    'device.firmware': c.device.firmware,
    snapshotUri: c.snapshotUri,
    'capabilities.ptz': c.capabilities.ptz,
    'capabilities.events': c.capabilities.events,
    'capabilities.ptzFeatures': JSON.stringify(c.capabilities.ptzFeatures),
    clockOffsetMs: c.clockOffsetMs,
    credentials: c.credentialsUpdatedAt,
  }
  for (const which of ['main', 'sub'] as const) {
    const s = c.streams[which]
    for (const k of ['uri', 'codec', 'width', 'height', 'fps', 'profileToken'] as const) out[`streams.${which}.${k}`] = s ? s[k] : null
  }
  return out
}

/** Clock offsets drift by milliseconds between two readings: only a second or more is a change. */
export function diffCameras(before: Camera, after: Camera): FieldChange[] {
  const a = flat(before)
  const b = flat(after)
  const changes: FieldChange[] = []
  for (const k of Object.keys(a)) {
    if (a[k] === b[k]) continue
    if (k === 'clockOffsetMs' && typeof a[k] === 'number' && typeof b[k] === 'number' && Math.abs((a[k] as number) - (b[k] as number)) < 1000) continue
    if (k === 'credentials') changes.push({ field: 'credentials', before: before.hasCredentials ? 'set' : 'none', after: after.hasCredentials ? 'replaced' : 'dropped' })
    else changes.push({ field: k, before: a[k], after: b[k] })
  }
  return changes
}

export interface DiscoveryDeps {
  db: Db
  registry: RegistryService
  org: OrgService
  audit: AuditLog
  settings: DiscoverySettings
  log?: FastifyBaseLogger
  /** tests: the gateway's own addresses (default: os.networkInterfaces()) */
  ownAddresses?: () => Iterable<string>
  /**
   * The camera address policy (cameras.allowedCidrs): every connection of an interrogation passes
   * it, and URIs a camera reports that it refuses are not stored (a warning says so).
   */
  cameraAddresses?: CameraAddressPolicy
}

export class DiscoveryService {
  readonly policy: AddressPolicy
  readonly settings: DiscoverySettings
  readonly #store: DiscoveryStore
  readonly #registry: RegistryService
  readonly #org: OrgService
  readonly #audit: AuditLog
  readonly #log: FastifyBaseLogger | undefined
  readonly #limiter: Semaphore
  readonly #cameraAddresses: CameraAddressPolicy | undefined
  readonly #jobs = new Map<number, RunningJob>()
  #closed = false

  constructor(deps: DiscoveryDeps) {
    this.settings = deps.settings
    this.policy = new AddressPolicy(deps.settings.allowedCidrs, deps.ownAddresses)
    this.#store = new DiscoveryStore(deps.db, deps.registry)
    this.#registry = deps.registry
    this.#org = deps.org
    this.#audit = deps.audit
    this.#log = deps.log
    this.#limiter = new Semaphore(deps.settings.interrogateConcurrency)
    this.#cameraAddresses = deps.cameraAddresses
    this.#store.failInterrupted()
  }

  async close(): Promise<void> {
    this.#closed = true
    const running = [...this.#jobs.values()]
    for (const j of running) j.stop()
    await Promise.allSettled(running.map((j) => j.done))
  }

  // ================================================================== scans

  async startScan(actor: Principal, req: ScanRequest, client?: string): Promise<{ id: number }> {
    const multicast = req.multicast ?? false
    const ranges = req.ranges ?? []
    const hosts = req.hosts ?? []
    if (!multicast && !ranges.length && !hosts.length) throw ValidationError.field('body', 'ask for multicast, ranges or hosts')
    if (multicast && !this.settings.multicastInterfaces.length) {
      throw ValidationError.field('body.multicast', 'no multicast interface is configured (discovery.multicastInterfaces); use ranges across routed subnets')
    }
    const blocks = ranges.length ? this.policy.checkRanges(ranges, 'body.ranges') : []
    const targets: { ip: string; port: number; host: string }[] = []
    for (const [i, h] of hosts.entries()) targets.push({ ip: await this.policy.resolve(h.host, `body.hosts.${i}.host`), port: h.port ?? 80, host: h.host })
    const running = [...this.#jobs.values()].filter((j) => j.kind === 'scan').length
    if (running >= this.settings.maxRunningScans) throw new TooManyRequestsError(`${running} scans are running; try again when one has finished`, 5)

    const request = { multicast, ranges: blocks.map((b) => b.text), hosts: targets.map((t) => ({ host: t.host, address: t.ip, port: t.port })) }
    const id = this.#store.insertJob('scan', actor.username, actor.unitPath, request)
    this.#audit.record({ actor, action: 'discovery.scan', target: { type: 'discovery_job', id }, client, detail: request })
    const hostCount = blocks.reduce((n, b) => n + (b.prefix <= 30 ? b.size - 2 : b.size), 0) + targets.length
    const progress: ScanProgress = {
      phase: 'probing',
      probesPlanned: hostCount + (multicast ? this.settings.multicastInterfaces.length * this.settings.probeRepeats : 0),
      probesSent: 0,
      replies: 0,
      candidates: 0,
      refused: 0,
      hostsChecked: 0,
      elapsedMs: 0,
      lastNewDeviceAfterMs: null,
      errors: [],
    }
    const stoppers: (() => void)[] = []
    const job: RunningJob = { id, kind: 'scan', unitPath: actor.unitPath, progress, candidateIds: new Set(), results: [], stop: () => stoppers.forEach((s) => s()), done: Promise.resolve() }
    this.#jobs.set(id, job)
    job.done = this.#runScan(job, progress, { multicast, cidrs: blocks.map((b) => b.text), targets }, stoppers)
      .then(
        () => this.#store.finishJob(id, 'done', { ...progress, phase: 'done' }, [...job.candidateIds], null),
        (e: unknown) => {
          this.#log?.warn({ err: e }, 'discovery scan failed')
          this.#store.finishJob(id, 'failed', progress, [...job.candidateIds], (e as Error).message)
        },
      )
      .finally(() => this.#jobs.delete(id))
    return { id }
  }

  async #runScan(job: RunningJob, p: ScanProgress, plan: { multicast: boolean; cidrs: string[]; targets: { ip: string; port: number }[] }, stoppers: (() => void)[]): Promise<void> {
    const s = this.settings
    const pending: { d: DiscoveredDevice; source: CandidateSource }[] = []
    let flushTimer: NodeJS.Timeout | undefined
    const flush = () => {
      flushTimer = undefined
      const batch = pending.splice(0)
      if (!batch.length || this.#closed) return
      try {
        // one transaction (one fsync) per batch: the event loop must stay free to read replies
        this.#store.transaction(() => {
          for (const { d, source } of batch) {
            const sighting = this.#sighting(d, source, job.id)
            if (!sighting) {
              p.refused++
              continue
            }
            const cid = this.#store.upsert(sighting)
            if (!job.candidateIds.has(cid)) {
              job.candidateIds.add(cid)
              p.candidates = job.candidateIds.size
            }
          }
        })
      } catch (e) {
        p.errors.push(`storing candidates: ${(e as Error).message}`)
      }
    }
    const t0 = Date.now()
    const onDevice = (source: CandidateSource) => (d: DiscoveredDevice) => {
      p.replies++
      p.lastNewDeviceAfterMs = Date.now() - t0
      pending.push({ d, source })
      flushTimer ??= setTimeout(flush, FLUSH_INTERVAL_MS)
    }
    const answered = new Set<string>()
    const tasks: Promise<unknown>[] = []
    if (plan.multicast) {
      for (const iface of s.multicastInterfaces) {
        const probe = new MulticastProbe({ interfaceAddress: iface, repeats: s.probeRepeats, jitterMs: s.probeJitterMs, windowMs: s.probeWindowMs, onDevice: onDevice('multicast') })
        stoppers.push(() => probe.close())
        tasks.push(
          probe.start().then(
            (r) => {
              p.probesSent += s.probeRepeats
              if (r.groupListenError) p.errors.push(`multicast on ${iface}: group listen failed (${r.groupListenError})`)
            },
            (e: Error) => p.errors.push(`multicast on ${iface}: ${e.message}`),
          ),
        )
      }
    }
    const sweepCidrs = [...plan.cidrs, ...plan.targets.map((t) => `${t.ip}/32`)]
    if (sweepCidrs.length) {
      const sweepDevice = onDevice('unicast')
      const sweep = new UnicastSweep({
        cidrs: sweepCidrs,
        ratePps: s.sweepRatePps,
        concurrency: s.sweepConcurrency,
        perHostTimeoutMs: s.sweepPerHostTimeoutMs,
        windowMs: s.sweepWindowMs,
        onDevice: (d) => {
          answered.add(d.from.address)
          sweepDevice(d)
        },
      })
      stoppers.push(() => sweep.close())
      job.liveProbes = () => sweep.probed
      tasks.push(
        sweep.start().then(
          (r) => {
            job.liveProbes = undefined
            p.probesSent += r.probed
            if (r.sendErrors) p.errors.push(`${r.sendErrors} probes could not be sent`)
          },
          (e: Error) => p.errors.push(`unicast sweep: ${e.message}`),
        ),
      )
    }
    await Promise.all(tasks)
    // Direct adds that did not answer WS-Discovery: an unauthenticated GetSystemDateAndTime on the
    // given HTTP port tells whether an ONVIF device is there (no password is ever tried).
    const silent = plan.targets.filter((t) => !answered.has(t.ip))
    if (silent.length && !this.#closed) {
      p.phase = 'checking-hosts'
      await Promise.all(
        silent.map((t) =>
          this.#limiter.run(async () => {
            const xaddr = `http://${t.ip}${t.port === 80 ? '' : `:${t.port}`}/onvif/device_service`
            const c = new OnvifClient({ xaddr, timeoutMs: s.onvifTimeoutMs, connectGuard: this.#cameraAddresses?.guard })
            stoppers.push(() => c.close())
            try {
              await c.getSystemDateAndTime()
              const parsed = parseXAddr(xaddr)
              if (parsed.ok) {
                onDevice('direct')({
                  endpointReference: `urn:x-sharp-eyes:direct:${t.ip}:${t.port}`,
                  types: [],
                  scopes: [],
                  scopeInfo: { name: undefined, hardware: undefined, locations: [], profiles: [], types: [], mac: undefined },
                  xaddrs: [parsed.xaddr],
                  metadataVersion: undefined,
                  from: { address: t.ip, port: t.port },
                  firstSeenAt: Date.now(),
                })
              }
            } catch (e) {
              p.errors.push(`${t.ip}:${t.port}: ${deviceErrorSummary(e).message}`)
            } finally {
              c.close()
              p.hostsChecked++
            }
          }),
        ),
      )
    }
    p.phase = 'finishing'
    if (flushTimer) clearTimeout(flushTimer)
    flush()
    p.elapsedMs = Date.now() - t0
  }

  /** A reply becomes a candidate only if its addresses are allowed; refused ones are counted, not stored. */
  #sighting(d: DiscoveredDevice, source: CandidateSource, scanId: number) {
    const xaddrs = d.xaddrs.filter((x) => (x.hostKind === 'ipv4' ? this.policy.refusal(x.host) === null : false))
    if (this.policy.refusal(d.from.address) !== null) return null
    if (!xaddrs.length && d.xaddrs.length) return null
    const info = d.scopeInfo
    return {
      endpointRef: d.endpointReference,
      address: xaddrs[0]?.host ?? d.from.address,
      xaddrs: xaddrs.map((x) => x.url.href),
      scopes: d.scopes.slice(0, 64),
      name: info.name ?? null,
      location: info.locations.length ? info.locations.join('; ') : null,
      hardware: info.hardware ?? null,
      types: d.types,
      source,
      scanId,
    }
  }

  getJob(actor: Principal, id: number): Record<string, unknown> {
    const row = this.#store.getJob(id)
    if (!row || !this.#visibleJob(actor, row)) throw new NotFoundError('discovery job', id)
    const live = this.#jobs.get(id)
    let progress: unknown = live ? live.progress : JSON.parse(row.progress)
    if (live?.kind === 'scan') {
      const p = live.progress as ScanProgress
      progress = { ...p, probesSent: p.probesSent + (live.liveProbes?.() ?? 0), elapsedMs: Date.now() - Date.parse(row.started_at) }
    }
    const base = {
      id: row.id,
      kind: row.kind,
      status: row.status,
      startedBy: row.actor,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      request: JSON.parse(row.request) as unknown,
      progress,
      error: row.error,
    }
    if (row.kind === 'scan') {
      const ids = live ? [...live.candidateIds] : (JSON.parse(row.results) as number[])
      return { ...base, candidates: this.#store.list({ ids, limit: 100_000 }).map((c) => this.#view(actor, c)), results: [] }
    }
    return { ...base, candidates: [], results: live ? live.results : (JSON.parse(row.results) as unknown[]) }
  }

  /** The latest jobs the caller may read, newest first, without their candidates and results. */
  listJobs(actor: Principal, limit: number): Record<string, unknown>[] {
    return this.#store
      .recentJobs(limit * 4)
      .filter((r) => this.#visibleJob(actor, r))
      .slice(0, limit)
      .map((r) => {
        const { candidates: _c, results: _r, ...summary } = this.getJob(actor, r.id)
        return summary
      })
  }

  /** Scans are gateway-wide (admins and technicians); a unit refresh only for those who see the unit. */
  #visibleJob(actor: Principal, row: JobRow): boolean {
    if (row.kind === 'scan') return true
    return row.unit_path.startsWith(actor.unitPath)
  }

  async waitForJob(id: number): Promise<void> {
    await this.#jobs.get(id)?.done
  }

  // ================================================================== candidates

  listCandidates(actor: Principal, filter: { state?: CandidateState; cursor?: string; limit: number }): { items: CandidateView[]; nextCursor: string | null } {
    this.#store.reconcileAll()
    const rows = this.#store.list({ state: filter.state, afterId: decodeCursor('cand', filter.cursor), limit: filter.limit + 1 })
    const more = rows.length > filter.limit
    const items = rows.slice(0, filter.limit).map((r) => this.#view(actor, r))
    return { items, nextCursor: more ? encodeCursor('cand', items.at(-1)!.id) : null }
  }

  getCandidate(actor: Principal, id: number): CandidateView {
    const row = this.#store.get(id)
    if (!row) throw new NotFoundError('candidate', id)
    this.#store.reconcile(row)
    return this.#view(actor, row)
  }

  #visibleCamera(actor: Principal, id: number | null): Camera | null {
    if (id === null) return null
    try {
      return this.#registry.get(actor, id)
    } catch (e) {
      if (e instanceof NotFoundError) return null
      throw e
    }
  }

  #view(actor: Principal, r: CandidateRow): CandidateView {
    const cam = this.#visibleCamera(actor, r.camera_id)
    return {
      id: r.id,
      endpointRef: r.endpoint_ref,
      address: r.address,
      xaddrs: JSON.parse(r.xaddrs) as string[],
      scopes: JSON.parse(r.scopes) as string[],
      name: r.name,
      location: r.location,
      hardware: r.hardware,
      types: JSON.parse(r.types) as string[],
      source: r.source,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      scanId: r.scan_id,
      state: r.state,
      camera: cam ? { id: cam.id, name: cam.name, unitId: cam.unitId, onvifUrl: cam.onvifUrl } : null,
    }
  }

  // ================================================================== adoption

  /** Interrogation with the configured deadline, inside the concurrency bound; ONVIF errors mapped to API errors. */
  async interrogate(xaddr: string, creds: CameraCredentials | null, credentialsField = 'body.credentials.password', addressField = 'onvifUrl'): Promise<DeviceReport> {
    return this.#limiter.run(async () => {
      const client = new OnvifClient({ xaddr, username: creds?.username, password: creds?.password, timeoutMs: this.settings.onvifTimeoutMs, connectGuard: this.#cameraAddresses?.guard })
      // Each SOAP call has its own deadline; the whole interrogation (a dozen calls) has one too, so a
      // camera that answers every call just in time cannot hold a concurrency slot for minutes.
      const overallMs = this.settings.onvifTimeoutMs * INTERROGATION_DEADLINE_CALLS
      let overdue = false
      const timer = setTimeout(() => {
        overdue = true
        client.close()
      }, overallMs)
      try {
        return await client.interrogate()
      } catch (e) {
        if (overdue) throw new CameraDeviceError(504, 'camera_timeout', `the camera did not complete the interrogation within ${overallMs} ms (${client.endpoint})`, [], { reason: 'timeout', timeoutMs: overallMs })
        throw deviceError(e, credentialsField, addressField)
      } finally {
        clearTimeout(timer)
        client.close()
      }
    })
  }

  /**
   * What an interrogation says, as registry input, without the URIs the camera address policy
   * refuses: a camera reporting its snapshot at 127.0.0.1 or another network must not steer the
   * gateway (and the camera's credentials) there. Each one dropped is a warning.
   */
  #reportedInput(report: DeviceReport, xaddr: string, warnings: string[]): CameraInput {
    const input = reportToInput(report, xaddr)
    const policy = this.#cameraAddresses
    if (!policy) return input
    const refused = (uri: string, what: string): boolean => {
      const endpoint = endpointOfUri(uri)
      const why = endpoint && policy.hostRefusal(endpoint.host, endpoint.port)
      if (why) warnings.push(`the camera reported a ${what} the gateway does not use (address not allowed: ${why.message})`)
      return !!why
    }
    if (input.snapshotUri && refused(input.snapshotUri, 'snapshot URI')) input.snapshotUri = null
    for (const which of ['main', 'sub'] as const) {
      const s = input.streams?.[which]
      if (s && refused(s.uri, `${which} stream URI`)) input.streams![which] = null
    }
    return input
  }

  /** Checks (and resolves) the host of an ONVIF URL; returns the URL with the checked IP. */
  async checkedXAddr(url: string, field: string): Promise<string> {
    const parsed = parseXAddr(url, { allowBareHost: true })
    if (!parsed.ok) throw ValidationError.field(field, parsed.reason)
    const ip = await this.policy.resolve(parsed.xaddr.host, field)
    const u = new URL(parsed.xaddr.url.href)
    u.hostname = ip
    return u.href
  }

  async adoptCandidate(actor: Principal, candidateId: number, fields: AdoptFields, client?: string): Promise<AdoptResult> {
    const row = this.#store.get(candidateId)
    if (!row) throw new NotFoundError('candidate', candidateId)
    this.#org.get(scopeOf(actor), fields.unitId)
    const { state, camera } = this.#store.reconcile(row)
    if (state !== 'new') throw this.#alreadyRegistered(actor, camera?.id ?? null, state)
    const xaddrs = JSON.parse(row.xaddrs) as string[]
    if (!xaddrs.length) throw new ConflictError('the candidate announced no ONVIF address; adopt it by host and port instead')
    let lastError: unknown
    for (const x of xaddrs) {
      const xaddr = await this.checkedXAddr(x, 'candidate.xaddrs')
      try {
        // a direct add's reference is ours, not the device's: the camera gets none
        return await this.#adopt(actor, xaddr, row.source === 'direct' ? null : row.endpoint_ref, fields, client, row.name, candidateId, 'candidate.xaddrs')
      } catch (e) {
        lastError = e
        if (!(e instanceof Error) || !('code' in e) || !['camera_unreachable', 'camera_timeout'].includes(String((e as { code: unknown }).code))) throw e
      }
    }
    throw lastError
  }

  async adoptAddress(actor: Principal, body: AdoptFields & { host: string; port?: number; path?: string }, client?: string): Promise<AdoptResult> {
    this.#org.get(scopeOf(actor), body.unitId)
    const ip = await this.policy.resolve(body.host, 'body.host')
    const port = body.port ?? 80
    const path = body.path ?? '/onvif/device_service'
    if (!path.startsWith('/')) throw ValidationError.field('body.path', 'must start with /')
    const xaddr = `http://${ip}${port === 80 ? '' : `:${port}`}${path}`
    const origin = originOf(xaddr)!
    const existing = this.#store.cameraByOrigin(origin)
    if (existing) throw this.#alreadyRegistered(actor, existing.id, 'registered')
    return this.#adopt(actor, xaddr, null, body, client, null, null, 'body.host')
  }

  #alreadyRegistered(actor: Principal, cameraId: number | null, state: CandidateState): ConflictError {
    const visible = this.#visibleCamera(actor, cameraId)
    const how = state === 'moved' ? ' at another address (it moved: refresh that camera with its new address)' : ''
    return new ConflictError(visible ? `this device is already registered as camera ${visible.id}${how}` : `this device is already registered${how}`, [], visible ? { cameraId: visible.id, state } : { state })
  }

  async #adopt(actor: Principal, xaddr: string, endpointRef: string | null, fields: AdoptFields, client: string | undefined, scopeName: string | null, candidateId: number | null, addressField: string): Promise<AdoptResult> {
    const t0 = Date.now()
    const report = await this.interrogate(xaddr, fields.credentials, undefined, addressField)
    const serial = report.info.serialNumber?.trim()
    if (serial) {
      const bySerial = this.#store.cameraBySerial(serial)
      if (bySerial) {
        if (candidateId !== null) {
          this.#store.setSerial(candidateId, serial)
          this.#store.reconcile(this.#store.get(candidateId)!)
        }
        const moved = originOf(bySerial.onvifUrl) !== originOf(xaddr)
        throw this.#alreadyRegistered(actor, bySerial.id, moved ? 'moved' : 'registered')
      }
    }
    if (endpointRef && this.#store.cameraByEndpoint(endpointRef)) throw this.#alreadyRegistered(actor, this.#store.cameraByEndpoint(endpointRef)!.id, 'registered')
    const input = this.#reportedInput(report, xaddr, report.warnings)
    const name = fields.name ?? scopeName ?? ([report.info.manufacturer, report.info.model].filter(Boolean).join(' ') || xaddr)
    const camera = this.#registry.create(
      actor,
      {
        ...input,
        endpointRef,
        unitId: fields.unitId,
        name: name.slice(0, 200),
        class: fields.class,
        kind: fields.kind,
        credentials: fields.credentials,
        ...(fields.tags ? { tags: fields.tags } : {}),
        ...(fields.sharedUpward !== undefined ? { sharedUpward: fields.sharedUpward } : {}),
        ...(fields.location ? { location: fields.location } : {}),
      },
      client,
    )
    const unit = this.#org.getUnscoped(camera.unitId)
    this.#audit.record({
      actor,
      action: 'discovery.adopt',
      target: { type: 'camera', id: camera.id },
      unitPath: unit?.path,
      client,
      detail: { candidateId, onvifUrl: xaddr, endpointRef, manufacturer: report.info.manufacturer, model: report.info.model, serial, firmware: report.info.firmwareVersion, clockOffsetMs: camera.clockOffsetMs, warnings: report.warnings },
    })
    if (candidateId !== null) {
      const row = this.#store.get(candidateId)
      if (row) this.#store.reconcile(row)
    }
    return { camera, clockOffsetMs: Math.round(report.clock.offsetMs), warnings: report.warnings, elapsedMs: Date.now() - t0 }
  }

  // ================================================================== refresh

  async refreshCamera(actor: Principal, id: number, body: { credentials?: CameraCredentials; onvifUrl?: string } = {}, client?: string): Promise<RefreshResult> {
    const { camera: before, credentials: stored } = this.#registry.getForUse(scopeOf(actor), id)
    if (!hasRole(actor, 'admin', 'technician')) throw new ForbiddenError('needs role admin or technician')
    const url = body.onvifUrl ?? before.onvifUrl
    if (!url) throw new ConflictError(`camera ${id} has no ONVIF address; give one as onvifUrl`, [{ field: 'body.onvifUrl', message: 'is required for this camera' }])
    const addressField = body.onvifUrl ? 'body.onvifUrl' : 'onvifUrl'
    const xaddr = await this.checkedXAddr(url, addressField)
    const given = parseXAddr(url, { allowBareHost: true })
    const givenUrl = given.ok ? given.xaddr.url.href : xaddr
    if (body.onvifUrl && !body.credentials && before.hasCredentials) {
      // The stored credentials belong to the host they were entered for: never sent to a new one.
      const was = endpointOfUri(before.onvifUrl)
      const now = endpointOfUri(givenUrl)
      if (!was || !now || was.host !== now.host || was.port !== now.port) {
        throw new CameraDeviceError(422, 'credentials_required', 'the ONVIF address moves to another host or port: give the camera\'s credentials again in this request', [{ field: 'body.credentials', message: 'is required when onvifUrl names another host or port' }])
      }
    }
    const creds = body.credentials ?? stored
    const report = await this.interrogate(xaddr, creds, body.credentials ? 'body.credentials.password' : 'credentials', addressField)
    const warnings = [...report.warnings]
    const input = this.#reportedInput(report, xaddr, warnings)
    // stored as given (a name stays a name; every connect resolves and checks it again)
    input.onvifUrl = givenUrl
    if (body.credentials) input.credentials = body.credentials
    const serial = report.info.serialNumber?.trim()
    if (serial && before.device.serial && serial !== before.device.serial) {
      throw new ConflictError(`the device at ${xaddr} is not this camera (serial ${serial}, registered ${before.device.serial})`, [{ field: body.onvifUrl ? 'body.onvifUrl' : 'onvifUrl', message: 'answers with another serial number' }])
    }
    const { credentialsDropped, ...after } = this.#registry.update(actor, id, input, client)
    if (credentialsDropped) warnings.push(`the camera now reports ${credentialsDropped.join(', ')} on another host or port: its stored credentials were dropped; enter them again`)
    const changes = diffCameras(before, after)
    this.#audit.record({ actor, action: 'discovery.refresh', target: { type: 'camera', id }, unitPath: this.#org.getUnscoped(after.unitId)?.path, client, detail: { changed: changes.map((c) => c.field), warnings } })
    return { camera: after, changes, warnings }
  }

  startUnitRefresh(actor: Principal, unitId: number, client?: string): { id: number } {
    const unit = this.#org.get(scopeOf(actor), unitId)
    if (!hasRole(actor, 'admin', 'technician')) throw new ForbiddenError('needs role admin or technician')
    const cameras: Camera[] = []
    let cursor: string | undefined
    do {
      const page = this.#registry.list(actor, { unitId }, cursor, 500)
      cameras.push(...page.items.filter((c) => c.onvifUrl))
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    const id = this.#store.insertJob('unit_refresh', actor.username, unit.path, { unitId, cameras: cameras.length })
    this.#audit.record({ actor, action: 'discovery.unit_refresh', target: { type: 'unit', id: unitId }, unitPath: unit.path, client, detail: { job: id, cameras: cameras.length } })
    const progress: RefreshProgress = { total: cameras.length, done: 0, changed: 0, failed: 0 }
    let stopped = false
    const job: RunningJob = { id, kind: 'unit_refresh', unitPath: unit.path, progress, candidateIds: new Set(), results: [], stop: () => (stopped = true), done: Promise.resolve() }
    this.#jobs.set(id, job)
    job.done = Promise.all(
      cameras.map(async (c) => {
        if (stopped) return
        try {
          const r = await this.refreshCamera(actor, c.id, {}, client)
          job.results.push({ cameraId: c.id, name: c.name, ok: true, changes: r.changes, warnings: r.warnings })
          if (r.changes.length) progress.changed++
        } catch (e) {
          progress.failed++
          const g = deviceErrorSummary(e)
          job.results.push({ cameraId: c.id, name: c.name, ok: false, error: g.status === 500 ? { status: 500, code: 'internal', message: (e as Error).message } : g })
        } finally {
          progress.done++
        }
      }),
    )
      .then(() => this.#store.finishJob(id, 'done', progress, job.results, null))
      .catch((e: Error) => this.#store.finishJob(id, 'failed', progress, job.results, e.message))
      .finally(() => this.#jobs.delete(id))
    return { id }
  }
}

export interface AdoptResult {
  camera: Camera
  clockOffsetMs: number
  warnings: string[]
  elapsedMs: number
}

export interface RefreshResult {
  camera: Camera
  changes: FieldChange[]
  warnings: string[]
}

