/**
 * WS-Discovery responder of a simulated device: answers unicast probes on its own address:3702 and,
 * when given an interface, multicast probes to 239.255.255.250:3702. One shared group socket per
 * (interface, port) serves every device in the process, so hundreds of devices cost one socket each.
 */
import { randomUUID } from 'node:crypto'
import dgram from 'node:dgram'
import type { SimulatedDevice } from './device.js'
import { esc, get, parseRequest, text } from './xml.js'

export interface DiscoveryOptions {
  /** IPv4 address of the interface whose multicast group membership to take; omit for unicast only */
  multicastInterface?: string
  /** UDP port for unicast probes and the group, default 3702 */
  port?: number
  /** random delay before answering, ms (the spec's APP_MAX_DELAY is 500), default 30 */
  maxReplyDelayMs?: number
  /** answer every copy of a retransmitted Probe; default false (duplicate detection by MessageID) */
  answerDuplicates?: boolean
}

const GROUP = '239.255.255.250'
const WSA = 'http://schemas.xmlsoap.org/ws/2004/08/addressing'
const WSD = 'http://schemas.xmlsoap.org/ws/2005/04/discovery'

class MulticastHub {
  static readonly hubs = new Map<string, MulticastHub>()
  readonly members = new Set<DiscoveryResponder>()
  constructor(
    readonly key: string,
    readonly sock: dgram.Socket,
  ) {
    sock.on('message', (msg, rinfo) => {
      for (const m of this.members) m.onProbe(msg, rinfo)
    })
  }

  static readonly pending = new Map<string, Promise<MulticastHub>>()

  static async join(iface: string, port: number, member: DiscoveryResponder): Promise<MulticastHub> {
    const key = `${iface}:${port}`
    let hub = MulticastHub.hubs.get(key)
    if (!hub) {
      let p = MulticastHub.pending.get(key)
      if (!p) {
        p = (async () => {
          const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true })
          sock.on('error', () => undefined)
          try {
            await new Promise<void>((resolve, reject) => {
              sock.once('error', reject)
              sock.bind(port, GROUP, () => {
                sock.off('error', reject)
                resolve()
              })
            })
            sock.addMembership(GROUP, iface)
          } catch (e) {
            sock.close()
            throw e
          }
          const h = new MulticastHub(key, sock)
          MulticastHub.hubs.set(key, h)
          return h
        })().finally(() => MulticastHub.pending.delete(key))
        MulticastHub.pending.set(key, p)
      }
      hub = await p
    }
    hub.members.add(member)
    return hub
  }

  leave(member: DiscoveryResponder): void {
    this.members.delete(member)
    if (this.members.size === 0) {
      MulticastHub.hubs.delete(this.key)
      try {
        this.sock.close()
      } catch {
        // already closed
      }
    }
  }
}

export class DiscoveryResponder {
  readonly #device: SimulatedDevice
  readonly #opts: DiscoveryOptions
  readonly #sock: dgram.Socket
  readonly #seen = new Set<string>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #hub: MulticastHub | undefined
  #closed = false
  probesAnswered = 0

  private constructor(device: SimulatedDevice, opts: DiscoveryOptions, sock: dgram.Socket) {
    this.#device = device
    this.#opts = opts
    this.#sock = sock
    sock.on('message', (m, r) => this.onProbe(m, r))
  }

  static async start(device: SimulatedDevice, opts: DiscoveryOptions): Promise<DiscoveryResponder> {
    const port = opts.port ?? 3702
    const sock = dgram.createSocket({ type: 'udp4' })
    sock.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject)
      sock.bind({ port, address: device.address, exclusive: true }, () => {
        sock.off('error', reject)
        resolve()
      })
    })
    const r = new DiscoveryResponder(device, opts, sock)
    if (opts.multicastInterface) {
      try {
        r.#hub = await MulticastHub.join(opts.multicastInterface, port, r)
      } catch (e) {
        sock.close()
        throw e
      }
    }
    return r
  }

  onProbe(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed || this.#device.isDown || msg.length > 64 * 1024) return
    const raw = msg.toString('utf8')
    const doc = parseRequest(raw)
    const env = get(doc, 'Envelope')
    const probe = get(env, 'Body', 'Probe')
    if (probe === undefined) return
    const messageId = text(get(env, 'Header', 'MessageID'))
    if (!messageId) return
    if (!this.#opts.answerDuplicates) {
      if (this.#seen.has(messageId)) return
      this.#seen.add(messageId)
      if (this.#seen.size > 512) this.#seen.delete(this.#seen.values().next().value!)
    }
    const wanted = (text(get(probe, 'Types')) ?? '').split(/\s+/).filter(Boolean).map((q) => q.replace(/^[^:]*:/, ''))
    if (!wanted.every((t) => t === 'NetworkVideoTransmitter' || t === 'Device')) return
    const scopes = (text(get(probe, 'Scopes')) ?? '').split(/\s+/).filter(Boolean)
    const mine = this.#device.scopes
    if (!scopes.every((s) => mine.some((m) => m === s || m.startsWith(s.endsWith('/') ? s : `${s}/`)))) return
    const delay = Math.floor(Math.random() * (this.#opts.maxReplyDelayMs ?? 30))
    const t = setTimeout(() => {
      this.#timers.delete(t)
      if (this.#closed) return
      this.probesAnswered++
      this.#sock.send(Buffer.from(this.#probeMatches(messageId), 'utf8'), rinfo.port, rinfo.address)
    }, delay)
    this.#timers.add(t)
  }

  #probeMatches(relatesTo: string): string {
    const d = this.#device
    const e = d.vendor.envPrefix
    const a = d.vendor.name === 'uniview' ? 'ns8' : 'wsa'
    const dd = d.vendor.name === 'hikvision' ? 'wsdd' : 'd'
    const dn = d.vendor.name === 'uniview' ? 'ns12' : 'dn'
    const tds = d.vendor.prefixes.tds
    return (
      `<?xml version="1.0" encoding="UTF-8"?><${e}:Envelope xmlns:${e}="http://www.w3.org/2003/05/soap-envelope" xmlns:${a}="${WSA}" ` +
      `xmlns:${dd}="${WSD}" xmlns:${dn}="http://www.onvif.org/ver10/network/wsdl" xmlns:${tds}="http://www.onvif.org/ver10/device/wsdl">` +
      `<${e}:Header><${a}:MessageID>urn:uuid:${randomUUID()}</${a}:MessageID><${a}:RelatesTo>${esc(relatesTo)}</${a}:RelatesTo>` +
      `<${a}:To ${e}:mustUnderstand="true">${WSA}/role/anonymous</${a}:To>` +
      `<${a}:Action ${e}:mustUnderstand="true">${WSD}/ProbeMatches</${a}:Action>` +
      `<${dd}:AppSequence InstanceId="${Math.floor(Date.now() / 1000)}" MessageNumber="${this.probesAnswered}"/></${e}:Header>` +
      `<${e}:Body><${dd}:ProbeMatches><${dd}:ProbeMatch><${a}:EndpointReference><${a}:Address>${esc(d.uuid)}</${a}:Address></${a}:EndpointReference>` +
      `<${dd}:Types>${dn}:NetworkVideoTransmitter ${tds}:Device</${dd}:Types><${dd}:Scopes>${esc(d.scopes.join(' '))}</${dd}:Scopes>` +
      `<${dd}:XAddrs>${esc(d.xaddr)}</${dd}:XAddrs><${dd}:MetadataVersion>10</${dd}:MetadataVersion></${dd}:ProbeMatch></${dd}:ProbeMatches></${e}:Body></${e}:Envelope>`
    )
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#hub?.leave(this)
    await new Promise<void>((r) => this.#sock.close(() => r()))
  }
}
