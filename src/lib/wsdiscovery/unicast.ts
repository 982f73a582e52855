/**
 * Unicast WS-Discovery sweep: a Probe to UDP 3702 of every host of a list of IPv4 CIDRs, for
 * networks where multicast does not cross the routers between the gateway and the cameras.
 */
import dgram from 'node:dgram'
import { cidrHosts, CidrError, hostCount, ipv4ToInt, parseCidr, type Cidr } from './cidr.js'
import { ReplyCollector, type DiscoveredDevice } from './collector.js'
import { RECV_BUFFER_BYTES } from './multicast.js'
import { buildProbe, WSD_PORT } from './probe.js'

/** Largest block one entry may name. */
export const MAX_SWEEP_PREFIX = 16

export interface UnicastSweepOptions {
  cidrs: readonly string[]
  port?: number
  /** packets per second, default 200 */
  ratePps?: number
  /** probes awaiting an answer (or their per-host timeout) at once, default 64 */
  concurrency?: number
  /** how long one host holds a concurrency slot without answering, ms, default 500 */
  perHostTimeoutMs?: number
  /** collection window after the last send, ms, default 2000 */
  windowMs?: number
  /** local address to send from, default 0.0.0.0 */
  bindAddress?: string
  types?: readonly string[]
  maxDevices?: number
  onDevice?: (d: DiscoveredDevice) => void
  signal?: AbortSignal
}

export interface UnicastSweepResult {
  messageId: string
  devices: DiscoveredDevice[]
  /** probes handed to the socket */
  probed: number
  sendErrors: number
  ignored: number
  /** true when close() or the signal ended the sweep early */
  aborted: boolean
}

/** Validate the whole list before anything is sent. Throws CidrError. */
export function planSweep(cidrs: readonly string[]): Cidr[] {
  if (!Array.isArray(cidrs) || cidrs.length === 0) throw new CidrError('no ranges to sweep')
  return cidrs.map((c) => {
    const p = parseCidr(c)
    if (p.prefix < MAX_SWEEP_PREFIX) {
      throw new CidrError(
        `${p.text} has ${p.size} addresses; unicast sweeps are limited to /${MAX_SWEEP_PREFIX} (65536 addresses) per range — split it into smaller ranges`,
      )
    }
    return p
  })
}

function* uniqueHosts(blocks: readonly Cidr[]): Generator<string> {
  if (blocks.length === 1) {
    yield* cidrHosts(blocks[0]!)
    return
  }
  const seen = new Set<number>()
  for (const b of blocks) {
    for (const h of cidrHosts(b)) {
      const n = ipv4ToInt(h)
      if (seen.has(n)) continue
      seen.add(n)
      yield h
    }
  }
}

export class UnicastSweep {
  readonly messageId: string
  readonly blocks: readonly Cidr[]
  readonly totalHosts: number
  readonly done: Promise<UnicastSweepResult>
  readonly #opts: UnicastSweepOptions
  readonly #payload: Buffer
  readonly #collector: ReplyCollector
  readonly #pending = new Map<string, NodeJS.Timeout>()
  readonly #waiters: Array<() => void> = []
  #sock: dgram.Socket | undefined
  #windowTimer: NodeJS.Timeout | undefined
  #closed = false
  #aborted = false
  #probed = 0
  #sendErrors = 0
  #resolve!: (r: UnicastSweepResult) => void

  /** Throws CidrError synchronously for an invalid or too large range. */
  constructor(opts: UnicastSweepOptions) {
    this.blocks = planSweep(opts.cidrs)
    this.totalHosts = this.blocks.reduce((n, b) => n + hostCount(b), 0)
    this.#opts = opts
    const probe = buildProbe({ ...(opts.types ? { types: opts.types } : {}) })
    this.messageId = probe.messageId
    this.#payload = Buffer.from(probe.xml, 'utf8')
    this.#collector = new ReplyCollector([probe.messageId], opts.onDevice, opts.maxDevices ?? 65536)
    this.done = new Promise((r) => (this.#resolve = r))
  }

  async start(): Promise<UnicastSweepResult> {
    if (this.#closed) return this.done
    const o = this.#opts
    const port = o.port ?? WSD_PORT
    const interval = 1000 / Math.max(1, Math.min(o.ratePps ?? 200, 10_000))
    const concurrency = Math.max(1, o.concurrency ?? 64)
    const perHost = Math.max(10, o.perHostTimeoutMs ?? 500)
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER_BYTES })
    this.#sock = sock
    sock.on('error', () => undefined)
    sock.on('message', (m, r) => {
      if (this.#collector.accept(m, { address: r.address, port: r.port })) this.#release(r.address)
    })
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject)
      sock.bind(0, o.bindAddress ?? '0.0.0.0', () => {
        sock.off('error', reject)
        resolve()
      })
    }).catch((e) => {
      this.#finish()
      throw e
    })
    o.signal?.addEventListener('abort', () => this.close(), { once: true })
    if (o.signal?.aborted) this.close()

    let next = Date.now()
    for (const host of uniqueHosts(this.blocks)) {
      if (this.#closed) break
      while (this.#pending.size >= concurrency && !this.#closed) await new Promise<void>((r) => this.#waiters.push(r))
      const wait = next - Date.now()
      if (wait > 0) await sleep(wait)
      if (this.#closed) break
      next = Math.max(next + interval, Date.now() - interval)
      this.#pending.set(
        host,
        setTimeout(() => this.#release(host), perHost),
      )
      this.#probed++
      sock.send(this.#payload, port, host, (err) => {
        if (err) {
          this.#sendErrors++
          this.#release(host)
        }
      })
    }
    if (!this.#closed) this.#windowTimer = setTimeout(() => this.#finish(), o.windowMs ?? 2000)
    return this.done
  }

  #release(host: string): void {
    const t = this.#pending.get(host)
    if (t === undefined) return
    clearTimeout(t)
    this.#pending.delete(host)
    this.#waiters.shift()?.()
  }

  #finish(): void {
    if (this.#closed && this.#sock === undefined) return
    this.#closed = true
    if (this.#windowTimer) clearTimeout(this.#windowTimer)
    for (const t of this.#pending.values()) clearTimeout(t)
    this.#pending.clear()
    for (const w of this.#waiters.splice(0)) w()
    try {
      this.#sock?.close()
    } catch {
      // already closed
    }
    this.#sock = undefined
    this.#resolve({
      messageId: this.messageId,
      devices: this.#collector.devices(),
      probed: this.#probed,
      sendErrors: this.#sendErrors,
      ignored: this.#collector.ignored,
      aborted: this.#aborted,
    })
  }

  /** probes handed to the socket so far (progress while the sweep runs) */
  get probed(): number {
    return this.#probed
  }

  /** Stop now; `done` resolves with what was collected. Idempotent. */
  close(): void {
    if (this.#closed) {
      if (this.#sock) this.#finish()
      return
    }
    this.#aborted = true
    this.#finish()
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Validates synchronously-ish: the returned promise rejects with CidrError before any packet is sent. */
export async function sweepUnicast(opts: UnicastSweepOptions): Promise<UnicastSweepResult> {
  return new UnicastSweep(opts).start()
}
