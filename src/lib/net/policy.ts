/**
 * Where the gateway may connect on a camera's behalf. One policy for every such connection
 * (snapshot GET, RTSP, ONVIF services and subscriptions), judged on the address actually
 * connected to: a host name is resolved and every address it resolves to must pass, so a name
 * that resolves to loopback, or a DNS answer that changes between the write and the connect
 * (rebinding), is refused at connect time.
 *
 * Rules, in order:
 * - the gateway's own listeners (address and port) are always refused;
 * - an address must lie in one of the allowed ranges;
 * - unspecified, loopback, link-local, multicast and reserved addresses are refused unless an
 *   allowed range lies inside that special range (an admin writing 127.0.0.0/8 or 169.254.0.0/16
 *   on purpose): a broad range such as 0.0.0.0/0 or ::/0 never lets them through by accident.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { networkInterfaces } from 'node:os'
import { cidrHas, cidrWithin, formatIp, parseIp, parseIpCidr, type IpAddress, type IpCidr } from './ip.js'

export type RefusalKind = 'unspecified' | 'loopback' | 'link_local' | 'multicast' | 'reserved' | 'outside_allowed' | 'own_listener' | 'unresolvable'

export interface AddressRefusal {
  kind: RefusalKind
  /** human text naming the address and why */
  message: string
}

/** A connection the policy refused. `code` is stable: `address_not_allowed`. */
export class RefusedAddressError extends Error {
  readonly code = 'address_not_allowed'
  constructor(
    readonly host: string,
    readonly port: number,
    readonly refusal: AddressRefusal,
  ) {
    super(`${host}:${port}: ${refusal.message}`)
    this.name = 'RefusedAddressError'
  }
  get kind(): RefusalKind {
    return this.refusal.kind
  }
}

/** Resolves and checks `host`, returning the address to connect to; throws RefusedAddressError. */
export type ConnectGuard = (host: string, port: number) => Promise<string>

export interface Endpoint {
  address: string
  port: number
}

const SPECIAL: [IpCidr, RefusalKind][] = (
  [
    ['0.0.0.0/8', 'unspecified'],
    ['::/128', 'unspecified'],
    ['127.0.0.0/8', 'loopback'],
    ['::1/128', 'loopback'],
    ['169.254.0.0/16', 'link_local'],
    ['fe80::/10', 'link_local'],
    ['224.0.0.0/4', 'multicast'],
    ['ff00::/8', 'multicast'],
    ['240.0.0.0/4', 'reserved'],
    // IPv4-compatible IPv6 (deprecated): ::127.0.0.1 must not slip past as "IPv6"
    ['::/96', 'reserved'],
  ] as const
).map(([c, k]) => [parseIpCidr(c), k])

const WHAT: Record<RefusalKind, string> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  link_local: 'a link-local address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  outside_allowed: 'outside the allowed camera networks',
  own_listener: 'the gateway’s own listener',
  unresolvable: 'not resolvable',
}

export interface AddressPolicyOptions {
  /** the allowed ranges (IPv4 and IPv6 CIDRs) */
  allowedCidrs: readonly string[]
  /** the gateway's own listeners, read at each check (a listener bound to 0.0.0.0 or :: is every local address) */
  ownListeners?: () => Iterable<Endpoint>
  /** name of the setting, for messages */
  settingName?: string
  /** tests: DNS */
  lookup?: (host: string) => Promise<string[]>
  /** longest wait for DNS, ms (default 5000) */
  resolveTimeoutMs?: number
}

export class AddressPolicy {
  readonly allowed: readonly IpCidr[]
  readonly #own: () => Iterable<Endpoint>
  readonly #setting: string
  readonly #lookup: (host: string) => Promise<string[]>
  readonly #resolveTimeoutMs: number

  /** @throws IpParseError naming the bad range (with its index in `.index`) */
  constructor(opts: AddressPolicyOptions) {
    this.allowed = opts.allowedCidrs.map((c, i) => {
      try {
        return parseIpCidr(c)
      } catch (e) {
        throw Object.assign(e as Error, { index: i })
      }
    })
    this.#own = opts.ownListeners ?? (() => [])
    this.#setting = opts.settingName ?? 'allowedCidrs'
    this.#lookup = opts.lookup ?? (async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address))
    this.#resolveTimeoutMs = opts.resolveTimeoutMs ?? 5000
  }

  /** Why connecting to this address (and port) is refused, or null when allowed. */
  refusal(ip: IpAddress, port?: number): AddressRefusal | null {
    const text = formatIp(ip)
    if (port !== undefined && this.#isOwnListener(ip, port)) return { kind: 'own_listener', message: `${text}:${port} is ${WHAT.own_listener}` }
    const ranges = this.allowed.filter((c) => cidrHas(c, ip))
    for (const [special, kind] of SPECIAL) {
      if (cidrHas(special, ip) && !ranges.some((r) => cidrWithin(r, special))) {
        return { kind, message: `${text} is ${WHAT[kind]}; list a range inside ${special.text} in ${this.#setting} to allow it` }
      }
    }
    if (!ranges.length) return { kind: 'outside_allowed', message: `${text} is ${WHAT.outside_allowed} (${this.#setting}: ${this.allowed.map((c) => c.text).join(', ') || 'none'})` }
    return null
  }

  /**
   * The check at write time, without DNS: an IP literal in any spelling (`0x7f000001`,
   * `[::ffff:127.0.0.1]`) is judged as its address, `localhost` and `*.localhost` (RFC 6761) as
   * loopback; other names are judged when connected to. Null when not refused now.
   */
  hostRefusal(host: string, port?: number): AddressRefusal | null {
    const ip = parseIp(host, { loose: true })
    if (ip) return this.refusal(ip, port)
    const name = host.toLowerCase().replace(/\.$/, '')
    if (name === 'localhost' || name.endsWith('.localhost')) {
      const r = this.refusal({ family: 4, value: 0x7f000001n }, port)
      return r && { ...r, message: `${host}: ${r.message}` }
    }
    return null
  }

  /**
   * The check at connect time: resolves `host` (an IP literal is itself) and returns the address
   * to connect to. Every address the name resolves to must pass, so a name cannot mix an allowed
   * address with a forbidden one and let the resolver's order decide.
   */
  async resolve(host: string, port: number): Promise<string> {
    const literal = parseIp(host, { loose: true })
    if (literal) {
      const why = this.refusal(literal, port)
      if (why) throw new RefusedAddressError(host, port, why)
      return formatIp(literal)
    }
    let addresses: string[]
    try {
      addresses = await withTimeout(this.#lookup(host), this.#resolveTimeoutMs)
    } catch (e) {
      throw new RefusedAddressError(host, port, { kind: 'unresolvable', message: `${host} does not resolve (${(e as Error).message})` })
    }
    const parsed = addresses.map((a) => parseIp(a)).filter((a): a is IpAddress => a !== undefined)
    if (!parsed.length) throw new RefusedAddressError(host, port, { kind: 'unresolvable', message: `${host} resolves to no address` })
    for (const ip of parsed) {
      const why = this.refusal(ip, port)
      if (why) throw new RefusedAddressError(host, port, { ...why, message: `${host} resolves to ${formatIp(ip)}: ${why.message}` })
    }
    return formatIp(parsed[0]!)
  }

  /** `resolve` as a function for the protocol clients. */
  get guard(): ConnectGuard {
    return (host, port) => this.resolve(host, port)
  }

  #isOwnListener(ip: IpAddress, port: number): boolean {
    for (const l of this.#own()) {
      if (l.port !== port) continue
      const bound = parseIp(l.address)
      if (!bound) continue
      const anyAddress = bound.value === 0n
      if (!anyAddress) {
        if (bound.family === ip.family && bound.value === ip.value) return true
        continue
      }
      // bound to every address: loopback and each interface address reach it
      if (SPECIAL.some(([c, k]) => k === 'loopback' && cidrHas(c, ip)) || ip.value === 0n) return true
      if (localAddresses().some((a) => a.family === ip.family && a.value === ip.value)) return true
    }
    return false
  }
}

function localAddresses(): IpAddress[] {
  return Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .map((a) => parseIp(a.address))
    .filter((a): a is IpAddress => a !== undefined)
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer))
}
