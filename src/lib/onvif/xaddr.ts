/**
 * XAddr parsing. Pure: no DNS, no network. Whether an address is *allowed* is the app's policy.
 */
import { isIP } from 'node:net'

export type XAddrHostKind = 'ipv4' | 'ipv6' | 'dns'

export interface XAddr {
  url: URL
  protocol: 'http' | 'https'
  /** hostname without IPv6 brackets */
  host: string
  hostKind: XAddrHostKind
  port: number
  path: string
}

export type XAddrResult = { ok: true; xaddr: XAddr } | { ok: false; reason: string }

export interface ParseXAddrOptions {
  /** accept `192.168.1.64` or `host:8080` and complete it to `http://…/onvif/device_service` */
  allowBareHost?: boolean
}

export const DEFAULT_DEVICE_PATH = '/onvif/device_service'

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i

export function parseXAddr(input: string, opts: ParseXAddrOptions = {}): XAddrResult {
  if (typeof input !== 'string') return { ok: false, reason: 'not a string' }
  let s = input.trim()
  if (s === '') return { ok: false, reason: 'empty address' }
  if (s.length > 2048) return { ok: false, reason: 'address too long' }
  if (/[\s<>"{}|\\^`]/.test(s)) return { ok: false, reason: 'address contains characters not allowed in a URL' }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    if (!opts.allowBareHost) return { ok: false, reason: 'missing http:// or https:// scheme' }
    s = `http://${s}`
  }
  // Zone ids (fe80::1%eth0) cannot travel in a URL reliably and name an interface of *our* host.
  if (/\[[^\]]*%/.test(s)) return { ok: false, reason: 'IPv6 zone identifiers are not supported' }
  let url: URL
  try {
    url = new URL(s)
  } catch {
    return { ok: false, reason: 'not a valid URL' }
  }
  const protocol = url.protocol === 'http:' ? 'http' : url.protocol === 'https:' ? 'https' : undefined
  if (!protocol) return { ok: false, reason: `unsupported scheme ${url.protocol.replace(/:$/, '')}` }
  if (url.username || url.password) return { ok: false, reason: 'credentials must not be part of the address' }
  if (url.hash) return { ok: false, reason: 'fragment not allowed' }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (!host) return { ok: false, reason: 'missing host' }
  let hostKind: XAddrHostKind
  const ipv = isIP(host)
  if (ipv === 4) hostKind = 'ipv4'
  else if (ipv === 6) hostKind = 'ipv6'
  else {
    // WHATWG URL turns odd IPv4 spellings (0x7f.1, 127.1) into dotted quads, so anything left must be a DNS name.
    const labels = host.replace(/\.$/, '').split('.')
    if (host.length > 253 || !labels.every((l) => HOST_LABEL.test(l))) return { ok: false, reason: 'invalid host name' }
    hostKind = 'dns'
  }
  const port = url.port ? Number(url.port) : protocol === 'https' ? 443 : 80
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, reason: 'invalid port' }
  // The device service lives at a fixed path by the ONVIF core spec; a bare origin means that path.
  if (url.pathname === '/') url.pathname = DEFAULT_DEVICE_PATH
  return { ok: true, xaddr: { url, protocol, host, hostKind, port, path: url.pathname + url.search } }
}

/** `XAddrs` in WS-Discovery is a space-separated list; keep the valid entries, in order, deduplicated. */
export function parseXAddrList(list: string): XAddr[] {
  const seen = new Set<string>()
  const out: XAddr[] = []
  for (const part of list.split(/\s+/)) {
    if (!part) continue
    const r = parseXAddr(part)
    if (r.ok && !seen.has(r.xaddr.url.href)) {
      seen.add(r.xaddr.url.href)
      out.push(r.xaddr)
    }
  }
  return out
}

/** URL for error messages and logs: never user info, never query (some firmwares put tokens there). */
export function redactUrl(u: URL | string): string {
  try {
    const url = typeof u === 'string' ? new URL(u) : u
    return `${url.protocol}//${url.host}${url.pathname}`
  } catch {
    return '(invalid url)'
  }
}
