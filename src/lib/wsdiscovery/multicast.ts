/** Multicast WS-Discovery prober on one interface. */
import dgram from 'node:dgram'
import { isIPv4 } from 'node:net'
import { ReplyCollector, type DiscoveredDevice } from './collector.js'
import { buildProbe, WSD_MULTICAST_ADDRESS, WSD_PORT } from './probe.js'

/** Socket receive buffer asked for (the kernel caps it at net.core.rmem_max). */
export const RECV_BUFFER_BYTES = 4 * 1024 * 1024

export interface MulticastProbeOptions {
  /** IPv4 address of the interface to probe from; the probe leaves through that interface only */
  interfaceAddress: string
  /** how many times the probe is sent (SOAP-over-UDP retransmission), default 3 */
  repeats?: number
  /** upper bound of the first random gap between sends, ms (doubles each time), default 250 */
  jitterMs?: number
  /** collection window after the last send, ms, default 3000 */
  windowMs?: number
  types?: readonly string[]
  /** multicast TTL, default 1 (discovery is link-local by design) */
  ttl?: number
  /**
   * Also join 239.255.255.250:3702 and accept ProbeMatches arriving there, for non-conforming stacks
   * that multicast their answer instead of sending it to the prober. Default true.
   */
  listenOnGroup?: boolean
  /** target port, default 3702 (tests may use another) */
  port?: number
  maxDevices?: number
  onDevice?: (d: DiscoveredDevice) => void
  signal?: AbortSignal
}

export interface MulticastProbeResult {
  messageId: string
  devices: DiscoveredDevice[]
  /** datagrams that were not ProbeMatches for this probe */
  ignored: number
  /** set when joining the group failed; replies to the sender still work */
  groupListenError: string | undefined
}

function bindAsync(s: dgram.Socket, port: number, address: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error): void => reject(e)
    s.once('error', onErr)
    s.bind({ port, ...(address ? { address } : {}), exclusive: false }, () => {
      s.off('error', onErr)
      resolve()
    })
  })
}

export class MulticastProbe {
  readonly messageId: string
  readonly #opts: MulticastProbeOptions
  readonly #collector: ReplyCollector
  readonly #timers = new Set<NodeJS.Timeout>()
  #sock: dgram.Socket | undefined
  #group: dgram.Socket | undefined
  #groupError: string | undefined
  #closed = false
  #resolve: ((r: MulticastProbeResult) => void) | undefined
  readonly done: Promise<MulticastProbeResult>

  constructor(opts: MulticastProbeOptions) {
    if (!isIPv4(opts.interfaceAddress)) throw new TypeError('interfaceAddress must be an IPv4 address of a local interface')
    this.#opts = opts
    const probe = buildProbe({ ...(opts.types ? { types: opts.types } : {}) })
    this.messageId = probe.messageId
    this.#collector = new ReplyCollector([probe.messageId], opts.onDevice, opts.maxDevices ?? 4096)
    this.done = new Promise((r) => (this.#resolve = r))
    this.#payload = Buffer.from(probe.xml, 'utf8')
  }

  readonly #payload: Buffer

  /** Binds, sends, collects; resolves `done` after the window. Rejects if the interface cannot be bound. */
  async start(): Promise<MulticastProbeResult> {
    const o = this.#opts
    const port = o.port ?? WSD_PORT
    // Hundreds of ProbeMatches (~2 KiB each) arrive within APP_MAX_DELAY: while the event loop is
    // busy they wait in the socket, and the default buffer (~208 KiB, ~100 replies) would drop the
    // rest. The kernel caps the size at net.core.rmem_max.
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER_BYTES })
    this.#sock = sock
    sock.on('error', () => this.close())
    sock.on('message', (m, r) => this.#collector.accept(m, { address: r.address, port: r.port }))
    try {
      await bindAsync(sock, 0, o.interfaceAddress)
      sock.setMulticastInterface(o.interfaceAddress)
      sock.setMulticastTTL(o.ttl ?? 1)
      sock.setMulticastLoopback(true)
    } catch (e) {
      this.close()
      throw e
    }
    if (o.listenOnGroup ?? true) {
      const g = dgram.createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: RECV_BUFFER_BYTES })
      this.#group = g
      g.on('error', () => undefined)
      g.on('message', (m, r) => this.#collector.accept(m, { address: r.address, port: r.port }))
      try {
        // Binding to the group address keeps unrelated unicast traffic to :3702 out of this socket (Linux).
        await bindAsync(g, port, WSD_MULTICAST_ADDRESS).catch(() => bindAsync(g, port, undefined))
        g.addMembership(WSD_MULTICAST_ADDRESS, o.interfaceAddress)
      } catch (e) {
        this.#groupError = (e as Error).message
        g.close()
        this.#group = undefined
      }
    }
    if (this.#closed) return this.done
    o.signal?.addEventListener('abort', () => this.close(), { once: true })
    const repeats = Math.max(1, o.repeats ?? 3)
    const jitter = Math.max(0, o.jitterMs ?? 250)
    let at = 0
    for (let i = 0; i < repeats; i++) {
      if (i > 0) at += Math.round((Math.min(50, jitter) + Math.random() * Math.max(0, jitter - 50)) * 2 ** (i - 1))
      const last = i === repeats - 1
      this.#later(at, () => {
        sock.send(this.#payload, port, WSD_MULTICAST_ADDRESS, () => {
          if (last) this.#later(o.windowMs ?? 3000, () => this.close())
        })
      })
    }
    return this.done
  }

  #later(ms: number, fn: () => void): void {
    if (this.#closed) return
    const t = setTimeout(() => {
      this.#timers.delete(t)
      if (!this.#closed) fn()
    }, ms)
    this.#timers.add(t)
  }

  /** Stop early; `done` resolves with what was collected. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    for (const s of [this.#sock, this.#group]) {
      try {
        s?.close()
      } catch {
        // already closed
      }
    }
    this.#resolve?.({
      messageId: this.messageId,
      devices: this.#collector.devices(),
      ignored: this.#collector.ignored,
      groupListenError: this.#groupError,
    })
  }
}

export function probeMulticast(opts: MulticastProbeOptions): Promise<MulticastProbeResult> {
  return new MulticastProbe(opts).start()
}
