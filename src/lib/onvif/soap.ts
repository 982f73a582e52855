/**
 * SOAP 1.2 over HTTP for ONVIF: envelope building (WS-UsernameToken digest with the camera's clock,
 * optional WS-Addressing), one deadline per exchange, capped reply size, and classification of
 * every outcome into our error classes.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import type { ConnectGuard } from '../net/index.js'
import {
  OnvifAuthError,
  OnvifError,
  OnvifFaultError,
  OnvifNotSupportedError,
  OnvifProtocolError,
  OnvifTimeoutError,
  OnvifUnreachableError,
  type SoapFault,
} from './errors.js'
import { canonicalPrefix, NS } from './ns.js'
import { redactUrl } from './xaddr.js'
import { canonicalQName, child, children, DEFAULT_MAX_XML_BYTES, parseXml, serializeXml, xmlEscape, type XmlElement } from './xml.js'

export interface Credentials {
  username: string
  password: string
}

export interface AddressingHeaders {
  /** wsa:To; defaults to the request URL */
  to?: string
  /** echoed with wsa:IsReferenceParameter="true" (Axis puts the subscription id here) */
  referenceParameters?: readonly XmlElement[]
}

export interface SoapCallOptions {
  url: URL
  /** action URI, sent in the Content-Type and, with addressing, as wsa:Action */
  action: string
  /** operation name for error messages */
  operation: string
  /** inner XML of s:Body; may use the prefixes declared on the envelope (see ENVELOPE_NS) */
  body: string
  credentials?: Credentials | undefined
  /** camera clock minus local clock, ms; used for wsu:Created */
  clockOffsetMs?: number | undefined
  addressing?: AddressingHeaders | undefined
  timeoutMs: number
  maxResponseBytes?: number | undefined
  signal?: AbortSignal | undefined
  /** https only: accept self-signed device certificates */
  tlsInsecure?: boolean | undefined
  /** resolves and checks the host before each connect (the caller's address policy); its errors propagate */
  connectGuard?: ConnectGuard | undefined
}

export interface SoapReply {
  httpStatus: number
  soapVersion: '1.1' | '1.2'
  header: XmlElement | undefined
  /** first element child of s:Body */
  payload: XmlElement
}

const ENVELOPE_NS =
  `xmlns:s="${NS.soap12}" xmlns:tt="${NS.tt}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" ` +
  `xmlns:tr2="${NS.tr2}" xmlns:tptz="${NS.tptz}" xmlns:tev="${NS.tev}" xmlns:wsnt="${NS.wsnt}" xmlns:wsa="${NS.wsa}"`

/** ISO-8601 without milliseconds, the form of the ONVIF Core spec examples; not every firmware parses fractional seconds. */
export function soapTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** WS-Security UsernameToken PasswordDigest = Base64(SHA-1(nonce ‖ created ‖ password)). */
export function usernameTokenDigest(nonce: Buffer, created: string, password: string): string {
  return createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(password, 'utf8')])).digest('base64')
}

export function buildSecurityHeader(creds: Credentials, clockOffsetMs: number, now = Date.now()): string {
  const nonce = randomBytes(16)
  const created = soapTimestamp(now + clockOffsetMs)
  const digest = usernameTokenDigest(nonce, created, creds.password)
  return (
    `<wsse:Security s:mustUnderstand="1" xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}">` +
    `<wsse:UsernameToken><wsse:Username>${xmlEscape(creds.username)}</wsse:Username>` +
    `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  )
}

export function buildEnvelope(opts: Pick<SoapCallOptions, 'url' | 'action' | 'body' | 'credentials' | 'clockOffsetMs' | 'addressing'>): string {
  let header = ''
  if (opts.credentials) header += buildSecurityHeader(opts.credentials, opts.clockOffsetMs ?? 0)
  if (opts.addressing) {
    header +=
      `<wsa:MessageID>urn:uuid:${randomUUID()}</wsa:MessageID>` +
      `<wsa:To s:mustUnderstand="1">${xmlEscape(opts.addressing.to ?? opts.url.href)}</wsa:To>` +
      `<wsa:Action s:mustUnderstand="1">${xmlEscape(opts.action)}</wsa:Action>`
    for (const rp of opts.addressing.referenceParameters ?? []) {
      header += serializeXml(rp, ` xmlns:wsa5="${NS.wsa}" wsa5:IsReferenceParameter="true"`)
    }
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?><s:Envelope ${ENVELOPE_NS}>` +
    (header ? `<s:Header>${header}</s:Header>` : '') +
    `<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">${opts.body}</s:Body></s:Envelope>`
  )
}

interface RawReply {
  status: number
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  body: string
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ECONNRESET',
  'EPIPE',
])

class DeadlineMarker extends Error {}

function postRaw(opts: SoapCallOptions, payload: string, extraHeaders: Record<string, string>, deadline: number, address?: string): Promise<RawReply> {
  const endpoint = redactUrl(opts.url)
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_XML_BYTES
  return new Promise<RawReply>((resolve, reject) => {
    let settled = false
    let gotResponse = false
    const finish = (err: Error | undefined, reply?: RawReply): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else resolve(reply!)
    }
    const lib = opts.url.protocol === 'https:' ? https : http
    const req = lib.request(opts.url, {
      method: 'POST',
      agent: false,
      headers: {
        'Content-Type': `application/soap+xml; charset=utf-8; action="${opts.action}"`,
        'Content-Length': String(Buffer.byteLength(payload, 'utf8')),
        Accept: 'application/soap+xml, text/xml',
        'Accept-Encoding': 'identity',
        Connection: 'close',
        ...extraHeaders,
      },
      ...(opts.url.protocol === 'https:' && opts.tlsInsecure ? { rejectUnauthorized: false } : {}),
      // connect to the address the guard checked, not to a second resolution of the name
      ...(address !== undefined ? { host: address, hostname: address, ...(opts.url.protocol === 'https:' && !isIP(hostOf(opts.url)) ? { servername: hostOf(opts.url) } : {}) } : {}),
    })
    const remaining = Math.max(1, deadline - Date.now())
    const timer = setTimeout(() => {
      req.destroy(new DeadlineMarker())
      finish(
        new OnvifTimeoutError(`${opts.operation}: no complete reply from ${endpoint} within ${opts.timeoutMs} ms`, {
          endpoint,
          operation: opts.operation,
          timeoutMs: opts.timeoutMs,
        }),
      )
    }, remaining)
    const onAbort = (): void => {
      req.destroy(new DeadlineMarker())
      finish(new OnvifError(`${opts.operation}: cancelled`, { endpoint, operation: opts.operation }))
    }
    if (opts.signal?.aborted) {
      onAbort()
      return
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true })

    req.on('response', (res) => {
      gotResponse = true
      const status = res.statusCode ?? 0
      const declared = Number(res.headers['content-length'])
      if (Number.isFinite(declared) && declared > maxBytes) {
        setImmediate(() => req.destroy(new DeadlineMarker()))
        finish(
          new OnvifProtocolError(`${opts.operation}: reply of ${declared} bytes exceeds the ${maxBytes} byte limit`, {
            problem: 'too-large',
            endpoint,
            operation: opts.operation,
            httpStatus: status,
          }),
        )
        res.destroy()
        return
      }
      const chunks: Buffer[] = []
      let total = 0
      res.on('data', (chunk: Buffer) => {
        total += chunk.length
        if (total > maxBytes) {
          // settle first: destroying emits 'aborted'/'error', which must not win the race
          setImmediate(() => req.destroy(new DeadlineMarker()))
          finish(
            new OnvifProtocolError(`${opts.operation}: reply exceeds the ${maxBytes} byte limit`, {
              problem: 'too-large',
              endpoint,
              operation: opts.operation,
              httpStatus: status,
            }),
          )
          res.destroy()
          return
        }
        chunks.push(chunk)
      })
      res.on('end', () => {
        finish(undefined, {
          status,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: new TextDecoder('utf-8').decode(Buffer.concat(chunks, total)),
        })
      })
      res.on('aborted', () => {
        finish(
          new OnvifProtocolError(`${opts.operation}: connection dropped in the middle of the reply`, {
            problem: 'truncated',
            endpoint,
            operation: opts.operation,
            httpStatus: status,
          }),
        )
      })
      res.on('error', (e) => {
        if (e instanceof DeadlineMarker) return
        finish(
          new OnvifProtocolError(`${opts.operation}: connection dropped in the middle of the reply`, {
            problem: 'truncated',
            endpoint,
            operation: opts.operation,
            httpStatus: status,
            cause: e,
          }),
        )
      })
    })
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof DeadlineMarker) return
      const code = e.code
      if (!gotResponse && (code === undefined || UNREACHABLE_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('CERT_') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN')) {
        finish(new OnvifUnreachableError(`${opts.operation}: cannot reach ${endpoint} (${code ?? e.message})`, { endpoint, operation: opts.operation, code, cause: e }))
      } else if (!gotResponse && code === 'HPE_INVALID_CONSTANT') {
        finish(new OnvifProtocolError(`${opts.operation}: ${endpoint} did not answer with HTTP`, { problem: 'not-soap', endpoint, operation: opts.operation, cause: e }))
      } else {
        finish(
          new OnvifProtocolError(`${opts.operation}: HTTP exchange with ${endpoint} failed (${code ?? e.message})`, {
            problem: gotResponse ? 'truncated' : 'not-soap',
            endpoint,
            operation: opts.operation,
            cause: e,
          }),
        )
      }
    })
    req.end(payload)
  })
}

// ---------------------------------------------------------------- HTTP Digest (RFC 7616)

interface DigestChallenge {
  realm: string
  nonce: string
  qop: string | undefined
  opaque: string | undefined
  algorithm: 'MD5' | 'SHA-256'
  algorithmToken: string | undefined
}

function parseAuthParams(s: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g
  let m: RegExpExecArray | null
  while ((m = re.exec(s))) out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!
  return out
}

export function parseDigestChallenges(rawHeaders: string[]): DigestChallenge[] {
  const out: DigestChallenge[] = []
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'www-authenticate') continue
    const v = rawHeaders[i + 1]!
    if (!/^\s*digest\s/i.test(v)) continue
    const p = parseAuthParams(v.replace(/^\s*digest\s+/i, ''))
    if (!p.realm || !p.nonce) continue
    const algo = (p.algorithm ?? 'MD5').toUpperCase()
    if (algo !== 'MD5' && algo !== 'SHA-256') continue
    out.push({
      realm: p.realm,
      nonce: p.nonce,
      qop: p.qop,
      opaque: p.opaque,
      algorithm: algo,
      algorithmToken: p.algorithm,
    })
  }
  // Hikvision sends an MD5 and a SHA-256 challenge side by side (captured in the onvif package); take the stronger.
  return out.sort((a, b) => (a.algorithm === b.algorithm ? 0 : a.algorithm === 'SHA-256' ? -1 : 1))
}

export function digestAuthorization(ch: DigestChallenge, creds: Credentials, method: string, uri: string): string {
  const h = (s: string): string => createHash(ch.algorithm === 'MD5' ? 'md5' : 'sha256').update(s, 'utf8').digest('hex')
  const ha1 = h(`${creds.username}:${ch.realm}:${creds.password}`)
  const ha2 = h(`${method}:${uri}`)
  const qops = (ch.qop ?? '').split(',').map((q) => q.trim())
  const q = (s: string): string => `"${s.replace(/(["\\])/g, '\\$1')}"`
  const parts = [`username=${q(creds.username)}`, `realm=${q(ch.realm)}`, `nonce=${q(ch.nonce)}`, `uri=${q(uri)}`]
  if (qops.includes('auth')) {
    const cnonce = randomBytes(8).toString('hex')
    const nc = '00000001'
    parts.push(`qop=auth`, `nc=${nc}`, `cnonce=${q(cnonce)}`, `response=${q(h(`${ha1}:${ch.nonce}:${nc}:${cnonce}:auth:${ha2}`))}`)
  } else {
    parts.push(`response=${q(h(`${ha1}:${ch.nonce}:${ha2}`))}`)
  }
  if (ch.algorithmToken) parts.push(`algorithm=${ch.algorithmToken}`)
  if (ch.opaque !== undefined) parts.push(`opaque=${q(ch.opaque)}`)
  return `Digest ${parts.join(', ')}`
}

// ---------------------------------------------------------------- faults

const AUTH_SUBCODES = new Set([
  'ter:NotAuthorized',
  'wsse:FailedAuthentication',
  'wsse:InvalidSecurity',
  'wsse:InvalidSecurityToken',
  'wsse:FailedCheck',
  'wsse:MessageExpired',
])
const NOT_SUPPORTED_SUBCODES = new Set(['ter:ActionNotSupported', 'wsa:ActionNotSupported', 'ter:NoSuchService', 'ter:NotImplemented'])

/** Parse a SOAP 1.2 or 1.1 Fault element. */
export function parseFault(fault: XmlElement, soapVersion: '1.1' | '1.2', httpStatus: number): SoapFault {
  let code = ''
  const subcodes: string[] = []
  let reason = ''
  let detailEl: XmlElement | undefined
  if (child(fault, 'Code')) {
    const codeEl = child(fault, 'Code')!
    const v = child(codeEl, 'Value')
    code = v ? canonicalQName(v, v.text) : ''
    let sub = child(codeEl, 'Subcode')
    for (let depth = 0; sub && depth < 8; depth++) {
      const sv = child(sub, 'Value')
      if (sv && sv.text) subcodes.push(canonicalQName(sv, sv.text))
      sub = child(sub, 'Subcode')
    }
    const texts = children(child(fault, 'Reason'), 'Text')
    reason = (texts.find((t) => (t.attrs.lang ?? '').toLowerCase().startsWith('en')) ?? texts[0])?.text ?? ''
    detailEl = child(fault, 'Detail')
  } else {
    const fc = child(fault, 'faultcode')
    const q = fc ? canonicalQName(fc, fc.text) : ''
    if (q === 'env:Client') code = 'env:Sender'
    else if (q === 'env:Server') code = 'env:Receiver'
    else if (q.startsWith('env:')) code = q
    else {
      // A SOAP 1.1 fault has no Subcode; a non-envelope faultcode is the closest thing to one.
      code = 'env:Sender'
      if (q) subcodes.push(q)
    }
    reason = child(fault, 'faultstring')?.text ?? ''
    detailEl = child(fault, 'detail')
  }
  const detailText = detailEl ? flattenText(detailEl).slice(0, 500) : ''
  const detailTypes = (detailEl?.children ?? []).slice(0, 16).map((c) => {
    const p = canonicalPrefix(c.ns)
    return p ? `${p}:${c.name}` : c.name
  })
  return { soapVersion, code, subcodes, reason: reason.slice(0, 500), detail: detailText || undefined, detailTypes, httpStatus }
}

function flattenText(el: XmlElement): string {
  return [el.text, ...el.children.map(flattenText)].filter(Boolean).join(' ').trim()
}

const AUTH_REASON_RE = /not\s*authori[sz]ed|unauthori[sz]ed|authentication\s+fail|authority failure|invalid (user ?name|password)/i
const NOT_SUPPORTED_REASON_RE = /not\s+implemented|not\s+supported|method name or namespace not recognized|unknown (action|method|operation)/i

export function isAuthFault(f: SoapFault): boolean {
  if (f.subcodes.some((s) => AUTH_SUBCODES.has(s))) return true
  // Faults with no subcode and only a reason such as "Sender not Authorized" (the onvif package matches this text too).
  return f.subcodes.every((s) => s.startsWith('env:')) && AUTH_REASON_RE.test(f.reason)
}

export function isNotSupportedFault(f: SoapFault): boolean {
  if (f.subcodes.some((s) => NOT_SUPPORTED_SUBCODES.has(s))) return true
  return !isAuthFault(f) && NOT_SUPPORTED_REASON_RE.test(f.reason)
}

function faultError(f: SoapFault, endpoint: string, operation: string): OnvifError {
  const desc = [f.code, ...f.subcodes].join('/')
  if (isAuthFault(f) || f.httpStatus === 401) {
    return new OnvifAuthError(`${operation}: ${endpoint} refused the credentials (${desc}, HTTP ${f.httpStatus})`, {
      endpoint,
      operation,
      httpStatus: f.httpStatus,
      fault: f,
    })
  }
  if (isNotSupportedFault(f)) {
    return new OnvifNotSupportedError(`${operation}: not supported by ${endpoint} (${desc})`, { endpoint, operation, fault: f })
  }
  return new OnvifFaultError(`${operation}: SOAP fault ${desc} from ${endpoint}: ${f.reason}`, { endpoint, operation, fault: f })
}

/** Turn an HTTP reply into a SOAP payload or one of our errors. Exported for fixture tests. */
export function interpretReply(status: number, body: string, ctx: { endpoint: string; operation: string; maxResponseBytes?: number | undefined }): SoapReply {
  const { endpoint, operation } = ctx
  let env: XmlElement | undefined
  let parseError: unknown
  const ok = status >= 200 && status < 300
  // Error pages (HTML with <!DOCTYPE html>) are judged by status alone; only SOAP-looking bodies are parsed.
  if (body.trim() !== '' && (ok || /<([\w.-]+:)?Envelope[\s>]/.test(body))) {
    try {
      env = parseXml(body, { maxBytes: ctx.maxResponseBytes ?? DEFAULT_MAX_XML_BYTES, endpoint })
    } catch (e) {
      parseError = e
    }
  }
  if (parseError instanceof OnvifProtocolError && parseError.problem !== 'malformed-xml') throw parseError
  const isEnvelope = env !== undefined && env.name === 'Envelope' && (env.ns === NS.soap12 || env.ns === NS.soap11)
  if (!env || !isEnvelope) {
    if (status === 401 || status === 403) {
      // A Hikvision camera answered a refused login with an HTML "401 -- Unauthorized" page (recorded in the onvif package).
      return authThrow(status, endpoint, operation)
    }
    if (status === 404 || status === 405 || status === 501) {
      throw new OnvifNotSupportedError(`${operation}: ${endpoint} answered HTTP ${status}`, { endpoint, operation })
    }
    if (status < 200 || status >= 300) {
      throw new OnvifProtocolError(`${operation}: ${endpoint} answered HTTP ${status} without a SOAP envelope`, {
        problem: 'http-status',
        endpoint,
        operation,
        httpStatus: status,
      })
    }
    if (parseError) throw parseError
    throw new OnvifProtocolError(
      env ? `${operation}: reply from ${endpoint} is XML but not a SOAP envelope` : `${operation}: empty reply from ${endpoint}`,
      { problem: 'not-soap', endpoint, operation, httpStatus: status },
    )
  }
  const soapVersion = env.ns === NS.soap11 ? '1.1' : '1.2'
  const bodyEl = child(env, 'Body')
  const payload = bodyEl?.children[0]
  if (!bodyEl) {
    throw new OnvifProtocolError(`${operation}: SOAP envelope from ${endpoint} has no Body`, { problem: 'not-soap', endpoint, operation, httpStatus: status })
  }
  if (payload && payload.name === 'Fault' && (payload.ns === NS.soap12 || payload.ns === NS.soap11 || payload.ns === '')) {
    throw faultError(parseFault(payload, soapVersion, status), endpoint, operation)
  }
  if (status === 401 || status === 403) return authThrow(status, endpoint, operation)
  if (status < 200 || status >= 300) {
    throw new OnvifProtocolError(`${operation}: ${endpoint} answered HTTP ${status} without a fault`, {
      problem: 'http-status',
      endpoint,
      operation,
      httpStatus: status,
    })
  }
  if (!payload) {
    throw new OnvifProtocolError(`${operation}: empty SOAP Body from ${endpoint}`, { problem: 'unexpected-reply', endpoint, operation, httpStatus: status })
  }
  return { httpStatus: status, soapVersion, header: child(env, 'Header'), payload }
}

const hostOf = (u: URL) => u.hostname.replace(/^\[|\]$/g, '')

function authThrow(status: number, endpoint: string, operation: string): never {
  throw new OnvifAuthError(`${operation}: ${endpoint} refused the credentials (HTTP ${status})`, { endpoint, operation, httpStatus: status })
}

/** One SOAP exchange within opts.timeoutMs, including an HTTP Digest round trip if the device asks for one. */
export async function soapCall(opts: SoapCallOptions): Promise<SoapReply> {
  const endpoint = redactUrl(opts.url)
  const deadline = Date.now() + opts.timeoutMs
  const payload = buildEnvelope(opts)
  const port = opts.url.port ? Number(opts.url.port) : opts.url.protocol === 'https:' ? 443 : 80
  const address = opts.connectGuard ? await opts.connectGuard(hostOf(opts.url), port) : undefined
  let reply = await postRaw(opts, payload, {}, deadline, address)
  if (reply.status === 401 && opts.credentials) {
    // ONVIF Core allows HTTP Digest instead of WS-Security; such devices answer with a 401 challenge.
    const ch = parseDigestChallenges(reply.rawHeaders)[0]
    if (ch) {
      const auth = digestAuthorization(ch, opts.credentials, 'POST', opts.url.pathname + opts.url.search)
      reply = await postRaw(opts, buildEnvelope(opts), { Authorization: auth }, deadline, address)
    }
  }
  return interpretReply(reply.status, reply.body, { endpoint, operation: opts.operation, maxResponseBytes: opts.maxResponseBytes })
}
