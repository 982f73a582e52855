/** Reply collection shared by the multicast prober and the unicast sweeper. */
import { MAX_PROBE_REPLY_BYTES, parseProbeMatches, type ProbeMatch } from './probe.js'

export interface DiscoveredDevice extends ProbeMatch {
  /** where the (first) reply came from */
  from: { address: string; port: number }
  /** local ms timestamp of the first reply */
  firstSeenAt: number
}

export class ReplyCollector {
  readonly #byEpr = new Map<string, DiscoveredDevice>()
  readonly #messageIds: ReadonlySet<string>
  readonly #onDevice: ((d: DiscoveredDevice) => void) | undefined
  readonly #maxDevices: number
  ignored = 0

  constructor(messageIds: Iterable<string>, onDevice: ((d: DiscoveredDevice) => void) | undefined, maxDevices: number) {
    this.#messageIds = new Set(messageIds)
    this.#onDevice = onDevice
    this.#maxDevices = maxDevices
  }

  /** @returns the sender address when the datagram was a ProbeMatches for us */
  accept(msg: Buffer, from: { address: string; port: number }): boolean {
    if (msg.length > MAX_PROBE_REPLY_BYTES) {
      this.ignored++
      return false
    }
    const parsed = parseProbeMatches(msg.toString('utf8'))
    // A reply without RelatesTo is accepted (older stacks omit it), but never a reply to someone else's probe.
    if (!parsed || (parsed.relatesTo !== undefined && !this.#messageIds.has(parsed.relatesTo))) {
      this.ignored++
      return false
    }
    for (const m of parsed.matches) {
      const key = m.endpointReference.trim().toLowerCase()
      const known = this.#byEpr.get(key)
      if (known) {
        // Multi-homed devices answer once per interface; keep every XAddr.
        for (const x of m.xaddrs) if (!known.xaddrs.some((k) => k.url.href === x.url.href)) known.xaddrs.push(x)
        continue
      }
      if (this.#byEpr.size >= this.#maxDevices) {
        this.ignored++
        continue
      }
      const d: DiscoveredDevice = { ...m, xaddrs: [...m.xaddrs], from: { ...from }, firstSeenAt: Date.now() }
      this.#byEpr.set(key, d)
      try {
        this.#onDevice?.(d)
      } catch {
        // a throwing callback must not kill the socket handler
      }
    }
    return true
  }

  devices(): DiscoveredDevice[] {
    return [...this.#byEpr.values()]
  }
}
