/**
 * One simulated ONVIF camera: an HTTP SOAP server on its own address/port behaving like the vendor
 * it imitates (auth refusal style, paths, prefixes), with a skewable clock, PTZ, PullPoint events,
 * WS-BaseNotification push subscriptions (Subscribe, then Notify POSTed to the consumer), snapshots, fault injection and an optional WS-Discovery responder.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import type { Socket } from 'node:net'
import { DiscoveryResponder, type DiscoveryOptions } from './discovery.js'
import { DARK_JPEG, LIVE_JPEGS } from './jpeg.js'
import { VENDORS, type VendorName, type VendorProfile } from './vendors.js'
import { attr, durationOrTime, esc, get, isoSeconds, parseRequest, text, type Node } from './xml.js'

export type FaultMode =
  /** answer normally after `ms` */
  | { kind: 'delay'; ms: number }
  /** 200 with bytes that are not XML */
  | { kind: 'garbage' }
  /** HTTP 500 with an HTML error page, no SOAP */
  | { kind: 'http500' }
  /** HTTP 500 with a SOAP 1.2 env:Receiver fault */
  | { kind: 'receiver-fault' }
  /** accept the request and never answer */
  | { kind: 'hang' }
  /** send the reply one byte every `intervalMs` (defeats idle-based timeouts) */
  | { kind: 'trickle'; intervalMs: number }
  /** close the connection without an answer */
  | { kind: 'drop' }
  /** payload elements in wrong/outdated namespaces (envelope stays correct) */
  | { kind: 'wrong-namespaces' }
  /** a valid SOAP reply padded to `bytes` (default 2 MiB); `declareLength` sends Content-Length */
  | { kind: 'oversized'; bytes?: number; declareLength?: boolean }
  /** a reply with a DTD: `billion-laughs` entity expansion or an `xxe` external entity */
  | { kind: 'dtd'; variant?: 'billion-laughs' | 'xxe' }

export interface RecordedCall {
  action: string
  path: string
  at: number
  authenticated: boolean
  /** the parsed body element of the request (namespace prefixes removed) */
  params: Node
  /** WS-Addressing headers of the request, when present */
  addressing: { action: string | undefined; to: string | undefined; messageId: string | undefined }
}

export interface SimEvent {
  /** e.g. `tns1:RuleEngine/CellMotionDetector/Motion`; `tns1:` is the ONVIF topic namespace */
  topic: string
  source?: Record<string, string>
  key?: Record<string, string>
  data?: Record<string, string>
  propertyOperation?: 'Initialized' | 'Changed' | 'Deleted'
  /** defaults to the device clock */
  utcTime?: Date
  /** default true: a state (replayed as Initialized on new PullPoints); false: a pulse, e.g. a line crossing */
  isProperty?: boolean
}

export interface OnvifSimulatorOptions {
  /** loopback address to bind (HTTP and discovery), default 127.0.0.1 */
  address?: string
  /** default 0 (ephemeral) */
  httpPort?: number
  vendor?: VendorName
  username?: string
  password?: string
  /** device clock minus real time, seconds */
  clockSkewSec?: number
  /**
   * The device clock ticks in steps of this many ms (default 1: exact). Cheap firmwares keep time in
   * whole seconds (1000): the offset a client measures then swings by up to a second between reads.
   */
  clockResolutionMs?: number
  /** UsernameToken Created must be within ± this of the device clock, default 5 s */
  maxTokenAgeSec?: number
  /** override the vendor's HTTP status for refused credentials */
  authFailureStatus?: 400 | 401
  /** GetSystemDateAndTime: `utc` (UTCDateTime + LocalDateTime) or `local-only` (LocalDateTime + TZ) */
  clockStyle?: 'utc' | 'local-only'
  /** POSIX TZ the device reports, default CST-8:00:00 */
  timeZone?: string
  mainStreamUri?: string
  subStreamUri?: string
  name?: string
  serialNumber?: string
  /** WS-Discovery endpoint reference, default a stable urn:uuid derived from the address */
  uuid?: string
  ptz?: boolean
  /**
   * The PTZ node's spaces (GetNodes, GetConfigurationOptions); default all of them. A camera with
   * a pan/tilt head and a fixed lens has no zoom spaces (`zoom: false`): like real firmwares it
   * still answers zoom requests with success and does not move.
   */
  ptzSpaces?: { panTilt?: boolean; zoom?: boolean; absolute?: boolean; relative?: boolean; continuous?: boolean; presets?: boolean }
  /** `honour` (default, as the spec says): a ContinuousMove stops by itself after its Timeout; `ignore`: it keeps moving until Stop */
  ptzTimeout?: 'honour' | 'ignore'
  /** longest preset name the device takes (UTF-8 bytes, default 32); longer ones fault ter:InvalidPresetName */
  maxPresetNameBytes?: number
  /**
   * Every new PullPoint subscription starts with an `Initialized` message per property holding its
   * current state (what real cameras do). Default true; false: no Initialized messages.
   */
  initializedMessages?: boolean
  /**
   * `true` (default): PullPoint and push (Subscribe) both work. `'push'`: a device without PullPoint:
   * CreatePullPointSubscription answers ter:ActionNotSupported, GetCapabilities says
   * WSPullPointSupport false, Subscribe works. `false`: no events service.
   */
  events?: boolean | 'push'
  /** the device refuses new subscriptions beyond this many live ones (some cameras cap them at ~5) */
  maxSubscriptions?: number
  snapshot?: 'live' | 'frozen' | 'dark'
  /** cap on how long PullMessages is held open, default 10 s */
  maxPullWaitMs?: number
  /** WS-Discovery responder; off unless given */
  discovery?: DiscoveryOptions | false
  /** extra operations to answer with ter:ActionNotSupported */
  unsupported?: string[]
}

interface Subscription {
  id: number
  path: string
  terminationMs: number
  queue: string[]
  waiter: (() => void) | undefined
  /** push subscriptions: the consumer the device POSTs Notify to */
  consumer?: string
  /** push: deliveries to one consumer stay in order */
  chain?: Promise<void>
}

export interface NotifyDelivery {
  subscriptionId: number
  url: string
  at: number
  /** HTTP status, or 0 when the consumer could not be reached */
  status: number
  error?: string
}

interface Preset {
  token: string
  name: string
  pan: number
  tilt: number
  zoom: number
}

const PRE_AUTH = new Set(['GetSystemDateAndTime', 'GetServices', 'GetCapabilities', 'GetServiceCapabilities', 'GetWsdlUrl', 'GetEndpointReference'])

const NS_URI: Record<string, string> = {
  tt: 'http://www.onvif.org/ver10/schema',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tr2: 'http://www.onvif.org/ver20/media/wsdl',
  tptz: 'http://www.onvif.org/ver20/ptz/wsdl',
  tev: 'http://www.onvif.org/ver10/events/wsdl',
  wsnt: 'http://docs.oasis-open.org/wsn/b-2',
  wsa: 'http://www.w3.org/2005/08/addressing',
  tns1: 'http://www.onvif.org/ver10/topics',
  ter: 'http://www.onvif.org/ver10/error',
}
/** what a sloppy firmware writes instead (wrong-namespaces fault mode) */
const WRONG_NS_URI: Record<string, string> = {
  ...NS_URI,
  tt: 'http://www.onvif.org/ver20/schema',
  tds: 'http://www.onvif.org/ver10/device/wsdl/',
  trt: 'http://www.onvif.org/ver20/media/wsdl',
  tptz: 'http://www.onvif.org/ver10/ptz/wsdl',
}
const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope'

function uuidFor(address: string, port: number): string {
  const h = createHash('sha1').update(`${address}:${port}`).digest('hex')
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

export class SimulatedDevice {
  readonly vendor: VendorProfile
  readonly address: string
  readonly username: string
  readonly calls: RecordedCall[] = []
  /** every Notify POSTed to a push consumer */
  readonly notifications: NotifyDelivery[] = []
  /** subscriptions (pull and push) created since start */
  subscriptionsCreated = 0
  #peakSubs = 0
  readonly uuid: string
  readonly name: string
  readonly serialNumber: string
  #password: string
  #skewMs: number
  #fault: FaultMode | undefined
  #faultActions: Set<string> | undefined
  #snapshot: 'live' | 'frozen' | 'dark'
  #snapshotCounter = 0
  #downUntil = 0
  #nextSubId = 1
  #nextPresetId = 3
  #position = { pan: 0, tilt: 0, zoom: 0 }
  #moving = { pan: 0, tilt: 0, zoom: 0 }
  /** the pending self-stop of a ContinuousMove with a Timeout (ptzTimeout 'honour') */
  #moveTimer: NodeJS.Timeout | undefined
  /** current state of each property event (topic + source), replayed as Initialized on new PullPoints */
  readonly #properties = new Map<string, SimEvent>()
  readonly #subs = new Map<number, Subscription>()
  readonly #presets = new Map<string, Preset>()
  readonly #nonces = new Set<string>()
  readonly #sockets = new Set<Socket>()
  readonly #hanging = new Set<http.ServerResponse>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #deliveries = new Set<AbortController>()
  readonly #opts: OnvifSimulatorOptions
  readonly #server: http.Server
  #port = 0
  #discovery: DiscoveryResponder | undefined
  #closed: Promise<void> | undefined

  private constructor(opts: OnvifSimulatorOptions) {
    this.#opts = opts
    this.vendor = VENDORS[opts.vendor ?? 'hikvision']
    this.address = opts.address ?? '127.0.0.1'
    if (!this.address.startsWith('127.')) throw new Error('the simulator binds loopback (127.0.0.0/8) addresses only')
    this.username = opts.username ?? 'admin'
    this.#password = opts.password ?? 'admin123'
    this.#skewMs = (opts.clockSkewSec ?? 0) * 1000
    this.#snapshot = opts.snapshot ?? 'live'
    this.uuid = opts.uuid ?? ''
    this.name = opts.name ?? `${this.vendor.manufacturer} ${this.vendor.model}`
    this.serialNumber = opts.serialNumber ?? `${this.vendor.serialPrefix}${this.address.split('.').map((o) => o.padStart(3, '0')).join('').slice(-8)}`
    this.#presets.set('1', { token: '1', name: 'Gate', pan: -0.5, tilt: 0.1, zoom: 0 })
    this.#presets.set('2', { token: '2', name: 'Parking', pan: 0.4, tilt: -0.2, zoom: 0.3 })
    // the states a camera reports before anything happened
    this.#setProperty({ topic: 'tns1:VideoSource/MotionAlarm', source: { Source: 'VideoSource_1' }, data: { State: 'false' } })
    this.#setProperty({
      topic: 'tns1:RuleEngine/CellMotionDetector/Motion',
      source: { VideoSourceConfigurationToken: 'VideoSourceToken', VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken', Rule: 'MyMotionDetectorRule' },
      data: { IsMotion: 'false' },
    })
    this.#server = http.createServer((req, res) => void this.#handle(req, res))
    this.#server.keepAliveTimeout = 2000
    this.#server.on('connection', (s: Socket) => {
      if (Date.now() < this.#downUntil) {
        s.destroy()
        return
      }
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
    })
  }

  static async start(opts: OnvifSimulatorOptions = {}): Promise<SimulatedDevice> {
    const d = new SimulatedDevice(opts)
    d.#server.listen(opts.httpPort ?? 0, d.address)
    await once(d.#server, 'listening')
    const a = d.#server.address()
    d.#port = typeof a === 'object' && a ? a.port : 0
    if (!d.uuid) (d as { uuid: string }).uuid = uuidFor(d.address, d.#port)
    if (opts.discovery) {
      try {
        d.#discovery = await DiscoveryResponder.start(d, opts.discovery)
      } catch (e) {
        await d.close()
        throw e
      }
    }
    return d
  }

  // ---------------------------------------------------------------- public control API

  get httpPort(): number {
    return this.#port
  }
  get xaddr(): string {
    return `http://${this.address}:${this.#port}${this.vendor.paths.device}`
  }
  get scopes(): string[] {
    const enc = (s: string): string => encodeURIComponent(s)
    return [
      'onvif://www.onvif.org/type/video_encoder',
      'onvif://www.onvif.org/type/Network_Video_Transmitter',
      ...(this.#ptzEnabled ? ['onvif://www.onvif.org/type/ptz'] : []),
      'onvif://www.onvif.org/Profile/Streaming',
      'onvif://www.onvif.org/Profile/T',
      `onvif://www.onvif.org/name/${enc(this.name)}`,
      `onvif://www.onvif.org/hardware/${enc(this.vendor.model)}`,
      ...this.vendor.locationScopes.map((l) => `onvif://www.onvif.org/location/${l}`),
      `onvif://www.onvif.org/MAC/${this.#mac}`,
    ]
  }
  get #mac(): string {
    const o = this.address.split('.').map(Number)
    return ['44', '19', 'b6', ...o.slice(1).map((n) => (n ?? 0).toString(16).padStart(2, '0'))].join(':')
  }
  get #ptzEnabled(): boolean {
    return this.#opts.ptz ?? this.vendor.ptz
  }
  get #eventsEnabled(): boolean {
    return this.#opts.events !== false
  }
  get #pullPointEnabled(): boolean {
    return this.#opts.events === undefined || this.#opts.events === true
  }
  /** the device's clock, ms (in steps of clockResolutionMs) */
  now(): number {
    const t = Date.now() + this.#skewMs
    const step = this.#opts.clockResolutionMs ?? 1
    return step > 1 ? Math.floor(t / step) * step : t
  }
  get isDown(): boolean {
    return Date.now() < this.#downUntil
  }
  get activeSubscriptions(): number {
    this.#expire()
    return this.#subs.size
  }
  /** live push subscriptions */
  get pushSubscriptions(): number {
    this.#expire()
    return [...this.#subs.values()].filter((s) => s.consumer !== undefined).length
  }
  /** the most live subscriptions held at once since start (or resetPeak) */
  get peakSubscriptions(): number {
    return this.#peakSubs
  }
  resetPeak(): void {
    this.#expire()
    this.#peakSubs = this.#subs.size
  }
  get ptzPosition(): { pan: number; tilt: number; zoom: number } {
    return { ...this.#position }
  }
  get ptzVelocity(): { pan: number; tilt: number; zoom: number } {
    return { ...this.#moving }
  }
  get presets(): Array<{ token: string; name: string }> {
    return [...this.#presets.values()].map((p) => ({ token: p.token, name: p.name }))
  }

  ptzCalls(): RecordedCall[] {
    return this.calls.filter((c) => ['ContinuousMove', 'Stop', 'RelativeMove', 'AbsoluteMove', 'GetPresets', 'GotoPreset', 'SetPreset', 'RemovePreset'].includes(c.action))
  }
  clearCalls(): void {
    this.calls.length = 0
  }
  setPassword(pw: string): void {
    this.#password = pw
  }
  setClockSkew(sec: number): void {
    this.#skewMs = sec * 1000
  }
  setSnapshot(mode: 'live' | 'frozen' | 'dark'): void {
    this.#snapshot = mode
  }
  /** Inject a fault for every request, or only for the named operations. `undefined` clears it. */
  setFault(mode: FaultMode | undefined, opts: { actions?: string[] } = {}): void {
    this.#fault = mode
    this.#faultActions = opts.actions ? new Set(opts.actions) : undefined
  }

  /** Queue a notification on every live subscription. A property event (Changed/Initialized) also becomes the property's current state. */
  emitEvent(ev: SimEvent): void {
    this.#expire()
    if (ev.isProperty === false) {
      // a pulse: never replayed
    } else if (ev.propertyOperation !== 'Deleted') this.#setProperty(ev)
    else this.#properties.delete(propertyKey(ev))
    const xml = this.#notification(ev)
    for (const s of this.#subs.values()) {
      if (s.consumer !== undefined) {
        this.#push(s, xml)
        continue
      }
      s.queue.push(xml)
      if (s.queue.length > 1000) s.queue.shift()
      s.waiter?.()
    }
  }

  /** `cell`: RuleEngine/CellMotionDetector/Motion (IsMotion), `alarm`: VideoSource/MotionAlarm (State). */
  emitMotion(active: boolean, which: 'cell' | 'alarm' | 'both' = 'cell'): void {
    if (which !== 'alarm') {
      this.emitEvent({
        topic: 'tns1:RuleEngine/CellMotionDetector/Motion',
        source: { VideoSourceConfigurationToken: 'VideoSourceToken', VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken', Rule: 'MyMotionDetectorRule' },
        data: { IsMotion: String(active) },
      })
    }
    if (which !== 'cell') {
      this.emitEvent({ topic: 'tns1:VideoSource/MotionAlarm', source: { Source: 'VideoSource_1' }, data: { State: String(active) } })
    }
  }

  emitTamper(kind: 'blurry' | 'dark' | 'bright' | 'scene-change', active: boolean): void {
    const topic = {
      blurry: 'tns1:VideoSource/ImageTooBlurry/ImagingService',
      dark: 'tns1:VideoSource/ImageTooDark/ImagingService',
      bright: 'tns1:VideoSource/ImageTooBright/ImagingService',
      'scene-change': 'tns1:VideoSource/GlobalSceneChange/ImagingService',
    }[kind]
    this.emitEvent({ topic, source: { Source: 'VideoSourceToken' }, data: { State: String(active) } })
  }

  /** The Initialized messages a new PullPoint starts with: every property's current state. */
  #setProperty(ev: SimEvent): void {
    this.#properties.set(propertyKey(ev), { ...ev, propertyOperation: 'Initialized', utcTime: undefined })
  }

  /**
   * Drop every subscription and connection, as a power cycle does; with `downMs` the device refuses
   * connections (and ignores discovery) for that long.
   */
  reboot(opts: { downMs?: number } = {}): void {
    for (const s of this.#subs.values()) s.waiter?.()
    this.#subs.clear()
    this.#nonces.clear()
    this.#moving = { pan: 0, tilt: 0, zoom: 0 }
    clearTimeout(this.#moveTimer)
    this.#downUntil = Date.now() + (opts.downMs ?? 0)
    for (const r of this.#hanging) r.destroy()
    this.#hanging.clear()
    for (const s of this.#sockets) s.destroy()
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const t of this.#timers) clearTimeout(t)
      this.#timers.clear()
      clearTimeout(this.#moveTimer)
      for (const ac of this.#deliveries) ac.abort()
      this.#deliveries.clear()
      for (const s of this.#subs.values()) s.waiter?.()
      this.#subs.clear()
      for (const r of this.#hanging) r.destroy()
      this.#hanging.clear()
      await this.#discovery?.close()
      this.#server.closeAllConnections()
      await new Promise<void>((r) => this.#server.close(() => r()))
    })()
    return this.#closed
  }

  // ---------------------------------------------------------------- HTTP

  /** POST a wsnt:Notify with one message to the subscription's consumer, after earlier ones. */
  #push(s: Subscription, messageXml: string): void {
    const { wsnt, wsa } = this.vendor.prefixes
    const e = this.vendor.envPrefix
    const url = s.consumer!
    const subRef = `<${wsnt}:SubscriptionReference><${wsa}:Address>${esc(this.#base() + s.path)}</${wsa}:Address></${wsnt}:SubscriptionReference>`
    const msg = messageXml.replace(`<${wsnt}:NotificationMessage>`, `<${wsnt}:NotificationMessage>${subRef}`)
    const action = 'http://docs.oasis-open.org/wsn/bw-2/NotificationConsumer/Notify'
    const xml =
      this.#envelopeOpen(false) +
      `<${e}:Header><${wsa}:Action>${action}</${wsa}:Action><${wsa}:To>${esc(url)}</${wsa}:To></${e}:Header>` +
      `<${e}:Body><${wsnt}:Notify>${msg}</${wsnt}:Notify></${this.#envClose()}`
    const send = (): Promise<void> =>
      new Promise<void>((resolve) => {
        if (this.#closed) return resolve()
        const ac = new AbortController()
        this.#deliveries.add(ac)
        const record = (status: number, error?: string): void => {
          this.#deliveries.delete(ac)
          this.notifications.push({ subscriptionId: s.id, url, at: Date.now(), status, ...(error ? { error } : {}) })
          if (this.notifications.length > 5000) this.notifications.splice(0, 1000)
          resolve()
        }
        try {
          const req = http.request(url, {
            method: 'POST',
            agent: false,
            signal: ac.signal,
            timeout: 5000,
            headers: { 'Content-Type': `application/soap+xml; charset=utf-8; action="${action}"`, 'Content-Length': String(Buffer.byteLength(xml)) },
          })
          req.on('response', (res) => {
            res.resume()
            res.on('end', () => record(res.statusCode ?? 0))
            res.on('error', () => record(res.statusCode ?? 0))
          })
          req.on('timeout', () => req.destroy(new Error('timeout')))
          req.on('error', (err) => record(0, err.message))
          req.end(xml)
        } catch (err) {
          record(0, (err as Error).message)
        }
      })
    s.chain = (s.chain ?? Promise.resolve()).then(send)
  }

  #addSubscription(s: Subscription): void {
    this.#subs.set(s.id, s)
    this.subscriptionsCreated++
    this.#peakSubs = Math.max(this.#peakSubs, this.#subs.size)
  }

  #checkSubscriptionLimit(): void {
    this.#expire()
    const max = this.#opts.maxSubscriptions
    if (max !== undefined && this.#subs.size >= max) {
      throw new SimFault(500, 'env:Receiver', ['ter:Action', 'ter:TooManySubscriptions'], 'The maximum number of subscriptions is reached')
    }
  }

  #later(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t)
        resolve()
      }, ms)
      this.#timers.add(t)
    })
  }

  #base(): string {
    return `http://${this.address}:${this.#port}`
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader('Server', this.vendor.serverHeader)
    const url = new URL(req.url ?? '/', this.#base())
    if (req.method === 'GET') return this.#serveSnapshot(url, res)
    if (req.method !== 'POST') {
      res.writeHead(405).end()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length
      if (size > 256 * 1024) {
        res.writeHead(413).end()
        return
      }
      chunks.push(c)
    }
    const body = Buffer.concat(chunks).toString('utf8')
    const doc = parseRequest(body)
    const env = get(doc, 'Envelope')
    const bodyEl = get(env, 'Body') as Node | undefined
    const action = bodyEl ? Object.keys(bodyEl).find((k) => !k.startsWith('@_') && k !== '#text') : undefined
    if (!doc || !env || !action) {
      this.#fault400(res, 'env:Sender', 'ter:InvalidArgs', 'Malformed SOAP request')
      return
    }
    const params = (get(bodyEl, action) as Node | undefined) ?? {}
    const header = get(env, 'Header') as Node | undefined
    const path = url.pathname + url.search

    let wrongNs = false
    const fault = this.#fault
    if (fault && (!this.#faultActions || this.#faultActions.has(action))) {
      switch (fault.kind) {
        case 'delay':
          await this.#later(fault.ms)
          if (res.destroyed) return
          break
        case 'hang':
          this.#record(action, path, false, params, header)
          this.#hanging.add(res)
          res.on('close', () => this.#hanging.delete(res))
          return
        case 'drop':
          req.socket.destroy()
          return
        case 'trickle': {
          res.writeHead(200, { 'Content-Type': 'application/soap+xml; charset=utf-8' })
          const xml = this.#envelopeOpen(false) + `<${this.vendor.envPrefix}:Body>${this.#dateTime()}</${this.#envClose()}`
          for (let i = 0; i < xml.length && !res.destroyed && !this.#closed; i++) {
            res.write(xml[i])
            await this.#later(fault.intervalMs)
          }
          if (!res.destroyed) res.end()
          return
        }
        case 'garbage':
          res.writeHead(200, { 'Content-Type': 'application/soap+xml; charset=utf-8' })
          res.end('HTTP/1.1 200 OK\r\n<<<\x00\x01 this is not xml at all ]]> <env:Envelope')
          return
        case 'http500':
          res.writeHead(500, { 'Content-Type': 'text/html' })
          res.end('<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>')
          return
        case 'receiver-fault':
          this.#sendFault(res, 500, 'env:Receiver', ['ter:Action'], 'Internal error while processing the request')
          return
        case 'wrong-namespaces':
          wrongNs = true
          break
        case 'oversized': {
          const bytes = fault.bytes ?? 2 * 1024 * 1024
          const head = this.#envelopeOpen(false) + `<${this.vendor.envPrefix}:Body><${this.#p('tds')}:GetDeviceInformationResponse><${this.#p('tds')}:Manufacturer>`
          const tail = `</${this.#p('tds')}:Manufacturer></${this.#p('tds')}:GetDeviceInformationResponse></${this.#envClose()}`
          const pad = Math.max(0, bytes - head.length - tail.length)
          res.writeHead(200, {
            'Content-Type': 'application/soap+xml; charset=utf-8',
            ...(fault.declareLength ? { 'Content-Length': String(head.length + pad + tail.length) } : {}),
          })
          res.write(head)
          const block = 'A'.repeat(64 * 1024)
          let left = pad
          while (left > 0 && !res.destroyed) {
            const n = Math.min(left, block.length)
            if (!res.write(n === block.length ? block : block.slice(0, n))) await once(res, 'drain').catch(() => undefined)
            left -= n
          }
          if (!res.destroyed) res.end(tail)
          return
        }
        case 'dtd': {
          const p = this.#p('tds')
          const dtd =
            fault.variant === 'xxe'
              ? '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
              : '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
                '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
          const ent = fault.variant === 'xxe' ? '&xxe;' : '&lol3;'
          res.writeHead(200, { 'Content-Type': 'application/soap+xml; charset=utf-8' })
          res.end(
            `<?xml version="1.0" encoding="UTF-8"?>${dtd}` +
              this.#envelopeOpen(false).replace(/^<\?xml[^>]*\?>/, '') +
              `<${this.vendor.envPrefix}:Body><${p}:GetDeviceInformationResponse><${p}:Manufacturer>${ent}</${p}:Manufacturer><${p}:Model>x</${p}:Model>` +
              `<${p}:FirmwareVersion>1</${p}:FirmwareVersion><${p}:SerialNumber>1</${p}:SerialNumber><${p}:HardwareId>1</${p}:HardwareId></${p}:GetDeviceInformationResponse></${this.#envClose()}`,
          )
          return
        }
      }
    }

    const sub = this.#findSubscription(path, header)
    const known = new Set<string>([...Object.values(this.vendor.paths).filter((p): p is string => !!p), '/onvif/device_service'])
    if (!known.has(url.pathname) && !sub && !this.#looksLikeSubscriptionPath(path)) {
      res.writeHead(404, { 'Content-Type': 'text/html' }).end('<html><body>404 Not Found</body></html>')
      return
    }

    let authenticated = false
    if (!PRE_AUTH.has(action)) {
      const verdict = this.#checkAuth(header)
      if (verdict !== 'ok') {
        this.#record(action, path, false, params, header)
        this.#authFault(res)
        return
      }
      authenticated = true
    }
    this.#record(action, path, authenticated, params, header)

    if (this.vendor.unsupported.includes(action) || this.#opts.unsupported?.includes(action)) {
      this.#sendFault(res, 500, 'env:Receiver', ['ter:ActionNotSupported'], 'Optional Action Not Implemented')
      return
    }
    try {
      const out = await this.#dispatch(action, params, path, bodyNamespace(body, action), sub, res)
      if (out === undefined || res.writableEnded || res.destroyed) return
      this.#send(res, 200, out.body, { wrongNs, header: out.header })
    } catch (e) {
      if (e instanceof SimFault) this.#sendFault(res, e.status, e.code, e.subcodes, e.reason, e.detail)
      else this.#sendFault(res, 500, 'env:Receiver', ['ter:Action'], 'Internal simulator error')
    }
  }

  #record(action: string, path: string, authenticated: boolean, params: Node, header?: Node): void {
    const addressing = { action: text(get(header, 'Action')), to: text(get(header, 'To')), messageId: text(get(header, 'MessageID')) }
    this.calls.push({ action, path, at: Date.now(), authenticated, params, addressing })
    if (this.calls.length > 5000) this.calls.splice(0, 1000)
  }

  #serveSnapshot(url: URL, res: http.ServerResponse): void {
    const path = url.pathname + url.search
    const idx = [0, 1].find((i) => this.vendor.snapshotPath(i as 0 | 1) === path)
    if (idx === undefined) {
      res.writeHead(404).end()
      return
    }
    const img =
      this.#snapshot === 'dark' ? DARK_JPEG : this.#snapshot === 'frozen' ? LIVE_JPEGS[0]! : LIVE_JPEGS[this.#snapshotCounter++ % LIVE_JPEGS.length]!
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(img.length) }).end(img)
  }

  // ---------------------------------------------------------------- auth

  #checkAuth(header: Node | undefined): 'ok' | 'missing' | 'bad' {
    const tok = get(header, 'Security', 'UsernameToken')
    if (!tok) return 'missing'
    const user = text(get(tok, 'Username'))
    const pwEl = get(tok, 'Password')
    const digest = text(pwEl)
    const nonce = text(get(tok, 'Nonce'))
    const created = text(get(tok, 'Created'))
    if (!user || !digest || !nonce || !created) return 'bad'
    if (!/PasswordDigest$/.test(attr(pwEl, 'Type') ?? '')) return 'bad'
    const createdMs = Date.parse(created)
    const maxAge = (this.#opts.maxTokenAgeSec ?? 5) * 1000
    if (Number.isNaN(createdMs) || Math.abs(this.now() - createdMs) > maxAge) return 'bad'
    if (this.#nonces.has(nonce)) return 'bad'
    const expect = createHash('sha1')
      .update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created, 'utf8'), Buffer.from(this.#password, 'utf8')]))
      .digest('base64')
    if (user !== this.username || expect !== digest) return 'bad'
    this.#nonces.add(nonce)
    if (this.#nonces.size > 2000) this.#nonces.delete(this.#nonces.values().next().value!)
    return 'ok'
  }

  #authFault(res: http.ServerResponse): void {
    const status = this.#opts.authFailureStatus ?? this.vendor.authFailureStatus
    this.#sendFault(res, status, 'env:Sender', this.vendor.authFaultHasSubcode ? ['ter:NotAuthorized'] : [], this.vendor.authFailureReason)
  }

  // ---------------------------------------------------------------- envelope

  #p(k: keyof VendorProfile['prefixes']): string {
    return this.vendor.prefixes[k]
  }

  #envelopeOpen(wrongNs: boolean): string {
    const uris = wrongNs ? WRONG_NS_URI : NS_URI
    const decls = Object.entries(this.vendor.prefixes)
      .map(([k, p]) => ` xmlns:${p}="${uris[k]}"`)
      .join('')
    return (
      `<?xml version="1.0" encoding="UTF-8"?>\n<${this.vendor.envPrefix}:Envelope xmlns:${this.vendor.envPrefix}="${SOAP12}"` +
      ` xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"${decls}>`
    )
  }

  #envClose(): string {
    return `${this.vendor.envPrefix}:Body></${this.vendor.envPrefix}:Envelope>`
  }

  #send(res: http.ServerResponse, status: number, body: string, o: { wrongNs?: boolean; header?: string | undefined } = {}): void {
    const e = this.vendor.envPrefix
    const xml =
      this.#envelopeOpen(o.wrongNs ?? false) +
      (o.header ? `<${e}:Header>${o.header}</${e}:Header>` : '') +
      `<${e}:Body>${body}</${this.#envClose()}`
    res.writeHead(status, { 'Content-Type': 'application/soap+xml; charset=utf-8', 'Content-Length': String(Buffer.byteLength(xml)) })
    res.end(xml)
  }

  #sendFault(res: http.ServerResponse, status: number, code: string, subcodes: string[], reason: string, detail?: string): void {
    const e = this.vendor.envPrefix
    const ter = this.#p('ter')
    const q = (v: string): string => v.replace(/^env:/, `${e}:`).replace(/^ter:/, `${ter}:`)
    let sub = ''
    for (const s of [...subcodes].reverse()) sub = `<${e}:Subcode><${e}:Value>${q(s)}</${e}:Value>${sub}</${e}:Subcode>`
    const body =
      `<${e}:Fault><${e}:Code><${e}:Value>${q(code)}</${e}:Value>${sub}</${e}:Code>` +
      `<${e}:Reason><${e}:Text xml:lang="en">${esc(reason)}</${e}:Text></${e}:Reason>` +
      (detail ? `<${e}:Detail>${detail}</${e}:Detail>` : '') +
      `</${e}:Fault>`
    this.#send(res, status, body)
  }

  #fault400(res: http.ServerResponse, code: string, sub: string, reason: string): void {
    this.#sendFault(res, 400, code, [sub], reason)
  }

  // ---------------------------------------------------------------- operations

  async #dispatch(
    action: string,
    params: Node,
    path: string,
    bodyNs: string | undefined,
    sub: Subscription | undefined,
    res: http.ServerResponse,
  ): Promise<{ body: string; header?: string } | undefined> {
    const { tt, tds, trt, tr2, tptz, tev, wsnt, wsa } = this.vendor.prefixes
    const ptzOnly = (): void => {
      if (!this.#ptzEnabled) throw new SimFault(500, 'env:Receiver', ['ter:ActionNotSupported', 'ter:PTZNotSupported'], 'PTZ is not supported')
    }
    const evOnly = (): void => {
      if (!this.#eventsEnabled) throw new SimFault(500, 'env:Receiver', ['ter:ActionNotSupported'], 'Events are not supported')
    }
    const isMedia2 = bodyNs === NS_URI.tr2
    switch (action) {
      case 'GetSystemDateAndTime':
        return { body: this.#dateTime() }
      case 'GetDeviceInformation':
        return {
          body:
            `<${tds}:GetDeviceInformationResponse><${tds}:Manufacturer>${esc(this.vendor.manufacturer)}</${tds}:Manufacturer>` +
            `<${tds}:Model>${esc(this.vendor.model)}</${tds}:Model><${tds}:FirmwareVersion>${esc(this.vendor.firmwareVersion)}</${tds}:FirmwareVersion>` +
            `<${tds}:SerialNumber>${esc(this.serialNumber)}</${tds}:SerialNumber><${tds}:HardwareId>${esc(this.vendor.hardwareId)}</${tds}:HardwareId>` +
            `</${tds}:GetDeviceInformationResponse>`,
        }
      case 'GetServices':
        return { body: this.#services() }
      case 'GetCapabilities':
        return { body: this.#capabilities() }
      case 'SystemReboot':
        setImmediate(() => this.reboot({ downMs: 200 }))
        return { body: `<${tds}:SystemRebootResponse><${tds}:Message>Rebooting in 1 seconds</${tds}:Message></${tds}:SystemRebootResponse>` }
      case 'GetProfiles':
        return { body: isMedia2 ? this.#profiles2() : this.#profiles1() }
      case 'GetStreamUri': {
        const i = this.#profileIndex(text(get(params, 'ProfileToken')))
        const uri = i === 0 ? this.#opts.mainStreamUri ?? this.vendor.defaultStreamUri(this.address, 0) : this.#opts.subStreamUri ?? this.vendor.defaultStreamUri(this.address, 1)
        if (isMedia2 || get(params, 'Protocol') !== undefined) {
          return { body: `<${tr2}:GetStreamUriResponse><${tr2}:Uri>${esc(uri)}</${tr2}:Uri></${tr2}:GetStreamUriResponse>` }
        }
        const stream = text(get(params, 'StreamSetup', 'Stream'))
        if (stream && stream !== 'RTP-Unicast' && stream !== 'RTP-Multicast') {
          throw new SimFault(400, 'env:Sender', ['ter:InvalidArgVal', 'ter:InvalidStreamSetup'], 'Invalid stream setup')
        }
        return {
          body:
            `<${trt}:GetStreamUriResponse><${trt}:MediaUri><${tt}:Uri>${esc(uri)}</${tt}:Uri><${tt}:InvalidAfterConnect>false</${tt}:InvalidAfterConnect>` +
            `<${tt}:InvalidAfterReboot>false</${tt}:InvalidAfterReboot><${tt}:Timeout>PT60S</${tt}:Timeout></${trt}:MediaUri></${trt}:GetStreamUriResponse>`,
        }
      }
      case 'GetSnapshotUri': {
        const i = this.#profileIndex(text(get(params, 'ProfileToken')))
        const uri = `${this.#base()}${this.vendor.snapshotPath(i)}`
        if (isMedia2) return { body: `<${tr2}:GetSnapshotUriResponse><${tr2}:Uri>${esc(uri)}</${tr2}:Uri></${tr2}:GetSnapshotUriResponse>` }
        return {
          body:
            `<${trt}:GetSnapshotUriResponse><${trt}:MediaUri><${tt}:Uri>${esc(uri)}</${tt}:Uri><${tt}:InvalidAfterConnect>false</${tt}:InvalidAfterConnect>` +
            `<${tt}:InvalidAfterReboot>false</${tt}:InvalidAfterReboot><${tt}:Timeout>PT0S</${tt}:Timeout></${trt}:MediaUri></${trt}:GetSnapshotUriResponse>`,
        }
      }
      case 'ContinuousMove': {
        ptzOnly()
        this.#profileIndex(text(get(params, 'ProfileToken')))
        const v = get(params, 'Velocity')
        const spaces = this.#spaces
        // a head without the space answers success and does not move (what the real firmware does)
        this.#moving = {
          pan: spaces.panTilt ? Number(attr(get(v, 'PanTilt'), 'x') ?? 0) : 0,
          tilt: spaces.panTilt ? Number(attr(get(v, 'PanTilt'), 'y') ?? 0) : 0,
          zoom: spaces.zoom ? Number(attr(get(v, 'Zoom'), 'x') ?? 0) : 0,
        }
        clearTimeout(this.#moveTimer)
        const timeout = durationOrTime(text(get(params, 'Timeout')), this.now())
        if (timeout !== undefined && (this.#opts.ptzTimeout ?? 'honour') === 'honour') {
          this.#moveTimer = setTimeout(() => this.#integrateAndStop(true, true), timeout)
          this.#moveTimer.unref()
        }
        return { body: `<${tptz}:ContinuousMoveResponse/>` }
      }
      case 'Stop': {
        ptzOnly()
        const stopPt = text(get(params, 'PanTilt')) !== 'false'
        const stopZ = text(get(params, 'Zoom')) !== 'false'
        if (stopPt && stopZ) clearTimeout(this.#moveTimer)
        this.#integrateAndStop(stopPt, stopZ)
        return { body: `<${tptz}:StopResponse/>` }
      }
      case 'RelativeMove': {
        ptzOnly()
        const tr = get(params, 'Translation')
        if (this.#spaces.panTilt) {
          this.#position.pan = clamp(this.#position.pan + Number(attr(get(tr, 'PanTilt'), 'x') ?? 0))
          this.#position.tilt = clamp(this.#position.tilt + Number(attr(get(tr, 'PanTilt'), 'y') ?? 0))
        }
        if (this.#spaces.zoom) this.#position.zoom = clamp01(this.#position.zoom + Number(attr(get(tr, 'Zoom'), 'x') ?? 0))
        return { body: `<${tptz}:RelativeMoveResponse/>` }
      }
      case 'GetPresets': {
        ptzOnly()
        const items = [...this.#presets.values()]
          .map(
            (p) =>
              `<${tptz}:Preset token="${esc(p.token)}"><${tt}:Name>${esc(p.name)}</${tt}:Name><${tt}:PTZPosition>` +
              `<${tt}:PanTilt x="${p.pan}" y="${p.tilt}" space="http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"/>` +
              `<${tt}:Zoom x="${p.zoom}" space="http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"/></${tt}:PTZPosition></${tptz}:Preset>`,
          )
          .join('')
        return { body: `<${tptz}:GetPresetsResponse>${items}</${tptz}:GetPresetsResponse>` }
      }
      case 'GotoPreset': {
        ptzOnly()
        const p = this.#presets.get(text(get(params, 'PresetToken')) ?? '')
        if (!p) throw new SimFault(400, 'env:Sender', ['ter:InvalidArgVal', 'ter:NoToken'], 'The requested preset token does not exist')
        this.#position = { pan: p.pan, tilt: p.tilt, zoom: p.zoom }
        return { body: `<${tptz}:GotoPresetResponse/>` }
      }
      case 'SetPreset': {
        ptzOnly()
        const want = text(get(params, 'PresetToken'))
        const name = text(get(params, 'PresetName'))
        let token: string
        if (want) {
          if (!this.#presets.has(want)) throw new SimFault(400, 'env:Sender', ['ter:InvalidArgVal', 'ter:NoToken'], 'The requested preset token does not exist')
          token = want
        } else {
          if (this.#presets.size >= 255) throw new SimFault(500, 'env:Receiver', ['ter:Action', 'ter:TooManyPresets'], 'Maximum number of presets reached')
          token = String(this.#nextPresetId++)
        }
        if (name !== undefined && Buffer.byteLength(name) > (this.#opts.maxPresetNameBytes ?? 32)) {
          throw new SimFault(400, 'env:Sender', ['ter:InvalidArgVal', 'ter:InvalidPresetName'], 'The preset name is too long or contains invalid characters')
        }
        if (name !== undefined && [...this.#presets.values()].some((p) => p.name === name && p.token !== token)) {
          throw new SimFault(400, 'env:Sender', ['ter:InvalidArgVal', 'ter:PresetExist'], 'A preset with this name already exists')
        }
        const prev = this.#presets.get(token)
        this.#presets.set(token, { token, name: name ?? prev?.name ?? `Preset ${token}`, ...this.#position })
        return { body: `<${tptz}:SetPresetResponse><${tptz}:PresetToken>${esc(token)}</${tptz}:PresetToken></${tptz}:SetPresetResponse>` }
      }
      case 'GetNodes':
        ptzOnly()
        return { body: `<${tptz}:GetNodesResponse>${this.#ptzNode('PTZNode')}</${tptz}:GetNodesResponse>` }
      case 'GetNode': {
        ptzOnly()
        if (text(get(params, 'NodeToken')) !== 'PTZNODETOKEN') throw new SimFault(400, 'env:Sender', ['ter:InvalidArgVal', 'ter:NoEntity'], 'No such PTZ node')
        return { body: `<${tptz}:GetNodeResponse>${this.#ptzNode('PTZNode')}</${tptz}:GetNodeResponse>` }
      }
      case 'GetEventProperties':
        evOnly()
        return { body: this.#eventProperties() }
      case 'CreatePullPointSubscription': {
        evOnly()
        if (!this.#pullPointEnabled) throw new SimFault(500, 'env:Receiver', ['ter:ActionNotSupported'], 'Optional Action Not Implemented')
        this.#checkSubscriptionLimit()
        const now = this.now()
        const ttl = durationOrTime(text(get(params, 'InitialTerminationTime')), now) ?? 60_000
        const id = this.#nextSubId++
        const subPath = this.vendor.subscriptionPath(id, isoSeconds(now).replace(/:/g, ''))
        const s: Subscription = { id, path: subPath, terminationMs: now + Math.min(Math.max(ttl, 1000), 3600_000), queue: [], waiter: undefined }
        this.#addSubscription(s)
        // Real cameras start every PullPoint with the current state of their properties.
        if (this.#opts.initializedMessages ?? true) for (const p of this.#properties.values()) s.queue.push(this.#notification(p))
        const refParams =
          this.vendor.subscriptionStyle === 'reference-parameter'
            ? `<${wsa}:ReferenceParameters><dom0:SubscriptionId xmlns:dom0="http://www.axis.com/2009/event">${id}</dom0:SubscriptionId></${wsa}:ReferenceParameters>`
            : ''
        return {
          body:
            `<${tev}:CreatePullPointSubscriptionResponse><${tev}:SubscriptionReference><${wsa}:Address>${esc(this.#base() + subPath)}</${wsa}:Address>${refParams}` +
            `</${tev}:SubscriptionReference><${wsnt}:CurrentTime>${isoSeconds(now)}</${wsnt}:CurrentTime>` +
            `<${wsnt}:TerminationTime>${isoSeconds(s.terminationMs)}</${wsnt}:TerminationTime></${tev}:CreatePullPointSubscriptionResponse>`,
          header: `<${wsa}:Action>${NS_URI.tev}/EventPortType/CreatePullPointSubscriptionResponse</${wsa}:Action>`,
        }
      }
      case 'Subscribe': {
        evOnly()
        const consumer = text(get(params, 'ConsumerReference', 'Address'))?.trim()
        let ok = false
        try {
          const u = new URL(consumer ?? '')
          ok = u.protocol === 'http:' || u.protocol === 'https:'
        } catch {
          ok = false
        }
        if (!ok) throw new SimFault(400, 'env:Sender', ['ter:InvalidArgVal'], 'Invalid ConsumerReference')
        this.#checkSubscriptionLimit()
        const now = this.now()
        const ttl = durationOrTime(text(get(params, 'InitialTerminationTime')), now) ?? 60_000
        const id = this.#nextSubId++
        const subPath = this.vendor.subscriptionPath(id, isoSeconds(now).replace(/:/g, ''))
        const s: Subscription = { id, path: subPath, terminationMs: now + Math.min(Math.max(ttl, 1000), 3600_000), queue: [], waiter: undefined, consumer: consumer! }
        this.#addSubscription(s)
        const refParams =
          this.vendor.subscriptionStyle === 'reference-parameter'
            ? `<${wsa}:ReferenceParameters><dom0:SubscriptionId xmlns:dom0="http://www.axis.com/2009/event">${id}</dom0:SubscriptionId></${wsa}:ReferenceParameters>`
            : ''
        return {
          body:
            `<${wsnt}:SubscribeResponse><${wsnt}:SubscriptionReference><${wsa}:Address>${esc(this.#base() + subPath)}</${wsa}:Address>${refParams}` +
            `</${wsnt}:SubscriptionReference><${wsnt}:CurrentTime>${isoSeconds(now)}</${wsnt}:CurrentTime>` +
            `<${wsnt}:TerminationTime>${isoSeconds(s.terminationMs)}</${wsnt}:TerminationTime></${wsnt}:SubscribeResponse>`,
          header: `<${wsa}:Action>http://docs.oasis-open.org/wsn/bw-2/NotificationProducer/SubscribeResponse</${wsa}:Action>`,
        }
      }
      case 'PullMessages': {
        evOnly()
        const s = this.#live(sub)
        if (s.consumer !== undefined) throw new SimFault(500, 'env:Receiver', ['ter:ActionNotSupported'], 'PullMessages on a push subscription')
        const now = this.now()
        const wait = Math.min(durationOrTime(text(get(params, 'Timeout')), now) ?? 5000, this.#opts.maxPullWaitMs ?? 10_000)
        const limit = Math.max(1, Number(text(get(params, 'MessageLimit')) ?? 100) || 100)
        if (s.queue.length === 0 && wait > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              this.#timers.delete(t)
              s.waiter = undefined
              resolve()
            }, wait)
            this.#timers.add(t)
            s.waiter = () => {
              clearTimeout(t)
              this.#timers.delete(t)
              s.waiter = undefined
              resolve()
            }
            res.on('close', () => s.waiter?.())
          })
        }
        if (res.destroyed) return undefined
        if (!this.#subs.has(s.id)) throw goneFault()
        const msgs = s.queue.splice(0, limit)
        const t = this.now()
        return {
          body:
            `<${tev}:PullMessagesResponse><${tev}:CurrentTime>${isoSeconds(t)}</${tev}:CurrentTime>` +
            `<${tev}:TerminationTime>${isoSeconds(s.terminationMs)}</${tev}:TerminationTime>${msgs.join('')}</${tev}:PullMessagesResponse>`,
          header: `<${wsa}:Action>${NS_URI.tev}/PullPointSubscription/PullMessagesResponse</${wsa}:Action>`,
        }
      }
      case 'Renew': {
        evOnly()
        const s = this.#live(sub)
        const now = this.now()
        const ttl = durationOrTime(text(get(params, 'TerminationTime')), now) ?? 60_000
        s.terminationMs = now + Math.min(Math.max(ttl, 1000), 3600_000)
        return {
          body:
            `<${wsnt}:RenewResponse><${wsnt}:TerminationTime>${isoSeconds(s.terminationMs)}</${wsnt}:TerminationTime>` +
            `<${wsnt}:CurrentTime>${isoSeconds(now)}</${wsnt}:CurrentTime></${wsnt}:RenewResponse>`,
        }
      }
      case 'Unsubscribe': {
        evOnly()
        const s = this.#live(sub)
        s.waiter?.()
        this.#subs.delete(s.id)
        return { body: `<${wsnt}:UnsubscribeResponse/>` }
      }
      default:
        throw new SimFault(500, 'env:Receiver', ['ter:ActionNotSupported'], 'Optional Action Not Implemented')
    }
  }

  get #spaces(): Required<NonNullable<OnvifSimulatorOptions['ptzSpaces']>> {
    return { panTilt: true, zoom: true, absolute: true, relative: true, continuous: true, presets: true, ...this.#opts.ptzSpaces }
  }

  /** integrate the motion into the position (so tests can see that something happened), then stop */
  #integrateAndStop(panTilt: boolean, zoom: boolean): void {
    this.#position.pan = clamp(this.#position.pan + this.#moving.pan * 0.1)
    this.#position.tilt = clamp(this.#position.tilt + this.#moving.tilt * 0.1)
    this.#position.zoom = clamp01(this.#position.zoom + this.#moving.zoom * 0.1)
    if (panTilt) this.#moving = { ...this.#moving, pan: 0, tilt: 0 }
    if (zoom) this.#moving = { ...this.#moving, zoom: 0 }
  }

  /** tt:PTZNode with the spaces this head has (a space absent from the node is a mode the device lacks) */
  #ptzNode(element: string): string {
    const { tt, tptz } = this.vendor.prefixes
    const sp = this.#spaces
    const range = (min: number, max: number): string => `<${tt}:Min>${min}</${tt}:Min><${tt}:Max>${max}</${tt}:Max>`
    const pt = (name: string, uri: string): string =>
      `<${tt}:${name}><${tt}:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/${uri}</${tt}:URI><${tt}:XRange>${range(-1, 1)}</${tt}:XRange><${tt}:YRange>${range(-1, 1)}</${tt}:YRange></${tt}:${name}>`
    const z = (name: string, uri: string, min: number): string =>
      `<${tt}:${name}><${tt}:URI>http://www.onvif.org/ver10/tptz/ZoomSpaces/${uri}</${tt}:URI><${tt}:XRange>${range(min, 1)}</${tt}:XRange></${tt}:${name}>`
    const spaces =
      (sp.panTilt && sp.absolute ? pt('AbsolutePanTiltPositionSpace', 'PositionGenericSpace') : '') +
      (sp.zoom && sp.absolute ? z('AbsoluteZoomPositionSpace', 'PositionGenericSpace', 0) : '') +
      (sp.panTilt && sp.relative ? pt('RelativePanTiltTranslationSpace', 'TranslationGenericSpace') : '') +
      (sp.zoom && sp.relative ? z('RelativeZoomTranslationSpace', 'TranslationGenericSpace', -1) : '') +
      (sp.panTilt && sp.continuous ? pt('ContinuousPanTiltVelocitySpace', 'VelocityGenericSpace') : '') +
      (sp.zoom && sp.continuous ? z('ContinuousZoomVelocitySpace', 'VelocityGenericSpace', -1) : '') +
      (sp.panTilt ? `<${tt}:PanTiltSpeedSpace><${tt}:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/GenericSpeedSpace</${tt}:URI><${tt}:XRange>${range(0, 1)}</${tt}:XRange></${tt}:PanTiltSpeedSpace>` : '') +
      (sp.zoom ? `<${tt}:ZoomSpeedSpace><${tt}:URI>http://www.onvif.org/ver10/tptz/ZoomSpaces/ZoomGenericSpeedSpace</${tt}:URI><${tt}:XRange>${range(0, 1)}</${tt}:XRange></${tt}:ZoomSpeedSpace>` : '')
    return (
      `<${tptz}:${element} token="PTZNODETOKEN" FixedHomePosition="false"><${tt}:Name>PTZ</${tt}:Name>` +
      `<${tt}:SupportedPTZSpaces>${spaces}</${tt}:SupportedPTZSpaces>` +
      `<${tt}:MaximumNumberOfPresets>${sp.presets ? 255 : 0}</${tt}:MaximumNumberOfPresets><${tt}:HomeSupported>true</${tt}:HomeSupported></${tptz}:${element}>`
    )
  }

  #profileIndex(token: string | undefined): 0 | 1 {
    const i = this.vendor.profiles.findIndex((p) => p.token === token)
    if (i < 0) throw new SimFault(400, 'env:Sender', ['ter:InvalidArgVal', 'ter:NoProfile'], 'The requested profile token does not exist')
    return i as 0 | 1
  }

  #expire(): void {
    const now = this.now()
    for (const [id, s] of this.#subs) {
      if (s.terminationMs <= now) {
        s.waiter?.()
        this.#subs.delete(id)
      }
    }
  }

  #live(sub: Subscription | undefined): Subscription {
    this.#expire()
    if (!sub || !this.#subs.has(sub.id)) throw goneFault()
    return sub
  }

  #looksLikeSubscriptionPath(path: string): boolean {
    return this.vendor.subscriptionStyle === 'path' && this.vendor.subscriptionPath(1, 'x').split(/[_?]/)[0] === path.split(/[_?]/)[0]
  }

  #findSubscription(path: string, header: Node | undefined): Subscription | undefined {
    if (this.vendor.subscriptionStyle === 'reference-parameter') {
      const id = Number(text(get(header, 'SubscriptionId')))
      return Number.isFinite(id) ? this.#subs.get(id) : undefined
    }
    for (const s of this.#subs.values()) if (s.path === path) return s
    return undefined
  }

  #dateTime(): string {
    const { tt, tds } = this.vendor.prefixes
    const now = this.now()
    const d = new Date(now)
    const tz = this.#opts.timeZone ?? 'CST-8:00:00'
    const off = /^[A-Za-z]+([+-]?)(\d+)/.exec(tz)
    const localMs = now - (off ? (off[1] === '-' ? -1 : 1) * Number(off[2]) * 3600_000 : 0)
    const l = new Date(localMs)
    const block = (x: Date): string => {
      const g = (f: 'FullYear' | 'Month' | 'Date' | 'Hours' | 'Minutes' | 'Seconds'): number => (x[`getUTC${f}`] as () => number).call(x) + (f === 'Month' ? 1 : 0)
      return (
        `<${tt}:Time><${tt}:Hour>${g('Hours')}</${tt}:Hour><${tt}:Minute>${g('Minutes')}</${tt}:Minute><${tt}:Second>${g('Seconds')}</${tt}:Second></${tt}:Time>` +
        `<${tt}:Date><${tt}:Year>${g('FullYear')}</${tt}:Year><${tt}:Month>${g('Month')}</${tt}:Month><${tt}:Day>${g('Date')}</${tt}:Day></${tt}:Date>`
      )
    }
    const utcPart = this.#opts.clockStyle === 'local-only' ? '' : `<${tt}:UTCDateTime>${block(d)}</${tt}:UTCDateTime>`
    return (
      `<${tds}:GetSystemDateAndTimeResponse><${tds}:SystemDateAndTime><${tt}:DateTimeType>Manual</${tt}:DateTimeType>` +
      `<${tt}:DaylightSavings>false</${tt}:DaylightSavings><${tt}:TimeZone><${tt}:TZ>${esc(tz)}</${tt}:TZ></${tt}:TimeZone>` +
      `${utcPart}<${tt}:LocalDateTime>${block(l)}</${tt}:LocalDateTime></${tds}:SystemDateAndTime></${tds}:GetSystemDateAndTimeResponse>`
    )
  }

  #services(): string {
    const { tds } = this.vendor.prefixes
    const b = this.#base()
    const entries: Array<[string, string, string]> = [[NS_URI.tds!, this.vendor.paths.device, '2.60']]
    entries.push([NS_URI.trt!, this.vendor.paths.media, '2.60'])
    if (this.vendor.paths.media2) entries.push([NS_URI.tr2!, this.vendor.paths.media2, '2.60'])
    if (this.#ptzEnabled) entries.push([NS_URI.tptz!, this.vendor.paths.ptz, '2.60'])
    if (this.#eventsEnabled) entries.push([NS_URI.tev!, this.vendor.paths.events, '2.60'])
    entries.push(['http://www.onvif.org/ver20/imaging/wsdl', this.vendor.paths.media.replace(/[^/]+$/, 'Imaging'), '2.60'])
    return (
      `<${tds}:GetServicesResponse>` +
      entries
        .map(
          ([ns, p, v]) =>
            `<${tds}:Service><${tds}:Namespace>${ns}</${tds}:Namespace><${tds}:XAddr>${b}${esc(p)}</${tds}:XAddr>` +
            `<${tds}:Version><${this.#p('tt')}:Major>${v.split('.')[0]}</${this.#p('tt')}:Major><${this.#p('tt')}:Minor>${v.split('.')[1]}</${this.#p('tt')}:Minor></${tds}:Version></${tds}:Service>`,
        )
        .join('') +
      `</${tds}:GetServicesResponse>`
    )
  }

  #capabilities(): string {
    const { tt, tds } = this.vendor.prefixes
    const b = this.#base()
    return (
      `<${tds}:GetCapabilitiesResponse><${tds}:Capabilities>` +
      `<${tt}:Device><${tt}:XAddr>${b}${this.vendor.paths.device}</${tt}:XAddr><${tt}:System><${tt}:DiscoveryResolve>false</${tt}:DiscoveryResolve>` +
      `<${tt}:DiscoveryBye>true</${tt}:DiscoveryBye><${tt}:RemoteDiscovery>false</${tt}:RemoteDiscovery><${tt}:SystemBackup>false</${tt}:SystemBackup>` +
      `<${tt}:SystemLogging>false</${tt}:SystemLogging><${tt}:FirmwareUpgrade>false</${tt}:FirmwareUpgrade>` +
      `<${tt}:SupportedVersions><${tt}:Major>2</${tt}:Major><${tt}:Minor>40</${tt}:Minor></${tt}:SupportedVersions></${tt}:System></${tt}:Device>` +
      (this.#eventsEnabled
        ? `<${tt}:Events><${tt}:XAddr>${b}${this.vendor.paths.events}</${tt}:XAddr><${tt}:WSSubscriptionPolicySupport>false</${tt}:WSSubscriptionPolicySupport>` +
          `<${tt}:WSPullPointSupport>${this.#pullPointEnabled}</${tt}:WSPullPointSupport><${tt}:WSPausableSubscriptionManagerInterfaceSupport>false</${tt}:WSPausableSubscriptionManagerInterfaceSupport></${tt}:Events>`
        : '') +
      `<${tt}:Media><${tt}:XAddr>${b}${this.vendor.paths.media}</${tt}:XAddr><${tt}:StreamingCapabilities><${tt}:RTPMulticast>false</${tt}:RTPMulticast>` +
      `<${tt}:RTP_TCP>true</${tt}:RTP_TCP><${tt}:RTP_RTSP_TCP>true</${tt}:RTP_RTSP_TCP></${tt}:StreamingCapabilities></${tt}:Media>` +
      (this.#ptzEnabled ? `<${tt}:PTZ><${tt}:XAddr>${b}${this.vendor.paths.ptz}</${tt}:XAddr></${tt}:PTZ>` : '') +
      `</${tds}:Capabilities></${tds}:GetCapabilitiesResponse>`
    )
  }

  #profiles1(): string {
    const { tt, trt } = this.vendor.prefixes
    const items = this.vendor.profiles
      .map(
        (p, i) =>
          `<${trt}:Profiles token="${p.token}" fixed="true"><${tt}:Name>${esc(p.name)}</${tt}:Name>` +
          `<${tt}:VideoSourceConfiguration token="VideoSourceToken"><${tt}:Name>VideoSourceConfig</${tt}:Name><${tt}:UseCount>2</${tt}:UseCount>` +
          `<${tt}:SourceToken>VideoSource_1</${tt}:SourceToken><${tt}:Bounds x="0" y="0" width="1920" height="1080"/></${tt}:VideoSourceConfiguration>` +
          `<${tt}:VideoEncoderConfiguration token="VideoEncoderToken_${i + 1}"><${tt}:Name>VideoEncoder_${i + 1}</${tt}:Name><${tt}:UseCount>1</${tt}:UseCount>` +
          `<${tt}:Encoding>H264</${tt}:Encoding><${tt}:Resolution><${tt}:Width>${p.width}</${tt}:Width><${tt}:Height>${p.height}</${tt}:Height></${tt}:Resolution>` +
          `<${tt}:Quality>3.000000</${tt}:Quality><${tt}:RateControl><${tt}:FrameRateLimit>${p.fps}</${tt}:FrameRateLimit><${tt}:EncodingInterval>1</${tt}:EncodingInterval>` +
          `<${tt}:BitrateLimit>${p.bitrateKbps}</${tt}:BitrateLimit></${tt}:RateControl><${tt}:H264><${tt}:GovLength>${p.gov}</${tt}:GovLength>` +
          `<${tt}:H264Profile>${i === 0 ? 'High' : 'Main'}</${tt}:H264Profile></${tt}:H264>` +
          `<${tt}:Multicast><${tt}:Address><${tt}:Type>IPv4</${tt}:Type><${tt}:IPv4Address>0.0.0.0</${tt}:IPv4Address></${tt}:Address><${tt}:Port>8860</${tt}:Port>` +
          `<${tt}:TTL>128</${tt}:TTL><${tt}:AutoStart>false</${tt}:AutoStart></${tt}:Multicast><${tt}:SessionTimeout>PT5S</${tt}:SessionTimeout></${tt}:VideoEncoderConfiguration>` +
          (this.#ptzEnabled
            ? `<${tt}:PTZConfiguration token="PTZToken"><${tt}:Name>PTZ</${tt}:Name><${tt}:UseCount>2</${tt}:UseCount><${tt}:NodeToken>PTZNODETOKEN</${tt}:NodeToken>` +
              `<${tt}:DefaultContinuousPanTiltVelocitySpace>http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace</${tt}:DefaultContinuousPanTiltVelocitySpace>` +
              `<${tt}:DefaultPTZTimeout>PT300S</${tt}:DefaultPTZTimeout></${tt}:PTZConfiguration>`
            : '') +
          `</${trt}:Profiles>`,
      )
      .join('')
    return `<${trt}:GetProfilesResponse>${items}</${trt}:GetProfilesResponse>`
  }

  #profiles2(): string {
    const { tt, tr2 } = this.vendor.prefixes
    const items = this.vendor.profiles
      .map(
        (p, i) =>
          `<${tr2}:Profiles token="${p.token}" fixed="true"><${tr2}:Name>${esc(p.name)}</${tr2}:Name><${tr2}:Configurations>` +
          `<${tr2}:VideoSource token="VideoSourceToken"><${tt}:Name>VideoSourceConfig</${tt}:Name><${tt}:UseCount>2</${tt}:UseCount><${tt}:SourceToken>VideoSource_1</${tt}:SourceToken>` +
          `<${tt}:Bounds x="0" y="0" width="1920" height="1080"/></${tr2}:VideoSource>` +
          `<${tr2}:VideoEncoder token="VideoEncoderToken_${i + 1}" GovLength="${p.gov}" Profile="${i === 0 ? 'High' : 'Main'}"><${tt}:Name>VideoEncoder_${i + 1}</${tt}:Name>` +
          `<${tt}:UseCount>1</${tt}:UseCount><${tt}:Encoding>${i === 0 ? 'H265' : 'H264'}</${tt}:Encoding><${tt}:Resolution><${tt}:Width>${p.width}</${tt}:Width>` +
          `<${tt}:Height>${p.height}</${tt}:Height></${tt}:Resolution><${tt}:RateControl ConstantBitRate="false"><${tt}:FrameRateLimit>${p.fps}</${tt}:FrameRateLimit>` +
          `<${tt}:BitrateLimit>${p.bitrateKbps}</${tt}:BitrateLimit></${tt}:RateControl><${tt}:Quality>3</${tt}:Quality></${tr2}:VideoEncoder>` +
          (this.#ptzEnabled ? `<${tr2}:PTZ token="PTZToken"><${tt}:Name>PTZ</${tt}:Name><${tt}:UseCount>2</${tt}:UseCount><${tt}:NodeToken>PTZNODETOKEN</${tt}:NodeToken></${tr2}:PTZ>` : '') +
          `</${tr2}:Configurations></${tr2}:Profiles>`,
      )
      .join('')
    return `<${tr2}:GetProfilesResponse>${items}</${tr2}:GetProfilesResponse>`
  }

  #eventProperties(): string {
    const { tev, tns1, tt } = this.vendor.prefixes
    const wstop = 'wstop'
    const desc = (src: string, data: string, prop = true): string =>
      `<${tt}:MessageDescription IsProperty="${prop}"><${tt}:Source><${tt}:SimpleItemDescription Name="${src}" Type="${tt}:ReferenceToken"/></${tt}:Source>` +
      `<${tt}:Data><${tt}:SimpleItemDescription Name="${data}" Type="xsd:boolean"/></${tt}:Data></${tt}:MessageDescription>`
    return (
      `<${tev}:GetEventPropertiesResponse><${tev}:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</${tev}:TopicNamespaceLocation>` +
      `<wsnt:FixedTopicSet xmlns:wsnt="${NS_URI.wsnt}">true</wsnt:FixedTopicSet>` +
      `<${wstop}:TopicSet xmlns:${wstop}="http://docs.oasis-open.org/wsn/t-1">` +
      `<${tns1}:VideoSource ${wstop}:topic="false"><MotionAlarm ${wstop}:topic="true">${desc('Source', 'State')}</MotionAlarm>` +
      `<ImageTooBlurry><ImagingService ${wstop}:topic="true">${desc('Source', 'State')}</ImagingService></ImageTooBlurry>` +
      `<GlobalSceneChange><ImagingService ${wstop}:topic="true">${desc('Source', 'State')}</ImagingService></GlobalSceneChange></${tns1}:VideoSource>` +
      `<${tns1}:RuleEngine><CellMotionDetector><Motion ${wstop}:topic="true">${desc('VideoSourceConfigurationToken', 'IsMotion')}</Motion></CellMotionDetector></${tns1}:RuleEngine>` +
      `</${wstop}:TopicSet>` +
      `<${tev}:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet</${tev}:TopicExpressionDialect>` +
      `<${tev}:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter</${tev}:MessageContentFilterDialect>` +
      `<${tev}:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd</${tev}:MessageContentSchemaLocation></${tev}:GetEventPropertiesResponse>`
    )
  }

  #notification(ev: SimEvent): string {
    const { tt, wsnt, tns1, wsa } = this.vendor.prefixes
    const topic = ev.topic.replace(/^tns1:/, `${tns1}:`)
    const items = (rec: Record<string, string> | undefined): string =>
      Object.entries(rec ?? {})
        .map(([k, v]) => `<${tt}:SimpleItem Name="${esc(k)}" Value="${esc(v)}"/>`)
        .join('')
    const t = ev.utcTime ? ev.utcTime.getTime() : this.now()
    return (
      `<${wsnt}:NotificationMessage><${wsnt}:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${esc(topic)}</${wsnt}:Topic>` +
      `<${wsnt}:ProducerReference><${wsa}:Address>${this.#base()}${this.vendor.paths.events}</${wsa}:Address></${wsnt}:ProducerReference>` +
      `<${wsnt}:Message><${tt}:Message UtcTime="${isoSeconds(t)}" PropertyOperation="${ev.propertyOperation ?? 'Changed'}">` +
      `<${tt}:Source>${items(ev.source)}</${tt}:Source>` +
      (ev.key ? `<${tt}:Key>${items(ev.key)}</${tt}:Key>` : '') +
      `<${tt}:Data>${items(ev.data)}</${tt}:Data></${tt}:Message></${wsnt}:Message></${wsnt}:NotificationMessage>`
    )
  }
}

/** Namespace URI of the request's body element, resolved from the raw text (the parser drops prefixes). */
function bodyNamespace(raw: string, action: string): string | undefined {
  const m = new RegExp(`<(?:([A-Za-z_][\\w.-]*):)?${action}(?=[\\s/>])([^>]*)>`).exec(raw)
  if (!m) return undefined
  const prefix = m[1]
  const own = prefix ? new RegExp(`xmlns:${prefix}="([^"]*)"`).exec(m[2] ?? '') : /xmlns="([^"]*)"/.exec(m[2] ?? '')
  if (own) return own[1]
  if (!prefix) return undefined
  return new RegExp(`xmlns:${prefix}="([^"]*)"`).exec(raw)?.[1]
}

class SimFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly subcodes: string[],
    readonly reason: string,
    readonly detail?: string,
  ) {
    super(reason)
  }
}

function goneFault(): SimFault {
  return new SimFault(
    400,
    'env:Sender',
    ['ter:InvalidArgVal'],
    'Unknown subscription',
    '<wsrf-rw:ResourceUnknownFault xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2"><wsrf-bf:Timestamp xmlns:wsrf-bf="http://docs.oasis-open.org/wsrf/bf-2">' +
      isoSeconds(Date.now()) +
      '</wsrf-bf:Timestamp></wsrf-rw:ResourceUnknownFault>',
  )
}

/** a property is one topic of one source (a camera has a motion state per video source and rule) */
function propertyKey(ev: SimEvent): string {
  return JSON.stringify([ev.topic, ev.source ?? {}, ev.key ?? {}])
}

function clamp(v: number): number {
  return Math.max(-1, Math.min(1, v))
}
function clamp01(v: number): number {
  return Math.max(0, Math.min(1, v))
}

export function startOnvifSimulator(opts: OnvifSimulatorOptions = {}): Promise<SimulatedDevice> {
  return SimulatedDevice.start(opts)
}
