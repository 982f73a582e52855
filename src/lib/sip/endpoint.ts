import { randomBytes } from 'node:crypto'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createConnection, createServer, isIPv6, type Server, type Socket } from 'node:net'
import {
  SipParseError,
  SipStreamParser,
  checkMandatoryHeaders,
  formatNameAddr,
  formatVia,
  header,
  headerValues,
  parseCSeq,
  parseDatagram,
  parseNameAddr,
  parseVia,
  serializeMessage,
  setHeader,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from './message.js'

/**
 * A SIP endpoint on UDP and TCP (RFC 3261 §17 transactions, §18 transports, RFC 3581 rport):
 * what a GB/T 28181 platform needs to be registered to by devices behind NAT and to send them
 * requests. Requests arrive through `onRequest` with a `respond()` that answers through the
 * same path they came (the source address and port for UDP, the same connection for TCP, so an
 * answer finds its way back through NAT); retransmitted requests are answered again from the
 * transaction, not handed up twice. `request()` sends with UDP retransmissions (Timer A/E,
 * T1 doubling to T2) and resolves with the final response or rejects after 64×T1 (Timer B/F).
 * Requests to a device that registered over TCP reuse its connection.
 */

export type SipTransport = 'UDP' | 'TCP'

export interface SipPeer {
  transport: SipTransport
  address: string
  port: number
}

export const peerKey = (p: SipPeer) => `${p.transport}:${p.address}:${p.port}`

export class SipTimeoutError extends Error {
  override readonly name = 'SipTimeoutError'
}

export class SipTransportError extends Error {
  override readonly name = 'SipTransportError'
}

export interface RespondOptions {
  headers?: Record<string, string | string[]>
  body?: Buffer
}

export interface IncomingRequest {
  message: SipRequest
  /** where it came from: answers and later requests go here */
  source: SipPeer
  respond(status: number, reason: string, opts?: RespondOptions): void
}

export interface OutgoingRequest {
  method: string
  uri: string
  destination: SipPeer
  /** From, To, Call-ID, CSeq and anything else; Via, Max-Forwards and Content-Length are added */
  headers: Record<string, string | string[]>
  body?: Buffer
  /** provisional responses (1xx) */
  onProvisional?: (res: SipResponse) => void
}

export interface SipEndpointOptions {
  /** bind address (default all interfaces) */
  host?: string
  udpPort?: number
  /** null: no TCP listener */
  tcpPort?: number | null
  /** the address peers reach us at, written into Via */
  publicAddress: string
  userAgent?: string
  t1Ms?: number
  t2Ms?: number
  maxTcpConnections?: number
  /** a TCP connection with no traffic for this long is closed */
  tcpIdleMs?: number
  onRequest: (req: IncomingRequest) => void
  /** malformed input from a peer (logged by the caller; the peer is not answered) */
  onMalformed?: (err: Error, source: SipPeer) => void
}

interface ServerTransaction {
  response: Buffer | undefined
  peer: SipPeer
  toTag: string
  expiresAt: number
}

interface ClientTransaction {
  method: string
  bytes: Buffer
  destination: SipPeer
  resolve: (res: SipResponse) => void
  reject: (err: Error) => void
  onProvisional: ((res: SipResponse) => void) | undefined
  interval: number
  retransmit: NodeJS.Timeout | undefined
  timeout: NodeJS.Timeout
  provisional: boolean
}

const newTag = () => randomBytes(6).toString('hex')
export const newBranch = () => `z9hG4bK${randomBytes(10).toString('hex')}`
export const newCallId = () => randomBytes(12).toString('hex')

export class SipEndpoint {
  readonly #opts: SipEndpointOptions
  #udp: UdpSocket | undefined
  #tcp: Server | undefined
  readonly #connections = new Map<string, Socket>()
  readonly #server = new Map<string, ServerTransaction>()
  readonly #client = new Map<string, ClientTransaction>()
  /** ACKs sent for 2xx to our INVITEs, re-sent when the 2xx is retransmitted */
  readonly #acks = new Map<string, { bytes: Buffer; destination: SipPeer; expiresAt: number }>()
  #sweep: NodeJS.Timeout | undefined
  #closing: Promise<void> | undefined
  readonly counters = { received: 0, sent: 0, retransmissionsSent: 0, retransmissionsAnswered: 0, malformed: 0, timeouts: 0 }

  constructor(opts: SipEndpointOptions) {
    this.#opts = opts
  }

  get t1(): number {
    return this.#opts.t1Ms ?? 500
  }

  get udpPort(): number {
    const a = this.#udp?.address()
    return a ? a.port : 0
  }

  get tcpPort(): number {
    const a = this.#tcp?.address()
    return a && typeof a === 'object' ? a.port : 0
  }

  get publicAddress(): string {
    return this.#opts.publicAddress
  }

  async start(): Promise<void> {
    const host = this.#opts.host ?? '0.0.0.0'
    const udp = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false })
    udp.on('message', (buf, rinfo) => this.#onDatagram(buf, { transport: 'UDP', address: rinfo.address, port: rinfo.port }))
    udp.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(this.#opts.udpPort ?? 5060, host, () => {
        udp.off('error', reject)
        resolve()
      })
    })
    this.#udp = udp
    if (this.#opts.tcpPort !== null) {
      const server = createServer((socket) => this.#adopt(socket))
      server.maxConnections = this.#opts.maxTcpConnections ?? 10_000
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(this.#opts.tcpPort ?? this.udpPort, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      this.#tcp = server
    }
    this.#sweep = setInterval(() => this.#expire(), 1000)
    this.#sweep.unref()
  }

  /** Idempotent; pending client transactions are rejected. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#sweep) clearInterval(this.#sweep)
      for (const [branch, tx] of this.#client) this.#finishClient(branch, tx, new SipTransportError('endpoint closed'))
      for (const s of this.#connections.values()) s.destroy()
      this.#connections.clear()
      await Promise.all([
        new Promise<void>((r) => (this.#udp ? this.#udp.close(() => r()) : r())),
        new Promise<void>((r) => (this.#tcp ? this.#tcp.close(() => r()) : r())),
      ])
    })()
    return this.#closing
  }

  // --- receiving ------------------------------------------------------------------------------

  #onDatagram(buf: Buffer, source: SipPeer): void {
    // keep-alive pings (CRLF, RFC 5626) and STUN-like noise
    if (buf.length <= 4 && /^[\r\n]*$/.test(buf.toString('latin1'))) return
    let message: SipMessage
    try {
      message = parseDatagram(buf)
      checkMandatoryHeaders(message)
    } catch (err) {
      this.#malformed(err as Error, source)
      return
    }
    this.#onMessage(message, source)
  }

  #adopt(socket: Socket): void {
    const peer: SipPeer = { transport: 'TCP', address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }
    const key = peerKey(peer)
    this.#connections.get(key)?.destroy()
    this.#connections.set(key, socket)
    const parser = new SipStreamParser()
    socket.setNoDelay(true)
    socket.setTimeout(this.#opts.tcpIdleMs ?? 10 * 60_000, () => socket.destroy())
    socket.on('data', (chunk) => {
      let messages: SipMessage[]
      try {
        messages = parser.push(chunk)
      } catch (err) {
        // the stream cannot be framed any more: only closing it recovers
        this.#malformed(err as Error, peer)
        socket.destroy()
        return
      }
      for (const m of messages) {
        try {
          checkMandatoryHeaders(m)
        } catch (err) {
          this.#malformed(err as Error, peer)
          continue
        }
        this.#onMessage(m, peer)
      }
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      if (this.#connections.get(key) === socket) this.#connections.delete(key)
    })
  }

  #malformed(err: Error, source: SipPeer): void {
    this.counters.malformed++
    this.#opts.onMalformed?.(err, source)
  }

  #onMessage(m: SipMessage, source: SipPeer): void {
    this.counters.received++
    if (m.kind === 'response') {
      this.#onResponse(m)
      return
    }
    this.#onRequest(m, source)
  }

  #onRequest(req: SipRequest, source: SipPeer): void {
    const vias = headerValues(req, 'via')
    const top = parseVia(vias[0]!)
    // RFC 3261 §18.2.1 received, RFC 3581 rport: the answer goes back to where it came from
    if (top.host !== source.address) top.params.set('received', source.address)
    if (top.params.has('rport')) top.params.set('rport', String(source.port))
    vias[0] = formatVia(top)
    setHeader(req, 'via', vias)
    const branch = top.params.get('branch') ?? ''
    if (req.method === 'ACK') {
      // an ACK for a non-2xx final answer ends its INVITE transaction; an ACK for 2xx is the TU's
      const tx = this.#server.get(`${branch}:INVITE`)
      if (tx?.response) return
      this.#opts.onRequest({ message: req, source, respond: () => undefined })
      return
    }
    const key = `${branch}:${req.method}`
    const existing = branch.startsWith('z9hG4bK') ? this.#server.get(key) : undefined
    if (existing) {
      // a retransmission: answer again, do not hand it up twice
      if (existing.response) {
        this.counters.retransmissionsAnswered++
        this.#sendTo(existing.response, source)
      }
      return
    }
    const tx: ServerTransaction = { response: undefined, peer: source, toTag: newTag(), expiresAt: Date.now() + 64 * this.t1 }
    if (branch.startsWith('z9hG4bK')) this.#server.set(key, tx)
    let final = false
    const respond = (status: number, reason: string, opts: RespondOptions = {}): void => {
      if (final) return
      const res = this.#buildResponse(req, status, reason, tx.toTag, opts)
      const bytes = serializeMessage(res)
      if (status >= 200) {
        final = true
        tx.response = bytes
        tx.expiresAt = Date.now() + 64 * this.t1
      }
      this.#sendTo(bytes, source)
    }
    try {
      this.#opts.onRequest({ message: req, source, respond })
    } catch (err) {
      respond(500, 'Server Internal Error')
      this.#malformed(err as Error, source)
    }
  }

  #buildResponse(req: SipRequest, status: number, reason: string, toTag: string, opts: RespondOptions): SipResponse {
    const headers = new Map<string, string[]>()
    headers.set('via', headerValues(req, 'via'))
    headers.set('from', headerValues(req, 'from'))
    const to = parseNameAddr(header(req, 'to')!)
    if (status > 100 && !to.params.has('tag')) to.params.set('tag', toTag)
    headers.set('to', [formatNameAddr(to)])
    headers.set('call-id', headerValues(req, 'call-id'))
    headers.set('cseq', headerValues(req, 'cseq'))
    if (this.#opts.userAgent) headers.set('user-agent', [this.#opts.userAgent])
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers.set(k.toLowerCase(), Array.isArray(v) ? v : [v])
    return { kind: 'response', status, reason, headers, body: opts.body ?? Buffer.alloc(0) }
  }

  #onResponse(res: SipResponse): void {
    let branch: string
    let method: string
    try {
      branch = parseVia(headerValues(res, 'via')[0]!).params.get('branch') ?? ''
      method = parseCSeq(header(res, 'cseq')).method
    } catch {
      return
    }
    const tx = this.#client.get(branch)
    if (!tx || tx.method !== method) {
      // a retransmitted 2xx to an INVITE we already ACKed
      if (method === 'INVITE' && res.status >= 200 && res.status < 300) {
        const ack = this.#acks.get(`${header(res, 'call-id')}:${parseCSeq(header(res, 'cseq')).seq}`)
        if (ack) this.#sendTo(ack.bytes, ack.destination)
      }
      return
    }
    if (res.status < 200) {
      tx.onProvisional?.(res)
      if (!tx.provisional) {
        tx.provisional = true
        if (tx.method === 'INVITE') {
          // Timer A stops on a provisional answer
          if (tx.retransmit) clearTimeout(tx.retransmit)
          tx.retransmit = undefined
        } else {
          tx.interval = this.#opts.t2Ms ?? 4000
        }
      }
      return
    }
    if (tx.method === 'INVITE' && res.status >= 300) this.#sendTo(serializeMessage(this.#ackFor(tx, res, branch)), tx.destination)
    this.#finishClient(branch, tx, res)
  }

  // --- sending --------------------------------------------------------------------------------

  /** Sends a request in a client transaction; resolves with its final response. */
  request(r: OutgoingRequest): Promise<SipResponse> {
    if (this.#closing) return Promise.reject(new SipTransportError('endpoint closed'))
    const branch = newBranch()
    const headers = new Map<string, string[]>()
    headers.set('via', [formatVia({ transport: r.destination.transport, host: this.#opts.publicAddress, port: r.destination.transport === 'TCP' ? this.tcpPort : this.udpPort, params: new Map([['rport', ''], ['branch', branch]]) })])
    headers.set('max-forwards', ['70'])
    for (const [k, v] of Object.entries(r.headers)) headers.set(k.toLowerCase(), Array.isArray(v) ? v : [v])
    if (this.#opts.userAgent && !headers.has('user-agent')) headers.set('user-agent', [this.#opts.userAgent])
    const message: SipRequest = { kind: 'request', method: r.method, uri: r.uri, headers, body: r.body ?? Buffer.alloc(0) }
    const bytes = serializeMessage(message)
    return new Promise<SipResponse>((resolve, reject) => {
      const tx: ClientTransaction = {
        method: r.method,
        bytes,
        destination: r.destination,
        resolve,
        reject,
        onProvisional: r.onProvisional,
        interval: this.t1,
        retransmit: undefined,
        provisional: false,
        timeout: setTimeout(() => {
          this.counters.timeouts++
          this.#finishClient(branch, tx, new SipTimeoutError(`${r.method} to ${r.destination.address}:${r.destination.port} (${r.destination.transport}): no final answer in ${(64 * this.t1) / 1000} s`))
        }, 64 * this.t1),
      }
      tx.timeout.unref()
      this.#client.set(branch, tx)
      this.#sendTo(bytes, r.destination, (err) => this.#finishClient(branch, tx, new SipTransportError(err.message)))
      if (r.destination.transport === 'UDP') this.#armRetransmit(branch, tx)
    })
  }

  #armRetransmit(branch: string, tx: ClientTransaction): void {
    tx.retransmit = setTimeout(() => {
      if (this.#client.get(branch) !== tx) return
      this.counters.retransmissionsSent++
      this.#sendTo(tx.bytes, tx.destination)
      tx.interval = tx.method === 'INVITE' ? tx.interval * 2 : Math.min(tx.interval * 2, this.#opts.t2Ms ?? 4000)
      this.#armRetransmit(branch, tx)
    }, tx.interval)
    tx.retransmit.unref()
  }

  #finishClient(branch: string, tx: ClientTransaction, outcome: SipResponse | Error): void {
    if (this.#client.get(branch) !== tx) return
    this.#client.delete(branch)
    clearTimeout(tx.timeout)
    if (tx.retransmit) clearTimeout(tx.retransmit)
    if (outcome instanceof Error) tx.reject(outcome)
    else tx.resolve(outcome)
  }

  #ackFor(tx: ClientTransaction, res: SipResponse, branch: string): SipRequest {
    const invite = parseDatagram(tx.bytes) as SipRequest
    const headers = new Map<string, string[]>()
    headers.set('via', [headerValues(invite, 'via')[0]!.replace(/branch=[^;]+/, `branch=${branch}`)])
    headers.set('max-forwards', ['70'])
    headers.set('from', headerValues(invite, 'from'))
    headers.set('to', headerValues(res, 'to'))
    headers.set('call-id', headerValues(invite, 'call-id'))
    headers.set('cseq', [`${parseCSeq(header(invite, 'cseq')).seq} ACK`])
    return { kind: 'request', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) }
  }

  /**
   * ACK for a 2xx answer to our INVITE (a new transaction, RFC 3261 §13.2.2.4); remembered so a
   * retransmitted 2xx is ACKed again.
   */
  ack(invite: { uri: string; headers: Record<string, string> }, res: SipResponse, destination: SipPeer): void {
    const cseq = parseCSeq(header(res, 'cseq')).seq
    const message: SipRequest = {
      kind: 'request',
      method: 'ACK',
      uri: invite.uri,
      headers: new Map([
        ['via', [formatVia({ transport: destination.transport, host: this.#opts.publicAddress, port: destination.transport === 'TCP' ? this.tcpPort : this.udpPort, params: new Map([['rport', ''], ['branch', newBranch()]]) })]],
        ['max-forwards', ['70']],
        ['from', headerValues(res, 'from')],
        ['to', headerValues(res, 'to')],
        ['call-id', headerValues(res, 'call-id')],
        ['cseq', [`${cseq} ACK`]],
        ...Object.entries(invite.headers).map(([k, v]) => [k.toLowerCase(), [v]] as [string, string[]]),
      ]),
      body: Buffer.alloc(0),
    }
    const bytes = serializeMessage(message)
    this.#acks.set(`${header(res, 'call-id')}:${cseq}`, { bytes, destination, expiresAt: Date.now() + 64 * this.t1 })
    this.#sendTo(bytes, destination)
  }

  /** Sends bytes to a peer: UDP from our socket, TCP over its connection (opened if none). */
  #sendTo(bytes: Buffer, peer: SipPeer, onError?: (err: Error) => void): void {
    this.counters.sent++
    if (peer.transport === 'UDP') {
      this.#udp?.send(bytes, peer.port, peer.address, (err) => err && onError?.(err))
      return
    }
    const key = peerKey(peer)
    let socket = this.#connections.get(key)
    if (!socket || socket.destroyed) {
      if (this.#closing) return
      socket = createConnection({ host: peer.address, port: peer.port })
      socket.once('error', (err) => onError?.(err))
      this.#adopt(socket)
      // #adopt keyed it by remote address, which is what we dialled
      this.#connections.set(key, socket)
    }
    socket.write(bytes)
  }

  #expire(): void {
    const now = Date.now()
    for (const [k, tx] of this.#server) if (tx.expiresAt < now) this.#server.delete(k)
    for (const [k, a] of this.#acks) if (a.expiresAt < now) this.#acks.delete(k)
  }
}
