import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { ConfigError, ValidationError } from '../../core/errors.js'
import { cidrContains, CidrError, parseCidr, planSweep, type Cidr } from '../../lib/wsdiscovery/index.js'

/**
 * Where the gateway may send ONVIF and WS-Discovery traffic. A camera address must fall in one of
 * the configured ranges. Loopback, link-local and the gateway's own addresses are refused unless a
 * configured range lies inside them (127.0.0.0/8 in tests; 10.1.2.3/32 for a co-located camera):
 * a broad range such as 0.0.0.0/0 or 10.0.0.0/8 never lets them through by accident.
 * Unspecified, multicast and broadcast addresses are always refused. IPv4 only.
 */
const LOOPBACK = parseCidr('127.0.0.0/8')
const LINK_LOCAL = parseCidr('169.254.0.0/16')
const NEVER = ['0.0.0.0/8', '224.0.0.0/4', '240.0.0.0/4'].map(parseCidr)

const inside = (inner: Cidr, outer: Cidr) => inner.network >= outer.network && inner.network + inner.size <= outer.network + outer.size

export class AddressPolicy {
  readonly allowed: readonly Cidr[]
  readonly #own: () => Set<string>

  constructor(allowedCidrs: readonly string[], ownAddresses?: () => Iterable<string>) {
    this.allowed = allowedCidrs.map((c, i) => {
      try {
        return parseCidr(c)
      } catch (e) {
        throw new ConfigError(`discovery.allowedCidrs.${i}`, (e as Error).message)
      }
    })
    this.#own = () => new Set(ownAddresses ? ownAddresses() : localAddresses())
  }

  /** Why this IPv4 literal is refused, or null when allowed. */
  refusal(ip: string): string | null {
    if (isIP(ip) === 6) return `${ip}: IPv6 camera addresses are not supported; use the camera's IPv4 address`
    if (isIP(ip) !== 4) return `${ip} is not an IP address`
    if (NEVER.some((c) => cidrContains(c, ip))) return `${ip} is not a unicast address`
    const ranges = this.allowed.filter((c) => cidrContains(c, ip))
    if (!ranges.length) return `${ip} is outside the allowed camera networks (discovery.allowedCidrs: ${this.allowed.map((c) => c.text).join(', ') || 'none'})`
    for (const [special, what] of [[LOOPBACK, 'a loopback'], [LINK_LOCAL, 'a link-local']] as const) {
      if (cidrContains(special, ip) && !ranges.some((r) => inside(r, special))) return `${ip} is ${what} address; list a range inside ${special.text} in discovery.allowedCidrs to allow it`
    }
    if (!cidrContains(LOOPBACK, ip) && this.#own().has(ip) && !ranges.some((r) => r.prefix === 32)) return `${ip} is an address of the gateway itself; list ${ip}/32 in discovery.allowedCidrs to allow it`
    return null
  }

  /** Throws a 400 naming `field` when the address is refused. */
  check(ip: string, field: string): void {
    const why = this.refusal(ip)
    if (why) throw ValidationError.field(field, why)
  }

  /**
   * Resolves a host name (or takes an IP literal) and checks every address it resolves to, so a
   * name cannot point the gateway somewhere the ranges forbid. Returns the address to connect to.
   */
  async resolve(host: string, field: string): Promise<string> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
    if (isIP(bare)) {
      this.check(bare, field)
      return bare
    }
    let addrs: { address: string }[]
    try {
      addrs = await withTimeout(lookup(bare, { all: true, family: 4 }), 5000)
    } catch (e) {
      throw ValidationError.field(field, `${bare} does not resolve (${(e as Error).message})`)
    }
    if (!addrs.length) throw ValidationError.field(field, `${bare} does not resolve to an IPv4 address`)
    for (const a of addrs) {
      const why = this.refusal(a.address)
      if (why) throw ValidationError.field(field, `${bare} resolves to ${why}`)
    }
    return addrs[0]!.address
  }

  /** Scan ranges: valid CIDRs of at most a /16, each entirely inside one allowed range. */
  checkRanges(ranges: readonly string[], field: string): Cidr[] {
    let planned: Cidr[]
    try {
      planned = planSweep(ranges)
    } catch (e) {
      if (e instanceof CidrError) throw ValidationError.field(field, e.message)
      throw e
    }
    planned.forEach((c, i) => {
      const holders = this.allowed.filter((a) => inside(c, a))
      if (!holders.length) throw ValidationError.field(`${field}.${i}`, `${c.text} is not inside the allowed camera networks (${this.allowed.map((a) => a.text).join(', ') || 'none'})`)
      for (const [special, what] of [[LOOPBACK, 'loopback'], [LINK_LOCAL, 'link-local']] as const) {
        const overlaps = c.network < special.network + special.size && special.network < c.network + c.size
        if (overlaps && !holders.some((h) => inside(h, special))) throw ValidationError.field(`${field}.${i}`, `${c.text} reaches ${what} addresses, which are not allowed`)
      }
    })
    return planned
  }
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .map((a) => a.address)
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer))
}
