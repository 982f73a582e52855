import { createHash, randomBytes } from 'node:crypto'

export interface AuthChallenge {
  /** Lower-cased scheme: "basic", "digest". */
  scheme: string
  params: Record<string, string>
}

/**
 * Parses WWW-Authenticate values. Cameras send one header per scheme (Hikvision sends Digest and
 * Basic), but a single header may also list several challenges separated by commas.
 */
export function parseAuthenticate(values: readonly string[]): AuthChallenge[] {
  const out: AuthChallenge[] = []
  for (const value of values) {
    let current: AuthChallenge | undefined
    let i = 0
    const s = value
    while (i < s.length) {
      while (i < s.length && (s[i] === ' ' || s[i] === ',' || s[i] === '\t')) i++
      const tok = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)/.exec(s.slice(i))
      if (!tok) break
      i += tok[1]!.length
      let j = i
      while (j < s.length && s[j] === ' ') j++
      if (s[j] !== '=' ) {
        current = { scheme: tok[1]!.toLowerCase(), params: {} }
        out.push(current)
        continue
      }
      i = j + 1
      while (i < s.length && s[i] === ' ') i++
      let val = ''
      if (s[i] === '"') {
        i++
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++
          val += s[i]
          i++
        }
        i++
      } else {
        const m = /^[^,\s]*/.exec(s.slice(i))!
        val = m[0]
        i += val.length
      }
      if (current) current.params[tok[1]!.toLowerCase()] = val
    }
  }
  return out
}

function md5(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex')
}

/**
 * Builds Authorization headers for Basic and Digest (RFC 2617: MD5 and MD5-sess, with qop=auth or
 * without qop as older cameras do). Holds the current challenge so later requests on the same
 * connection are authorized up front, with an incrementing nonce count.
 */
export class RtspAuthenticator {
  #challenge: AuthChallenge | undefined
  #nc = 0

  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  get scheme(): string | undefined {
    return this.#challenge?.scheme
  }

  /** Picks Digest over Basic; returns false when none is supported. */
  useChallenges(challenges: readonly AuthChallenge[]): boolean {
    const digest = challenges.find((c) => c.scheme === 'digest' && c.params['nonce'] !== undefined)
    const algorithm = digest?.params['algorithm']?.toUpperCase()
    if (digest && (algorithm === undefined || algorithm === 'MD5' || algorithm === 'MD5-SESS')) {
      this.#challenge = digest
      this.#nc = 0
      return true
    }
    const basic = challenges.find((c) => c.scheme === 'basic')
    if (basic) {
      this.#challenge = basic
      return true
    }
    return false
  }

  /** Authorization header value for a request, or undefined before any challenge was seen. */
  authorize(method: string, uri: string): string | undefined {
    const c = this.#challenge
    if (!c) return undefined
    if (c.scheme === 'basic') {
      return 'Basic ' + Buffer.from(`${this.username}:${this.password}`, 'utf8').toString('base64')
    }
    const realm = c.params['realm'] ?? ''
    const nonce = c.params['nonce'] ?? ''
    const algorithm = c.params['algorithm']
    const qops = (c.params['qop'] ?? '').split(',').map((q) => q.trim().toLowerCase())
    const useQop = qops.includes('auth') ? 'auth' : undefined
    const cnonce = randomBytes(8).toString('hex')
    let ha1 = md5(`${this.username}:${realm}:${this.password}`)
    if (algorithm?.toUpperCase() === 'MD5-SESS') ha1 = md5(`${ha1}:${nonce}:${cnonce}`)
    const ha2 = md5(`${method}:${uri}`)
    const parts = [`username="${this.username}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${uri}"`]
    if (useQop) {
      this.#nc++
      const nc = this.#nc.toString(16).padStart(8, '0')
      const response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:${useQop}:${ha2}`)
      parts.push(`response="${response}"`, `qop=${useQop}`, `nc=${nc}`, `cnonce="${cnonce}"`)
    } else {
      parts.push(`response="${md5(`${ha1}:${nonce}:${ha2}`)}"`)
    }
    // Only echoed when the server named it: some cameras reject an unsolicited algorithm param.
    if (algorithm) parts.push(`algorithm=${algorithm}`)
    if (c.params['opaque'] !== undefined) parts.push(`opaque="${c.params['opaque']}"`)
    return 'Digest ' + parts.join(', ')
  }
}
