/**
 * SIP messages (RFC 3261 §7): parsing from a UDP datagram or a TCP byte stream, and writing.
 * Lenient where devices are known to be sloppy (LF-only line ends, compact header names, header
 * names in any case, trailing whitespace, a missing Content-Length on UDP), strict where a wrong
 * guess would be dangerous (a body longer than allowed, a start line we cannot read).
 */

export class SipParseError extends Error {
  override readonly name = 'SipParseError'
}

/** Compact forms (RFC 3261 §7.3.3, RFC 3265, RFC 3515) → the full names we store headers under. */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
}

/** How header names are written back (canonical case; unknown ones as received). */
const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'content-length': 'Content-Length',
  'content-type': 'Content-Type',
  'max-forwards': 'Max-Forwards',
  'user-agent': 'User-Agent',
  'x-gb-ver': 'X-GB-Ver',
}

export function canonicalHeaderName(lower: string): string {
  return CANONICAL[lower] ?? lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())
}

interface SipMessageBase {
  /** header name (lower case, full form) → values in order (a comma-joined header is one value) */
  headers: Map<string, string[]>
  body: Buffer
}

export interface SipRequest extends SipMessageBase {
  kind: 'request'
  method: string
  uri: string
}

export interface SipResponse extends SipMessageBase {
  kind: 'response'
  status: number
  reason: string
}

export type SipMessage = SipRequest | SipResponse

/** Upper bound of a message we accept (GB/T 28181 catalog pages are a few KB; a 64 KB UDP datagram is the ceiling). */
export const MAX_SIP_MESSAGE_BYTES = 256 * 1024

export function header(m: SipMessageBase, name: string): string | undefined {
  return m.headers.get(name.toLowerCase())?.[0]
}

export function headerValues(m: SipMessageBase, name: string): string[] {
  return m.headers.get(name.toLowerCase()) ?? []
}

export function setHeader(m: SipMessageBase, name: string, value: string | string[]): void {
  m.headers.set(name.toLowerCase(), Array.isArray(value) ? value : [value])
}

/** Headers whose values may be comma-separated lists of several entries (RFC 3261 §7.3.1). */
const LIST_HEADERS = new Set(['via', 'contact', 'route', 'record-route', 'allow', 'supported', 'require'])

/** Splits a list header on commas outside quotes and angle brackets. */
export function splitHeaderList(value: string): string[] {
  const out: string[] = []
  let depthAngle = 0
  let quoted = false
  let start = 0
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]
    if (ch === '"' && value[i - 1] !== '\\') quoted = !quoted
    else if (!quoted && ch === '<') depthAngle++
    else if (!quoted && ch === '>') depthAngle = Math.max(0, depthAngle - 1)
    else if (!quoted && depthAngle === 0 && ch === ',') {
      out.push(value.slice(start, i).trim())
      start = i + 1
    }
  }
  out.push(value.slice(start).trim())
  return out.filter((v) => v.length > 0)
}

type ParsedHead = (Omit<SipRequest, 'body'> | Omit<SipResponse, 'body'>) & { contentLength: number | undefined }

function parseHead(head: string): ParsedHead {
  const lines = head.split(/\r?\n/)
  // unfold continuation lines (RFC 3261 §7.3.1)
  const unfolded: string[] = []
  for (const line of lines) {
    if (/^[ \t]/.test(line) && unfolded.length) unfolded[unfolded.length - 1] += ' ' + line.trim()
    else unfolded.push(line)
  }
  const start = unfolded.shift()?.trim() ?? ''
  const headers = new Map<string, string[]>()
  for (const line of unfolded) {
    if (!line.trim()) continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new SipParseError(`malformed header line: ${line.slice(0, 80)}`)
    let name = line.slice(0, colon).trim().toLowerCase()
    name = COMPACT[name] ?? name
    const value = line.slice(colon + 1).trim()
    const values = LIST_HEADERS.has(name) ? splitHeaderList(value) : [value]
    const list = headers.get(name)
    if (list) list.push(...values)
    else headers.set(name, values)
  }
  const cl = headers.get('content-length')?.[0]
  let contentLength: number | undefined
  if (cl !== undefined) {
    if (!/^\d{1,9}$/.test(cl)) throw new SipParseError(`bad Content-Length: ${cl.slice(0, 20)}`)
    contentLength = Number(cl)
    if (contentLength > MAX_SIP_MESSAGE_BYTES) throw new SipParseError(`body too large: ${contentLength} bytes`)
  }
  const response = /^SIP\/2\.0\s+(\d{3})(?:\s+(.*))?$/i.exec(start)
  if (response) return { kind: 'response', status: Number(response[1]), reason: response[2] ?? '', headers, contentLength }
  const request = /^([A-Za-z]+)\s+(\S+)\s+SIP\/2\.0$/i.exec(start)
  if (request) return { kind: 'request', method: request[1]!.toUpperCase(), uri: request[2]!, headers, contentLength }
  throw new SipParseError(`not a SIP start line: ${start.slice(0, 80)}`)
}

function headEnd(buf: Buffer): { at: number; sep: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n')
  const lf = buf.indexOf('\n\n')
  if (crlf < 0 && lf < 0) return undefined
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, sep: 4 }
  return { at: lf, sep: 2 }
}

/** One message in one UDP datagram. Content-Length, when given, bounds the body. */
export function parseDatagram(buf: Buffer): SipMessage {
  if (buf.length > MAX_SIP_MESSAGE_BYTES) throw new SipParseError(`message too large: ${buf.length} bytes`)
  const end = headEnd(buf)
  const headText = (end ? buf.subarray(0, end.at) : buf).toString('latin1')
  const parsed = parseHead(headText)
  const bodyStart = end ? end.at + end.sep : buf.length
  const available = buf.length - bodyStart
  if (parsed.contentLength !== undefined && parsed.contentLength > available) throw new SipParseError(`body shorter than Content-Length (${available} < ${parsed.contentLength})`)
  const body = Buffer.from(buf.subarray(bodyStart, bodyStart + (parsed.contentLength ?? available)))
  const { contentLength: _cl, ...message } = parsed
  return { ...message, body } as SipMessage
}

/**
 * Messages from a TCP byte stream (RFC 3261 §18.3: Content-Length is mandatory there). Keep-alive
 * CRLFs between messages (RFC 5626) are skipped.
 */
export class SipStreamParser {
  #buf: Buffer = Buffer.alloc(0)

  /** Throws SipParseError on a stream that cannot be framed (the connection should then be closed). */
  push(chunk: Buffer): SipMessage[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk
    const out: SipMessage[] = []
    for (;;) {
      let skip = 0
      while (skip < this.#buf.length && (this.#buf[skip] === 0x0d || this.#buf[skip] === 0x0a)) skip++
      if (skip) this.#buf = this.#buf.subarray(skip)
      const end = headEnd(this.#buf)
      if (!end) {
        if (this.#buf.length > 64 * 1024) throw new SipParseError('header section too large')
        break
      }
      const parsed = parseHead(this.#buf.subarray(0, end.at).toString('latin1'))
      const length = parsed.contentLength ?? 0
      const total = end.at + end.sep + length
      if (this.#buf.length < total) break
      const body = Buffer.from(this.#buf.subarray(end.at + end.sep, total))
      const { contentLength: _cl, ...message } = parsed
      out.push({ ...message, body } as SipMessage)
      this.#buf = this.#buf.subarray(total)
    }
    if (!this.#buf.length) this.#buf = Buffer.alloc(0)
    else this.#buf = Buffer.from(this.#buf)
    return out
  }
}

/** Writes a message; Content-Length always matches the body. */
export function serializeMessage(m: SipMessage): Buffer {
  const start = m.kind === 'request' ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason}`
  const lines = [start]
  for (const [name, values] of m.headers) {
    if (name === 'content-length') continue
    for (const v of values) lines.push(`${canonicalHeaderName(name)}: ${v}`)
  }
  lines.push(`Content-Length: ${m.body.length}`)
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), m.body])
}

// --- header values ------------------------------------------------------------------------------

/** `;name=value;flag` parameters after a value, names lower-cased. */
export function parseParams(s: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of s.split(';')) {
    const p = part.trim()
    if (!p) continue
    const eq = p.indexOf('=')
    if (eq < 0) out.set(p.toLowerCase(), '')
    else out.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'))
  }
  return out
}

export interface Via {
  transport: string
  host: string
  port: number | undefined
  params: Map<string, string>
}

export function parseVia(value: string): Via {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;\s]+)\s*(;.*)?$/i.exec(value.trim())
  if (!m) throw new SipParseError(`bad Via: ${value.slice(0, 80)}`)
  const hostPort = m[2]!
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort)
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(hostPort)
  const host = v6 ? v6[1]! : (v4?.[1] ?? hostPort)
  const port = v6?.[2] ?? v4?.[2]
  return { transport: m[1]!.toUpperCase(), host, port: port ? Number(port) : undefined, params: parseParams(m[3] ?? '') }
}

export function formatVia(v: Via): string {
  const host = v.host.includes(':') ? `[${v.host}]` : v.host
  let s = `SIP/2.0/${v.transport} ${host}${v.port ? `:${v.port}` : ''}`
  for (const [k, val] of v.params) s += val === '' ? `;${k}` : `;${k}=${val}`
  return s
}

export interface NameAddr {
  display: string | undefined
  uri: string
  params: Map<string, string>
}

/** `"Name" <sip:user@host>;tag=x`, `<sip:...>`, or a bare `sip:user@host;tag=x`. */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim()
  const angle = /^(?:"((?:[^"\\]|\\.)*)"|([^<]*?))\s*<([^>]*)>(.*)$/.exec(v)
  if (angle) return { display: (angle[1] ?? angle[2]?.trim()) || undefined, uri: angle[3]!.trim(), params: parseParams(angle[4] ?? '') }
  const semi = v.indexOf(';')
  return { display: undefined, uri: semi < 0 ? v : v.slice(0, semi), params: parseParams(semi < 0 ? '' : v.slice(semi)) }
}

export function formatNameAddr(a: NameAddr): string {
  let s = `${a.display ? `"${a.display}" ` : ''}<${a.uri}>`
  for (const [k, val] of a.params) s += val === '' ? `;${k}` : `;${k}=${val}`
  return s
}

export interface SipUri {
  scheme: 'sip' | 'sips'
  user: string | undefined
  host: string
  port: number | undefined
  params: Map<string, string>
}

export function parseSipUri(uri: string): SipUri {
  const m = /^(sips?):(?:([^@;]+)@)?(\[[^\]]+\]|[^:;?]+)(?::(\d+))?([^?]*)/i.exec(uri.trim())
  if (!m) throw new SipParseError(`bad SIP URI: ${uri.slice(0, 80)}`)
  return { scheme: m[1]!.toLowerCase() as 'sip' | 'sips', user: m[2] ? m[2].split(':')[0] : undefined, host: m[3]!.replace(/^\[|\]$/g, ''), port: m[4] ? Number(m[4]) : undefined, params: parseParams(m[5] ?? '') }
}

export interface CSeq {
  seq: number
  method: string
}

export function parseCSeq(value: string | undefined): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z]+)\s*$/.exec(value ?? '')
  if (!m) throw new SipParseError(`bad CSeq: ${(value ?? '').slice(0, 40)}`)
  return { seq: Number(m[1]), method: m[2]!.toUpperCase() }
}

/** The five headers every message needs to be answered: Via, From, To, Call-ID, CSeq. */
export function checkMandatoryHeaders(m: SipMessage): void {
  for (const name of ['via', 'from', 'to', 'call-id', 'cseq']) if (!m.headers.get(name)?.length) throw new SipParseError(`missing ${canonicalHeaderName(name)}`)
  parseCSeq(header(m, 'cseq'))
  parseVia(headerValues(m, 'via')[0]!)
}
