import { EventEmitter } from 'node:events'
import {
  ntpTime,
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
}

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
  rtcpRunning: boolean
  runRtcp(): Promise<void>
}
interface DtlsInternals {
  state: string
  srtp?: unknown
  sendRtp(payload: Buffer, header: RtpHeader): Promise<number>
}

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
  readonly #stats: SendPeerStats = { packetsSent: 0, bytesSent: 0, packetsLost: 0, fractionLost: 0, pli: 0, fir: 0, nack: 0 }
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

  /**
   * Sends one RTP packet (dropped silently until the peer is connected, and after close).
   * Fast path: werift's RTCRtpSender.sendRtp (header-extension rebuild, NTP clock and bandwidth
   * estimation per packet, none of which a send-only relay of one track uses) is bypassed; the
   * sender's state it keeps for RTCP sender reports and NACK retransmission (counters, RTP/NTP
   * timestamp pair, the 128-packet history) is kept here, and the packet goes straight to the
   * DTLS transport (werift's SRTP, AES-GCM when the viewer offers it). Werift's per-packet cipher
   * object was measured and kept: a per-session AES-CM key stream + HMAC pads cost as much CPU
   * per packet in node:crypto as a fresh AES-GCM cipher (bench/relay notes).
   */
  sendRtp(packet: OutgoingRtp): void {
    if (this.#closed || this.#state !== 'connected') return
    const s = this.#sender as unknown as SenderInternals
    const dtls = s.dtlsTransport
    if (!Array.isArray(s.rtpCache) || typeof dtls?.sendRtp !== 'function' || typeof s.runRtcp !== 'function') return this.#slowSend(packet)
    if (dtls.state !== 'connected' || !dtls.srtp) return
    const sequenceNumber = packet.sequenceNumber & 0xffff
    const timestamp = packet.timestamp >>> 0
    const header = new RtpHeader({ payloadType: packet.payloadType ?? this.video.payloadType, sequenceNumber, timestamp, marker: packet.marker, ssrc: s.ssrc })
    const rtp = new WeriftRtpPacket(header, packet.payload)
    s.rtpCache[sequenceNumber % RTP_HISTORY_SIZE] = rtp
    s.sequenceNumber = sequenceNumber
    s.timestamp = timestamp
    // The RTP/NTP pair of the sender reports: once per frame is plenty (reports go every 0.5–1.5 s).
    if (packet.marker || s.packetCount === 0) {
      s.ntpTimestamp = ntpTime()
      s.rtpTimestamp = timestamp
    }
    s.octetCount += packet.payload.length
    s.packetCount = (s.packetCount + 1) >>> 0
    if (s.headerBytesSent !== undefined) s.headerBytesSent += 12
    this.#stats.packetsSent++
    this.#stats.bytesSent += packet.payload.length
    dtls.sendRtp(packet.payload, header).catch(() => undefined)
    if (!s.rtcpRunning) s.runRtcp().catch(() => undefined)
  }

  /** Werift's own send path: used if its sender internals ever stop matching SenderInternals. */
  #slowSend(packet: OutgoingRtp): void {
    const header = new RtpHeader({ payloadType: packet.payloadType ?? this.video.payloadType, sequenceNumber: packet.sequenceNumber & 0xffff, timestamp: packet.timestamp >>> 0, marker: packet.marker })
    this.#stats.packetsSent++
    this.#stats.bytesSent += packet.payload.length
    this.#sender.sendRtp(new WeriftRtpPacket(header, packet.payload)).catch(() => undefined)
  }

  /**
   * Trickle ICE (WHEP PATCH, RFC 8840 SDP fragment): adds the viewer's candidates. Returns how many
   * were added. An ICE restart (new ufrag) is not supported and throws OfferError.
   */
  async addRemoteCandidates(sdpFrag: string): Promise<number> {
    if (this.#closed) return 0
    const lines = sdpFrag.split(/\r?\n/)
    const ufrag = lines.find((l) => l.startsWith('a=ice-ufrag:'))?.slice(12).trim()
    const remoteUfrag = /^a=ice-ufrag:(\S+)/m.exec(this.#pc.remoteDescription?.sdp ?? '')?.[1]
    if (ufrag && remoteUfrag && ufrag !== remoteUfrag) throw new OfferError('ICE restart is not supported; start a new session')
    let mid = /^a=mid:(\S+)/m.exec(this.#pc.remoteDescription?.sdp ?? '')?.[1] ?? '0'
    let added = 0
    for (const line of lines) {
      if (line.startsWith('a=mid:')) mid = line.slice(6).trim()
      if (!line.startsWith('a=candidate:')) continue
      await this.#pc.addIceCandidate({ candidate: line.slice(2).trim(), sdpMid: mid })
      added++
    }
    return added
  }

  /** Idempotent; resolves when the library has released its sockets. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closed = true
    this.#closing = (async () => {
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
      const count = (rtcp as unknown as { feedback: { count: number } }).feedback?.count
      if (count === 1) this.#stats.nack++
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
