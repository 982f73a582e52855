/**
 * Reply parsers: SOAP payload element → our types. Lookups are by local name (vendors misplace
 * namespaces); required fields missing → OnvifProtocolError('unexpected-reply').
 */
import { OnvifProtocolError } from './errors.js'
import { NS } from './ns.js'
import type {
  CameraClock,
  DeviceInformation,
  EventPropertyOperation,
  MediaProfile,
  MediaUri,
  OnvifEvent,
  OnvifServiceEntry,
  OnvifServiceKind,
  PtzNodeCapabilities,
  PtzPreset,
  PtzVector,
  PullMessagesResult,
  SubscriptionTimes,
  VideoEncoderInfo,
  VideoEncoding,
} from './types.js'
import { child, children, descendant, parseBool, parseNum, resolveQName, textAt, type XmlElement } from './xml.js'
import { canonicalPrefix } from './ns.js'

function unexpected(what: string): OnvifProtocolError {
  return new OnvifProtocolError(`unexpected reply: ${what}`, { problem: 'unexpected-reply' })
}

function expectPayload(payload: XmlElement, name: string): void {
  if (payload.name !== name) throw unexpected(`expected ${name}, got ${payload.name}`)
}

// ---------------------------------------------------------------- clock

/**
 * POSIX TZ ("CST-8", "CST-8:00:00", "<+08>-8") → minutes to add to local time to get UTC.
 * POSIX offsets are west-positive, so CST-8 (China) means UTC = local − 8 h.
 */
export function posixTzOffsetMinutes(tz: string): number | undefined {
  const m = /^\s*(?:<[^>]{1,16}>|[A-Za-z]{3,})([+-]?)(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?/.exec(tz)
  if (!m) return undefined
  const sign = m[1] === '-' ? -1 : 1
  const mins = Number(m[2]) * 60 + Number(m[3] ?? 0)
  if (mins > 24 * 60) return undefined
  return sign * mins
}

function dateTimeParts(el: XmlElement | undefined): number | undefined {
  if (!el) return undefined
  const y = parseNum(textAt(el, 'Date', 'Year'))
  const mo = parseNum(textAt(el, 'Date', 'Month'))
  const d = parseNum(textAt(el, 'Date', 'Day'))
  const h = parseNum(textAt(el, 'Time', 'Hour'))
  const mi = parseNum(textAt(el, 'Time', 'Minute'))
  const s = parseNum(textAt(el, 'Time', 'Second'))
  if ([y, mo, d, h, mi, s].some((v) => v === undefined)) return undefined
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 60) return undefined
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!)
}

/**
 * @param localMidMs our clock halfway between send and receive; the camera's reply has 1 s
 *   resolution so the offset is accurate to about ±1 s, well inside the 5 s replay window cameras use.
 */
export function parseSystemDateAndTime(payload: XmlElement, localMidMs: number): CameraClock {
  expectPayload(payload, 'GetSystemDateAndTimeResponse')
  const sdt = child(payload, 'SystemDateAndTime')
  if (!sdt) throw unexpected('no SystemDateAndTime')
  const typeRaw = textAt(sdt, 'DateTimeType')
  const dateTimeType = typeRaw === 'NTP' || typeRaw === 'Manual' ? typeRaw : 'unknown'
  const timeZone = textAt(sdt, 'TimeZone', 'TZ') || undefined
  const daylightSavings = parseBool(textAt(sdt, 'DaylightSavings'))
  let source: CameraClock['source'] = 'utc'
  let ms = dateTimeParts(child(sdt, 'UTCDateTime'))
  if (ms === undefined) {
    // UTCDateTime is optional in the schema; some budget firmwares send only LocalDateTime + TZ.
    const local = dateTimeParts(child(sdt, 'LocalDateTime'))
    if (local === undefined) throw unexpected('SystemDateAndTime has neither UTCDateTime nor LocalDateTime')
    const off = timeZone ? posixTzOffsetMinutes(timeZone) : undefined
    if (off === undefined) {
      source = 'local-unknown-tz'
      ms = local
    } else {
      source = 'local-with-tz'
      ms = local + off * 60_000
    }
  }
  return { cameraTime: new Date(ms), offsetMs: ms - localMidMs, source, dateTimeType, timeZone, daylightSavings }
}

// ---------------------------------------------------------------- device

export function parseDeviceInformation(payload: XmlElement): DeviceInformation {
  expectPayload(payload, 'GetDeviceInformationResponse')
  const t = (n: string): string => textAt(payload, n) ?? ''
  return {
    manufacturer: t('Manufacturer'),
    model: t('Model'),
    firmwareVersion: t('FirmwareVersion'),
    serialNumber: t('SerialNumber'),
    hardwareId: t('HardwareId'),
  }
}

const SERVICE_KINDS: Array<[RegExp, OnvifServiceKind]> = [
  [/\/ver10\/device\/wsdl$/, 'device'],
  [/\/ver10\/media\/wsdl$/, 'media'],
  [/\/ver20\/media\/wsdl$/, 'media2'],
  [/\/ver20\/ptz\/wsdl$/, 'ptz'],
  [/\/ver10\/events\/wsdl$/, 'events'],
  [/\/ver20\/imaging\/wsdl$/, 'imaging'],
  [/\/ver20\/analytics\/wsdl$/, 'analytics'],
  [/\/ver10\/deviceIO\/wsdl$/, 'deviceIO'],
  [/\/ver10\/recording\/wsdl$/, 'recording'],
  [/\/ver10\/search\/wsdl$/, 'search'],
  [/\/ver10\/replay\/wsdl$/, 'replay'],
]

export function serviceKind(namespace: string): OnvifServiceKind | 'other' {
  const ns = namespace.trim().replace(/\/+$/, '')
  if (!/^https?:\/\/www\.onvif\.org\//.test(ns)) return 'other'
  for (const [re, kind] of SERVICE_KINDS) if (re.test(ns)) return kind
  return 'other'
}

function toUrl(s: string | undefined): URL | undefined {
  if (!s) return undefined
  // Tolerate a space-separated list (the WS-Discovery XAddrs form) in an XAddr field; the first is the primary.
  const first = s.trim().split(/\s+/)[0]
  if (!first) return undefined
  try {
    const u = new URL(first)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined
  } catch {
    return undefined
  }
}

export function parseGetServices(payload: XmlElement): OnvifServiceEntry[] {
  expectPayload(payload, 'GetServicesResponse')
  const out: OnvifServiceEntry[] = []
  for (const s of children(payload, 'Service')) {
    const namespace = textAt(s, 'Namespace') ?? ''
    const xaddr = toUrl(textAt(s, 'XAddr'))
    if (!namespace || !xaddr) continue
    const major = textAt(s, 'Version', 'Major')
    const minor = textAt(s, 'Version', 'Minor')
    out.push({ kind: serviceKind(namespace), namespace, xaddr, version: major !== undefined ? `${major}.${minor ?? '0'}` : undefined })
  }
  return out
}

export interface CapabilitiesResult {
  entries: OnvifServiceEntry[]
  pullPointSupport: boolean | undefined
}

export function parseGetCapabilities(payload: XmlElement): CapabilitiesResult {
  expectPayload(payload, 'GetCapabilitiesResponse')
  const caps = child(payload, 'Capabilities')
  if (!caps) throw unexpected('no Capabilities')
  const entries: OnvifServiceEntry[] = []
  const add = (kind: OnvifServiceKind, namespace: string, el: XmlElement | undefined): void => {
    const xaddr = toUrl(textAt(el, 'XAddr'))
    if (xaddr) entries.push({ kind, namespace, xaddr, version: undefined })
  }
  add('device', NS.tds, child(caps, 'Device'))
  add('media', NS.trt, child(caps, 'Media'))
  add('ptz', NS.tptz, child(caps, 'PTZ'))
  add('events', NS.tev, child(caps, 'Events'))
  add('imaging', 'http://www.onvif.org/ver20/imaging/wsdl', child(caps, 'Imaging'))
  add('analytics', 'http://www.onvif.org/ver20/analytics/wsdl', child(caps, 'Analytics'))
  // Extension/DeviceIO etc. are not needed for adoption.
  return { entries, pullPointSupport: parseBool(textAt(caps, 'Events', 'WSPullPointSupport')) }
}

// ---------------------------------------------------------------- media

export function mapEncoding(raw: string): VideoEncoding {
  const e = raw.trim().toUpperCase().replace(/[.\s_-]/g, '')
  if (e === 'H264' || e === 'AVC') return 'H264'
  if (e === 'H265' || e === 'HEVC') return 'H265'
  if (e === 'JPEG' || e === 'MJPEG') return 'JPEG'
  if (e === 'MPEG4' || e === 'MPV4ES') return 'MPEG4'
  return 'other'
}

function videoEncoder1(vec: XmlElement): VideoEncoderInfo | undefined {
  const encodingRaw = textAt(vec, 'Encoding') ?? ''
  const width = parseNum(textAt(vec, 'Resolution', 'Width'))
  const height = parseNum(textAt(vec, 'Resolution', 'Height'))
  if (width === undefined || height === undefined) return undefined
  const encoding = mapEncoding(encodingRaw)
  // Media1 carries codec details in an H264 element; firmwares reporting H265 over Media1 (outside the schema) use an H265 one.
  const codec = child(vec, encoding === 'H265' ? 'H265' : 'H264') ?? child(vec, 'MPEG4')
  return {
    token: vec.attrs.token,
    encoding,
    encodingRaw,
    width,
    height,
    frameRateLimit: parseNum(textAt(vec, 'RateControl', 'FrameRateLimit')),
    bitrateLimitKbps: parseNum(textAt(vec, 'RateControl', 'BitrateLimit')),
    govLength: parseNum(textAt(codec, 'GovLength')),
    codecProfile: textAt(codec, 'H264Profile') ?? textAt(codec, 'H265Profile') ?? textAt(codec, 'Mpeg4Profile'),
  }
}

export function parseGetProfiles(payload: XmlElement): MediaProfile[] {
  expectPayload(payload, 'GetProfilesResponse')
  const out: MediaProfile[] = []
  for (const p of children(payload, 'Profiles')) {
    const token = p.attrs.token
    if (!token) continue
    const vec = child(p, 'VideoEncoderConfiguration')
    out.push({
      token,
      name: textAt(p, 'Name') ?? token,
      fixed: parseBool(p.attrs.fixed),
      api: 'media1',
      videoSourceToken: textAt(p, 'VideoSourceConfiguration', 'SourceToken'),
      video: vec ? videoEncoder1(vec) : undefined,
      hasAudio: child(p, 'AudioEncoderConfiguration') !== undefined,
      ptzConfigurationToken: child(p, 'PTZConfiguration')?.attrs.token,
      ptzNodeToken: textAt(p, 'PTZConfiguration', 'NodeToken'),
    })
  }
  return out
}

export function parseGetProfiles2(payload: XmlElement): MediaProfile[] {
  expectPayload(payload, 'GetProfilesResponse')
  const out: MediaProfile[] = []
  for (const p of children(payload, 'Profiles')) {
    const token = p.attrs.token
    if (!token) continue
    const conf = child(p, 'Configurations')
    const ve = child(conf, 'VideoEncoder')
    let video: VideoEncoderInfo | undefined
    if (ve) {
      const encodingRaw = textAt(ve, 'Encoding') ?? ''
      const width = parseNum(textAt(ve, 'Resolution', 'Width'))
      const height = parseNum(textAt(ve, 'Resolution', 'Height'))
      if (width !== undefined && height !== undefined) {
        video = {
          token: ve.attrs.token,
          encoding: mapEncoding(encodingRaw),
          encodingRaw,
          width,
          height,
          frameRateLimit: parseNum(textAt(ve, 'RateControl', 'FrameRateLimit')),
          bitrateLimitKbps: parseNum(textAt(ve, 'RateControl', 'BitrateLimit')),
          govLength: parseNum(ve.attrs.GovLength),
          codecProfile: ve.attrs.Profile,
        }
      }
    }
    out.push({
      token,
      name: textAt(p, 'Name') ?? token,
      fixed: parseBool(p.attrs.fixed),
      api: 'media2',
      videoSourceToken: textAt(conf, 'VideoSource', 'SourceToken'),
      video,
      hasAudio: child(conf, 'AudioEncoder') !== undefined,
      ptzConfigurationToken: child(conf, 'PTZ')?.attrs.token,
      ptzNodeToken: textAt(conf, 'PTZ', 'NodeToken'),
    })
  }
  return out
}

/** GetStreamUri / GetSnapshotUri, Media1 (MediaUri/Uri) or Media2 (Uri). */
export function parseMediaUri(payload: XmlElement): MediaUri {
  if (payload.name !== 'GetStreamUriResponse' && payload.name !== 'GetSnapshotUriResponse') {
    throw unexpected(`expected GetStreamUriResponse or GetSnapshotUriResponse, got ${payload.name}`)
  }
  const mu = child(payload, 'MediaUri')
  const uri = (mu ? textAt(mu, 'Uri') : textAt(payload, 'Uri'))?.trim()
  if (!uri) throw unexpected('no Uri')
  return {
    uri,
    invalidAfterConnect: parseBool(textAt(mu, 'InvalidAfterConnect')) ?? false,
    invalidAfterReboot: parseBool(textAt(mu, 'InvalidAfterReboot')) ?? false,
    timeout: textAt(mu, 'Timeout') || undefined,
  }
}

// ---------------------------------------------------------------- PTZ

function vector(el: XmlElement | undefined): PtzVector | undefined {
  if (!el) return undefined
  const pt = child(el, 'PanTilt')
  const z = child(el, 'Zoom')
  const v: PtzVector = {}
  const pan = parseNum(pt?.attrs.x)
  const tilt = parseNum(pt?.attrs.y)
  const zoom = parseNum(z?.attrs.x)
  if (pan !== undefined) v.pan = pan
  if (tilt !== undefined) v.tilt = tilt
  if (zoom !== undefined) v.zoom = zoom
  return Object.keys(v).length ? v : undefined
}

export function parseGetPresets(payload: XmlElement): PtzPreset[] {
  expectPayload(payload, 'GetPresetsResponse')
  const out: PtzPreset[] = []
  for (const p of children(payload, 'Preset')) {
    const token = p.attrs.token
    if (!token) continue
    out.push({ token, name: textAt(p, 'Name') ?? '', position: vector(child(p, 'PTZPosition')) })
  }
  return out
}

/** GetNodesResponse (PTZNode*) or GetNodeResponse (PTZNode) → what each head can do. */
export function parseGetNodes(payload: XmlElement): PtzNodeCapabilities[] {
  if (payload.name !== 'GetNodesResponse' && payload.name !== 'GetNodeResponse') throw unexpected(`expected GetNodesResponse, got ${payload.name}`)
  const out: PtzNodeCapabilities[] = []
  for (const n of children(payload, 'PTZNode')) {
    const spaces = child(n, 'SupportedPTZSpaces')
    const has = (name: string): boolean => child(spaces, name) !== undefined
    out.push({
      token: n.attrs.token ?? '',
      panTilt: { continuous: has('ContinuousPanTiltVelocitySpace'), relative: has('RelativePanTiltTranslationSpace'), absolute: has('AbsolutePanTiltPositionSpace') },
      zoom: { continuous: has('ContinuousZoomVelocitySpace'), relative: has('RelativeZoomTranslationSpace'), absolute: has('AbsoluteZoomPositionSpace') },
      maxPresets: parseNum(textAt(n, 'MaximumNumberOfPresets')) ?? 0,
      home: parseBool(textAt(n, 'HomeSupported')) ?? false,
    })
  }
  return out
}

export function parseSetPreset(payload: XmlElement): string {
  expectPayload(payload, 'SetPresetResponse')
  const t = textAt(payload, 'PresetToken')
  if (!t) throw unexpected('no PresetToken')
  return t
}

// ---------------------------------------------------------------- events

function xsdDate(s: string | undefined): Date | undefined {
  if (!s) return undefined
  const t = s.trim()
  // A time without a zone designator is taken as UTC (event times are UTC by the ONVIF spec).
  const d = new Date(/(?:Z|[+-]\d{2}:?\d{2})$/i.test(t) ? t : `${t}Z`)
  return Number.isNaN(d.getTime()) ? undefined : d
}

export interface PullPointCreated extends SubscriptionTimes {
  address: URL
  referenceParameters: XmlElement[]
}

export function parseCreatePullPointSubscription(payload: XmlElement): PullPointCreated {
  expectPayload(payload, 'CreatePullPointSubscriptionResponse')
  const ref = child(payload, 'SubscriptionReference')
  const address = toUrl(textAt(ref, 'Address'))
  if (!address) throw unexpected('no usable SubscriptionReference/Address')
  return {
    address,
    referenceParameters: [...(child(ref, 'ReferenceParameters')?.children ?? [])],
    currentTime: xsdDate(textAt(payload, 'CurrentTime')),
    terminationTime: xsdDate(textAt(payload, 'TerminationTime')),
  }
}

/** WS-BaseNotification SubscribeResponse: the subscription manager's reference and times. */
export function parseSubscribe(payload: XmlElement): PullPointCreated {
  expectPayload(payload, 'SubscribeResponse')
  const ref = child(payload, 'SubscriptionReference')
  const address = toUrl(textAt(ref, 'Address'))
  if (!address) throw unexpected('no usable SubscriptionReference/Address')
  return {
    address,
    referenceParameters: [...(child(ref, 'ReferenceParameters')?.children ?? [])],
    currentTime: xsdDate(textAt(payload, 'CurrentTime')),
    terminationTime: xsdDate(textAt(payload, 'TerminationTime')),
  }
}

export function parseRenew(payload: XmlElement): SubscriptionTimes {
  expectPayload(payload, 'RenewResponse')
  return { currentTime: xsdDate(textAt(payload, 'CurrentTime')), terminationTime: xsdDate(textAt(payload, 'TerminationTime')) }
}

/** Normalise a concrete topic expression: ONVIF namespace → `tns1`, repeated same-namespace prefixes dropped. */
export function normalizeTopic(topicEl: XmlElement): { topic: string; namespace: string } {
  const segments = topicEl.text.trim().split('/').filter(Boolean)
  let firstNs = ''
  const out: string[] = []
  segments.forEach((seg, i) => {
    if (!seg.includes(':')) {
      out.push(seg)
      return
    }
    const q = resolveQName(topicEl, seg)
    if (i === 0) {
      firstNs = q.ns
      const p = q.ns === NS.tns1 ? 'tns1' : canonicalPrefix(q.ns) ?? q.prefix
      out.push(`${p}:${q.local}`)
    } else if (q.ns === firstNs) {
      out.push(q.local)
    } else {
      out.push(seg)
    }
  })
  return { topic: out.join('/'), namespace: firstNs }
}

function simpleItems(el: XmlElement | undefined): Record<string, string> {
  const entries: Array<[string, string]> = []
  for (const it of children(el, 'SimpleItem')) {
    if (it.attrs.Name !== undefined) entries.push([it.attrs.Name, it.attrs.Value ?? ''])
  }
  return Object.fromEntries(entries)
}

export function parseNotificationMessage(nm: XmlElement): OnvifEvent | undefined {
  const topicEl = child(nm, 'Topic')
  const msgWrap = child(nm, 'Message')
  const msg = child(msgWrap, 'Message') ?? (msgWrap && descendant(msgWrap, 'Message'))
  if (!topicEl || !msg) return undefined
  const { topic, namespace } = normalizeTopic(topicEl)
  const op = msg.attrs.PropertyOperation
  const propertyOperation: EventPropertyOperation | undefined =
    op === 'Initialized' || op === 'Changed' || op === 'Deleted' ? op : undefined
  return {
    topic,
    topicNamespace: namespace,
    utcTime: xsdDate(msg.attrs.UtcTime),
    propertyOperation,
    source: simpleItems(child(msg, 'Source')),
    key: simpleItems(child(msg, 'Key')),
    data: simpleItems(child(msg, 'Data')),
  }
}

export function parsePullMessages(payload: XmlElement): PullMessagesResult {
  expectPayload(payload, 'PullMessagesResponse')
  return {
    currentTime: xsdDate(textAt(payload, 'CurrentTime')),
    terminationTime: xsdDate(textAt(payload, 'TerminationTime')),
    events: children(payload, 'NotificationMessage')
      .map(parseNotificationMessage)
      .filter((e): e is OnvifEvent => e !== undefined),
  }
}

/** GetEventProperties TopicSet → concrete topic paths that carry messages, e.g. `tns1:VideoSource/MotionAlarm`. */
export function parseEventProperties(payload: XmlElement): string[] {
  expectPayload(payload, 'GetEventPropertiesResponse')
  const set = child(payload, 'TopicSet')
  const out: string[] = []
  const walk = (el: XmlElement, path: string[]): void => {
    for (const c of el.children) {
      if (c.name === 'MessageDescription' && c.attrs.IsProperty !== undefined) continue
      if (c.name === 'MessageDescription') continue
      const next = [...path, path.length === 0 ? `${c.ns === NS.tns1 ? 'tns1' : c.prefix || 'ns'}:${c.name}` : c.name]
      if (children(c, 'MessageDescription').length > 0 || parseBool(c.attrs.topic) === true) out.push(next.join('/'))
      walk(c, next)
    }
  }
  if (set) walk(set, [])
  return [...new Set(out)]
}

