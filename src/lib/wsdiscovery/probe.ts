/** WS-Discovery (2005/04, as ONVIF uses it) Probe building and ProbeMatches parsing. Pure. */
import { randomUUID } from 'node:crypto'
import { NS } from '../onvif/ns.js'
import { parseXAddrList, type XAddr } from '../onvif/xaddr.js'
import { canonicalQName, child, children, parseXml, textAt, xmlEscape } from '../onvif/xml.js'

export const WSD_MULTICAST_ADDRESS = '239.255.255.250'
export const WSD_PORT = 3702
/** Larger datagrams are not ProbeMatches from a camera (a typical one with a dozen scopes is ~2 KiB). */
export const MAX_PROBE_REPLY_BYTES = 64 * 1024

export const DEFAULT_PROBE_TYPES = ['dn:NetworkVideoTransmitter', 'tds:Device'] as const

export interface BuiltProbe {
  messageId: string
  xml: string
}

/**
 * Types default to `dn:NetworkVideoTransmitter tds:Device`. WS-Discovery matches a Probe only if the
 * device carries *all* listed types; ONVIF Core ≥ 2.0 devices advertise both. Pass `types` with one
 * entry to reach pre-2.0 units that only know `dn:NetworkVideoTransmitter`.
 */
export function buildProbe(opts: { messageId?: string; types?: readonly string[] } = {}): BuiltProbe {
  const messageId = opts.messageId ?? `urn:uuid:${randomUUID()}`
  const types = (opts.types ?? DEFAULT_PROBE_TYPES).map(xmlEscape).join(' ')
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="${NS.soap12}" xmlns:a="${NS.wsa2004}" xmlns:d="${NS.wsd}" xmlns:dn="${NS.dn}" xmlns:tds="${NS.tds}">` +
    '<s:Header>' +
    `<a:Action s:mustUnderstand="1">${NS.wsd}/Probe</a:Action>` +
    `<a:MessageID>${xmlEscape(messageId)}</a:MessageID>` +
    `<a:ReplyTo><a:Address>${NS.wsa2004}/role/anonymous</a:Address></a:ReplyTo>` +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '</s:Header>' +
    `<s:Body><d:Probe><d:Types>${types}</d:Types></d:Probe></s:Body>` +
    '</s:Envelope>'
  return { messageId, xml }
}

export interface ScopeInfo {
  /** decoded `onvif://www.onvif.org/name/…` */
  name: string | undefined
  /** decoded `…/hardware/…` */
  hardware: string | undefined
  /** decoded `…/location/…` paths, e.g. `city/Hangzhou` */
  locations: string[]
  /** `…/Profile/…`, e.g. `Streaming`, `T` */
  profiles: string[]
  /** `…/type/…`, e.g. `video_encoder`, `NetworkVideoTransmitter` */
  types: string[]
  mac: string | undefined
}

export interface ProbeMatch {
  /** wsa:EndpointReference/wsa:Address, usually `urn:uuid:…`; the identity used for dedupe */
  endpointReference: string
  /** normalised QNames, e.g. `dn:NetworkVideoTransmitter`, `tds:Device` */
  types: string[]
  /** scope URIs as sent */
  scopes: string[]
  scopeInfo: ScopeInfo
  /** valid http(s) XAddrs, in the device's order */
  xaddrs: XAddr[]
  metadataVersion: number | undefined
}

export interface ParsedProbeMatches {
  relatesTo: string | undefined
  matches: ProbeMatch[]
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

export function parseScopes(scopes: readonly string[]): ScopeInfo {
  const info: ScopeInfo = { name: undefined, hardware: undefined, locations: [], profiles: [], types: [], mac: undefined }
  for (const raw of scopes) {
    const m = /^onvif:\/\/www\.onvif\.org\/([^/]+)\/(.+)$/i.exec(raw)
    if (!m) continue
    const cat = m[1]!.toLowerCase()
    const value = m[2]!.split('/').map(decode).join('/')
    if (cat === 'name') info.name ??= value
    else if (cat === 'hardware') info.hardware ??= value
    else if (cat === 'location') info.locations.push(value)
    else if (cat === 'profile') info.profiles.push(value)
    else if (cat === 'type') info.types.push(value)
    else if (cat === 'mac') info.mac ??= value
  }
  return info
}

/**
 * Parse a ProbeMatches datagram. Returns undefined for anything else (our own looped-back Probe,
 * Hello/Bye, garbage): on UDP 3702 junk is normal and must not be an error.
 */
export function parseProbeMatches(xml: string): ParsedProbeMatches | undefined {
  let env
  try {
    env = parseXml(xml, { maxBytes: MAX_PROBE_REPLY_BYTES })
  } catch {
    return undefined
  }
  if (env.name !== 'Envelope' || (env.ns !== NS.soap12 && env.ns !== NS.soap11)) return undefined
  const pm = child(child(env, 'Body'), 'ProbeMatches')
  if (!pm) return undefined
  const relatesTo = textAt(child(env, 'Header'), 'RelatesTo') || undefined
  const matches: ProbeMatch[] = []
  for (const m of children(pm, 'ProbeMatch')) {
    const endpointReference = textAt(m, 'EndpointReference', 'Address')
    if (!endpointReference) continue
    const typesEl = child(m, 'Types')
    const types = typesEl ? typesEl.text.split(/\s+/).filter(Boolean).map((q) => canonicalQName(typesEl, q)) : []
    const scopes = (textAt(m, 'Scopes') ?? '').split(/\s+/).filter(Boolean)
    const mv = Number(textAt(m, 'MetadataVersion'))
    matches.push({
      endpointReference,
      types,
      scopes,
      scopeInfo: parseScopes(scopes),
      xaddrs: parseXAddrList(textAt(m, 'XAddrs') ?? ''),
      metadataVersion: Number.isFinite(mv) && textAt(m, 'MetadataVersion') ? mv : undefined,
    })
  }
  return { relatesTo, matches }
}
