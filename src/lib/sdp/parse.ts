import type {
  H264SdpParameters,
  H265SdpParameters,
  SdpAttribute,
  SdpDirection,
  SdpMedia,
  SdpOrigin,
  SdpRtpMap,
  SessionDescription,
} from './types.js'

export class SdpParseError extends Error {
  override readonly name = 'SdpParseError'
}

export interface ParseSdpOptions {
  /**
   * Base for relative `a=control` values: the RTSP Content-Base header, else Content-Location,
   * else the DESCRIBE request URL (RFC 2326 §C.1.1).
   */
  baseUrl?: string
}

const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:\/\//i

/**
 * Resolves an `a=control` value against a base URL the way cameras expect: by appending to the
 * base, not by RFC 3986 resolution. Dahua's Content-Base is
 * `rtsp://h/cam/realmonitor?channel=1&subtype=0/` and its control `trackID=0`; RFC 3986 would drop
 * the query, and for a base without trailing slash (`rtsp://h/live`) would replace the last
 * segment. ffmpeg, live555 and GStreamer all append with a '/', so servers are written for that.
 */
export function resolveControlUrl(base: string, control: string | undefined): string {
  if (control === undefined || control === '' || control === '*') return base
  if (ABSOLUTE_URL.test(control)) return control
  if (control.startsWith('/')) {
    const m = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)/i.exec(base)
    return m ? m[1] + control : control
  }
  return base.endsWith('/') ? base + control : `${base}/${control}`
}

function parseAttribute(value: string): SdpAttribute {
  const i = value.indexOf(':')
  return i < 0 ? { name: value.trim() } : { name: value.slice(0, i).trim(), value: value.slice(i + 1).trim() }
}

function parseBandwidth(target: Record<string, number>, value: string): void {
  const [type, amount] = value.split(':')
  const n = Number(amount)
  if (type && Number.isFinite(n)) target[type.trim()] = n
}

function parseRtpMap(value: string): SdpRtpMap | undefined {
  const m = /^(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(value)
  if (!m) return undefined
  const map: SdpRtpMap = { payloadType: Number(m[1]), encoding: m[2]!, clockRate: Number(m[3]) }
  if (m[4]) map.channels = Number(m[4])
  return map
}

/** `96 a=1; b=Zz0=` → {a: '1', b: 'Zz0='}; values keep their '=' (base64 padding). */
export function parseFmtp(value: string): { payloadType: number; params: Record<string, string> } | undefined {
  const m = /^(\d+)\s*(.*)$/.exec(value)
  if (!m) return undefined
  const params: Record<string, string> = {}
  for (const part of m[2]!.split(';')) {
    const item = part.trim()
    if (!item) continue
    const eq = item.indexOf('=')
    if (eq < 0) params[item.toLowerCase()] = ''
    else params[item.slice(0, eq).trim().toLowerCase()] = item.slice(eq + 1).trim()
  }
  return { payloadType: Number(m[1]), params }
}

function decodeBase64List(value: string | undefined): Buffer[] {
  if (!value) return []
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Buffer.from(s, 'base64'))
    .filter((b) => b.length > 0)
}

function h264Parameters(params: Record<string, string>): H264SdpParameters {
  const out: H264SdpParameters = {
    packetizationMode: Number(params['packetization-mode'] ?? 0) || 0,
    sps: [],
    pps: [],
  }
  if (params['profile-level-id']) out.profileLevelId = params['profile-level-id']
  // Classified by NAL type rather than position: the RFC's "SPS first" order is not universal.
  for (const nal of decodeBase64List(params['sprop-parameter-sets'])) {
    const type = nal[0]! & 0x1f
    if (type === 7) out.sps.push(nal)
    else if (type === 8) out.pps.push(nal)
  }
  return out
}

function h265Parameters(params: Record<string, string>): H265SdpParameters {
  return {
    vps: decodeBase64List(params['sprop-vps']),
    sps: decodeBase64List(params['sprop-sps']),
    pps: decodeBase64List(params['sprop-pps']),
  }
}

function finishMedia(media: SdpMedia, baseUrl: string | undefined): void {
  for (const attr of media.attributes) {
    const v = attr.value
    switch (attr.name.toLowerCase()) {
      case 'rtpmap': {
        const map = v ? parseRtpMap(v) : undefined
        if (map) media.rtpmaps.push(map)
        break
      }
      case 'fmtp': {
        const f = v ? parseFmtp(v) : undefined
        if (f) media.fmtps.set(f.payloadType, { ...media.fmtps.get(f.payloadType), ...f.params })
        break
      }
      case 'control':
        if (v !== undefined) media.control = v
        break
      case 'framerate':
      case 'x-framerate': {
        const n = Number.parseFloat(v ?? '')
        if (Number.isFinite(n) && n > 0) media.framerate = n
        break
      }
      case 'x-dimensions': {
        const m = /^(\d+)\s*,\s*(\d+)/.exec(v ?? '')
        if (m) {
          media.width = Number(m[1])
          media.height = Number(m[2])
        }
        break
      }
      case 'cliprect': {
        // top,left,bottom,right; only a fallback when no x-dimensions was given.
        const m = /^(\d+),(\d+),(\d+),(\d+)/.exec(v ?? '')
        if (m && media.width === undefined) {
          media.height = Number(m[3]) - Number(m[1])
          media.width = Number(m[4]) - Number(m[2])
        }
        break
      }
      case 'sendrecv':
      case 'sendonly':
      case 'recvonly':
      case 'inactive':
        media.direction = attr.name.toLowerCase() as SdpDirection
        break
    }
  }
  const pt = Number(media.formats[0])
  if (Number.isInteger(pt)) {
    media.payloadType = pt
    const map = media.rtpmaps.find((m) => m.payloadType === pt)
    if (map) {
      media.codec = map.encoding.toUpperCase()
      media.clockRate = map.clockRate
      if (map.channels !== undefined) media.channels = map.channels
    } else if (pt === 0 || pt === 8) {
      // Static payload types (RFC 3551) often come without rtpmap.
      media.codec = pt === 0 ? 'PCMU' : 'PCMA'
      media.clockRate = 8000
    } else if (pt === 26) {
      media.codec = 'JPEG'
      media.clockRate = 90000
    }
    media.parameters = media.fmtps.get(pt) ?? {}
  }
  if (media.codec === 'H264') media.h264 = h264Parameters(media.parameters)
  else if (media.codec === 'H265' || media.codec === 'HEVC') media.h265 = h265Parameters(media.parameters)
  if (baseUrl !== undefined) media.url = resolveControlUrl(baseUrl, media.control)
}

/** Parses an SDP session description (RFC 4566) as sent in an RTSP DESCRIBE response. */
export function parseSdp(text: string, opts: ParseSdpOptions = {}): SessionDescription {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0)
  if (!lines.some((l) => l.startsWith('v=')) && !lines.some((l) => l.startsWith('m='))) {
    throw new SdpParseError('not an SDP body: no v= or m= line')
  }
  const session: SessionDescription = { version: 0, name: '', bandwidth: {}, attributes: [], media: [] }
  let media: SdpMedia | undefined
  for (const line of lines) {
    if (line[1] !== '=') continue // tolerate junk lines some NVRs append
    const type = line[0]
    const value = line.slice(2)
    if (type === 'm') {
      const [mediaType, port, protocol, ...formats] = value.split(/\s+/)
      if (!mediaType || port === undefined || !protocol) throw new SdpParseError(`malformed m= line: ${line}`)
      media = {
        index: session.media.length,
        type: mediaType,
        port: Number.parseInt(port, 10) || 0,
        protocol,
        formats,
        bandwidth: {},
        attributes: [],
        rtpmaps: [],
        fmtps: new Map(),
        parameters: {},
      }
      session.media.push(media)
      continue
    }
    if (media) {
      if (type === 'a') media.attributes.push(parseAttribute(value))
      else if (type === 'c') media.connection = value
      else if (type === 'b') parseBandwidth(media.bandwidth, value)
      continue
    }
    switch (type) {
      case 'v':
        session.version = Number.parseInt(value, 10) || 0
        break
      case 'o': {
        const p = value.split(/\s+/)
        if (p.length >= 6) {
          const origin: SdpOrigin = {
            username: p[0]!,
            sessionId: p[1]!,
            sessionVersion: p[2]!,
            netType: p[3]!,
            addrType: p[4]!,
            address: p[5]!,
          }
          session.origin = origin
        }
        break
      }
      case 's':
        session.name = value
        break
      case 'i':
        session.info = value
        break
      case 'c':
        session.connection = value
        break
      case 't':
        session.timing = value
        break
      case 'b':
        parseBandwidth(session.bandwidth, value)
        break
      case 'a': {
        const attr = parseAttribute(value)
        session.attributes.push(attr)
        if (attr.name === 'control' && attr.value !== undefined) session.control = attr.value
        else if (attr.name === 'range' && attr.value !== undefined) session.range = attr.value
        break
      }
    }
  }

  // An absolute session-level control (Hikvision, Axis) is the aggregate URL and, like ffmpeg
  // does, the base for relative media controls; otherwise the RTSP Content-Base is.
  let base = opts.baseUrl
  if (session.control && ABSOLUTE_URL.test(session.control)) base = session.control
  else if (base !== undefined && session.control) base = resolveControlUrl(base, session.control)
  if (base !== undefined) session.url = base
  for (const m of session.media) finishMedia(m, base)
  return session
}
