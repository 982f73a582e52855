/**
 * IP address and CIDR arithmetic for IPv4 and IPv6. Pure: no DNS, no sockets.
 *
 * Addresses are held as a family and a bigint. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * its IPv4 address: the kernel connects to the IPv4 host, so it must be judged as one.
 */
import { isIP } from 'node:net'

export interface IpAddress {
  family: 4 | 6
  value: bigint
}

export interface IpCidr {
  family: 4 | 6
  network: bigint
  prefix: number
  /** as written, normalised (e.g. `10.0.0.0/8`, `fc00::/7`) */
  text: string
}

export class IpParseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'IpParseError'
  }
}

const BITS = { 4: 32, 6: 128 } as const

/**
 * IPv4 in every spelling inet_aton and the WHATWG URL parser accept: `127.0.0.1`, `2130706433`,
 * `0x7f000001`, `0177.0.0.1`, `127.1`, `0x7f.1`, a trailing dot. Such hosts reach the resolver of
 * the C library (and the URL parser of http: URLs) as loopback, so they must be read as loopback
 * here too. Undefined when the text is not an IPv4 address in any of these spellings.
 */
export function parseIPv4Loose(text: string): bigint | undefined {
  let s = text
  if (s.endsWith('.')) s = s.slice(0, -1)
  if (!s) return undefined
  const parts = s.split('.')
  if (parts.length > 4) return undefined
  const numbers: bigint[] = []
  for (const p of parts) {
    let n: bigint
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0n : BigInt(p)
    else if (/^0[0-7]+$/.test(p)) n = BigInt('0o' + p.slice(1))
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = BigInt(p)
    else return undefined
    numbers.push(n)
  }
  const last = numbers.pop()!
  if (numbers.some((n) => n > 255n)) return undefined
  if (last >= 256n ** BigInt(4 - numbers.length)) return undefined
  let value = last
  numbers.forEach((n, i) => (value += n << BigInt(8 * (3 - i))))
  return value
}

function parseIPv6(text: string): bigint | undefined {
  if (isIP(text) !== 6) return undefined
  let s = text.toLowerCase()
  // a trailing dotted IPv4 (::ffff:127.0.0.1) becomes its two hex groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (v4) {
    const n = parseIPv4Strict(v4[1]!)
    if (n === undefined) return undefined
    s = s.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`
  }
  const double = s.indexOf('::')
  const split = (part: string) => (part ? part.split(':') : [])
  const head = double < 0 ? split(s) : split(s.slice(0, double))
  const tail = double < 0 ? [] : split(s.slice(double + 2))
  const zeros = double < 0 ? 0 : 8 - head.length - tail.length
  const groups = [...head, ...Array<string>(zeros).fill('0'), ...tail]
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined
  return groups.reduce((acc, g) => (acc << 16n) | BigInt('0x' + g), 0n)
}

function parseIPv4Strict(text: string): bigint | undefined {
  if (isIP(text) !== 4) return undefined
  return text.split('.').reduce((acc, p) => (acc << 8n) | BigInt(p), 0n)
}


/**
 * An IP literal: dotted IPv4 (any inet_aton spelling with `loose`), IPv6 with or without brackets.
 * IPv4-mapped IPv6 becomes IPv4. Undefined when the text is not an address.
 */
export function parseIp(text: string, opts: { loose?: boolean } = {}): IpAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
  if (bare.includes('%')) return undefined // zone ids name an interface of our own host
  const v4 = opts.loose ? parseIPv4Loose(bare) : parseIPv4Strict(bare)
  if (v4 !== undefined) return { family: 4, value: v4 }
  const v6 = parseIPv6(bare)
  if (v6 === undefined) return undefined
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn }
  return { family: 6, value: v6 }
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 255n)).join('.')
  const groups: string[] = []
  for (let i = 7; i >= 0; i--) groups.push(((ip.value >> BigInt(16 * i)) & 0xffffn).toString(16))
  // longest run of zero groups (at least two) becomes ::
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen && j - i >= 2) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (best < 0) return groups.join(':')
  return groups.slice(0, best).join(':') + '::' + groups.slice(best + bestLen).join(':')
}

/** `10.0.0.0/8`, `fc00::/7`, or a bare address (a /32 or /128). Host bits must be zero. */
export function parseIpCidr(text: string): IpCidr {
  const t = text.trim()
  const slash = t.indexOf('/')
  const addrText = slash < 0 ? t : t.slice(0, slash)
  const ip = parseIp(addrText)
  if (!ip) throw new IpParseError(`${text}: not an IPv4 or IPv6 address`)
  // ::ffff:a.b.c.d/n reads as the IPv4 range a.b.c.d/(n-96)
  const mapped = ip.family === 4 && addrText.includes(':')
  const bits = BITS[ip.family]
  let prefix = bits
  if (slash >= 0) {
    const p = t.slice(slash + 1)
    if (!/^\d{1,3}$/.test(p)) throw new IpParseError(`${text}: prefix length must be a number`)
    prefix = Number(p) - (mapped ? 96 : 0)
    if (prefix < 0 || prefix > bits) throw new IpParseError(`${text}: prefix length out of range`)
  }
  const hostMask = (1n << BigInt(bits - prefix)) - 1n
  if ((ip.value & hostMask) !== 0n) throw new IpParseError(`${text}: host bits are set (did you mean ${formatIp({ family: ip.family, value: ip.value & ~hostMask })}/${prefix}?)`)
  return { family: ip.family, network: ip.value, prefix, text: `${formatIp(ip)}/${prefix}` }
}

export function cidrHas(c: IpCidr, ip: IpAddress): boolean {
  if (c.family !== ip.family) return false
  const shift = BigInt(BITS[c.family] - c.prefix)
  return ip.value >> shift === c.network >> shift
}

/** Whether every address of `inner` lies in `outer`. */
export function cidrWithin(inner: IpCidr, outer: IpCidr): boolean {
  return inner.family === outer.family && inner.prefix >= outer.prefix && cidrHas(outer, { family: inner.family, value: inner.network })
}
