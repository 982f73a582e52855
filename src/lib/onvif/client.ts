/**
 * Typed ONVIF client over our own SOAP transport (see index.ts for why not the `onvif` package).
 */
import {
  OnvifAuthError,
  OnvifError,
  OnvifFaultError,
  OnvifNotSupportedError,
  OnvifProtocolError,
  OnvifSubscriptionGoneError,
  OnvifTimeoutError,
  OnvifUnreachableError,
} from './errors.js'
import { NS } from './ns.js'
import {
  parseCreatePullPointSubscription,
  parseDeviceInformation,
  parseEventProperties,
  parseGetCapabilities,
  parseGetNodes,
  parseGetPresets,
  parseGetProfiles,
  parseGetProfiles2,
  parseGetServices,
  parseMediaUri,
  parsePullMessages,
  parseRenew,
  parseSetPreset,
  parseSubscribe,
  parseSystemDateAndTime,
} from './parse.js'
import { soapCall, type AddressingHeaders, type Credentials, type SoapReply } from './soap.js'
import type {
  CameraClock,
  DeviceInformation,
  DeviceReport,
  InterrogatedProfile,
  MediaProfile,
  MediaUri,
  OnvifServiceEntry,
  OnvifServices,
  PtzNodeCapabilities,
  PtzPreset,
  PtzVector,
  PullMessagesResult,
  StreamChoice,
  SubscriptionTimes,
} from './types.js'
import type { ConnectGuard } from '../net/index.js'
import { parseXAddr, redactUrl } from './xaddr.js'
import { DEFAULT_MAX_XML_BYTES, xmlEscape, type XmlElement } from './xml.js'

export interface OnvifClientOptions {
  /** device service URL, e.g. http://192.168.1.64/onvif/device_service */
  xaddr: string | URL
  username?: string | undefined
  password?: string | undefined
  /** deadline for one SOAP exchange, ms (default 5000) */
  timeoutMs?: number | undefined
  /** reply size cap, bytes (default 1 MiB) */
  maxResponseBytes?: number | undefined
  /** known camera clock offset, ms; otherwise learned with GetSystemDateAndTime before the first authenticated call */
  clockOffsetMs?: number | undefined
  /**
   * Use service/subscription XAddrs exactly as the device reports them. Default false: a reported
   * host:port different from the device's is re-based onto the device address, because cameras behind
   * NAT report their private address, and a hostile device must not steer our credentials elsewhere.
   */
  trustServiceHosts?: boolean | undefined
  /** https: accept self-signed certificates (most cameras have one) */
  tlsInsecure?: boolean | undefined
  /**
   * Resolves and checks the host of every request (device, services, subscription managers)
   * before connecting: the application's address policy. Its error (e.g. RefusedAddressError)
   * propagates unchanged.
   */
  connectGuard?: ConnectGuard | undefined
}

interface CallOptions {
  url?: URL
  auth?: boolean
  addressing?: AddressingHeaders
  timeoutMs?: number
  signal?: AbortSignal
}

const RESYNC_THRESHOLD_MS = 2000

export class OnvifClient {
  readonly xaddr: URL
  readonly timeoutMs: number
  readonly maxResponseBytes: number
  readonly trustServiceHosts: boolean
  /** camera clock minus local clock; undefined until learned */
  clockOffsetMs: number | undefined
  readonly #creds: Credentials | undefined
  readonly #tlsInsecure: boolean
  readonly #connectGuard: ConnectGuard | undefined
  readonly #inflight = new Set<AbortController>()
  #services: OnvifServices | undefined
  #closed = false
  #rebased: string[] = []

  constructor(opts: OnvifClientOptions) {
    const parsed = parseXAddr(typeof opts.xaddr === 'string' ? opts.xaddr : opts.xaddr.href)
    if (!parsed.ok) throw new TypeError(`invalid ONVIF device address: ${parsed.reason}`)
    this.xaddr = parsed.xaddr.url
    this.timeoutMs = opts.timeoutMs ?? 5000
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_XML_BYTES
    this.trustServiceHosts = opts.trustServiceHosts ?? false
    this.clockOffsetMs = opts.clockOffsetMs
    this.#tlsInsecure = opts.tlsInsecure ?? false
    this.#connectGuard = opts.connectGuard
    this.#creds = opts.username !== undefined && opts.username !== '' ? { username: opts.username, password: opts.password ?? '' } : undefined
  }

  get endpoint(): string {
    return redactUrl(this.xaddr)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Abort in-flight requests; later calls fail. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const ac of this.#inflight) ac.abort()
    this.#inflight.clear()
  }

  // ---------------------------------------------------------------- transport

  async #raw(operation: string, action: string, body: string, o: CallOptions, creds: Credentials | undefined): Promise<SoapReply> {
    if (this.#closed) throw new OnvifError(`${operation}: client closed`, { endpoint: this.endpoint, operation })
    const ac = new AbortController()
    const onOuterAbort = (): void => ac.abort()
    if (o.signal?.aborted) ac.abort()
    o.signal?.addEventListener('abort', onOuterAbort, { once: true })
    this.#inflight.add(ac)
    try {
      return await soapCall({
        url: o.url ?? this.xaddr,
        action,
        operation,
        body,
        credentials: creds,
        clockOffsetMs: this.clockOffsetMs ?? 0,
        addressing: o.addressing,
        timeoutMs: o.timeoutMs ?? this.timeoutMs,
        maxResponseBytes: this.maxResponseBytes,
        signal: ac.signal,
        tlsInsecure: this.#tlsInsecure,
        connectGuard: this.#connectGuard,
      })
    } finally {
      this.#inflight.delete(ac)
      o.signal?.removeEventListener('abort', onOuterAbort)
    }
  }

  /**
   * Authenticated call. The digest's wsu:Created must be in the camera's clock (cameras with replay
   * protection, Axis being the one the onvif package names, reject tokens a few seconds off), so the
   * offset is learned first, and re-learned
   * once when the device refuses us: its clock may have jumped (NTP sync after boot).
   */
  async #call(operation: string, action: string, body: string, o: CallOptions = {}): Promise<SoapReply> {
    const creds = o.auth === false ? undefined : this.#creds
    if (creds && this.clockOffsetMs === undefined) await this.#trySyncClock()
    try {
      return await this.#raw(operation, action, body, o, creds)
    } catch (e) {
      if (!(e instanceof OnvifAuthError) || !creds) throw e
      const before = this.clockOffsetMs ?? 0
      const ok = await this.#trySyncClock()
      if (!ok || Math.abs((this.clockOffsetMs ?? 0) - before) < RESYNC_THRESHOLD_MS) throw e
      return await this.#raw(operation, action, body, o, creds)
    }
  }

  async #trySyncClock(): Promise<boolean> {
    try {
      await this.getSystemDateAndTime()
      return true
    } catch (e) {
      if (e instanceof OnvifAuthError || e instanceof OnvifNotSupportedError || e instanceof OnvifFaultError || e instanceof OnvifProtocolError) {
        this.clockOffsetMs ??= 0
        return false
      }
      throw e
    }
  }

  // ---------------------------------------------------------------- device service

  /** Reads the camera clock (unauthenticated, as the core spec allows) and stores the offset. */
  async getSystemDateAndTime(): Promise<CameraClock> {
    const op = 'GetSystemDateAndTime'
    const body = '<tds:GetSystemDateAndTime/>'
    const action = `${NS.tds}/GetSystemDateAndTime`
    let t0 = Date.now()
    let reply: SoapReply
    try {
      reply = await this.#raw(op, action, body, {}, undefined)
    } catch (e) {
      // Panasonic and Digital Barriers devices (noted in the onvif package) demand auth even for the clock; our clock is the only guess then.
      if (!(e instanceof OnvifAuthError) || !this.#creds) throw e
      t0 = Date.now()
      reply = await this.#raw(op, action, body, {}, this.#creds)
    }
    const clock = parseSystemDateAndTime(reply.payload, (t0 + Date.now()) / 2)
    this.clockOffsetMs = clock.offsetMs
    return clock
  }

  async getDeviceInformation(): Promise<DeviceInformation> {
    const r = await this.#call('GetDeviceInformation', `${NS.tds}/GetDeviceInformation`, '<tds:GetDeviceInformation/>')
    return parseDeviceInformation(r.payload)
  }

  /** GetServices, falling back to GetCapabilities on devices that predate it. Cached. */
  async getServices(refresh = false): Promise<OnvifServices> {
    if (this.#services && !refresh) return this.#services
    let entries: OnvifServiceEntry[]
    let source: OnvifServices['source'] = 'GetServices'
    let pullPointSupport: boolean | undefined
    try {
      const r = await this.#call('GetServices', `${NS.tds}/GetServices`, '<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>')
      entries = parseGetServices(r.payload)
      if (entries.length === 0) throw new OnvifNotSupportedError('GetServices returned no services')
    } catch (e) {
      if (e instanceof OnvifAuthError || e instanceof OnvifTimeoutError || e instanceof OnvifUnreachableError) throw e
      if (e instanceof OnvifProtocolError && (e.problem === 'too-large' || e.problem === 'dtd-or-entity')) throw e
      const r = await this.#call('GetCapabilities', `${NS.tds}/GetCapabilities`, '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>')
      const caps = parseGetCapabilities(r.payload)
      entries = caps.entries
      pullPointSupport = caps.pullPointSupport
      source = 'GetCapabilities'
    }
    this.#rebased = []
    entries = entries.map((en) => ({ ...en, xaddr: this.#rebase(en.xaddr) }))
    const first = (k: OnvifServiceEntry['kind']): URL | undefined => entries.find((en) => en.kind === k)?.xaddr
    this.#services = {
      source,
      entries,
      device: first('device') ?? this.xaddr,
      media: first('media'),
      media2: first('media2'),
      ptz: first('ptz'),
      events: first('events'),
      imaging: first('imaging'),
      pullPointSupport,
      rebased: [...this.#rebased],
    }
    return this.#services
  }

  #rebase(u: URL): URL {
    if (this.trustServiceHosts || (u.host === this.xaddr.host && u.protocol === this.xaddr.protocol)) return u
    const out = new URL(u.pathname + u.search, this.xaddr.origin)
    this.#rebased.push(`${redactUrl(u)} -> ${redactUrl(out)}`)
    return out
  }

  async #service(kind: 'media' | 'media2' | 'ptz' | 'events', operation: string): Promise<URL> {
    const s = await this.getServices()
    const u = s[kind]
    if (!u) throw new OnvifNotSupportedError(`${operation}: device has no ${kind} service`, { endpoint: this.endpoint, operation })
    return u
  }

  // ---------------------------------------------------------------- media

  /** Media1 profiles when the device has Media1, otherwise Media2. */
  async getProfiles(api?: 'media1' | 'media2'): Promise<MediaProfile[]> {
    const s = await this.getServices()
    const use = api ?? (s.media ? 'media1' : s.media2 ? 'media2' : 'media1')
    if (use === 'media1') {
      const url = await this.#service('media', 'GetProfiles')
      const r = await this.#call('GetProfiles', `${NS.trt}/GetProfiles`, '<trt:GetProfiles/>', { url })
      return parseGetProfiles(r.payload)
    }
    const url = await this.#service('media2', 'GetProfiles')
    const r = await this.#call('GetProfiles', `${NS.tr2}/GetProfiles`, '<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>', { url })
    return parseGetProfiles2(r.payload)
  }

  /** RTSP unicast URI (RTP-Unicast over RTSP). */
  async getStreamUri(profileToken: string, api: 'media1' | 'media2' = 'media1'): Promise<MediaUri> {
    const tok = xmlEscape(profileToken)
    if (api === 'media1') {
      const url = await this.#service('media', 'GetStreamUri')
      const body =
        '<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>' +
        `<trt:ProfileToken>${tok}</trt:ProfileToken></trt:GetStreamUri>`
      return parseMediaUri((await this.#call('GetStreamUri', `${NS.trt}/GetStreamUri`, body, { url })).payload)
    }
    const url = await this.#service('media2', 'GetStreamUri')
    const body = `<tr2:GetStreamUri><tr2:Protocol>RtspUnicast</tr2:Protocol><tr2:ProfileToken>${tok}</tr2:ProfileToken></tr2:GetStreamUri>`
    return parseMediaUri((await this.#call('GetStreamUri', `${NS.tr2}/GetStreamUri`, body, { url })).payload)
  }

  async getSnapshotUri(profileToken: string, api: 'media1' | 'media2' = 'media1'): Promise<MediaUri> {
    const tok = xmlEscape(profileToken)
    if (api === 'media1') {
      const url = await this.#service('media', 'GetSnapshotUri')
      const body = `<trt:GetSnapshotUri><trt:ProfileToken>${tok}</trt:ProfileToken></trt:GetSnapshotUri>`
      return parseMediaUri((await this.#call('GetSnapshotUri', `${NS.trt}/GetSnapshotUri`, body, { url })).payload)
    }
    const url = await this.#service('media2', 'GetSnapshotUri')
    const body = `<tr2:GetSnapshotUri><tr2:ProfileToken>${tok}</tr2:ProfileToken></tr2:GetSnapshotUri>`
    return parseMediaUri((await this.#call('GetSnapshotUri', `${NS.tr2}/GetSnapshotUri`, body, { url })).payload)
  }

  // ---------------------------------------------------------------- PTZ

  async #ptz(op: string, body: string): Promise<SoapReply> {
    const url = await this.#service('ptz', op)
    return this.#call(op, `${NS.tptz}/${op}`, `<tptz:${op}>${body}</tptz:${op}>`, { url })
  }

  /** Velocities in the generic space, -1..1. `timeoutMs` asks the device to stop by itself. */
  async continuousMove(profileToken: string, velocity: PtzVector, timeoutMs?: number): Promise<void> {
    let v = ''
    if (velocity.pan !== undefined || velocity.tilt !== undefined) {
      v += `<tt:PanTilt x="${unit(velocity.pan ?? 0, 'pan')}" y="${unit(velocity.tilt ?? 0, 'tilt')}"/>`
    }
    if (velocity.zoom !== undefined) v += `<tt:Zoom x="${unit(velocity.zoom, 'zoom')}"/>`
    if (!v) throw new RangeError('continuousMove needs pan, tilt or zoom')
    const to = timeoutMs !== undefined ? `<tptz:Timeout>${isoDuration(timeoutMs)}</tptz:Timeout>` : ''
    await this.#ptz('ContinuousMove', `<tptz:ProfileToken>${xmlEscape(profileToken)}</tptz:ProfileToken><tptz:Velocity>${v}</tptz:Velocity>${to}`)
  }

  async stop(profileToken: string, what: { panTilt?: boolean; zoom?: boolean } = {}): Promise<void> {
    await this.#ptz(
      'Stop',
      `<tptz:ProfileToken>${xmlEscape(profileToken)}</tptz:ProfileToken>` +
        `<tptz:PanTilt>${what.panTilt ?? true}</tptz:PanTilt><tptz:Zoom>${what.zoom ?? true}</tptz:Zoom>`,
    )
  }

  /** Relative zoom step in the generic translation space (-1..1). */
  async relativeZoom(profileToken: string, delta: number): Promise<void> {
    await this.#ptz(
      'RelativeMove',
      `<tptz:ProfileToken>${xmlEscape(profileToken)}</tptz:ProfileToken><tptz:Translation><tt:Zoom x="${unit(delta, 'zoom')}"/></tptz:Translation>`,
    )
  }

  /** The PTZ nodes (heads) and the spaces each supports (GetNodes). */
  async getPtzNodes(): Promise<PtzNodeCapabilities[]> {
    return parseGetNodes((await this.#ptz('GetNodes', '')).payload)
  }

  async getPresets(profileToken: string): Promise<PtzPreset[]> {
    return parseGetPresets((await this.#ptz('GetPresets', `<tptz:ProfileToken>${xmlEscape(profileToken)}</tptz:ProfileToken>`)).payload)
  }

  async gotoPreset(profileToken: string, presetToken: string, speed?: PtzVector): Promise<void> {
    let sp = ''
    if (speed) {
      if (speed.pan !== undefined || speed.tilt !== undefined) sp += `<tt:PanTilt x="${unit(speed.pan ?? 1, 'pan')}" y="${unit(speed.tilt ?? 1, 'tilt')}"/>`
      if (speed.zoom !== undefined) sp += `<tt:Zoom x="${unit(speed.zoom, 'zoom')}"/>`
    }
    await this.#ptz(
      'GotoPreset',
      `<tptz:ProfileToken>${xmlEscape(profileToken)}</tptz:ProfileToken><tptz:PresetToken>${xmlEscape(presetToken)}</tptz:PresetToken>` +
        (sp ? `<tptz:Speed>${sp}</tptz:Speed>` : ''),
    )
  }

  /** Creates (no token) or overwrites (token) a preset at the current position; returns its token. */
  async setPreset(profileToken: string, opts: { name?: string; presetToken?: string } = {}): Promise<string> {
    const body =
      `<tptz:ProfileToken>${xmlEscape(profileToken)}</tptz:ProfileToken>` +
      (opts.name !== undefined ? `<tptz:PresetName>${xmlEscape(opts.name)}</tptz:PresetName>` : '') +
      (opts.presetToken !== undefined ? `<tptz:PresetToken>${xmlEscape(opts.presetToken)}</tptz:PresetToken>` : '')
    return parseSetPreset((await this.#ptz('SetPreset', body)).payload)
  }

  // ---------------------------------------------------------------- events

  async getEventProperties(): Promise<string[]> {
    const url = await this.#service('events', 'GetEventProperties')
    const r = await this.#call('GetEventProperties', `${NS.tev}/EventPortType/GetEventPropertiesRequest`, '<tev:GetEventProperties/>', {
      url,
      addressing: { to: url.href },
    })
    return parseEventProperties(r.payload)
  }

  /**
   * @param opts.topicFilter ConcreteSet topic expression, e.g. `tns1:RuleEngine//.|tns1:VideoSource//.`
   */
  async createPullPointSubscription(opts: { initialTerminationSec?: number; topicFilter?: string } = {}): Promise<PullPointSubscription> {
    const url = await this.#service('events', 'CreatePullPointSubscription')
    const filter = opts.topicFilter
      ? `<tev:Filter><wsnt:TopicExpression Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet" xmlns:tns1="${NS.tns1}">${xmlEscape(opts.topicFilter)}</wsnt:TopicExpression></tev:Filter>`
      : ''
    const body =
      `<tev:CreatePullPointSubscription>${filter}` +
      `<tev:InitialTerminationTime>${isoDuration((opts.initialTerminationSec ?? 60) * 1000)}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>`
    // The ONVIF event binding is WS-Addressing based; devices that enforce it fault without wsa:Action/To.
    const r = await this.#call('CreatePullPointSubscription', `${NS.tev}/EventPortType/CreatePullPointSubscriptionRequest`, body, {
      url,
      addressing: { to: url.href },
    })
    const created = parseCreatePullPointSubscription(r.payload)
    const address = this.#rebase(created.address)
    return new PullPointSubscription(this, address, created.referenceParameters, created)
  }

  /**
   * WS-BaseNotification Subscribe (push): the device POSTs wsnt:Notify to `consumerUrl` until the
   * subscription terminates. For devices without PullPoint. Sent to the events service with
   * WS-Addressing (MessageID, To, Action); Renew and Unsubscribe go to the returned
   * SubscriptionReference (the same SubscriptionManager operations as a PullPoint).
   * @param opts.topicFilter ConcreteSet topic expression, e.g. `tns1:RuleEngine//.|tns1:VideoSource//.`
   */
  async subscribe(opts: { consumerUrl: string; initialTerminationSec?: number; topicFilter?: string }): Promise<PushSubscription> {
    const url = await this.#service('events', 'Subscribe')
    let consumer: URL
    try {
      consumer = new URL(opts.consumerUrl)
    } catch {
      throw new TypeError('subscribe: consumerUrl is not an absolute URL')
    }
    if (consumer.protocol !== 'http:' && consumer.protocol !== 'https:') throw new TypeError('subscribe: consumerUrl must be http(s)')
    const filter = opts.topicFilter
      ? `<wsnt:Filter><wsnt:TopicExpression Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet" xmlns:tns1="${NS.tns1}">${xmlEscape(opts.topicFilter)}</wsnt:TopicExpression></wsnt:Filter>`
      : ''
    const body =
      `<wsnt:Subscribe><wsnt:ConsumerReference><wsa:Address>${xmlEscape(consumer.href)}</wsa:Address></wsnt:ConsumerReference>${filter}` +
      `<wsnt:InitialTerminationTime>${isoDuration((opts.initialTerminationSec ?? 60) * 1000)}</wsnt:InitialTerminationTime></wsnt:Subscribe>`
    const r = await this.#call('Subscribe', 'http://docs.oasis-open.org/wsn/bw-2/NotificationProducer/SubscribeRequest', body, {
      url,
      addressing: { to: url.href },
    })
    const created = parseSubscribe(r.payload)
    return new PushSubscription(this, this.#rebase(created.address), created.referenceParameters, created)
  }

  /** @internal used by PullPointSubscription */
  async subscriptionCall(
    operation: string,
    action: string,
    body: string,
    address: URL,
    refs: readonly XmlElement[],
    signal: AbortSignal,
    timeoutMs?: number,
  ): Promise<SoapReply> {
    try {
      return await this.#call(operation, action, body, {
        url: address,
        addressing: { to: address.href, referenceParameters: refs },
        signal,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      })
    } catch (e) {
      if (isSubscriptionGoneError(e)) {
        throw new OnvifSubscriptionGoneError(`${operation}: device no longer knows subscription ${redactUrl(address)}`, {
          endpoint: redactUrl(address),
          operation,
          cause: e,
          ...(e instanceof OnvifFaultError || e instanceof OnvifNotSupportedError ? { fault: e.fault } : {}),
        })
      }
      throw e
    }
  }

  // ---------------------------------------------------------------- adoption

  /**
   * Adoption sequence: clock → device info → services → profiles → stream URI per profile → snapshot URI.
   * Auth, timeout and unreachable errors abort; per-profile problems become warnings.
   */
  async interrogate(): Promise<DeviceReport> {
    const warnings: string[] = []
    const clock = await this.getSystemDateAndTime()
    if (Math.abs(clock.offsetMs) > 60_000) warnings.push(`camera clock is off by ${Math.round(clock.offsetMs / 1000)} s`)
    if (clock.source !== 'utc') warnings.push(`camera reports no UTC time (${clock.source})`)
    const info = await this.getDeviceInformation()
    const services = await this.getServices()
    for (const r of services.rebased) warnings.push(`service address re-based: ${r}`)
    // GetProfiles needs READ_MEDIA rights: it is the call that proves the password, even on devices
    // that let GetDeviceInformation through anonymously.
    const api: 'media1' | 'media2' = services.media ? 'media1' : 'media2'
    let profiles: MediaProfile[]
    try {
      profiles = await this.getProfiles(api)
    } catch (e) {
      if (!(e instanceof OnvifNotSupportedError) || api === 'media2' || !services.media2) throw e
      profiles = await this.getProfiles('media2')
    }
    if (profiles.length === 0) warnings.push('device reports no media profiles')
    const out: InterrogatedProfile[] = []
    let snapshotSupported = false
    for (const p of profiles) {
      let streamUri: string | undefined
      let snapshotUri: string | undefined
      try {
        streamUri = (await this.getStreamUri(p.token, p.api)).uri
      } catch (e) {
        if (fatal(e)) throw e
        warnings.push(`GetStreamUri(${p.token}): ${(e as Error).message}`)
      }
      try {
        snapshotUri = (await this.getSnapshotUri(p.token, p.api)).uri
        snapshotSupported = true
      } catch (e) {
        if (fatal(e)) throw e
        if (!(e instanceof OnvifNotSupportedError)) warnings.push(`GetSnapshotUri(${p.token}): ${(e as Error).message}`)
      }
      out.push({ ...p, streamUri, snapshotUri })
    }
    const { main, sub } = pickStreams(out)
    const ptz = services.ptz !== undefined && out.some((p) => p.ptzConfigurationToken !== undefined)
    let ptzNode: PtzNodeCapabilities | undefined
    if (ptz) {
      try {
        const nodes = await this.getPtzNodes()
        const steered = out.find((p) => p.token === main?.profileToken)?.ptzNodeToken ?? out.find((p) => p.ptzNodeToken)?.ptzNodeToken
        ptzNode = nodes.find((n) => n.token === steered) ?? nodes[0]
      } catch (e) {
        if (fatal(e)) throw e
        warnings.push(`GetNodes: ${(e as Error).message}`)
      }
    }
    return {
      xaddr: this.endpoint,
      clock,
      info,
      services,
      profiles: out,
      main,
      sub,
      ptzNode,
      capabilities: {
        ptz,
        events: services.events !== undefined,
        pullPoint: services.events !== undefined && services.pullPointSupport !== false,
        media2: services.media2 !== undefined,
        snapshot: snapshotSupported,
      },
      warnings,
    }
  }
}

function fatal(e: unknown): boolean {
  return e instanceof OnvifAuthError || e instanceof OnvifTimeoutError || e instanceof OnvifUnreachableError || (e instanceof OnvifError && /client closed|cancelled/.test(e.message))
}

/** Main = largest resolution, sub = smallest other one; only profiles with video and a stream URI. */
export function pickStreams(profiles: readonly InterrogatedProfile[]): { main: StreamChoice | undefined; sub: StreamChoice | undefined } {
  const usable = profiles.filter((p) => p.streamUri !== undefined)
  const area = (p: InterrogatedProfile): number => (p.video ? p.video.width * p.video.height : 0)
  const sorted = [...usable].sort((a, b) => area(b) - area(a))
  const choice = (p: InterrogatedProfile | undefined): StreamChoice | undefined =>
    p ? { profileToken: p.token, profileName: p.name, streamUri: p.streamUri!, snapshotUri: p.snapshotUri, video: p.video } : undefined
  const main = sorted[0]
  const sub = sorted.length > 1 ? sorted[sorted.length - 1] : undefined
  return { main: choice(main), sub: sub && sub !== main ? choice(sub) : undefined }
}

function unit(v: number, what: string): string {
  if (!Number.isFinite(v) || v < -1 || v > 1) throw new RangeError(`${what} must be within -1..1`)
  return String(Math.round(v * 10000) / 10000)
}

function isoDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError('duration must be a non-negative number')
  const s = Math.max(0, Math.round(ms / 100) / 10)
  return `PT${s}S`
}

const GONE_RE = /unknown subscription|invalid subscription|no such subscription|resource ?unknown|subscription (has )?expired|not found/i

function isSubscriptionGoneError(e: unknown): boolean {
  if (e instanceof OnvifNotSupportedError && e.fault === undefined) return true // HTTP 404 on the subscription path
  const f = e instanceof OnvifFaultError || e instanceof OnvifNotSupportedError ? e.fault : undefined
  if (!f) return false
  if (f.subcodes.some((s) => /ResourceUnknown/i.test(s)) || f.detailTypes.some((d) => /ResourceUnknownFault/.test(d))) return true
  return GONE_RE.test(f.reason)
}

/**
 * A subscription held by the device's SubscriptionManager (Renew, Unsubscribe). Timing is in the
 * camera's clock; `expiresInMs` is relative and clock-neutral.
 */
abstract class ManagedSubscription {
  readonly address: URL
  protected readonly client: OnvifClient
  protected readonly refs: readonly XmlElement[]
  terminationTime: Date | undefined
  currentTime: Date | undefined
  protected isClosed = false
  protected readonly ac = new AbortController()

  constructor(client: OnvifClient, address: URL, refs: readonly XmlElement[], times: SubscriptionTimes) {
    this.client = client
    this.address = address
    this.refs = refs
    this.terminationTime = times.terminationTime
    this.currentTime = times.currentTime
  }

  /** ms until the device drops the subscription, per its own clock at the last exchange */
  get expiresInMs(): number | undefined {
    if (!this.terminationTime || !this.currentTime) return undefined
    return this.terminationTime.getTime() - this.currentTime.getTime()
  }

  get closed(): boolean {
    return this.isClosed
  }

  protected check(op: string): void {
    if (this.isClosed) throw new OnvifError(`${op}: subscription closed`, { operation: op })
  }

  async renew(terminationSec = 60): Promise<SubscriptionTimes> {
    this.check('Renew')
    const body = `<wsnt:Renew><wsnt:TerminationTime>${isoDuration(terminationSec * 1000)}</wsnt:TerminationTime></wsnt:Renew>`
    const r = await this.client.subscriptionCall('Renew', 'http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest', body, this.address, this.refs, this.ac.signal)
    const t = parseRenew(r.payload)
    if (t.terminationTime) this.terminationTime = t.terminationTime
    if (t.currentTime) this.currentTime = t.currentTime
    return t
  }

  /** @param timeoutMs a shorter deadline than the client's, for best-effort clean-up */
  async unsubscribe(timeoutMs?: number): Promise<void> {
    this.check('Unsubscribe')
    await this.client.subscriptionCall(
      'Unsubscribe',
      'http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest',
      '<wsnt:Unsubscribe/>',
      this.address,
      this.refs,
      this.ac.signal,
      timeoutMs,
    )
    this.isClosed = true
  }

  /** Abort in-flight requests and stop using the subscription locally (no network). Idempotent; the device expires it on its own. */
  close(): void {
    if (this.isClosed && this.ac.signal.aborted) return
    this.isClosed = true
    this.ac.abort()
  }
}

/** A PullPoint subscription. */
export class PullPointSubscription extends ManagedSubscription {
  /** Long poll: the device holds the request up to `timeoutSec` when it has nothing to say. */
  async pull(opts: { timeoutSec?: number; messageLimit?: number } = {}): Promise<PullMessagesResult> {
    this.check('PullMessages')
    const timeoutSec = opts.timeoutSec ?? 5
    const body =
      `<tev:PullMessages><tev:Timeout>${isoDuration(timeoutSec * 1000)}</tev:Timeout>` +
      `<tev:MessageLimit>${Math.max(1, Math.floor(opts.messageLimit ?? 100))}</tev:MessageLimit></tev:PullMessages>`
    const r = await this.client.subscriptionCall(
      'PullMessages',
      `${NS.tev}/PullPointSubscription/PullMessagesRequest`,
      body,
      this.address,
      this.refs,
      this.ac.signal,
      this.client.timeoutMs + timeoutSec * 1000,
    )
    const res = parsePullMessages(r.payload)
    if (res.terminationTime) this.terminationTime = res.terminationTime
    if (res.currentTime) this.currentTime = res.currentTime
    return res
  }
}

/** A WS-BaseNotification (push) subscription: the device POSTs Notify to the consumer; we only Renew and Unsubscribe. */
export class PushSubscription extends ManagedSubscription {}

/** One-shot adoption: connect, interrogate, close. */
export async function interrogate(opts: OnvifClientOptions): Promise<DeviceReport> {
  const c = new OnvifClient(opts)
  try {
    return await c.interrogate()
  } finally {
    c.close()
  }
}
