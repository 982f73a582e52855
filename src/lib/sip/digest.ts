import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * HTTP Digest for SIP (RFC 3261 §22.4, RFC 2617), MD5 as GB/T 28181 devices implement it, with
 * and without `qop=auth`. Server nonces are stateless: a timestamp and random bytes signed with a
 * key, so a nonce cannot be forged or used after it expires, and nothing is stored per device.
 */

const md5 = (s: string) => createHash('md5').update(s).digest('hex')

/** `Digest a="b", c=d` → lower-cased names and unquoted values; undefined if not Digest. */
export function parseDigestParams(value: string | undefined): Map<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value ?? '')
  if (!m) return undefined
  const out = new Map<string, string>()
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g
  for (let p = re.exec(m[1]!); p; p = re.exec(m[1]!)) out.set(p[1]!.toLowerCase(), p[2] ?? p[3] ?? '')
  return out
}

export interface DigestInput {
  username: string
  realm: string
  password: string
  method: string
  uri: string
  nonce: string
  qop?: string | undefined
  nc?: string | undefined
  cnonce?: string | undefined
}

export function digestResponse(i: DigestInput): string {
  const ha1 = md5(`${i.username}:${i.realm}:${i.password}`)
  const ha2 = md5(`${i.method}:${i.uri}`)
  return i.qop ? md5(`${ha1}:${i.nonce}:${i.nc}:${i.cnonce}:${i.qop}:${ha2}`) : md5(`${ha1}:${i.nonce}:${ha2}`)
}

/** The Authorization header a client sends after a challenge. */
export function authorizationHeader(challenge: string, creds: { username: string; password: string }, method: string, uri: string): string {
  const c = parseDigestParams(challenge)
  if (!c) throw new Error('not a Digest challenge')
  const realm = c.get('realm') ?? ''
  const nonce = c.get('nonce') ?? ''
  const qop = (c.get('qop') ?? '').split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined
  const nc = '00000001'
  const cnonce = randomBytes(8).toString('hex')
  const response = digestResponse({ username: creds.username, realm, password: creds.password, method, uri, nonce, qop, nc, cnonce })
  let h = `Digest username="${creds.username}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5`
  if (qop) h += `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"`
  const opaque = c.get('opaque')
  if (opaque) h += `, opaque="${opaque}"`
  return h
}

export type DigestVerdict = 'ok' | 'stale' | 'bad'

/** Issues and checks nonces of a realm. */
export class DigestServer {
  readonly #key: Buffer

  constructor(
    readonly realm: string,
    /** how long a nonce stays valid */
    readonly nonceTtlMs = 5 * 60_000,
    key: Buffer = randomBytes(32),
  ) {
    this.#key = key
  }

  nonce(now = Date.now()): string {
    const body = `${now.toString(16)}.${randomBytes(8).toString('hex')}`
    return `${body}.${createHmac('sha256', this.#key).update(body).digest('hex').slice(0, 32)}`
  }

  challenge(stale = false): string {
    return `Digest realm="${this.realm}", nonce="${this.nonce()}", algorithm=MD5${stale ? ', stale=TRUE' : ''}`
  }

  #nonceState(nonce: string, now: number): 'valid' | 'expired' | 'forged' {
    const parts = nonce.split('.')
    if (parts.length !== 3) return 'forged'
    const body = `${parts[0]}.${parts[1]}`
    const mac = Buffer.from(createHmac('sha256', this.#key).update(body).digest('hex').slice(0, 32))
    const given = Buffer.from(parts[2]!)
    if (given.length !== mac.length || !timingSafeEqual(given, mac)) return 'forged'
    const issued = parseInt(parts[0]!, 16)
    if (!Number.isFinite(issued) || now - issued > this.nonceTtlMs || issued - now > 60_000) return 'expired'
    return 'valid'
  }

  /** The username the Authorization header names (before the password is known), if any. */
  static username(authorization: string | undefined): string | undefined {
    return parseDigestParams(authorization)?.get('username')
  }

  /**
   * Checks an Authorization header for `method`. 'stale': right password, expired nonce (the client
   * should retry with a fresh one without asking its user).
   */
  verify(authorization: string | undefined, method: string, password: string, now = Date.now()): DigestVerdict {
    const p = parseDigestParams(authorization)
    if (!p) return 'bad'
    const username = p.get('username')
    const nonce = p.get('nonce')
    const uri = p.get('uri')
    const response = p.get('response')
    if (!username || !nonce || !uri || !response) return 'bad'
    if ((p.get('algorithm') ?? 'MD5').toUpperCase() !== 'MD5') return 'bad'
    const state = this.#nonceState(nonce, now)
    if (state === 'forged') return 'bad'
    const qop = p.get('qop')
    const expected = digestResponse({ username, realm: p.get('realm') ?? this.realm, password, method, uri, nonce, qop: qop || undefined, nc: p.get('nc'), cnonce: p.get('cnonce') })
    if ((p.get('realm') ?? this.realm) !== this.realm) return 'bad'
    const a = Buffer.from(expected)
    const b = Buffer.from(response.toLowerCase())
    if (a.length !== b.length || !timingSafeEqual(a, b)) return 'bad'
    return state === 'expired' ? 'stale' : 'ok'
  }
}
