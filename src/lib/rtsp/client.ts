import { randomInt } from 'node:crypto'
import dgram from 'node:dgram'
import { EventEmitter } from 'node:events'
import net from 'node:net'
import { getSystemErrorName } from 'node:util'
import { ByteArena } from '../bytes/index.js'
import type { DepacketizerStats } from '../h264/index.js'
import { buildReceiverReport, buildSdesCname, parseRtcp, RtcpType, type RtcpPacket, type RtcpReportBlock } from '../rtp/rtcp.js'
import { SequenceUnwrapper } from '../rtp/sequence.js'
import { parseRtpPacket, type RtpPacket } from '../rtp/packet.js'
import { RtpParseError } from '../rtp/errors.js'
import { parseSdp, resolveControlUrl, SdpParseError } from '../sdp/parse.js'
import type { SdpMedia, SessionDescription } from '../sdp/types.js'
import type { ConnectGuard } from '../net/index.js'
import { parseAuthenticate, RtspAuthenticator } from './auth.js'
import {
  RtspAuthError,
  RtspConnectionError,
  RtspError,
  RtspNoDataError,
  RtspProtocolError,
  RtspStatusError,
  RtspTimeoutError,
  RtspUdpUnavailableError,
} from './errors.js'
import {
  parseRtpInfo,
  parseSessionHeader,
  parseTransportHeader,
  RtspStreamParser,
  serializeRequest,
  type RtspResponse,
  type RtspServerRequest,
  type RtspSessionHeader,
} from './message.js'
import { FrameCounter, InterleavedReader, type H264FrameAssembly } from './native-reader.js'
import { parseRtspUrl, type ParsedRtspUrl } from './url.js'

/** 'tcp': RTP/RTCP interleaved on the RTSP connection. 'udp': a UDP port pair per track. */
export type RtspTransportKind = 'tcp' | 'udp'

export interface RtspClientOptions {
  /** rtsp://[user:pass@]host[:port]/path; credentials here are used and never sent in the URL. */
  url: string
  /** Take precedence over credentials in the URL. */
  username?: string
  password?: string
  /**
   * Default 'tcp'. With 'udp' each track is SET UP on a UDP port pair (RTP even, RTCP odd); a
   * track whose UDP SETUP the server answers 461 Unsupported Transport is SET UP again over TCP
   * interleaved. Datagrams from anything but the camera's address and server ports are ignored.
   */
  transport?: RtspTransportKind
  /** UDP: [first, last] port client port pairs are taken from (first even). Default: ephemeral. */
  udpPortRange?: [number, number]
  /**
   * UDP: close with RtspUdpUnavailableError ('no-data') when no datagram came from the camera this
   * long after PLAY (a firewall drops them; retry over TCP). 0 disables. Default 5 s.
   */
  udpFirstDataTimeoutMs?: number
  /** UDP: RTCP receiver report period. Default 5 s (RFC 3550's minimum interval). */
  rtcpIntervalMs?: number
  /** Per-request response timeout. Default 10 s. */
  timeoutMs?: number
  /** TCP connect timeout. Default: timeoutMs. */
  connectTimeoutMs?: number
  /** While playing, close with RtspNoDataError after this long without RTP/RTCP. 0 disables. Default 10 s. */
  noDataTimeoutMs?: number
  /** Keep-alive period. Default: half the session timeout the server announced. */
  keepAliveIntervalMs?: number
  /** Follow 3xx redirects on OPTIONS/DESCRIBE: true (up to 5), false, or a maximum. Default true. */
  followRedirects?: boolean | number
  /**
   * Resolves and checks the host before every connect (also after a redirect): the application's
   * address policy. The connection goes to the address it returns; its error fails the request
   * (and the client) unchanged.
   */
  connectGuard?: ConnectGuard
  userAgent?: string
  /**
   * Read the connection with the native reader (native/ingest) when it is built: JavaScript is
   * called once per frame rather than once per socket read. Default true; false reads through the
   * Node socket (also what happens without the module).
   */
  nativeReads?: boolean
}

export interface RtspTrack {
  /** Index of the media section in the SDP. */
  index: number
  media: SdpMedia
  /** SETUP URL. */
  url: string
  /** How this track's RTP arrives ('tcp' also after a 461 answer to a UDP SETUP). */
  transport: RtspTransportKind
  /** Interleaved channels; -1 over UDP. */
  rtpChannel: number
  rtcpChannel: number
  /** UDP: our RTP and RTCP ports. */
  clientPorts?: [number, number]
  /** UDP: the server's RTP and RTCP ports (Transport server_port), if it announced them. */
  serverPorts?: [number, number]
  /** UDP: the address media is accepted from and RTCP sent to (Transport source, else the RTSP peer). */
  source?: string
  /** SSRC the server announced in its Transport header, if it did. */
  ssrc?: number
  /** From RTP-Info: sequence number and RTP time of the first packet after PLAY. */
  initialSequenceNumber?: number
  initialRtpTime?: number
}

export interface RtspPlayResult {
  sessionId: string
  /** Session timeout in seconds as announced by the server. */
  sessionTimeout: number
  tracks: RtspTrack[]
  range?: string
}

export interface RtspClientStats {
  rtpPackets: number
  rtcpPackets: number
  /** RTP/RTCP bytes received (interleaved payloads and accepted datagrams). */
  bytes: number
  /** Interleaved frames or datagrams that were not valid RTP/RTCP, or on a channel we did not set up. */
  malformedPackets: number
  keepAlives: number
  /** UDP datagrams dropped because they did not come from the camera's address and server port. */
  udpIgnored: number
  /** RTCP packets we sent over UDP (receiver reports, the punch packet, sendRtcp). */
  rtcpSent: number
}

/** A UDP track's socket pair and the peer it accepts datagrams from. */
interface UdpPair {
  track: number
  rtp: dgram.Socket
  rtcp: dgram.Socket
  ports: [number, number]
  /** Normalised address datagrams must come from. */
  peer: string
  /** Server ports datagrams must come from, when announced. */
  peerPorts?: [number, number]
}

/** Reception statistics of one track for receiver reports (RFC 3550 A.3, A.8). */
interface Reception {
  ssrc: number
  unwrapper: SequenceUnwrapper
  baseSeq: number
  maxSeq: number
  received: number
  expectedPrior: number
  receivedPrior: number
  clockRate: number
  jitter: number
  lastTransit: number | undefined
  /** Middle 32 bits of the last SR's NTP time and when it arrived. */
  lastSr: number
  lastSrAt: number
}

/**
 * Gets each H.264 access unit assembled by the native reader (see RtspClient.assembleH264):
 * `nalus` without start codes, in order (views of one copy that is the handler's), `keyframe`
 * when it holds an IDR slice. Arguments rather than an object: V8 missed its inline cache on such
 * an object literal at every frame (the call runs 25 times a second, too rarely to be optimised).
 */
export type AssembledFrameHandler = (nalus: Buffer[], timestamp: number, keyframe: boolean, ssrc: number) => void

/** The native assembler's counts for a track: H264Depacketizer's, whose rules it follows. */
export type AssembledFrameStats = DepacketizerStats

/** A track whose RTP the native reader assembles into frames. */
interface AssembledTrack {
  track: number
  channel: number
  assembly: H264FrameAssembly
  /** Counters already added to the client's stats. */
  seenPackets: number
  seenBytes: number
  seenMalformed: number
  /** Bytes counted when the no-data watchdog last looked. */
  watchedBytes: number
}

export interface RtspClientEvents {
  rtp: [trackIndex: number, packet: RtpPacket]
  rtcp: [trackIndex: number, packets: RtcpPacket[], raw: Buffer]
  /** Emitted once: no argument after close(), the cause after a failure. */
  close: [error?: Error]
}

export type RtspClientState = 'idle' | 'described' | 'playing' | 'closed'

interface Pending {
  method: string
  resolve: (res: RtspResponse) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

interface SendOptions {
  timeoutMs: number
  /** A timeout ends the client (false only for the best-effort TEARDOWN in close()). */
  fatal: boolean
}

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_UDP_FIRST_DATA_MS = 5000
const DEFAULT_RTCP_INTERVAL_MS = 5000
const DEFAULT_USER_AGENT = 'SharpEyesGateway/0.1'
/** At least one whole interleaved unit (4 + 65,535 bytes), as the native reader needs; room for a frame or two. */
const READ_BUFFER_BYTES = 128 * 1024
/**
 * Reads are copied out of the reused read buffer into slabs of this size (a ByteArena). A copy of
 * its own per read (Buffer.from, 4–6 KB at 2 Mbit/s) was a fresh malloc'd ArrayBuffer each time,
 * and its page faults and frees were a visible share of an idle ingest's CPU. A slab lives until
 * the last packet cut from it (the GOP cache keeps about two seconds' worth) is dropped.
 */
const READ_SLAB_BYTES = 256 * 1024
/**
 * Native reads: the longest a frame's first bytes wait for its last (the RTP marker) before they
 * are handed over anyway. A frame's packets come back to back, so this only costs latency with a
 * sender that never sets the marker bit.
 */
const NATIVE_READ_HOLD_MS = 5

/**
 * RTSP 1.0 client (RFC 2326) receiving RTP interleaved over the RTSP TCP connection, or over a
 * UDP port pair per track (`transport: 'udp'`, with RTCP receiver reports).
 *
 *   const client = new RtspClient({ url })
 *   client.on('rtp', (track, packet) => …)
 *   client.on('close', (err) => …)
 *   await client.play()            // DESCRIBE (if not done), OPTIONS, SETUP each track, PLAY
 *   …
 *   await client.close()           // TEARDOWN best effort, socket destroyed
 *
 * Connection loss, timeouts and the no-data watchdog end the client with a 'close' event carrying
 * the error; status errors (404, 454…) only reject the request that got them. Over UDP, media that
 * never arrives after PLAY ends the client with RtspUdpUnavailableError (after a TEARDOWN) so the
 * caller can retry with `transport: 'tcp'`; a 461 answer to a UDP SETUP is retried over TCP here.
 */
export class RtspClient extends EventEmitter<RtspClientEvents> {
  readonly #stats: RtspClientStats = { rtpPackets: 0, rtcpPackets: 0, bytes: 0, malformedPackets: 0, keepAlives: 0, udpIgnored: 0, rtcpSent: 0 }
  /** Counts so far (those of a natively assembled track included). */
  get stats(): RtspClientStats {
    this.#syncAssembled()
    return this.#stats
  }

  /** SSRC of our RTCP (receiver reports, and what callers should use as PLI/FIR sender SSRC). */
  readonly ssrc = randomInt(1, 0xffffffff)
  readonly #transport: RtspTransportKind
  readonly #udpPortRange: [number, number] | undefined
  readonly #udpFirstDataTimeoutMs: number
  readonly #rtcpIntervalMs: number
  #udp: UdpPair[] = []
  #udpReceived = false
  #udpFirstDataTimer: NodeJS.Timeout | undefined
  #rtcpTimer: NodeJS.Timeout | undefined
  readonly #reception = new Map<number, Reception>()
  readonly #timeoutMs: number
  readonly #connectTimeoutMs: number
  readonly #nativeReads: boolean
  #nativeReader: InterleavedReader | undefined
  readonly #frameRequests = new Map<number, AssembledFrameHandler>()
  #assembled: AssembledTrack | undefined
  readonly #noDataTimeoutMs: number
  readonly #keepAliveIntervalMs: number | undefined
  readonly #maxRedirects: number
  readonly #connectGuard: ConnectGuard | undefined
  readonly #userAgent: string
  #target: ParsedRtspUrl
  #auth: RtspAuthenticator | undefined
  #credentials: { username: string; password: string } | undefined
  #socket: net.Socket | undefined
  #connecting: Promise<net.Socket> | undefined
  #connectingSocket: net.Socket | undefined
  #parser = new RtspStreamParser()
  #cseq = 0
  readonly #pending = new Map<number, Pending>()
  #queue: Promise<unknown> = Promise.resolve()
  #state: RtspClientState = 'idle'
  #closePromise: Promise<void> | undefined
  #sdp: SessionDescription | undefined
  #session: RtspSessionHeader | undefined
  #tracks: RtspTrack[] = []
  readonly #channels = new Map<number, { track: number; rtcp: boolean }>()
  #publicMethods: Set<string> | undefined
  #keepAliveMethod = 'OPTIONS'
  #keepAliveTimer: NodeJS.Timeout | undefined
  #keepAliveInFlight = false
  #watchdogTimer: NodeJS.Timeout | undefined
  #lastDataAt = 0
  /** Digest nonce our Authorization headers currently use. */
  #currentNonce: string | undefined

  constructor(opts: RtspClientOptions) {
    super()
    const target = parseRtspUrl(opts.url)
    if (!target) throw new RtspError(`invalid RTSP URL: ${opts.url}`)
    if (opts.transport !== undefined && opts.transport !== 'tcp' && opts.transport !== 'udp') {
      throw new RtspError(`unsupported transport ${String(opts.transport)}`)
    }
    this.#transport = opts.transport ?? 'tcp'
    const range = opts.udpPortRange
    if (range && !(range[0] >= 1 && range[1] <= 65535 && range[1] - range[0] >= 1)) {
      throw new RangeError(`invalid UDP port range ${range[0]}-${range[1]}`)
    }
    this.#udpPortRange = range
    this.#udpFirstDataTimeoutMs = opts.udpFirstDataTimeoutMs ?? DEFAULT_UDP_FIRST_DATA_MS
    this.#rtcpIntervalMs = opts.rtcpIntervalMs ?? DEFAULT_RTCP_INTERVAL_MS
    this.#target = target
    const username = opts.username ?? target.username
    const password = opts.password ?? target.password ?? ''
    if (username !== undefined) {
      this.#credentials = { username, password }
      this.#auth = new RtspAuthenticator(username, password)
    }
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? this.#timeoutMs
    this.#nativeReads = opts.nativeReads ?? true
    this.#noDataTimeoutMs = opts.noDataTimeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#keepAliveIntervalMs = opts.keepAliveIntervalMs
    const follow = opts.followRedirects ?? true
    this.#maxRedirects = follow === true ? 5 : follow === false ? 0 : follow
    this.#connectGuard = opts.connectGuard
    this.#userAgent = opts.userAgent ?? DEFAULT_USER_AGENT
  }

  /** The current URL (after redirects), without credentials. */
  get url(): string {
    return this.#target.url
  }

  get state(): RtspClientState {
    return this.#state
  }

  get sdp(): SessionDescription | undefined {
    return this.#sdp
  }

  get sessionId(): string | undefined {
    return this.#session?.id
  }

  get tracks(): readonly RtspTrack[] {
    return this.#tracks
  }

  /** Sends a request and returns the response whatever its status, except 401/403 (RtspAuthError). */
  request(method: string, uri = this.url, headers: Record<string, string> = {}, body?: Buffer): Promise<RtspResponse> {
    const run = this.#queue.then(() => this.#requestWithAuth(method, uri, headers, body))
    this.#queue = run.catch(() => undefined)
    return run
  }

  async options(): Promise<RtspResponse> {
    const res = await this.#withRedirects(() => this.request('OPTIONS', this.url))
    this.#expectOk('OPTIONS', res, this.url)
    this.#publicMethods = new Set(
      (res.headers.get('public') ?? '')
        .split(',')
        .map((m) => m.trim().toUpperCase())
        .filter(Boolean),
    )
    return res
  }

  /**
   * DESCRIBE: returns the SDP with every media's SETUP URL resolved. Usable alone as a health check:
   * RtspAuthError, RtspConnectionError and RtspTimeoutError tell the failures apart.
   */
  async describe(): Promise<SessionDescription> {
    const res = await this.#withRedirects(() => this.request('DESCRIBE', this.url, { Accept: 'application/sdp' }))
    this.#expectOk('DESCRIBE', res, this.url)
    const base = res.headers.get('content-base') ?? res.headers.get('content-location') ?? this.url
    const cleanBase = parseRtspUrl(base)?.url ?? base
    let sdp: SessionDescription
    try {
      sdp = parseSdp(res.body.toString('utf8'), { baseUrl: cleanBase })
    } catch (err) {
      if (err instanceof SdpParseError) throw new RtspProtocolError(`DESCRIBE ${this.url}: ${err.message}`, { cause: err })
      throw err
    }
    this.#sdp = sdp
    if (this.#state === 'idle') this.#state = 'described'
    return sdp
  }

  /**
   * SETUP the given tracks (SDP media indices; default all) and PLAY them. Runs DESCRIBE first
   * if it was not done. RTP then arrives as 'rtp' events.
   */
  async play(trackIndices?: readonly number[]): Promise<RtspPlayResult> {
    if (this.#state === 'playing') throw new RtspError('already playing')
    const sdp = this.#sdp ?? (await this.describe())
    if (this.#publicMethods === undefined) {
      try {
        await this.options()
      } catch (err) {
        // OPTIONS is only for choosing the keep-alive method; a camera that rejects it can still play.
        if (!(err instanceof RtspStatusError)) throw err
        this.#publicMethods = new Set()
      }
    }
    this.#keepAliveMethod = this.#publicMethods?.has('GET_PARAMETER') ? 'GET_PARAMETER' : 'OPTIONS'
    const indices = trackIndices ?? sdp.media.map((m) => m.index)
    if (indices.length === 0) throw new RtspProtocolError(`${this.url}: SDP has no media to play`)
    const base = sdp.url ?? this.url
    for (const [k, index] of indices.entries()) {
      const media = sdp.media[index]
      if (!media) throw new RangeError(`no media section ${index} in the SDP`)
      const url = media.url ?? resolveControlUrl(base, media.control)
      const channel = k * 2
      const track =
        this.#transport === 'udp' ? await this.#setupUdp(index, media, url, channel) : await this.#setupTcp(index, media, url, channel)
      this.#tracks.push(track)
      if (track.transport === 'tcp') {
        this.#channels.set(track.rtpChannel, { track: index, rtcp: false })
        this.#channels.set(track.rtcpChannel, { track: index, rtcp: true })
        const onFrame = this.#frameRequests.get(index)
        if (onFrame && media.codec === 'H264') this.#assembleNatively(index, track.rtpChannel, media.clockRate ?? 90_000, onFrame)
      }
    }
    const session = this.#session!
    const playUrl = sdp.url ?? this.url
    this.#lastDataAt = Date.now()
    const res = await this.request('PLAY', playUrl, { Range: 'npt=0.000-' })
    this.#expectOk('PLAY', res, playUrl)
    const rtpInfo = res.headers.get('rtp-info')
    if (rtpInfo) {
      for (const entry of parseRtpInfo(rtpInfo)) {
        const track = this.#tracks.find(
          (t) => t.url === entry.url || t.url.endsWith(entry.url) || entry.url.endsWith(t.media.control ?? '\0'),
        )
        if (!track) continue
        if (entry.seq !== undefined) track.initialSequenceNumber = entry.seq
        if (entry.rtptime !== undefined) track.initialRtpTime = entry.rtptime
      }
    }
    this.#state = 'playing'
    this.#startTimers(session)
    this.#startUdp()
    const result: RtspPlayResult = { sessionId: session.id, sessionTimeout: session.timeout, tracks: [...this.#tracks] }
    const range = res.headers.get('range')
    if (range) result.range = range
    return result
  }

  /**
   * Sends an RTCP packet (e.g. a PLI from rtp/rtcp buildPli) on a track's RTCP channel, or over
   * UDP to the server's RTCP port. Returns false when not playing (or the server announced no
   * RTCP port). Many cameras ignore feedback; GStreamer's server honours PLI.
   */
  sendRtcp(trackIndex: number, packet: Buffer): boolean {
    const track = this.#tracks.find((t) => t.index === trackIndex)
    if (track?.transport === 'udp') {
      const pair = this.#udp.find((u) => u.track === trackIndex)
      if (!pair?.peerPorts || this.#state !== 'playing') return false
      this.#sendUdp(pair.rtcp, packet, pair.peerPorts[1], pair.peer)
      return true
    }
    const socket = this.#socket
    if (!track || !socket || socket.destroyed || this.#state !== 'playing') return false
    if (packet.length > 0xffff) throw new RangeError('RTCP packet too large for interleaved framing')
    const head = Buffer.from([0x24, track.rtcpChannel, packet.length >> 8, packet.length & 0xff])
    socket.write(Buffer.concat([head, packet]))
    return true
  }

  /** RTCP BYE over UDP, TEARDOWN (best effort, short timeout), sockets (TCP and UDP) closed. Idempotent. */
  close(): Promise<void> {
    if (this.#closePromise) return this.#closePromise
    this.#closePromise = this.#doClose()
    return this.#closePromise
  }

  async #doClose(): Promise<void> {
    const hadSession = this.#session !== undefined && this.#socket !== undefined && !this.#socket.destroyed
    this.#state = 'closed'
    this.#stopTimers()
    if (hadSession) {
      const url = this.#sdp?.url ?? this.url
      // RTCP BYE over UDP first (RFC 3550 §6.6); the sockets stay open until TEARDOWN is done.
      for (const pair of this.#udp) {
        if (pair.peerPorts) this.#sendUdp(pair.rtcp, Buffer.concat([this.#compoundRr(pair.track), buildBye(this.ssrc)]), pair.peerPorts[1], pair.peer)
      }
      try {
        await this.#send('TEARDOWN', url, {}, undefined, { timeoutMs: Math.min(this.#timeoutMs, 1000), fatal: false })
      } catch {
        // The server may already be gone; closing must not fail because of it.
      }
    }
    this.#destroySocket(new RtspConnectionError('client closed'))
    this.#closeUdp()
    this.emit('close')
  }

  /** Ends the client after a failure, reporting it through the 'close' event. */
  #fail(err: Error): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#closePromise = Promise.resolve()
    this.#stopTimers()
    this.#destroySocket(err)
    this.#closeUdp()
    this.emit('close', err)
  }

  /**
   * Like #fail for a failure that left the RTSP connection healthy (UDP media not arriving): the
   * session is torn down first, or a UDP session would outlive the connection on the server and
   * keep streaming into the void until its timeout. close() waits for it.
   */
  #failWithTeardown(err: Error): void {
    if (this.#state === 'closed') return
    const hadSession = this.#session !== undefined && this.#socket !== undefined && !this.#socket.destroyed
    this.#state = 'closed'
    this.#stopTimers()
    this.#closeUdp()
    const url = this.#sdp?.url ?? this.url
    const teardown = hadSession
      ? this.#send('TEARDOWN', url, {}, undefined, { timeoutMs: Math.min(this.#timeoutMs, 1000), fatal: false }).catch(() => undefined)
      : Promise.resolve()
    this.#closePromise = teardown.then(() => {
      this.#destroySocket(err)
      this.emit('close', err)
    })
  }

  #destroySocket(err: Error): void {
    const sockets = [this.#socket, this.#connectingSocket]
    this.#socket = undefined
    this.#connectingSocket = undefined
    for (const s of sockets) s?.destroy()
    for (const [cseq, p] of this.#pending) {
      clearTimeout(p.timer)
      this.#pending.delete(cseq)
      p.reject(err)
    }
  }

  #expectOk(method: string, res: RtspResponse, url: string): void {
    if (res.status < 200 || res.status > 299) throw new RtspStatusError(method, res.status, res.statusText, url)
  }

  async #withRedirects(fn: () => Promise<RtspResponse>): Promise<RtspResponse> {
    for (let hops = 0; ; hops++) {
      const res = await fn()
      if (![301, 302, 303, 305, 307, 308].includes(res.status) || hops >= this.#maxRedirects) return res
      const location = res.headers.get('location')
      if (!location) throw new RtspProtocolError(`${this.url}: redirect ${res.status} without Location`)
      this.#redirect(location)
    }
  }

  #redirect(location: string): void {
    const origin = `rtsp://${this.#target.host}:${this.#target.port}`
    const next = parseRtspUrl(location.startsWith('/') ? origin + location : location)
    if (!next) throw new RtspProtocolError(`invalid redirect Location: ${location}`)
    if (next.username !== undefined) {
      this.#credentials = { username: next.username, password: next.password ?? '' }
    } else if (next.host !== this.#target.host || next.port !== this.#target.port) {
      // Credentials are for the camera the operator configured, not wherever it points us.
      this.#credentials = undefined
    }
    this.#auth = this.#credentials ? new RtspAuthenticator(this.#credentials.username, this.#credentials.password) : undefined
    this.#target = next
    this.#destroySocket(new RtspConnectionError('redirected'))
  }

  async #requestWithAuth(
    method: string,
    uri: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
  ): Promise<RtspResponse> {
    if (this.#state === 'closed') throw new RtspConnectionError(`${method} ${uri}: client is closed`)
    const opts: SendOptions = { timeoutMs: this.#timeoutMs, fatal: true }
    const usedNonce = this.#auth?.scheme !== undefined ? this.#currentNonce : undefined
    const sentCredentials = this.#auth?.scheme !== undefined
    let res = await this.#send(method, uri, headers, body, opts)
    if (res.status === 401) {
      if (!this.#auth) {
        throw new RtspAuthError(`${method} ${uri}: server requires authentication, no credentials configured`, 401)
      }
      const challenges = parseAuthenticate(res.headers.getAll('www-authenticate'))
      const digest = challenges.find((c) => c.scheme === 'digest')
      // Retry with credentials sent already only when the nonce is new: stale=true, or a reconnect
      // gave us a fresh nonce. The same challenge twice means the credentials are wrong.
      const freshNonce =
        digest !== undefined &&
        (digest.params['stale']?.toLowerCase() === 'true' || digest.params['nonce'] !== usedNonce)
      if (sentCredentials && !freshNonce) {
        throw new RtspAuthError(`${method} ${uri}: credentials rejected (401)`, 401)
      }
      if (!this.#auth.useChallenges(challenges)) {
        const schemes = challenges.map((c) => c.scheme).join(', ') || 'none'
        throw new RtspAuthError(`${method} ${uri}: unsupported authentication scheme (${schemes})`, 401)
      }
      this.#currentNonce = digest?.params['nonce']
      res = await this.#send(method, uri, headers, body, opts)
      if (res.status === 401) throw new RtspAuthError(`${method} ${uri}: credentials rejected (401)`, 401)
    }
    if (res.status === 403) throw new RtspAuthError(`${method} ${uri}: forbidden (403)`, 403)
    return res
  }

  async #send(
    method: string,
    uri: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    opts: SendOptions,
  ): Promise<RtspResponse> {
    let socket: net.Socket
    try {
      socket = await this.#ensureConnected()
    } catch (err) {
      if (opts.fatal) this.#fail(err as Error)
      throw err
    }
    const cseq = ++this.#cseq
    const all: Record<string, string> = { 'User-Agent': this.#userAgent, ...headers }
    if (this.#session && all['Session'] === undefined) all['Session'] = this.#session.id
    const authorization = this.#auth?.authorize(method, uri)
    if (authorization) all['Authorization'] = authorization
    return new Promise<RtspResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(cseq)
        const err = new RtspTimeoutError(`${method} ${uri}: no response within ${opts.timeoutMs} ms`, 'request')
        reject(err)
        if (opts.fatal) this.#fail(err)
      }, opts.timeoutMs)
      this.#pending.set(cseq, { method, resolve, reject, timer })
      socket.write(serializeRequest(method, uri, cseq, all, body))
    })
  }

  #ensureConnected(): Promise<net.Socket> {
    if (this.#socket && !this.#socket.destroyed) return Promise.resolve(this.#socket)
    if (this.#connecting) return this.#connecting
    const { host, port } = this.#target
    const guard = this.#connectGuard
    const connectTo = guard ? guard(host, port) : Promise.resolve(host)
    this.#connecting = connectTo.then((address) => new Promise<net.Socket>((resolve, reject) => {
      if (this.#state === 'closed') {
        reject(new RtspConnectionError(`${host}:${port}: client is closed`))
        return
      }
      // onread: reads land in one reused buffer and reach the parser without the stream machinery
      // (Readable.push, 'data' events, nextTick read-ahead), a third of the ingest's CPU at a few
      // hundred interleaved packets a second. Each read is copied out (into a slab), since the
      // parser and the packets it yields outlive the buffer.
      const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES)
      const slabs = new ByteArena(READ_SLAB_BYTES)
      const socket: net.Socket = net.connect({
        host: address,
        port,
        onread: {
          buffer: readBuffer,
          callback: (nread: number, buf: Uint8Array): boolean => {
            this.#onData(socket, slabs.copy(buf, nread))
            return true
          },
        },
      })
      this.#connectingSocket = socket
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new RtspTimeoutError(`connect to ${host}:${port} timed out after ${this.#connectTimeoutMs} ms`, 'connect'))
      }, this.#connectTimeoutMs)
      const onError = (err: NodeJS.ErrnoException): void => {
        clearTimeout(timer)
        reject(
          new RtspConnectionError(`cannot connect to ${host}:${port}: ${err.code ?? err.message}`, {
            cause: err,
            ...(err.code !== undefined && { code: err.code }),
          }),
        )
      }
      // A socket destroyed by close() before it connected emits neither 'connect' nor 'error'.
      const onClose = (): void => {
        clearTimeout(timer)
        reject(new RtspConnectionError(`connection to ${host}:${port} closed while connecting`))
      }
      socket.once('error', onError)
      socket.once('close', onClose)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.off('error', onError)
        socket.off('close', onClose)
        this.#connectingSocket = undefined
        socket.setNoDelay(true)
        this.#attach(socket)
        if (this.#nativeReads) this.#readNatively(socket, readBuffer, slabs)
        resolve(socket)
      })
    })).finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  /**
   * Hands the connection's reads to the native reader, if it is built: the socket is paused (it
   * must not read too) and stays the one that writes and is destroyed. The reader's end of the
   * connection destroys the socket as Node's own EOF or read error would; the socket's close
   * closes the reader (whose duplicate descriptor otherwise keeps the connection open).
   */
  #readNatively(socket: net.Socket, buffer: Buffer, slabs: ByteArena): void {
    socket.pause()
    let reader: InterleavedReader | null = null
    try {
      reader = InterleavedReader.open(socket, buffer, NATIVE_READ_HOLD_MS, {
        onData: (length) => {
          this.#onData(socket, slabs.copy(buffer, length))
          return socket !== this.#socket || this.#parser.pendingBytes === 0
        },
        onEnd: (errno) => {
          if (errno === 0) {
            socket.destroy()
            return
          }
          const code = getSystemErrorName(errno)
          socket.destroy(Object.assign(new Error(`read ${code}`), { code, errno, syscall: 'read' }))
        },
      })
    } catch {
      reader = null // the module refused this socket (no descriptor to duplicate): Node reads it
    }
    if (!reader) {
      socket.resume()
      return
    }
    const opened = reader
    this.#nativeReader = opened
    socket.once('close', () => opened.close())
  }

  /**
   * Asks for track `index`'s H.264 RTP as whole frames, assembled by the native reader with
   * H264Depacketizer's rules: one JavaScript call per frame instead of one per packet. Call before
   * play(). It takes effect when the track is H.264 and set up interleaved on a connection read
   * natively; otherwise the track's packets come as 'rtp' events, so a caller listens to both.
   * Packets assembled natively are not emitted as 'rtp'.
   */
  assembleH264(index: number, onFrame: AssembledFrameHandler): void {
    this.#frameRequests.set(index, onFrame)
  }

  /** The native assembler's counts for track `index`; undefined when its packets come as 'rtp'. */
  assembledFrameStats(index: number): AssembledFrameStats | undefined {
    const a = this.#assembled
    if (!a || a.track !== index) return undefined
    const c = a.assembly.counters
    return {
      packets: c[FrameCounter.packets]!,
      lostPackets: c[FrameCounter.lost]!,
      latePackets: c[FrameCounter.late]!,
      unsupportedPackets: c[FrameCounter.unsupported]!,
      frames: c[FrameCounter.frames]!,
      droppedFrames: c[FrameCounter.dropped]!,
    }
  }

  #assembleNatively(track: number, channel: number, clockRate: number, onFrame: AssembledFrameHandler): void {
    const reader = this.#nativeReader
    if (!reader || reader.closed || this.#assembled) return
    const assembly = reader.assembleH264(channel, clockRate, (slab, offset, length, timestamp, keyframe) => {
      if (this.#state === 'closed') return
      const nalus: Buffer[] = []
      for (let o = offset, end = offset + length; o + 4 <= end; ) {
        const size = slab.readUInt32BE(o)
        nalus.push(slab.subarray(o + 4, o + 4 + size))
        o += 4 + size
      }
      onFrame(nalus, timestamp, keyframe, assembly.counters[FrameCounter.ssrc]!)
    })
    this.#assembled = { track, channel, assembly, seenPackets: 0, seenBytes: 0, seenMalformed: 0, watchedBytes: 0 }
  }

  /** Adds what the native assembler counted since last time to the client's stats. */
  #syncAssembled(): void {
    const a = this.#assembled
    if (!a) return
    const c = a.assembly.counters
    const packets = c[FrameCounter.packets]!
    const bytes = c[FrameCounter.bytes]!
    const malformed = c[FrameCounter.malformed]!
    this.#stats.rtpPackets += packets - a.seenPackets
    this.#stats.bytes += bytes - a.seenBytes
    this.#stats.malformedPackets += malformed - a.seenMalformed
    a.seenPackets = packets
    a.seenBytes = bytes
    a.seenMalformed = malformed
  }

  /** Whether the current connection is read by the native reader (native/ingest) rather than the Node socket. */
  get readsNatively(): boolean {
    return this.#nativeReader !== undefined && !this.#nativeReader.closed && this.#socket !== undefined
  }

  #attach(socket: net.Socket): void {
    this.#socket = socket
    this.#parser = new RtspStreamParser()
    socket.on('error', (err: NodeJS.ErrnoException) => this.#onSocketGone(socket, err))
    socket.on('close', () => this.#onSocketGone(socket))
  }

  #onSocketGone(socket: net.Socket, err?: NodeJS.ErrnoException): void {
    if (socket !== this.#socket) return
    this.#socket = undefined
    const { host, port } = this.#target
    const e = err
      ? new RtspConnectionError(`connection to ${host}:${port} failed: ${err.code ?? err.message}`, {
          cause: err,
          ...(err.code !== undefined && { code: err.code }),
        })
      : new RtspConnectionError(`connection closed by ${host}:${port}`)
    if (this.#state === 'closed') {
      // Server hung up during close()'s TEARDOWN: no reason to wait for its timeout.
      this.#destroySocket(e)
      return
    }
    // Between requests and before any SETUP a dropped connection is harmless: the next request
    // reconnects. With a session or a request in flight it is fatal.
    if (this.#session || this.#pending.size > 0) this.#fail(e)
  }

  #onData(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.#socket) return
    let items
    try {
      items = this.#parser.push(chunk)
    } catch (err) {
      this.#fail(err as Error)
      return
    }
    for (const item of items) {
      if (this.#state === 'closed' && item.kind !== 'response') continue
      if (item.kind === 'interleaved') this.#onInterleaved(item.channel, item.data)
      else if (item.kind === 'response') this.#onResponse(item.response)
      else this.#onServerRequest(socket, item.request)
    }
  }

  #onInterleaved(channel: number, data: Buffer): void {
    this.#lastDataAt = Date.now()
    if (this.#assembled?.channel === channel) {
      this.#assembled.assembly.feed(data) // read by the JavaScript parser while it held a partial message
      return
    }
    this.#stats.bytes += data.length
    const ch = this.#channels.get(channel)
    if (!ch) {
      this.#stats.malformedPackets++
      return
    }
    this.#onMedia(ch.track, ch.rtcp, data)
  }

  #onMedia(track: number, rtcp: boolean, data: Buffer): void {
    try {
      if (rtcp) {
        const packets = parseRtcp(data)
        this.#stats.rtcpPackets++
        this.#noteRtcp(track, packets)
        this.emit('rtcp', track, packets, data)
      } else {
        const packet = parseRtpPacket(data)
        this.#stats.rtpPackets++
        this.#noteRtp(track, packet)
        this.emit('rtp', track, packet)
      }
    } catch (err) {
      if (!(err instanceof RtpParseError)) throw err
      this.#stats.malformedPackets++
    }
  }

  #onResponse(res: RtspResponse): void {
    let cseq = res.cseq
    // A response without CSeq can only be for the sole request in flight.
    if (cseq === undefined && this.#pending.size === 1) cseq = [...this.#pending.keys()][0]
    const p = cseq !== undefined ? this.#pending.get(cseq) : undefined
    if (!p) return
    this.#pending.delete(cseq!)
    clearTimeout(p.timer)
    p.resolve(res)
  }

  #onServerRequest(socket: net.Socket, req: RtspServerRequest): void {
    // Some servers probe the client with OPTIONS/GET_PARAMETER and drop it if unanswered.
    const ok = req.method === 'OPTIONS' || req.method === 'GET_PARAMETER' || req.method === 'SET_PARAMETER'
    const status = ok ? '200 OK' : '501 Not Implemented'
    const cseq = req.cseq !== undefined ? `CSeq: ${req.cseq}\r\n` : ''
    socket.write(`RTSP/1.0 ${status}\r\n${cseq}\r\n`)
  }

  #startTimers(session: RtspSessionHeader): void {
    const interval = this.#keepAliveIntervalMs ?? Math.max(1000, (session.timeout * 1000) / 2)
    this.#keepAliveTimer = setInterval(() => this.#keepAlive(), interval)
    if (this.#noDataTimeoutMs > 0) {
      const tick = Math.max(50, Math.min(1000, this.#noDataTimeoutMs / 4))
      this.#watchdogTimer = setInterval(() => {
        // Natively assembled packets reach JavaScript per frame, not per packet: their bytes count.
        const a = this.#assembled
        if (a && a.assembly.counters[FrameCounter.bytes] !== a.watchedBytes) {
          a.watchedBytes = a.assembly.counters[FrameCounter.bytes]!
          this.#lastDataAt = Date.now()
        }
        const idle = Date.now() - this.#lastDataAt
        if (idle > this.#noDataTimeoutMs) {
          if (this.#udp.length > 0 && !this.#udpReceived) this.#failWithTeardown(this.#udpNoDataError(idle))
          else this.#fail(new RtspNoDataError(`${this.url}: no media data for ${idle} ms`))
        }
      }, tick)
    }
  }

  #stopTimers(): void {
    clearInterval(this.#keepAliveTimer)
    clearInterval(this.#watchdogTimer)
    clearTimeout(this.#udpFirstDataTimer)
    clearInterval(this.#rtcpTimer)
    this.#udpFirstDataTimer = undefined
    this.#rtcpTimer = undefined
    this.#keepAliveTimer = undefined
    this.#watchdogTimer = undefined
  }

  #keepAlive(): void {
    if (this.#keepAliveInFlight || this.#state !== 'playing') return
    this.#keepAliveInFlight = true
    const method = this.#keepAliveMethod
    const url = this.#sdp?.url ?? this.url
    this.request(method, url)
      .then((res) => {
        this.#stats.keepAlives++
        if (res.status === 454) this.#fail(new RtspStatusError(method, res.status, res.statusText, url))
        else if (method === 'GET_PARAMETER' && (res.status === 405 || res.status === 501)) this.#keepAliveMethod = 'OPTIONS'
      })
      .catch((err: Error) => this.#fail(err))
      .finally(() => {
        this.#keepAliveInFlight = false
      })
  }

  // --- SETUP per transport ------------------------------------------------------------------------

  #applySession(res: RtspResponse, url: string): void {
    const sessionHeader = res.headers.get('session')
    if (sessionHeader) {
      const parsed = parseSessionHeader(sessionHeader)
      if (this.#session && this.#session.id !== parsed.id) {
        throw new RtspProtocolError(`SETUP ${url}: server changed session id`)
      }
      this.#session = parsed
    } else if (!this.#session) {
      throw new RtspProtocolError(`SETUP ${url}: response has no Session header`)
    }
  }

  #tcpTrack(index: number, media: SdpMedia, url: string, res: RtspResponse): RtspTrack {
    const transport = parseTransportHeader(res.headers.get('transport') ?? '')
    if (!transport.interleaved) {
      throw new RtspProtocolError(`SETUP ${url}: server did not accept TCP interleaved transport`)
    }
    // The server may pick other channels than we asked for; its answer is what it will use.
    const track: RtspTrack = {
      index,
      media,
      url,
      transport: 'tcp',
      rtpChannel: transport.interleaved[0],
      rtcpChannel: transport.interleaved[1],
    }
    if (transport.ssrc !== undefined) track.ssrc = transport.ssrc
    return track
  }

  async #setupTcp(index: number, media: SdpMedia, url: string, channel: number): Promise<RtspTrack> {
    const res = await this.request('SETUP', url, { Transport: `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1}` })
    this.#expectOk('SETUP', res, url)
    this.#applySession(res, url)
    return this.#tcpTrack(index, media, url, res)
  }

  async #setupUdp(index: number, media: SdpMedia, url: string, channel: number): Promise<RtspTrack> {
    // Connected first: the camera's address decides the socket family and what we accept.
    const socket = await this.#ensureConnected()
    const peer = normalizeAddress(socket.remoteAddress ?? this.#target.host)
    const family = net.isIPv6(peer) ? 'udp6' : 'udp4'
    const bound = await bindPortPair(family, this.#udpPortRange)
    let keep = false
    try {
      const [rtpPort, rtcpPort] = bound.ports
      const res = await this.request('SETUP', url, { Transport: `RTP/AVP;unicast;client_port=${rtpPort}-${rtcpPort}` })
      if (res.status === 461) return await this.#setupTcp(index, media, url, channel)
      this.#expectOk('SETUP', res, url)
      this.#applySession(res, url)
      const transport = parseTransportHeader(res.headers.get('transport') ?? '')
      // A server that answers a UDP request with interleaved channels gets what it chose.
      if (transport.interleaved) return this.#tcpTrack(index, media, url, res)
      if (/\/TCP$/i.test(transport.protocol) || transport.params['multicast'] !== undefined) {
        throw new RtspProtocolError(`SETUP ${url}: server answered an unusable transport ${transport.protocol}`)
      }
      const sourceParam = transport.params['source']
      // Under an address policy RTCP goes only to the address that was checked and connected to:
      // a Transport source naming another address (loopback, another host) is not followed.
      const named = sourceParam && net.isIP(normalizeAddress(sourceParam)) ? normalizeAddress(sourceParam) : undefined
      const source = named !== undefined && (this.#connectGuard === undefined || named === peer) ? named : peer
      const track: RtspTrack = { index, media, url, transport: 'udp', rtpChannel: -1, rtcpChannel: -1, clientPorts: bound.ports, source }
      if (transport.serverPort) track.serverPorts = transport.serverPort
      if (transport.ssrc !== undefined) track.ssrc = transport.ssrc
      const pair: UdpPair = { track: index, rtp: bound.rtp, rtcp: bound.rtcp, ports: bound.ports, peer: source }
      if (transport.serverPort) pair.peerPorts = transport.serverPort
      pair.rtp.on('message', (msg, rinfo) => this.#onDatagram(pair, false, msg, rinfo))
      pair.rtcp.on('message', (msg, rinfo) => this.#onDatagram(pair, true, msg, rinfo))
      this.#udp.push(pair)
      keep = true
      return track
    } finally {
      if (!keep) closeQuietly(bound.rtp, bound.rtcp)
    }
  }

  // --- UDP ----------------------------------------------------------------------------------------

  #onDatagram(pair: UdpPair, rtcp: boolean, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#state === 'closed') return
    const port = pair.peerPorts?.[rtcp ? 1 : 0]
    if (normalizeAddress(rinfo.address) !== pair.peer || (port !== undefined && rinfo.port !== port)) {
      this.#stats.udpIgnored++
      return
    }
    this.#udpReceived = true
    this.#lastDataAt = Date.now()
    this.#stats.bytes += msg.length
    this.#onMedia(pair.track, rtcp, msg)
  }

  #startUdp(): void {
    if (this.#udp.length === 0) return
    // Opens NAT/firewall state towards the camera's ports (some cameras wait for a first
    // packet): a header-only RTP packet and an empty receiver report, as ffmpeg does.
    const punch = Buffer.alloc(12)
    punch[0] = 0x80
    for (const pair of this.#udp) {
      if (!pair.peerPorts) continue
      this.#sendUdp(pair.rtp, punch, pair.peerPorts[0], pair.peer, false)
      this.#sendUdp(pair.rtcp, this.#compoundRr(pair.track), pair.peerPorts[1], pair.peer)
    }
    this.#rtcpTimer = setInterval(() => this.#sendReceiverReports(), this.#rtcpIntervalMs)
    if (this.#udpFirstDataTimeoutMs > 0) {
      this.#udpFirstDataTimer = setTimeout(() => {
        if (!this.#udpReceived) this.#failWithTeardown(this.#udpNoDataError(this.#udpFirstDataTimeoutMs))
      }, this.#udpFirstDataTimeoutMs)
    }
  }

  #udpNoDataError(ms: number): RtspUdpUnavailableError {
    const ports = this.#udp.map((u) => `${u.ports[0]}-${u.ports[1]}`).join(', ')
    return new RtspUdpUnavailableError(
      `${this.url}: nothing received over UDP (client ports ${ports}) within ${ms} ms after PLAY; a firewall may drop it, use TCP`,
      'no-data',
    )
  }

  #sendUdp(socket: dgram.Socket, buf: Buffer, port: number, address: string, rtcp = true): void {
    try {
      socket.send(buf, port, address)
      if (rtcp) this.#stats.rtcpSent++
    } catch {
      // Socket closed under us: close() is running.
    }
  }

  #sendReceiverReports(): void {
    if (this.#state !== 'playing') return
    for (const pair of this.#udp) {
      if (pair.peerPorts) this.#sendUdp(pair.rtcp, this.#compoundRr(pair.track), pair.peerPorts[1], pair.peer)
    }
  }

  /** RR (with a report block once the track's SSRC is known) + SDES CNAME: a valid compound packet. */
  #compoundRr(track: number): Buffer {
    const blocks: RtcpReportBlock[] = []
    const r = this.#receptionOf(track)
    if (r) {
      const expected = r.maxSeq - r.baseSeq + 1
      const lost = expected - r.received
      const expectedInterval = expected - r.expectedPrior
      const receivedInterval = r.received - r.receivedPrior
      const lostInterval = expectedInterval - receivedInterval
      r.expectedPrior = expected
      r.receivedPrior = r.received
      blocks.push({
        ssrc: r.ssrc,
        fractionLost: expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval)),
        cumulativeLost: Math.max(-0x800000, Math.min(0x7fffff, lost)),
        highestSequence: r.maxSeq >>> 0,
        jitter: Math.floor(r.jitter) >>> 0,
        lastSr: r.lastSr,
        delaySinceLastSr: r.lastSr === 0 ? 0 : Math.floor(((Date.now() - r.lastSrAt) * 65536) / 1000) >>> 0,
      })
    }
    return Buffer.concat([buildReceiverReport(this.ssrc, blocks), buildSdesCname(this.ssrc, cname)])
  }

  #noteRtp(track: number, packet: RtpPacket): void {
    let r = this.#reception.get(track)
    if (!r || r.ssrc !== packet.ssrc) {
      const unwrapper = new SequenceUnwrapper()
      const seq = unwrapper.unwrap(packet.sequenceNumber)
      const clockRate = this.#tracks.find((t) => t.index === track)?.media.clockRate ?? 90_000
      r = { ssrc: packet.ssrc, unwrapper, baseSeq: seq, maxSeq: seq, received: 0, expectedPrior: 0, receivedPrior: 0, clockRate, jitter: 0, lastTransit: undefined, lastSr: 0, lastSrAt: 0 }
      this.#reception.set(track, r)
    }
    const ext = r.unwrapper.unwrap(packet.sequenceNumber)
    if (ext > r.maxSeq) r.maxSeq = ext
    r.received++
    // Interarrival jitter (RFC 3550 A.8) in RTP timestamp units.
    const transit = Math.round((performance.now() * r.clockRate) / 1000) - packet.timestamp
    if (r.lastTransit !== undefined) {
      const d = Math.abs((transit - r.lastTransit) | 0)
      r.jitter += (d - r.jitter) / 16
    }
    r.lastTransit = transit
  }

  /** A track's reception figures, brought up to date from the native assembler's for its track. */
  #receptionOf(track: number): Reception | undefined {
    const a = this.#assembled
    if (a?.track === track && a.assembly.counters[FrameCounter.received]! > 0) {
      const c = a.assembly.counters
      const ssrc = c[FrameCounter.ssrc]!
      let r = this.#reception.get(track)
      if (!r || r.ssrc !== ssrc) {
        const clockRate = this.#tracks.find((t) => t.index === track)?.media.clockRate ?? 90_000
        r = { ssrc, unwrapper: new SequenceUnwrapper(), baseSeq: 0, maxSeq: 0, received: 0, expectedPrior: 0, receivedPrior: 0, clockRate, jitter: 0, lastTransit: undefined, lastSr: 0, lastSrAt: 0 }
        this.#reception.set(track, r)
      }
      r.baseSeq = c[FrameCounter.baseSeq]!
      r.maxSeq = c[FrameCounter.maxSeq]!
      r.received = c[FrameCounter.received]!
      r.jitter = c[FrameCounter.jitter]!
    }
    return this.#reception.get(track)
  }

  #noteRtcp(track: number, packets: RtcpPacket[]): void {
    const r = this.#receptionOf(track)
    if (!r) return
    for (const p of packets) {
      if (p.type === RtcpType.SR && 'ntpSeconds' in p && p.ssrc === r.ssrc) {
        r.lastSr = (((p.ntpSeconds & 0xffff) << 16) | (p.ntpFraction >>> 16)) >>> 0
        r.lastSrAt = Date.now()
      }
    }
  }

  #closeUdp(): void {
    const pairs = this.#udp
    this.#udp = []
    for (const pair of pairs) closeQuietly(pair.rtp, pair.rtcp)
  }
}

const cname = `sharpeyes-${randomInt(0, 0xffffffff).toString(16)}`

function buildBye(ssrc: number): Buffer {
  const buf = Buffer.alloc(8)
  buf[0] = 0x81
  buf[1] = RtcpType.BYE
  buf.writeUInt16BE(1, 2)
  buf.writeUInt32BE(ssrc >>> 0, 4)
  return buf
}

/** '::ffff:1.2.3.4' → '1.2.3.4', so a dual-stack socket's view compares with the RTSP peer's. */
function normalizeAddress(address: string): string {
  const a = address.trim().replace(/^\[|\]$/g, '')
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a.toLowerCase()
}

function closeQuietly(...sockets: dgram.Socket[]): void {
  for (const s of sockets) {
    try {
      s.close()
    } catch {
      // already closed
    }
  }
}

function bindSocket(type: 'udp4' | 'udp6', port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type })
    const onError = (err: Error): void => {
      closeQuietly(socket)
      reject(err)
    }
    socket.once('error', onError)
    socket.bind({ port, exclusive: true }, () => {
      socket.off('error', onError)
      // Errors on a bound unconnected socket (e.g. a send to a vanished host) must not crash us.
      socket.on('error', () => undefined)
      resolve(socket)
    })
  })
}

/** An even RTP port and the next odd one for RTCP, from `range` or ephemeral ports. */
async function bindPortPair(
  type: 'udp4' | 'udp6',
  range: [number, number] | undefined,
): Promise<{ rtp: dgram.Socket; rtcp: dgram.Socket; ports: [number, number] }> {
  const inUse = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
  const tryPair = async (port: number): Promise<{ rtp: dgram.Socket; rtcp: dgram.Socket; ports: [number, number] } | null> => {
    let rtp: dgram.Socket
    try {
      rtp = await bindSocket(type, port)
    } catch (err) {
      if (inUse(err)) return null
      throw err
    }
    const rtpPort = rtp.address().port
    if (rtpPort % 2 !== 0) {
      closeQuietly(rtp)
      return null
    }
    try {
      const rtcp = await bindSocket(type, rtpPort + 1)
      return { rtp, rtcp, ports: [rtpPort, rtpPort + 1] }
    } catch (err) {
      closeQuietly(rtp)
      if (inUse(err)) return null
      throw err
    }
  }
  try {
    if (range) {
      const first = range[0] + (range[0] % 2)
      const pairs = Math.floor((range[1] - first - 1) / 2) + 1
      if (pairs <= 0) throw new RangeError(`UDP port range ${range[0]}-${range[1]} holds no even/odd pair`)
      const offset = randomInt(0, pairs)
      for (let i = 0; i < pairs; i++) {
        const got = await tryPair(first + 2 * ((offset + i) % pairs))
        if (got) return got
      }
      throw new Error(`no free port pair in ${range[0]}-${range[1]}`)
    }
    for (let attempt = 0; attempt < 64; attempt++) {
      const got = await tryPair(0)
      if (got) return got
    }
    throw new Error('no free ephemeral port pair after 64 attempts')
  } catch (err) {
    throw new RtspUdpUnavailableError(`cannot bind an RTP/RTCP UDP port pair: ${(err as Error).message}`, 'bind', { cause: err })
  }
}
