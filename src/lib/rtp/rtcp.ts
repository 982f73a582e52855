import { RtpParseError } from './errors.js'

export const RtcpType = {
  SR: 200,
  RR: 201,
  SDES: 202,
  BYE: 203,
  APP: 204,
  /** Transport-layer feedback (RFC 4585), e.g. generic NACK. */
  RTPFB: 205,
  /** Payload-specific feedback (RFC 4585/5104): PLI, FIR. */
  PSFB: 206,
} as const

export interface RtcpReportBlock {
  ssrc: number
  fractionLost: number
  cumulativeLost: number
  highestSequence: number
  jitter: number
  lastSr: number
  delaySinceLastSr: number
}

/** The sender-info fields of a sender report (RFC 3550 §6.4.1). */
export interface SenderInfo {
  ssrc: number
  /** NTP timestamp (seconds since 1900 and 32-bit binary fraction) of the instant `rtpTimestamp` stands for. */
  ntpSeconds: number
  ntpFraction: number
  rtpTimestamp: number
  /** Packets and payload octets sent since the start (both wrap at 2^32). */
  packetCount: number
  octetCount: number
}

export interface RtcpSenderReport extends SenderInfo {
  type: typeof RtcpType.SR
  reports: RtcpReportBlock[]
}

export interface RtcpReceiverReport {
  type: typeof RtcpType.RR
  ssrc: number
  reports: RtcpReportBlock[]
}

export interface RtcpBye {
  type: typeof RtcpType.BYE
  ssrcs: number[]
}

export interface RtcpFeedback {
  type: typeof RtcpType.PSFB | typeof RtcpType.RTPFB
  /** FMT field: 1 = PLI, 4 = FIR for PSFB; 1 = generic NACK for RTPFB. */
  format: number
  senderSsrc: number
  mediaSsrc: number
  fci: Buffer
}

export interface RtcpOther {
  type: number
  count: number
  body: Buffer
}

export type RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpBye | RtcpFeedback | RtcpOther

export function isSenderReport(p: RtcpPacket): p is RtcpSenderReport {
  return p.type === RtcpType.SR
}

function parseReportBlocks(buf: Buffer, offset: number, count: number): RtcpReportBlock[] {
  const blocks: RtcpReportBlock[] = []
  for (let i = 0; i < count; i++, offset += 24) {
    if (offset + 24 > buf.length) throw new RtpParseError('RTCP report block truncated')
    const lostRaw = buf.readUIntBE(offset + 5, 3)
    blocks.push({
      ssrc: buf.readUInt32BE(offset),
      fractionLost: buf[offset + 4]!,
      cumulativeLost: lostRaw & 0x800000 ? lostRaw - 0x1000000 : lostRaw,
      highestSequence: buf.readUInt32BE(offset + 8),
      jitter: buf.readUInt32BE(offset + 12),
      lastSr: buf.readUInt32BE(offset + 16),
      delaySinceLastSr: buf.readUInt32BE(offset + 20),
    })
  }
  return blocks
}

/** Parses a compound RTCP packet (RFC 3550 §6.1) into its individual packets. */
export function parseRtcp(buf: Buffer): RtcpPacket[] {
  const out: RtcpPacket[] = []
  let offset = 0
  while (offset + 4 <= buf.length) {
    const b0 = buf[offset]!
    if (b0 >> 6 !== 2) throw new RtpParseError(`unsupported RTCP version ${b0 >> 6}`)
    const count = b0 & 0x1f
    const type = buf[offset + 1]!
    const length = (buf.readUInt16BE(offset + 2) + 1) * 4
    if (offset + length > buf.length) throw new RtpParseError('RTCP packet length exceeds buffer')
    const pkt = buf.subarray(offset, offset + length)
    switch (type) {
      case RtcpType.SR: {
        if (pkt.length < 28) throw new RtpParseError('RTCP SR too short')
        out.push({
          type: RtcpType.SR,
          ssrc: pkt.readUInt32BE(4),
          ntpSeconds: pkt.readUInt32BE(8),
          ntpFraction: pkt.readUInt32BE(12),
          rtpTimestamp: pkt.readUInt32BE(16),
          packetCount: pkt.readUInt32BE(20),
          octetCount: pkt.readUInt32BE(24),
          reports: parseReportBlocks(pkt, 28, count),
        })
        break
      }
      case RtcpType.RR: {
        if (pkt.length < 8) throw new RtpParseError('RTCP RR too short')
        out.push({ type: RtcpType.RR, ssrc: pkt.readUInt32BE(4), reports: parseReportBlocks(pkt, 8, count) })
        break
      }
      case RtcpType.BYE: {
        const ssrcs: number[] = []
        for (let i = 0; i < count && 4 + i * 4 + 4 <= pkt.length; i++) ssrcs.push(pkt.readUInt32BE(4 + i * 4))
        out.push({ type: RtcpType.BYE, ssrcs })
        break
      }
      case RtcpType.PSFB:
      case RtcpType.RTPFB: {
        if (pkt.length < 12) throw new RtpParseError('RTCP feedback too short')
        out.push({
          type,
          format: count,
          senderSsrc: pkt.readUInt32BE(4),
          mediaSsrc: pkt.readUInt32BE(8),
          fci: pkt.subarray(12),
        })
        break
      }
      default:
        out.push({ type, count, body: pkt.subarray(4) })
    }
    offset += length
  }
  return out
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800

export function ntpToUnixMs(ntpSeconds: number, ntpFraction: number): number {
  return (ntpSeconds - NTP_UNIX_OFFSET_S) * 1000 + (ntpFraction / 0x1_0000_0000) * 1000
}

export function unixMsToNtp(ms: number): { ntpSeconds: number; ntpFraction: number } {
  const seconds = Math.floor(ms / 1000)
  const fraction = Math.round(((ms - seconds * 1000) / 1000) * 0x1_0000_0000)
  return { ntpSeconds: (seconds + NTP_UNIX_OFFSET_S) >>> 0, ntpFraction: Math.min(fraction, 0xffffffff) >>> 0 }
}

/**
 * Maps RTP timestamps of one stream to wall-clock time using its latest sender report, so
 * frames can be stamped with the camera's capture time (and several tracks lined up).
 */
export class RtpWallClock {
  #sr: { rtp: number; unixMs: number } | undefined
  constructor(readonly clockRate: number) {}

  update(sr: RtcpSenderReport): void {
    this.#sr = { rtp: sr.rtpTimestamp, unixMs: ntpToUnixMs(sr.ntpSeconds, sr.ntpFraction) }
  }

  get synchronized(): boolean {
    return this.#sr !== undefined
  }

  /** Wall-clock Unix milliseconds of `rtpTimestamp`, or undefined before the first SR. */
  toUnixMs(rtpTimestamp: number): number | undefined {
    if (!this.#sr) return undefined
    const delta = (rtpTimestamp - this.#sr.rtp) | 0
    return this.#sr.unixMs + (delta * 1000) / this.clockRate
  }
}

function header(format: number, type: number, lengthBytes: number): Buffer {
  const buf = Buffer.alloc(lengthBytes)
  buf[0] = 0x80 | (format & 0x1f)
  buf[1] = type
  buf.writeUInt16BE(lengthBytes / 4 - 1, 2)
  return buf
}

/** Picture Loss Indication (RFC 4585 §6.3.1): asks the sender for a new keyframe. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const buf = header(1, RtcpType.PSFB, 12)
  buf.writeUInt32BE(senderSsrc >>> 0, 4)
  buf.writeUInt32BE(mediaSsrc >>> 0, 8)
  return buf
}

/** Full Intra Request (RFC 5104 §4.3.1); `sequence` must change with every new request. */
export function buildFir(senderSsrc: number, mediaSsrc: number, sequence: number): Buffer {
  const buf = header(4, RtcpType.PSFB, 20)
  buf.writeUInt32BE(senderSsrc >>> 0, 4)
  // The media-source field is unused for FIR (RFC 5104 §4.3.1.2); the target is in the FCI.
  buf.writeUInt32BE(0, 8)
  buf.writeUInt32BE(mediaSsrc >>> 0, 12)
  buf[16] = sequence & 0xff
  return buf
}

/** An empty receiver report: the mandatory first packet of a compound RTCP packet we send. */
export function buildReceiverReport(senderSsrc: number, reports: RtcpReportBlock[] = []): Buffer {
  const buf = header(reports.length, RtcpType.RR, 8 + reports.length * 24)
  buf.writeUInt32BE(senderSsrc >>> 0, 4)
  writeReportBlocks(buf, 8, reports)
  return buf
}

function writeReportBlocks(buf: Buffer, offset: number, reports: readonly RtcpReportBlock[]): void {
  reports.forEach((r, i) => {
    const o = offset + i * 24
    buf.writeUInt32BE(r.ssrc >>> 0, o)
    buf[o + 4] = r.fractionLost & 0xff
    buf.writeUIntBE(r.cumulativeLost & 0xffffff, o + 5, 3)
    buf.writeUInt32BE(r.highestSequence >>> 0, o + 8)
    buf.writeUInt32BE(r.jitter >>> 0, o + 12)
    buf.writeUInt32BE(r.lastSr >>> 0, o + 16)
    buf.writeUInt32BE(r.delaySinceLastSr >>> 0, o + 20)
  })
}

/** A sender report (RFC 3550 §6.4.1): the mandatory first packet of an active sender's compound RTCP packet. */
export function buildSenderReport(info: SenderInfo, reports: readonly RtcpReportBlock[] = []): Buffer {
  const buf = header(reports.length, RtcpType.SR, 28 + reports.length * 24)
  buf.writeUInt32BE(info.ssrc >>> 0, 4)
  buf.writeUInt32BE(info.ntpSeconds >>> 0, 8)
  buf.writeUInt32BE(info.ntpFraction >>> 0, 12)
  buf.writeUInt32BE(info.rtpTimestamp >>> 0, 16)
  // counts beyond 2^32 wrap (RFC 3550 §6.4.1); `>>> 0` is exact modulo 2^32 up to 2^53
  buf.writeUInt32BE(info.packetCount >>> 0, 20)
  buf.writeUInt32BE(info.octetCount >>> 0, 24)
  writeReportBlocks(buf, 28, reports)
  return buf
}

/**
 * SDES with one chunk holding one CNAME item (RFC 3550 §6.5): the item list ends with at least one
 * null octet, padded to a 32-bit boundary. A CNAME is cut to at most 255 UTF-8 bytes (the item's
 * length octet), at a character boundary.
 */
export function buildSdesCname(ssrc: number, cname: string): Buffer {
  const utf8 = Buffer.from(cname, 'utf8')
  let cut = Math.min(utf8.length, 255)
  while (cut < utf8.length && cut > 0 && (utf8[cut]! & 0xc0) === 0x80) cut-- // not inside a character
  const text = utf8.subarray(0, cut)
  const chunk = 4 + 2 + text.length + 1 // SSRC, type + length, text, END
  const buf = header(1, RtcpType.SDES, 4 + Math.ceil(chunk / 4) * 4)
  buf.writeUInt32BE(ssrc >>> 0, 4)
  buf[8] = 1 // CNAME
  buf[9] = text.length
  text.copy(buf, 10)
  return buf
}
