import { Socket as DgramSocket } from 'node:dgram'
import { EventEmitter } from 'node:events'
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtpHeader,
  RtpPacket as WeriftRtpPacket,
  MediaStreamTrack,
  type RTCRtpSender,
  type RTCRtpTransceiver,
  type RtcpPacket as WeriftRtcpPacket,
  useOPUS,
  usePCMU,
} from 'werift'
import { buildSdesCname, buildSenderReport, unixMsToNtp } from '../rtp/index.js'
import { SrtpSender, socketAddress, udpSocketFd } from '../srtp/index.js'

/**
 * The gateway's only contact with the WebRTC library (werift). Everything else speaks in terms of
 * this file: a send-only peer for one video track, created from a WHEP offer, fed RTP packets.
 * Swapping the library means rewriting this file only.
 */

export type SendVideoCodec = 'h264' | 'h265'

export interface IceServerConfig {
  urls: string | string[]
  username?: string
  credential?: string
}

export interface WebRtcIceOptions {
  /** Extra host candidate addresses to announce (e.g. 127.0.0.1, or a NAT's 1:1 address). */
  announcedAddresses?: string[]
  /** Local IPv4 address to bind the ICE sockets to (one interface); default: all. */
  bindAddress?: string
  /** STUN/TURN servers; default none (werift's own default is a public STUN server: never used). */
  iceServers?: IceServerConfig[]
  /** UDP port range [min, max] for ICE sockets (min < max). */
  portRange?: [number, number]
  /** Also gather IPv6 candidates. Default false. */
  ipv6?: boolean
}

/** The codec chosen from the offer. */
export interface NegotiatedVideo {
  codec: SendVideoCodec
  payloadType: number
  /** fmtp line of the chosen payload type as offered, e.g. `profile-level-id=42e01f;packetization-mode=1` */
  fmtp: string
  profileLevelId?: string
}

export class OfferError extends Error {
  override name = 'OfferError'
}

/** A trickled line that is not an ICE candidate (RFC 8839 grammar). */
export class CandidateSyntaxError extends Error {
  override name = 'CandidateSyntaxError'
}

interface OfferedCodec {
  payloadType: number
  encoding: string
  clockRate: number
  fmtp: Record<string, string>
  fmtpText: string
}

/** What the offer's first video section offers (payload types in preference order). */
export function offeredVideoCodecs(offerSdp: string): OfferedCodec[] {
  const lines = offerSdp.split(/\r?\n/)
  let inVideo = false
  let sawVideo = false
  const order: number[] = []
  const rtpmap = new Map<number, { encoding: string; clockRate: number }>()
  const fmtp = new Map<number, string>()
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (sawVideo) break
      inVideo = line.startsWith('m=video ')
      if (inVideo) {
        sawVideo = true
        for (const f of line.trim().split(/\s+/).slice(3)) if (/^\d+$/.test(f)) order.push(Number(f))
      }
      continue
    }
    if (!inVideo) continue
    let m = /^a=rtpmap:(\d+)\s+([^/\s]+)\/(\d+)/.exec(line)
    if (m) rtpmap.set(Number(m[1]), { encoding: m[2]!.toUpperCase(), clockRate: Number(m[3]) })
    m = /^a=fmtp:(\d+)\s+(.*)$/.exec(line)
    if (m) fmtp.set(Number(m[1]), m[2]!.trim())
  }
  return order.flatMap((pt) => {
    const map = rtpmap.get(pt)
    if (!map) return []
    const text = fmtp.get(pt) ?? ''
    const params: Record<string, string> = {}
    for (const kv of text.split(';')) {
      const eq = kv.indexOf('=')
      if (eq > 0) params[kv.slice(0, eq).trim().toLowerCase()] = kv.slice(eq + 1).trim()
    }
    return [{ payloadType: pt, encoding: map.encoding, clockRate: map.clockRate, fmtp: params, fmtpText: text }]
  })
}

/** Minimal structural check of an SDP offer; throws OfferError naming what is wrong. */
export function validateOffer(offerSdp: string): void {
  const text = offerSdp.trim()
  if (!text.startsWith('v=0')) throw new OfferError('is not an SDP offer (must start with v=0)')
  if (!/^o=/m.test(text)) throw new OfferError('SDP offer has no o= line')
  if (!/^m=video /m.test(text)) throw new OfferError('SDP offer has no video media section')
  if (!/^a=ice-ufrag:/m.test(text)) throw new OfferError('SDP offer has no ICE credentials (a=ice-ufrag)')
  if (!/^a=fingerprint:/m.test(text)) throw new OfferError('SDP offer has no DTLS fingerprint')
}

const profileIdc = (pli: string | undefined): number => (pli && /^[0-9a-f]{6}$/i.test(pli) ? parseInt(pli.slice(0, 2), 16) : 0)
/** Preference when the source's profile is unknown: High, Main, Baseline, then anything else. */
const PROFILE_RANK: Record<number, number> = { 100: 4, 77: 3, 66: 2 }
const profileRank = (pli: string | undefined): number => PROFILE_RANK[profileIdc(pli)] ?? 1

/**
 * Picks the video codec to answer with. H.264 must be packetization-mode=1; among those, the one
 * whose profile-level-id matches `h264ProfileLevelId` (the source's), else the highest profile
 * (a decoder that accepts High also decodes Baseline/Main streams), else the first.
 */
export function chooseVideoCodec(offerSdp: string, accept: readonly SendVideoCodec[], h264ProfileLevelId?: string): NegotiatedVideo | null {
  const offered = offeredVideoCodecs(offerSdp)
  for (const want of accept) {
    if (want === 'h265') {
      const c = offered.find((o) => (o.encoding === 'H265' || o.encoding === 'HEVC') && o.clockRate === 90000)
      if (c) return { codec: 'h265', payloadType: c.payloadType, fmtp: c.fmtpText }
      continue
    }
    const h264 = offered.filter((o) => o.encoding === 'H264' && o.clockRate === 90000 && o.fmtp['packetization-mode'] === '1')
    if (!h264.length) continue
    const wantPli = h264ProfileLevelId?.toLowerCase()
    const exact = wantPli ? h264.find((o) => o.fmtp['profile-level-id']?.toLowerCase() === wantPli) : undefined
    const sameProfile = wantPli ? h264.find((o) => profileIdc(o.fmtp['profile-level-id']) === profileIdc(wantPli)) : undefined
    const best = exact ?? sameProfile ?? [...h264].sort((a, b) => profileRank(b.fmtp['profile-level-id']) - profileRank(a.fmtp['profile-level-id']))[0]!
    return { codec: 'h264', payloadType: best.payloadType, fmtp: best.fmtpText, profileLevelId: best.fmtp['profile-level-id'] }
  }
  return null
}

/**
 * Keeps only the chosen payload type in the first video section, so the library answers with
 * exactly that one (werift matches codecs by MIME type only and would keep every H.264 variant).
 */
function restrictVideoSection(offerSdp: string, payloadType: number): string {
  const eol = offerSdp.includes('\r\n') ? '\r\n' : '\n'
  const lines = offerSdp.split(/\r?\n/)
  const out: string[] = []
  let section: 'none' | 'video' | 'other' = 'none'
  let videoDone = false
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (section === 'video') videoDone = true
      section = line.startsWith('m=video ') && !videoDone ? 'video' : 'other'
      if (section === 'video') {
        const parts = line.trim().split(/\s+/)
        out.push([...parts.slice(0, 3), String(payloadType)].join(' '))
        continue
      }
    }
    if (section === 'video') {
      const m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+)\b/.exec(line)
      if (m && Number(m[2]) !== payloadType) continue
    }
    out.push(line)
  }
  return out.join(eol)
}

export interface SendPeerOptions {
  offerSdp: string
  video: NegotiatedVideo
  ice?: WebRtcIceOptions
  /** Longest wait for ICE gathering before answering with what was gathered. Default 3 s. */
  gatherTimeoutMs?: number
  /** Protect and send through the native SRTP module when it is built (default true); false: werift's SRTP. */
  nativeSrtp?: boolean
}

export type PeerState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed'

export interface SendPeerStats {
  packetsSent: number
  bytesSent: number
  /** Cumulative loss the viewer reported in RTCP receiver reports. */
  packetsLost: number
  fractionLost: number
  pli: number
  fir: number
  nack: number
  /** Packets sent again on the viewer's NACK (native path; werift counts its own). */
  retransmitted: number
  /** RTCP sender reports sent by the native path (werift's own loop, on the JavaScript path, isn't counted). */
  senderReports: number
  /** Trickled candidates werift refused after the PATCH was answered. */
  candidatesFailed: number
}

/**
 * 'native': protected and sent by the native module on the pair's UDP socket; 'native-protect':
 * protected natively, sent through werift's ICE (a TURN relay); 'javascript': werift's SRTP (the
 * native module isn't built); 'pending': nothing sent yet.
 */
export type SrtpPath = 'pending' | 'native' | 'native-protect' | 'javascript'

/**
 * Who sends this peer's RTCP sender reports: 'native' (built in #sendBatch, with a frame, and
 * protected by the native module), 'werift' (werift's RTCRtpSender.runRtcp loop, the JavaScript
 * path), 'none' yet.
 */
export type SenderReportSource = 'none' | 'native' | 'werift'

export interface SendPeerEvents {
  state: [PeerState]
  /** The viewer asked for a keyframe (PLI or FIR). */
  keyframeRequest: [kind: 'pli' | 'fir']
}

/** Fields of an RTP packet the peer sends; SSRC is the peer's own. */
export interface OutgoingRtp {
  payloadType?: number
  sequenceNumber: number
  timestamp: number
  marker: boolean
  payload: Buffer
}

const RTP_HISTORY_SIZE = 128 // werift's RTCRtpSender NACK history (rtpCache index = seq % 128)

/**
 * Mean time between RTCP sender reports on the native path; each interval is drawn from 0.5–1.5 ×
 * this (RFC 3550 §6.3.1's randomisation, so receivers' reports don't synchronise), as werift's
 * own runRtcp loop does.
 */
const SENDER_REPORT_INTERVAL_MS = 1000
const nextSenderReportDelay = (): number => SENDER_REPORT_INTERVAL_MS * (0.5 + Math.random())

/** The parts of werift's RTCRtpSender / RTCDtlsTransport the fast send path touches. */
interface SenderInternals {
  ssrc: number
  dtlsTransport: DtlsInternals
  rtpCache: WeriftRtpPacket[]
  sequenceNumber?: number
  timestamp?: number
  ntpTimestamp: bigint
  rtpTimestamp: number
  octetCount: number
  packetCount: number
  headerBytesSent?: number
  /** The CNAME werift puts in its SDES (from the transceiver's RTCP parameters). */
  cname?: string
  /** Compact NTP (middle 32 bits) of the last SR, and its send time in Unix seconds: werift's RR handler measures RTT with them. */
  lastSRtimestamp?: number
  lastSentSRTimestamp?: number
  rtcpRunning: boolean
  runRtcp(): Promise<void>
}
interface DtlsInternals {
  state: string
  srtp?: unknown
  sendRtp(payload: Buffer, header: RtpHeader): Promise<number>
  bytesSent?: number
  packetsSent?: number
  iceTransport?: { connection?: IceConnectionInternals }
}
/** werift's ICE connection and nominated candidate pair, as the native send path reads them. */
interface IceConnectionInternals {
  nominated?: NominatedPairInternals
  canSendApplicationData?(): boolean
  send(data: Buffer): Promise<void>
}
interface NominatedPairInternals {
  protocol?: { type?: string; transport?: { closed?: boolean; socket?: unknown } }
  remoteAddr?: unknown
  packetsSent?: number
  bytesSent?: number
}
interface NativeRoute {
  fd: number
  address: Buffer
  /** werift's UdpTransport: once closed, its fd number may belong to another socket. */
  transport: { closed?: boolean }
}
interface NativeSendState {
  srtp: SrtpSender
  /** werift's SrtpSession the keys came from: a new one (DTLS re-keyed) means a new context. */
  keyedFrom: unknown
  history: SentHistory
  route: NativeRoute | undefined
  routePair: NominatedPairInternals | undefined
}

const EMPTY = Buffer.alloc(0)

/** The last packets sent, for NACK retransmission: 512 (a keyframe is often 100–400 packets). */
class SentHistory {
  static readonly SIZE = 512
  readonly #seq = new Int32Array(SentHistory.SIZE).fill(-1)
  readonly #timestamp = new Uint32Array(SentHistory.SIZE)
  readonly #flags = new Uint8Array(SentHistory.SIZE)
  readonly #payload: Buffer[] = new Array<Buffer>(SentHistory.SIZE).fill(EMPTY)

  put(seq: number, timestamp: number, marker: boolean, payloadType: number, payload: Buffer): void {
    const i = seq % SentHistory.SIZE
    this.#seq[i] = seq
    this.#timestamp[i] = timestamp
    this.#flags[i] = (marker ? 0x80 : 0) | payloadType
    this.#payload[i] = payload
  }

  get(seq: number): { timestamp: number; marker: boolean; payloadType: number; payload: Buffer } | undefined {
    const i = seq % SentHistory.SIZE
    if (this.#seq[i] !== seq) return undefined
    return { timestamp: this.#timestamp[i]!, marker: (this.#flags[i]! & 0x80) !== 0, payloadType: this.#flags[i]! & 0x7f, payload: this.#payload[i]! }
  }
}

/** The nominated pair, if application data may go on it now (RFC 7675: not once consent has expired). */
function sendablePair(conn: IceConnectionInternals): NominatedPairInternals | undefined {
  if (typeof conn.canSendApplicationData === 'function' && !conn.canSendApplicationData()) return undefined
  return conn.nominated
}

/** The socket went away under us (ICE closing or re-binding): werift's ICE sends from here on. */
function dropRoute(native: NativeSendState): void {
  native.route = undefined
  native.routePair = undefined
}

/** The counters werift's DTLS transport and (on a route of our own) candidate pair keep for what they send. */
function countSent(dtls: DtlsInternals, pair: NominatedPairInternals | undefined, packets: number, octets: number): void {
  dtls.bytesSent = (dtls.bytesSent ?? 0) + octets
  dtls.packetsSent = (dtls.packetsSent ?? 0) + packets
  if (pair) {
    pair.packetsSent = (pair.packetsSent ?? 0) + packets
    pair.bytesSent = (pair.bytesSent ?? 0) + octets
  }
}

function writeRtpHeader(buf: Buffer, payloadType: number, sequenceNumber: number, timestamp: number, marker: boolean, ssrc: number): void {
  buf[0] = 0x80
  buf[1] = (marker ? 0x80 : 0) | payloadType
  buf.writeUInt16BE(sequenceNumber, 2)
  buf.writeUInt32BE(timestamp >>> 0, 4)
  buf.writeUInt32BE(ssrc >>> 0, 8)
}

/**
 * RFC 8839 candidate-attribute: foundation, component, transport, priority, address, port, typ and
 * type, then extensions. The address may be an IP or an FQDN (a browser's mDNS name).
 */
const CANDIDATE_LINE = /^candidate:[A-Za-z0-9+/]{1,32} \d{1,3} [A-Za-z]+ \d{1,10} [A-Za-z0-9.:_%-]+ \d{1,5} typ [a-z]+( .*)?$/

const RTCP_PSFB = 206
const RTCP_RR = 201
const RTCP_SR = 200

/**
 * A send-only WebRTC peer carrying one video track. Created with `WebRtcSendPeer.answer(…)`,
 * which returns once ICE gathering is complete (non-trickle WHEP).
 */
export class WebRtcSendPeer extends EventEmitter<SendPeerEvents> {
  readonly video: NegotiatedVideo
  readonly #pc: RTCPeerConnection
  readonly #sender: RTCRtpSender
  #state: PeerState = 'new'
  #closed = false
  #closing: Promise<void> | undefined
  readonly #stats: SendPeerStats = { packetsSent: 0, bytesSent: 0, packetsLost: 0, fractionLost: 0, pli: 0, fir: 0, nack: 0, retransmitted: 0, senderReports: 0, candidatesFailed: 0 }
  #answer = ''

  private constructor(pc: RTCPeerConnection, sender: RTCRtpSender, video: NegotiatedVideo) {
    super()
    this.#pc = pc
    this.#sender = sender
    this.video = video
  }

  static async answer(opts: SendPeerOptions): Promise<WebRtcSendPeer> {
    validateOffer(opts.offerSdp)
    const ice = opts.ice ?? {}
    const video = opts.video
    const mimeType = video.codec === 'h265' ? 'video/H265' : 'video/H264'
    const pc = new RTCPeerConnection({
      codecs: {
        video: [
          new RTCRtpCodecParameters({
            mimeType,
            clockRate: 90000,
            payloadType: video.payloadType,
            rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
            parameters: video.fmtp,
          }),
        ],
        audio: [useOPUS(), usePCMU()],
      },
      iceServers: (ice.iceServers ?? []).map((s) => ({ ...s })),
      iceAdditionalHostAddresses: ice.announcedAddresses?.length ? [...ice.announcedAddresses] : undefined,
      iceInterfaceAddresses: ice.bindAddress ? { udp4: ice.bindAddress } : undefined,
      icePortRange: ice.portRange && ice.portRange[0] > 0 && ice.portRange[1] > ice.portRange[0] ? ice.portRange : undefined,
      iceUseIpv4: true,
      iceUseIpv6: ice.ipv6 ?? false,
    })
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: restrictVideoSection(opts.offerSdp, video.payloadType) })
      const transceiver: RTCRtpTransceiver | undefined = pc.getTransceivers().find((t) => t.kind === 'video')
      if (!transceiver) throw new OfferError('SDP offer has no video media section')
      transceiver.setDirection('sendonly')
      for (const t of pc.getTransceivers()) if (t !== transceiver) t.setDirection('inactive')
      const track = new MediaStreamTrack({ kind: 'video' })
      await transceiver.sender.replaceTrack(track)
      const peer = new WebRtcSendPeer(pc, transceiver.sender, video)
      if (opts.nativeSrtp === false) peer.#native = null
      peer.#wire()
      const answer = await pc.createAnswer()
      await pc.setLocalDescription(answer)
      await peer.#gathered(opts.gatherTimeoutMs ?? 3000)
      peer.#answer = pc.localDescription?.sdp ?? answer.sdp
      return peer
    } catch (err) {
      await pc.close().catch(() => undefined)
      if (err instanceof OfferError) throw err
      throw new OfferError(`SDP offer could not be negotiated: ${(err as Error).message}`)
    }
  }

  /** The answer SDP, with every gathered candidate. */
  get answerSdp(): string {
    return this.#answer
  }

  get state(): PeerState {
    return this.#state
  }

  get stats(): Readonly<SendPeerStats> {
    return this.#stats
  }

  /** How this peer protects and sends RTP: decided with the first packet after DTLS completes. */
  get srtpPath(): SrtpPath {
    return this.#native === undefined ? 'pending' : this.#native === null ? 'javascript' : this.#native.route ? 'native' : 'native-protect'
  }

  /** Who sends the RTCP sender reports: the native path, werift's loop (JavaScript path), or nobody yet. */
  get senderReportSource(): SenderReportSource {
    if ((this.#sender as unknown as Partial<SenderInternals>).rtcpRunning) return 'werift'
    return this.#stats.senderReports > 0 ? 'native' : 'none'
  }

  /**
   * Round-trip time to the viewer in ms, smoothed, as werift measures it from the viewer's receiver
   * reports (LSR/DLSR against the last sender report); undefined before the first measurement.
   */
  get roundTripTimeMs(): number | undefined {
    const rtt = (this.#sender as unknown as { rtt?: unknown }).rtt
    return typeof rtt === 'number' ? rtt * 1000 : undefined
  }

  /** Sends one RTP packet (dropped silently until the peer is connected, and after close). */
  sendRtp(packet: OutgoingRtp): void {
    this.#single[0] = packet.payload
    this.#sendBatch(packet.sequenceNumber, packet.timestamp, this.#single, packet.marker, packet.payloadType ?? this.video.payloadType)
    this.#single[0] = EMPTY
  }

  /**
   * Sends one frame: a packet per payload, consecutive sequence numbers from `firstSequenceNumber`,
   * one timestamp, the marker on the last. Dropped silently until connected, and after close.
   */
  sendFrame(firstSequenceNumber: number, timestamp: number, payloads: readonly Buffer[], payloadType = this.video.payloadType): void {
    this.#sendBatch(firstSequenceNumber, timestamp, payloads, true, payloadType)
  }

  readonly #single: Buffer[] = [EMPTY]
  #ntpAt = 0
  /** When the native path's next sender report is due (Date.now() ms); undefined before its first frame. */
  #srDueAt: number | undefined
  #sdes: { ssrc: number; cname: string; bytes: Buffer } | undefined

  /**
   * werift's RTCRtpSender.sendRtp (header-extension rebuild, NTP clock and bandwidth estimation per
   * packet, none of which a send-only relay of one track uses) is bypassed; the sender state it
   * keeps for RTCP sender reports (counters, RTP/NTP timestamp pair) is kept here. Packets are then
   * protected and sent by the native SRTP module (src/lib/srtp) when it is built: one OpenSSL
   * context per viewer and one sendmmsg per frame, and the sender reports ride on frames (see
   * #sendSenderReport). Without it, by werift's DTLS transport (a new node:crypto cipher per
   * packet, a send per packet), and werift's runRtcp loop sends the reports.
   */
  #sendBatch(firstSequenceNumber: number, timestamp: number, payloads: readonly Buffer[], markerOnLast: boolean, payloadType: number): void {
    if (this.#closed || this.#state !== 'connected' || payloads.length === 0) return
    const s = this.#sender as unknown as SenderInternals
    const dtls = s.dtlsTransport
    if (!Array.isArray(s.rtpCache) || typeof dtls?.sendRtp !== 'function' || typeof s.runRtcp !== 'function') {
      for (let i = 0; i < payloads.length; i++) this.#slowSend(firstSequenceNumber + i, timestamp, payloads[i]!, markerOnLast && i === payloads.length - 1, payloadType)
      return
    }
    if (dtls.state !== 'connected' || !dtls.srtp) return
    timestamp >>>= 0
    const last = (firstSequenceNumber + payloads.length - 1) & 0xffff
    let octets = 0
    for (let i = 0; i < payloads.length; i++) octets += payloads[i]!.length
    const native = this.#nativeFor(dtls)
    const now = Date.now()
    // werift's loop (JavaScript path) reports the RTP/NTP pair kept here, sent every 0.5–1.5 s:
    // both of one instant, taken at most every 250 ms. werift's own ntpTime() cost half as much per
    // frame as protecting and sending the frame, and reads the fraction's decimal digits as the
    // 32-bit binary fraction. The native path takes the pair when it sends a report.
    if (!native && (s.packetCount === 0 || (markerOnLast && now - this.#ntpAt >= 250))) {
      const ntp = unixMsToNtp(now)
      s.ntpTimestamp = (BigInt(ntp.ntpSeconds) << 32n) | BigInt(ntp.ntpFraction)
      s.rtpTimestamp = timestamp
      this.#ntpAt = now
    }
    s.sequenceNumber = last
    s.timestamp = timestamp
    s.octetCount += octets
    s.packetCount = (s.packetCount + payloads.length) >>> 0
    if (s.headerBytesSent !== undefined) s.headerBytesSent += 12 * payloads.length
    this.#stats.packetsSent += payloads.length
    this.#stats.bytesSent += octets

    if (!native) {
      // Only here: on the native path werift's loop must never run, as its reports would be
      // protected with the same SRTCP keys and SSRC as the native ones, under colliding indexes.
      if (!s.rtcpRunning) s.runRtcp().catch(() => undefined)
      for (let i = 0; i < payloads.length; i++) {
        const sequenceNumber = (firstSequenceNumber + i) & 0xffff
        const header = new RtpHeader({ payloadType, sequenceNumber, timestamp, marker: markerOnLast && i === payloads.length - 1, ssrc: s.ssrc })
        // werift's NACK handler retransmits from this history
        s.rtpCache[sequenceNumber % RTP_HISTORY_SIZE] = new WeriftRtpPacket(header, payloads[i]!)
        dtls.sendRtp(payloads[i]!, header).catch(() => undefined)
      }
      return
    }
    for (let i = 0; i < payloads.length; i++) native.history.put((firstSequenceNumber + i) & 0xffff, timestamp, markerOnLast && i === payloads.length - 1, payloadType, payloads[i]!)
    this.#nativeSend(native, dtls, { payloadType, ssrc: s.ssrc, firstSequenceNumber: firstSequenceNumber & 0xffff, timestamp, markerOnLast }, payloads, octets)
    // After a frame's last packet, so the report's counts hold whole frames; the first report one
    // interval after the first packet, as werift's loop.
    if (this.#srDueAt === undefined) this.#srDueAt = now + nextSenderReportDelay()
    else if (markerOnLast && now >= this.#srDueAt) this.#sendSenderReport(native, dtls, s, now, timestamp)
  }

  /**
   * The native path's RTCP sender report (RFC 3550 §6.4.1), sent right after the frame whose RTP
   * timestamp it carries, with that frame's send time as its NTP time and the counts up to and
   * including it; then SDES with werift's CNAME, as werift's runRtcp loop sends them. No timer of its
   * own: reports ride on frames (a stalled source sends no RTP, and then needs no report either).
   * Protected natively and sent on the same route as the RTP.
   */
  #sendSenderReport(native: NativeSendState, dtls: DtlsInternals, s: SenderInternals, now: number, rtpTimestamp: number): void {
    this.#srDueAt = now + nextSenderReportDelay()
    const { ntpSeconds, ntpFraction } = unixMsToNtp(now)
    const sr = buildSenderReport({ ssrc: s.ssrc, ntpSeconds, ntpFraction, rtpTimestamp, packetCount: s.packetCount, octetCount: s.octetCount })
    const rtcp = s.cname ? Buffer.concat([sr, this.#sdesFor(s.ssrc, s.cname)]) : sr
    // What werift's loop keeps: the report's pair, and for the RTT its RR handler measures from a
    // receiver report's LSR/DLSR, the SR's compact NTP time and when it went.
    s.ntpTimestamp = (BigInt(ntpSeconds) << 32n) | BigInt(ntpFraction)
    s.rtpTimestamp = rtpTimestamp
    s.lastSRtimestamp = (((ntpSeconds & 0xffff) << 16) | (ntpFraction >>> 16)) >>> 0
    s.lastSentSRTimestamp = now / 1000
    if (this.#nativeSendRtcp(native, dtls, rtcp)) this.#stats.senderReports++
  }

  /** The SDES CNAME packet: the same bytes every report, built once. */
  #sdesFor(ssrc: number, cname: string): Buffer {
    if (this.#sdes?.ssrc !== ssrc || this.#sdes.cname !== cname) this.#sdes = { ssrc, cname, bytes: buildSdesCname(ssrc, cname) }
    return this.#sdes.bytes
  }

  /** `payloadOctets`: the payloads' total length, which the caller has already summed. */
  #nativeSend(native: NativeSendState, dtls: DtlsInternals, packet: { payloadType: number; ssrc: number; firstSequenceNumber: number; timestamp: number; markerOnLast: boolean }, payloads: readonly Buffer[], payloadOctets: number): void {
    const conn = dtls.iceTransport?.connection
    const pair = conn && sendablePair(conn)
    if (!pair) return
    const route = this.#routeFor(native, pair)
    if (route?.transport.closed) return
    const overhead = 12 + native.srtp.tagLength
    const octets = payloadOctets + payloads.length * overhead
    if (route) {
      const sent = native.srtp.sendRtp(route.fd, route.address, packet, payloads)
      if (sent < 0) return dropRoute(native)
    } else {
      // Not a plain UDP pair (TURN relay): protected here, framed and sent by werift's ICE.
      for (let i = 0; i < payloads.length; i++) {
        const rtp = Buffer.allocUnsafe(12 + payloads[i]!.length)
        writeRtpHeader(rtp, packet.payloadType, (packet.firstSequenceNumber + i) & 0xffff, packet.timestamp, packet.markerOnLast && i === payloads.length - 1, packet.ssrc)
        payloads[i]!.copy(rtp, 12)
        conn.send(native.srtp.protect(rtp)).catch(() => undefined)
      }
    }
    countSent(dtls, route ? pair : undefined, payloads.length, octets)
  }

  /** One compound RTCP packet as SRTCP on the RTP's route (#nativeSend's). False: not sent (or dropped). */
  #nativeSendRtcp(native: NativeSendState, dtls: DtlsInternals, rtcp: Buffer): boolean {
    const conn = dtls.iceTransport?.connection
    const pair = conn && sendablePair(conn)
    if (!pair) return false
    const route = this.#routeFor(native, pair)
    if (route?.transport.closed) return false
    const octets = rtcp.length + native.srtp.rtcpOverhead
    if (route) {
      const sent = native.srtp.sendRtcp(route.fd, route.address, rtcp)
      if (sent < 0) dropRoute(native)
      if (sent <= 0) return false // 0: the socket buffer was full, dropped as UDP would (the next report has newer numbers)
    } else {
      conn.send(native.srtp.protectRtcp(rtcp)).catch(() => undefined)
    }
    // werift's DTLS transport counts its SRTCP packets with the SRTP ones
    countSent(dtls, route ? pair : undefined, 1, octets)
    return true
  }

  /** The native sender for the DTLS transport's current SRTP keys; null: JavaScript path. */
  #nativeFor(dtls: DtlsInternals): NativeSendState | null {
    const current = this.#native
    if (current === null) return null
    if (current && current.keyedFrom === dtls.srtp) return current
    // First packet, or DTLS re-keyed: a new context (a new rollover counter too, as werift does).
    current?.srtp.close()
    const config = (dtls.srtp as { config?: { profile?: number; keys?: { localMasterKey?: Buffer; localMasterSalt?: Buffer } } }).config
    const key = config?.keys?.localMasterKey
    const salt = config?.keys?.localMasterSalt
    let srtp: SrtpSender | null = null
    try {
      srtp = config?.profile !== undefined && key && salt ? SrtpSender.create(config.profile, key, salt) : null
    } catch {
      srtp = null
    }
    this.#native = srtp ? { srtp, keyedFrom: dtls.srtp, history: current?.history ?? new SentHistory(), route: undefined, routePair: undefined } : null
    return this.#native
  }

  /** A plain UDP candidate pair's socket and remote address; undefined for TURN or unknown shapes. */
  #routeFor(native: NativeSendState, pair: NominatedPairInternals): NativeRoute | undefined {
    if (native.routePair === pair) return native.route
    native.routePair = pair
    native.route = undefined
    const protocol = pair.protocol
    const remote = pair.remoteAddr
    if (protocol?.type !== 'stun' || !Array.isArray(remote) || typeof remote[0] !== 'string' || typeof remote[1] !== 'number') return undefined
    const transport = protocol.transport
    if (!transport || transport.closed || !(transport.socket instanceof DgramSocket)) return undefined
    const fd = udpSocketFd(transport.socket)
    const address = fd === undefined ? null : socketAddress(remote[0], remote[1])
    if (fd === undefined || !address) return undefined
    native.route = { fd, address, transport }
    return native.route
  }

  /** NACKed packets still in the history go again, byte for byte (same index, same keystream). */
  #retransmit(lost: readonly number[]): void {
    const native = this.#native
    if (!native || this.#closed || this.#state !== 'connected') return
    const s = this.#sender as unknown as SenderInternals
    const dtls = s.dtlsTransport
    if (dtls?.state !== 'connected' || dtls.srtp !== native.keyedFrom) return
    for (const seq of lost) {
      const p = native.history.get(seq & 0xffff)
      if (!p) continue
      this.#single[0] = p.payload
      this.#nativeSend(native, dtls, { payloadType: p.payloadType, ssrc: s.ssrc, firstSequenceNumber: seq & 0xffff, timestamp: p.timestamp, markerOnLast: p.marker }, this.#single, p.payload.length)
      this.#single[0] = EMPTY
      this.#stats.retransmitted++
    }
  }

  #native: NativeSendState | null | undefined

  /** Werift's own send path: used if its sender internals ever stop matching SenderInternals. */
  #slowSend(sequenceNumber: number, timestamp: number, payload: Buffer, marker: boolean, payloadType: number): void {
    const header = new RtpHeader({ payloadType, sequenceNumber: sequenceNumber & 0xffff, timestamp: timestamp >>> 0, marker })
    this.#stats.packetsSent++
    this.#stats.bytesSent += payload.length
    this.#sender.sendRtp(new WeriftRtpPacket(header, payload)).catch(() => undefined)
  }

  /**
   * Trickle ICE (WHEP PATCH, RFC 8840 SDP fragment): checks the fragment and hands the viewer's
   * candidates to werift; returns at once how many it took. An ICE restart (new ufrag) is not
   * supported (OfferError); a line that is not a candidate's grammar is refused (CandidateSyntaxError).
   *
   * Not awaited: werift resolves a candidate named by mDNS (`<uuid>.local`, what browsers announce
   * by default) with a multicast lookup that waits 10 s when nobody answers, as for a browser on
   * another link; a PATCH that waited for it was answered 10 s late while the tile was long live
   * (issue 26). Each candidate is applied on its own, so one such name delays no other candidate;
   * the viewer's checks reach us anyway (peer-reflexive). A candidate werift refuses later is
   * counted in stats.candidatesFailed.
   */
  addRemoteCandidates(sdpFrag: string): number {
    if (this.#closed) return 0
    const lines = sdpFrag.split(/\r?\n/)
    const ufrag = lines.find((l) => l.startsWith('a=ice-ufrag:'))?.slice(12).trim()
    const remoteUfrag = /^a=ice-ufrag:(\S+)/m.exec(this.#pc.remoteDescription?.sdp ?? '')?.[1]
    if (ufrag && remoteUfrag && ufrag !== remoteUfrag) throw new OfferError('ICE restart is not supported; start a new session')
    let mid = /^a=mid:(\S+)/m.exec(this.#pc.remoteDescription?.sdp ?? '')?.[1] ?? '0'
    const candidates: { candidate: string; sdpMid: string }[] = []
    for (const line of lines) {
      if (line.startsWith('a=mid:')) mid = line.slice(6).trim()
      if (!line.startsWith('a=candidate:')) continue
      const candidate = line.slice(2).trim()
      if (!CANDIDATE_LINE.test(candidate)) throw new CandidateSyntaxError(`not an ICE candidate: ${candidate.slice(0, 80)}`)
      candidates.push({ candidate, sdpMid: mid })
    }
    for (const c of candidates) {
      this.#candidatesPending++
      this.#pc
        .addIceCandidate(c)
        .catch(() => {
          if (!this.#closed) this.#stats.candidatesFailed++
        })
        .finally(() => this.#candidatesPending--)
    }
    return candidates.length
  }

  /** Trickled candidates werift is still applying (an mDNS name being looked up). */
  get pendingRemoteCandidates(): number {
    return this.#closed ? 0 : this.#candidatesPending
  }

  #candidatesPending = 0

  /** Idempotent; resolves when the library has released its sockets. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closed = true
    this.#closing = (async () => {
      this.#native?.srtp.close()
      try {
        await this.#pc.close()
      } catch {
        // already torn down
      }
      this.#setState('closed')
      this.removeAllListeners()
    })()
    return this.#closing
  }

  #setState(state: PeerState): void {
    if (this.#state === state || this.#state === 'closed') return
    this.#state = state
    this.emit('state', state)
  }

  #wire(): void {
    this.#pc.connectionStateChange.subscribe((s) => {
      if (this.#closed) return
      this.#setState(s)
    })
    this.#sender.onRtcp.subscribe((rtcp: WeriftRtcpPacket) => this.#onRtcp(rtcp))
  }

  #onRtcp(rtcp: WeriftRtcpPacket): void {
    if (this.#closed) return
    const type = (rtcp as { type?: number }).type
    if (type === RTCP_RR || type === RTCP_SR) {
      const reports = (rtcp as unknown as { reports: { ssrc: number; packetsLost: number; fractionLost: number }[] }).reports ?? []
      for (const r of reports) {
        if (r.ssrc !== this.#sender.ssrc) continue
        this.#stats.packetsLost = r.packetsLost
        this.#stats.fractionLost = r.fractionLost / 256
      }
    } else if (type === RTCP_PSFB) {
      const count = (rtcp as unknown as { feedback: { count: number } }).feedback?.count
      if (count === 1) {
        this.#stats.pli++
        this.emit('keyframeRequest', 'pli')
      } else if (count === 4) {
        this.#stats.fir++
        this.emit('keyframeRequest', 'fir')
      }
    } else if (type === 205) {
      const feedback = (rtcp as unknown as { feedback?: { count?: number; lost?: number[] } }).feedback
      if (feedback?.count === 1) {
        this.#stats.nack++
        if (Array.isArray(feedback.lost)) this.#retransmit(feedback.lost)
      }
    }
  }

  #gathered(timeoutMs: number): Promise<void> {
    if (this.#pc.iceGatheringState === 'complete') return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      const sub = this.#pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') done()
      })
      function done(): void {
        clearTimeout(timer)
        sub.unSubscribe()
        resolve()
      }
    })
  }
}
