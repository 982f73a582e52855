const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/]*@/gi

/**
 * Replaces `user:pass@` in every URL inside `text` with `***@`. Applied to every message this
 * library builds, since camera URLs routinely carry credentials.
 */
export function redactUrl(text: string): string {
  return text.replace(USERINFO, '$1***@')
}

export interface ParsedRtspUrl {
  /** The URL with its userinfo removed: what goes on the request line. */
  url: string
  host: string
  port: number
  username?: string
  password?: string
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

const HOST_AFTER_AT = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d+))?(?=[/?#]|$)/i

/**
 * Parses rtsp://[user[:pass]@]host[:port]/path. Hand-rolled rather than WHATWG URL because
 * operators paste passwords with a raw '@' or '/' in them (`admin:p@ss@10.0.0.5`), which we take
 * up to the last '@' that is followed by a plausible host.
 */
export function parseRtspUrl(input: string): ParsedRtspUrl | undefined {
  const m = /^(rtsps?):\/\/(.*)$/i.exec(input.trim())
  if (!m) return undefined
  const scheme = m[1]!.toLowerCase()
  const rest = m[2]!
  let userinfo: string | undefined
  let hostPart = rest
  for (let at = rest.lastIndexOf('@'); at >= 0; at = rest.lastIndexOf('@', at - 1)) {
    if (HOST_AFTER_AT.test(rest.slice(at + 1))) {
      userinfo = rest.slice(0, at)
      hostPart = rest.slice(at + 1)
      break
    }
    if (at === 0) break
  }
  const h = HOST_AFTER_AT.exec(hostPart)
  if (!h) return undefined
  const host = h[1]!.replace(/^\[|\]$/g, '')
  const port = h[2] ? Number(h[2]) : scheme === 'rtsps' ? 322 : 554
  if (port <= 0 || port > 65535) return undefined
  const out: ParsedRtspUrl = { url: `${scheme}://${hostPart}`, host, port }
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':')
    out.username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon))
    if (colon >= 0) out.password = decode(userinfo.slice(colon + 1))
  }
  return out
}
