import { networkInterfaces } from 'node:os'
import type { SecretBox } from '../../core/crypto.js'
import type { Db } from '../../core/db.js'
import { GatewayError, NotFoundError } from '../../core/errors.js'
import type { Principal } from '../../core/scope.js'
import {
  catalogQuery,
  deviceInfoQuery,
  isCmd,
  isGbId,
  parseManscdp,
  readCatalog,
  readDeviceInfo,
  readKeepalive,
  alarmResponse,
  readAlarm,
  type CatalogItem,
  type GbAlarm,
  type ManscdpMessage,
} from '../../lib/gb28181/index.js'
import { DigestServer, SipEndpoint, header, newCallId, parseNameAddr, parseSipUri, type IncomingRequest, type SipPeer } from '../../lib/sip/index.js'
import { cidrContains, parseCidr, type Cidr } from '../../lib/wsdiscovery/index.js'
import type { AuditRecord } from '../audit/index.js'
import type { ExternalFrameSources, FrameSourceHandlers } from '../media/index.js'
import type { Camera, CameraClass, CameraInput, CameraKind } from '../registry/index.js'
import { GbLiveSource, type GbLiveSession } from './live.js'
import { WindowRateLimiter } from '../auth/index.js'
import { GbStore, type ChannelRow, type DeviceRow } from './store.js'

/**
 * GB/T 28181 access (下联), first step: devices register to the gateway over SIP (Digest MD5 with
 * their own password or the default one), their keepalives and registration expiry drive their
 * online status, and their DeviceInfo and catalog (paged by SumNum, several MESSAGEs) are stored.
 * Requests to a device go back the way its REGISTER came (its NAT mapping). Adoption of channels
 * as cameras, live video and alarms into the case pipeline build on this.
 */

export interface Gb28181Settings {
  enabled: boolean
  sipId: string
  realm: string
  host: string
  sipPort: number
  tcp: boolean
  publicAddress: string
  allowedCidrs: string[]
  registerExpiresMaxSeconds: number
  keepaliveIntervalSeconds: number
  keepaliveMissedLimit: number
  unauthenticatedPerMinute: number
  catalogTimeoutSeconds: number
  sipT1Ms: number
  /** UDP ports for channels' media (0, 0: any free port) */
  mediaPortMin: number
  mediaPortMax: number
  /** how long after an INVITE the first keyframe must have arrived */
  firstFrameTimeoutSeconds: number
}

/** What adoption needs of the registry: creating a camera in the caller's scope. */
export interface GbCameraRegistry {
  create(actor: Principal, input: CameraInput, client?: string): Camera
}

export interface AdoptChannelInput {
  unitId: number
  name?: string
  class: CameraClass
  kind?: CameraKind
}

/** What this feature needs of the audit log. */
export interface GbAudit {
  record(entry: AuditRecord): number
}

export interface GbLog {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

/** 409: the device is not registered now, so it cannot be asked anything. */
export class GbDeviceOfflineError extends GatewayError {
  readonly status = 409
  readonly code = 'gb_device_offline'
}

/** 504: the device did not answer (or not completely) in time. */
export class GbDeviceTimeoutError extends GatewayError {
  readonly status = 504
  readonly code = 'gb_device_timeout'
}

export interface DeviceView {
  deviceId: string
  name: string | null
  manufacturer: string | null
  model: string | null
  firmware: string | null
  online: boolean
  offlineReason: string | null
  transport: 'UDP' | 'TCP' | null
  address: string | null
  port: number | null
  registeredAt: string | null
  expiresAt: string | null
  lastKeepaliveAt: string | null
  hasOwnPassword: boolean
  catalogSum: number | null
  catalogAt: string | null
  channelCount: number
}

export interface ChannelView {
  channelId: string
  kind: string
  name: string
  status: 'on' | 'off' | 'unknown'
  parentId: string | null
  civilCode: string | null
  address: string | null
  manufacturer: string | null
  model: string | null
  ptzType: string | null
  longitude: number | null
  latitude: number | null
}

export interface CatalogResult {
  complete: boolean
  sumNum: number
  received: number
}

interface PendingCatalog {
  sn: number
  sumNum: number
  items: Map<string, CatalogItem>
  timer: NodeJS.Timeout
  waiters: ((r: CatalogResult) => void)[]
}

const sealPurpose = (deviceId: string) => `gb_device:${deviceId}`

function firstPublicIpv4(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  return '127.0.0.1'
}

/** GB devices set their clocks from the Date of the 200 to REGISTER: local time, milliseconds, no zone. */
function gbDateHeader(now = new Date()): string {
  return new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 23)
}

export class Gb28181Service {
  readonly store: GbStore
  readonly #settings: Gb28181Settings
  readonly #box: SecretBox
  readonly #audit: GbAudit
  readonly #log: GbLog
  readonly #defaultPassword: string | undefined
  readonly #digest: DigestServer
  readonly #allowed: Cidr[]
  readonly #unauthenticated: WindowRateLimiter
  #endpoint: SipEndpoint | undefined
  #sweep: NodeJS.Timeout | undefined
  #sn = 1
  #cseq = 1
  readonly #catalogs = new Map<string, PendingCatalog>()
  readonly #live = new Map<GbLiveSource, GbLiveSession>()
  #ssrcSequence = 0
  readonly #registry: GbCameraRegistry | undefined
  #closing: Promise<void> | undefined
  readonly counters = { registrations: 0, refused: 0, keepalives: 0, badBodies: 0, alarms: 0 }
  /** alarms from devices; the alarm pipeline subscribes (next step of the feature) */
  onAlarm: ((alarm: GbAlarm) => void) | undefined

  constructor(deps: { db: Db; box: SecretBox; audit: GbAudit; settings: Gb28181Settings; defaultPassword?: string | undefined; log: GbLog; registry?: GbCameraRegistry }) {
    this.store = new GbStore(deps.db)
    this.#registry = deps.registry
    this.#settings = deps.settings
    this.#box = deps.box
    this.#audit = deps.audit
    this.#log = deps.log
    this.#defaultPassword = deps.defaultPassword || undefined
    this.#digest = new DigestServer(deps.settings.realm)
    this.#allowed = deps.settings.allowedCidrs.map((c) => parseCidr(c))
    this.#unauthenticated = new WindowRateLimiter(deps.settings.unauthenticatedPerMinute, 60_000)
  }

  get enabled(): boolean {
    return this.#settings.enabled
  }

  /** Where devices register: for technicians configuring them. */
  endpointInfo(): { enabled: boolean; sipId: string; realm: string; address: string; udpPort: number; tcpPort: number | null } {
    const e = this.#endpoint
    return { enabled: this.enabled, sipId: this.#settings.sipId, realm: this.#settings.realm, address: e?.publicAddress ?? (this.#settings.publicAddress || firstPublicIpv4()), udpPort: e?.udpPort ?? this.#settings.sipPort, tcpPort: this.#settings.tcp ? (e?.tcpPort ?? this.#settings.sipPort) : null }
  }

  async start(): Promise<void> {
    if (!this.enabled || this.#endpoint || this.#closing) return
    const endpoint = new SipEndpoint({
      host: this.#settings.host,
      udpPort: this.#settings.sipPort,
      tcpPort: this.#settings.tcp ? this.#settings.sipPort : null,
      publicAddress: this.#settings.publicAddress || firstPublicIpv4(),
      userAgent: 'Sharp Eyes Gateway',
      t1Ms: this.#settings.sipT1Ms,
      onRequest: (req) => this.#onRequest(req),
      onMalformed: (err, source) => this.#log.warn({ source, reason: err.message }, 'gb28181: malformed SIP message dropped'),
    })
    await endpoint.start()
    this.#endpoint = endpoint
    // the TCP listener takes the UDP port when sipPort is 0 (tests): a device uses one port for both
    this.#sweep = setInterval(() => this.#sweepOnline(), Math.min(5000, (this.#settings.keepaliveIntervalSeconds * 1000) / 2))
    this.#sweep.unref()
    this.#log.info({ sipId: this.#settings.sipId, udpPort: endpoint.udpPort, tcpPort: endpoint.tcpPort || null }, 'gb28181: SIP endpoint listening')
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#sweep) clearInterval(this.#sweep)
      await Promise.all([...this.#live.keys()].map((src) => src.close()))
      for (const p of this.#catalogs.values()) this.#finishCatalog(p, '')
      this.#catalogs.clear()
      await this.#endpoint?.close()
    })()
    return this.#closing
  }

  // --- API ---------------------------------------------------------------------------------------

  listDevices(): DeviceView[] {
    return this.store.devices().map((d) => this.#view(d))
  }

  getDevice(deviceId: string): DeviceView & { channels: ChannelView[] } {
    const d = this.store.device(deviceId)
    if (!d) throw new NotFoundError('GB/T 28181 device', deviceId)
    return { ...this.#view(d), channels: this.store.channels(deviceId).map(channelView) }
  }

  /** Sets (and creates, for a device not seen yet) the device's own Digest password. */
  setPassword(actor: Principal, deviceId: string, password: string, client?: string): void {
    this.store.setPassword(deviceId, this.#box.seal(password, sealPurpose(deviceId)))
    this.#audit.record({ actor, action: 'gb.device_password_set', target: { type: 'gb_device', id: deviceId }, client: client ?? null })
  }

  deleteDevice(actor: Principal, deviceId: string, client?: string): void {
    if (!this.store.deleteDevice(deviceId)) throw new NotFoundError('GB/T 28181 device', deviceId)
    this.#audit.record({ actor, action: 'gb.device_delete', target: { type: 'gb_device', id: deviceId }, client: client ?? null })
  }

  /** Asks the device for its whole catalog; resolves when every page arrived or the time is up. */
  async refreshCatalog(deviceId: string): Promise<CatalogResult> {
    const d = this.store.device(deviceId)
    if (!d) throw new NotFoundError('GB/T 28181 device', deviceId)
    if (!d.online) throw new GbDeviceOfflineError(`device ${deviceId} is not registered`, [], { deviceId })
    const result = await this.#queryCatalog(d)
    if (!result.complete && result.received === 0) throw new GbDeviceTimeoutError(`device ${deviceId} sent no catalog within ${this.#settings.catalogTimeoutSeconds} s`, [], { deviceId })
    return result
  }

  /**
   * Adopts a catalog channel as a camera of a unit (its stream gb28181://device/channel, its name
   * and position from the catalog unless given); the registry checks scope, role and audits.
   */
  adoptChannel(actor: Principal, deviceId: string, channelId: string, input: AdoptChannelInput, client?: string): Camera {
    if (!this.#registry) throw new Error('adoption needs the registry')
    const channel = this.store.channels(deviceId).find((c) => c.channel_id === channelId)
    if (!channel) throw new NotFoundError('channel', channelId)
    const kind: CameraKind = input.kind ?? (channel.ptz_type === 'dome' ? 'dome' : channel.ptz_type === 'half-dome' ? 'ptz' : 'fixed')
    return this.#registry.create(
      actor,
      {
        unitId: input.unitId,
        name: input.name ?? channel.name,
        class: input.class,
        kind,
        location: { lat: channel.latitude, lon: channel.longitude, address: channel.address },
        device: { manufacturer: channel.manufacturer, model: channel.model, serial: channelId },
        streams: { main: { uri: `gb28181://${deviceId}/${channelId}`, codec: 'h264' } },
        capabilities: { ptz: kind !== 'fixed', events: true },
      },
      client,
    )
  }

  /** INVITEs running now (one per channel watched, whatever the number of viewers). */
  liveSessions(): GbLiveSession[] {
    return [...this.#live.values()]
  }

  /** The media feature's live source for gb28181:// stream URIs. */
  readonly frameSources: ExternalFrameSources = {
    scheme: 'gb28181',
    create: (uri: string, _cameraId: number, handlers: FrameSourceHandlers) => this.#liveSource(uri, handlers),
  }

  #liveSource(uri: string, handlers: FrameSourceHandlers): GbLiveSource {
    const m = /^gb28181:\/\/(\d{20})\/(\d{20})$/.exec(uri)
    const deviceId = m?.[1] ?? ''
    const channelId = m?.[2] ?? ''
    const d = this.store.device(deviceId)
    const endpoint = this.#endpoint
    const destination: SipPeer | undefined = d?.online && d.transport && d.address && d.port ? { transport: d.transport, address: d.address, port: d.port } : undefined
    const source = new GbLiveSource(
      {
        deviceId,
        channelId,
        destination: destination ?? { transport: 'UDP', address: '0.0.0.0', port: 0 },
        ...(!m ? { unavailable: `not a GB/T 28181 channel URI: ${uri}` } : !endpoint ? { unavailable: 'GB/T 28181 is not enabled' } : !destination ? { unavailable: `device ${deviceId} is not registered` } : {}),
      },
      {
        endpoint: endpoint as SipEndpoint,
        sipId: this.#settings.sipId,
        realm: this.#settings.realm,
        mediaAddress: endpoint?.publicAddress ?? '127.0.0.1',
        mediaPorts: [this.#settings.mediaPortMin, this.#settings.mediaPortMax],
        firstFrameTimeoutMs: this.#settings.firstFrameTimeoutSeconds * 1000,
        nextSequence: () => (this.#ssrcSequence = (this.#ssrcSequence % 9999) + 1),
        nextSn: () => this.#nextSn(),
        onSession: (session, src) => (session ? this.#live.set(src, session) : this.#live.delete(src)),
        log: this.#log,
      },
      handlers,
    )
    return source
  }

  // --- SIP ---------------------------------------------------------------------------------------

  #onRequest(req: IncomingRequest): void {
    switch (req.message.method) {
      case 'REGISTER':
        this.#onRegister(req)
        return
      case 'MESSAGE':
      case 'NOTIFY':
        this.#onMessage(req)
        return
      case 'ACK':
        return
      case 'OPTIONS':
        req.respond(200, 'OK')
        return
      default:
        req.respond(405, 'Method Not Allowed', { headers: { Allow: 'REGISTER, MESSAGE, NOTIFY, OPTIONS' } })
    }
  }

  #deviceIdOf(req: IncomingRequest): string | undefined {
    try {
      const user = parseSipUri(parseNameAddr(header(req.message, 'from') ?? '').uri).user
      return user && isGbId(user) ? user : undefined
    } catch {
      return undefined
    }
  }

  #passwordOf(d: DeviceRow | undefined): string | undefined {
    if (d?.password_sealed) {
      try {
        return this.#box.open(d.password_sealed, sealPurpose(d.device_id))
      } catch {
        this.#log.warn({ deviceId: d.device_id }, 'gb28181: the device password cannot be opened with this credential key')
        return undefined
      }
    }
    return this.#defaultPassword
  }

  #onRegister(req: IncomingRequest): void {
    const source = req.source
    if (this.#allowed.length && !(source.address.includes('.') && this.#allowed.some((c) => cidrContains(c, source.address.replace(/^::ffff:/, ''))))) {
      this.counters.refused++
      req.respond(403, 'Forbidden')
      return
    }
    const deviceId = this.#deviceIdOf(req)
    if (!deviceId) {
      req.respond(400, 'Bad Request: From must name a 20-digit device id')
      return
    }
    const authorization = header(req.message, 'authorization')
    const refuse = (status: number, reason: string, extra: RespondHeaders = {}) => {
      // unauthenticated floods (a storm of REGISTERs, a password guesser) get silence past the limit
      if (this.#unauthenticated.hit(source.address) > 0) return
      req.respond(status, reason, { headers: extra })
    }
    if (!authorization) {
      refuse(401, 'Unauthorized', { 'WWW-Authenticate': this.#digest.challenge() })
      return
    }
    const row = this.store.device(deviceId)
    const password = this.#passwordOf(row)
    if (password === undefined) {
      this.counters.refused++
      this.#log.warn({ deviceId, source }, 'gb28181: REGISTER refused: no password is set for this device and there is no default')
      refuse(403, 'Forbidden')
      return
    }
    const verdict = DigestServer.username(authorization) === deviceId ? this.#digest.verify(authorization, 'REGISTER', password) : 'bad'
    if (verdict === 'stale') {
      refuse(401, 'Unauthorized', { 'WWW-Authenticate': this.#digest.challenge(true) })
      return
    }
    if (verdict === 'bad') {
      this.counters.refused++
      this.#log.warn({ deviceId, source }, 'gb28181: REGISTER refused: wrong credentials')
      refuse(403, 'Forbidden')
      return
    }
    const asked = Number(header(req.message, 'expires') ?? /expires=(\d+)/i.exec(header(req.message, 'contact') ?? '')?.[1] ?? 3600)
    const expires = Math.min(Number.isFinite(asked) ? asked : 3600, this.#settings.registerExpiresMaxSeconds)
    if (expires <= 0) {
      if (row) this.store.offline(deviceId, 'unregistered')
      req.respond(200, 'OK', { headers: { Expires: '0', Date: gbDateHeader() } })
      this.#log.info({ deviceId }, 'gb28181: device unregistered')
      return
    }
    const first = !row?.registered_at
    const wasOnline = row?.online === 1
    this.store.ensureDevice(deviceId)
    this.store.registered(deviceId, { transport: source.transport, address: source.address, port: source.port, expiresAt: new Date(Date.now() + expires * 1000).toISOString() })
    this.counters.registrations++
    req.respond(200, 'OK', { headers: { Expires: String(expires), Date: gbDateHeader() } })
    if (first) this.#audit.record({ actor: { system: 'gb28181' }, action: 'gb.device_registered', target: { type: 'gb_device', id: deviceId }, detail: { transport: source.transport } })
    if (!wasOnline) {
      this.#log.info({ deviceId, source }, 'gb28181: device registered')
      // what it is and what it has: asked once it is online (a refresh of a live registration asks nothing)
      setImmediate(() => void this.#interrogate(deviceId))
    }
  }

  async #interrogate(deviceId: string): Promise<void> {
    const d = this.store.device(deviceId)
    if (!d) return
    try {
      await this.#send(d, deviceInfoQuery(deviceId, this.#nextSn()))
      await this.#queryCatalog(d)
    } catch (err) {
      this.#log.warn({ deviceId, err }, 'gb28181: device did not answer its first queries')
    }
  }

  #onMessage(req: IncomingRequest): void {
    const deviceId = this.#deviceIdOf(req)
    const row = deviceId ? this.store.device(deviceId) : undefined
    if (!row || !row.registered_at || (row.expires_at && Date.parse(row.expires_at) < Date.now())) {
      // a device we have no registration for: 403 makes it register again
      req.respond(403, 'Forbidden: not registered')
      return
    }
    let m: ManscdpMessage
    try {
      m = parseManscdp(req.message.body)
    } catch (err) {
      this.counters.badBodies++
      this.#log.warn({ deviceId, reason: (err as Error).message }, 'gb28181: MANSCDP body refused')
      req.respond(400, 'Bad Request')
      return
    }
    // any message is a sign of life; the keepalive is only the one sent when there is nothing to say
    this.store.keepalive(row.device_id, req.source)
    if (isCmd(m, 'Notify', 'Alarm')) {
      req.respond(200, 'OK')
      this.counters.alarms++
      void this.#send(row, alarmResponse(m)).catch(() => undefined)
      this.onAlarm?.(readAlarm(m))
      return
    }
    req.respond(200, 'OK')
    if (isCmd(m, 'Notify', 'Keepalive')) {
      this.counters.keepalives++
      const k = readKeepalive(m)
      if (!k.ok) this.#log.warn({ deviceId: row.device_id, faultyChannels: k.faultyChannels }, 'gb28181: device reports a fault in its keepalive')
    } else if (isCmd(m, 'Response', 'DeviceInfo')) {
      const info = readDeviceInfo(m)
      this.store.info(row.device_id, { ...info, encoding: m.encoding })
    } else if (isCmd(m, 'Response', 'Catalog')) {
      this.#onCatalogPage(row.device_id, m)
    } else if (isCmd(m, 'Notify', 'Catalog')) {
      const page = readCatalog(m)
      this.store.applyCatalogEvents(row.device_id, page.items)
    }
  }

  #onCatalogPage(deviceId: string, m: ManscdpMessage): void {
    const page = readCatalog(m)
    let p = this.#catalogs.get(deviceId)
    if (!p) {
      // a catalog the device sent of its own accord (some do after registering): collect it the same way
      p = this.#startCatalog(deviceId, page.sn)
    }
    p.sumNum = page.sumNum
    for (const item of page.items) p.items.set(item.deviceId, item)
    if (p.items.size >= p.sumNum) this.#finishCatalog(p, deviceId)
  }

  #startCatalog(deviceId: string, sn: number): PendingCatalog {
    const p: PendingCatalog = { sn, sumNum: Number.POSITIVE_INFINITY, items: new Map(), waiters: [], timer: setTimeout(() => this.#finishCatalog(p, deviceId), this.#settings.catalogTimeoutSeconds * 1000) }
    p.timer.unref()
    this.#catalogs.set(deviceId, p)
    return p
  }

  #finishCatalog(p: PendingCatalog, deviceId: string): void {
    clearTimeout(p.timer)
    if (deviceId && this.#catalogs.get(deviceId) === p) this.#catalogs.delete(deviceId)
    const complete = p.items.size >= p.sumNum
    const items = [...p.items.values()]
    if (deviceId) {
      // a complete catalog replaces the channel list; a partial one only adds and updates
      if (complete) this.store.replaceCatalog(deviceId, p.sumNum, items)
      else if (items.length) this.store.applyCatalogEvents(deviceId, items)
      if (!complete) this.#log.warn({ deviceId, received: items.length, sumNum: p.sumNum }, 'gb28181: catalog incomplete when the time ran out')
    }
    const result: CatalogResult = { complete, sumNum: Number.isFinite(p.sumNum) ? p.sumNum : 0, received: items.length }
    for (const w of p.waiters) w(result)
  }

  #queryCatalog(d: DeviceRow): Promise<CatalogResult> {
    const existing = this.#catalogs.get(d.device_id)
    const p = existing ?? this.#startCatalog(d.device_id, this.#nextSn())
    const done = new Promise<CatalogResult>((resolve) => p.waiters.push(resolve))
    if (!existing) this.#send(d, catalogQuery(d.device_id, p.sn)).catch((err: Error) => this.#log.warn({ deviceId: d.device_id, err }, 'gb28181: catalog query not answered'))
    return done
  }

  #nextSn(): number {
    this.#sn = (this.#sn % 2_000_000_000) + 1
    return this.#sn
  }

  /** A MESSAGE to a device, the way its registration came. */
  async #send(d: DeviceRow, body: Buffer): Promise<void> {
    const endpoint = this.#endpoint
    if (!endpoint || !d.transport || !d.address || !d.port) throw new GbDeviceOfflineError(`device ${d.device_id} is not registered`)
    const destination: SipPeer = { transport: d.transport, address: d.address, port: d.port }
    const res = await endpoint.request({
      method: 'MESSAGE',
      uri: `sip:${d.device_id}@${d.address}:${d.port}`,
      destination,
      headers: {
        From: `<sip:${this.#settings.sipId}@${this.#settings.realm}>;tag=${newCallId().slice(0, 10)}`,
        To: `<sip:${d.device_id}@${this.#settings.realm}>`,
        'Call-ID': newCallId(),
        CSeq: `${this.#cseq++} MESSAGE`,
        'Content-Type': 'Application/MANSCDP+xml',
      },
      body,
    })
    if (res.status >= 300) throw new GbDeviceTimeoutError(`device ${d.device_id} answered ${res.status} ${res.reason}`)
  }

  /** Online status with hysteresis: offline only after keepaliveMissedLimit intervals of silence, or a lapsed registration. */
  #sweepOnline(): void {
    const now = Date.now()
    const silence = this.#settings.keepaliveIntervalSeconds * this.#settings.keepaliveMissedLimit * 1000
    for (const d of this.store.onlineDevices()) {
      if (d.expires_at && Date.parse(d.expires_at) < now) {
        this.store.offline(d.device_id, 'registration_expired')
        this.#log.warn({ deviceId: d.device_id }, 'gb28181: device offline: its registration lapsed')
      } else if (d.last_keepalive_at && Date.parse(d.last_keepalive_at) + silence < now) {
        this.store.offline(d.device_id, 'keepalive_timeout')
        this.#log.warn({ deviceId: d.device_id, lastKeepaliveAt: d.last_keepalive_at }, 'gb28181: device offline: keepalives stopped')
      }
    }
  }

  #view(d: DeviceRow): DeviceView {
    return {
      deviceId: d.device_id,
      name: d.name,
      manufacturer: d.manufacturer,
      model: d.model,
      firmware: d.firmware,
      online: d.online === 1,
      offlineReason: d.offline_reason,
      transport: d.transport,
      address: d.address,
      port: d.port,
      registeredAt: d.registered_at,
      expiresAt: d.expires_at,
      lastKeepaliveAt: d.last_keepalive_at,
      hasOwnPassword: d.password_sealed !== null,
      catalogSum: d.catalog_sum,
      catalogAt: d.catalog_at,
      channelCount: this.store.channels(d.device_id).length,
    }
  }
}

type RespondHeaders = Record<string, string>

function channelView(c: ChannelRow): ChannelView {
  return { channelId: c.channel_id, kind: c.kind, name: c.name, status: c.status, parentId: c.parent_id, civilCode: c.civil_code, address: c.address, manufacturer: c.manufacturer, model: c.model, ptzType: c.ptz_type, longitude: c.longitude, latitude: c.latitude }
}
