/** IPv4 CIDR parsing and iteration for unicast discovery sweeps. Pure. */

export class CidrError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CidrError'
  }
}

export interface Cidr {
  /** canonical text, e.g. `192.168.1.0/24` */
  text: string
  /** network address as unsigned 32-bit integer */
  network: number
  prefix: number
  /** number of addresses in the block */
  size: number
}

export function ipv4ToInt(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip.trim())
  if (!m) throw new CidrError(`not an IPv4 address: ${JSON.stringify(ip)}`)
  const parts = m.slice(1).map((p) => {
    if (p.length > 1 && p.startsWith('0')) throw new CidrError(`leading zeros are ambiguous in ${ip}`)
    const n = Number(p)
    if (n > 255) throw new CidrError(`octet out of range in ${ip}`)
    return n
  })
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0
}

export function intToIpv4(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/**
 * `a.b.c.d/len` or a bare address (= /32). Host bits set (`10.0.0.7/24`) are refused: they usually
 * mean a typo, and silently widening the sweep is worse than asking again.
 */
export function parseCidr(s: string): Cidr {
  if (typeof s !== 'string') throw new CidrError('CIDR must be a string')
  const t = s.trim()
  if (t.includes(':')) throw new CidrError(`IPv6 ranges cannot be swept: ${t}`)
  const [addr, len, extra] = t.split('/')
  if (extra !== undefined || addr === undefined) throw new CidrError(`not a CIDR: ${JSON.stringify(s)}`)
  let prefix = 32
  if (len !== undefined) {
    if (!/^\d{1,2}$/.test(len)) throw new CidrError(`invalid prefix length in ${t}`)
    prefix = Number(len)
    if (prefix > 32) throw new CidrError(`invalid prefix length in ${t}`)
  }
  const ip = ipv4ToInt(addr)
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const network = (ip & mask) >>> 0
  if (network !== ip) throw new CidrError(`${t} has host bits set; did you mean ${intToIpv4(network)}/${prefix}?`)
  return { text: `${intToIpv4(network)}/${prefix}`, network, prefix, size: 2 ** (32 - prefix) }
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const n = ipv4ToInt(ip)
  return n >= c.network && n < c.network + c.size
}

/**
 * Host addresses of a block: the network and broadcast addresses are skipped for /30 and wider
 * (probing a broadcast address makes every host on the segment answer, defeating the rate limit).
 */
export function* cidrHosts(c: Cidr): Generator<string> {
  let first = c.network
  let last = c.network + c.size - 1
  if (c.prefix <= 30) {
    first += 1
    last -= 1
  }
  for (let n = first; n <= last; n++) yield intToIpv4(n >>> 0)
}

export function hostCount(c: Cidr): number {
  return c.prefix <= 30 ? c.size - 2 : c.size
}
