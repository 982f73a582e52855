import { RtpParseError } from './errors.js'

export const RTP_HEADER_SIZE = 12

export interface RtpHeaderExtension {
  /** The 16-bit "defined by profile" field (0xBEDE for RFC 8285 one-byte headers). */
  profile: number
  /** Extension body, a multiple of 4 bytes. */
  data: Buffer
}

export interface RtpPacket {
  payloadType: number
  sequenceNumber: number
  timestamp: number
  ssrc: number
  marker: boolean
  csrc: number[]
  extension?: RtpHeaderExtension
  /** Payload without header and padding. A view on the parsed buffer, not a copy. */
  payload: Buffer
  /** Number of padding bytes the packet carried (0 if none). Serialization writes it back. */
  paddingLength: number
}

/** Parses one RTP packet (RFC 3550 §5.1). The payload is a view on `buf`. */
export function parseRtpPacket(buf: Buffer): RtpPacket {
  if (buf.length < RTP_HEADER_SIZE) throw new RtpParseError(`RTP packet too short: ${buf.length} bytes`)
  const b0 = buf[0]!
  const b1 = buf[1]!
  const version = b0 >> 6
  if (version !== 2) throw new RtpParseError(`unsupported RTP version ${version}`)
  const hasPadding = (b0 & 0x20) !== 0
  const hasExtension = (b0 & 0x10) !== 0
  const csrcCount = b0 & 0x0f
  let offset = RTP_HEADER_SIZE
  const csrc: number[] = []
  if (buf.length < offset + csrcCount * 4) throw new RtpParseError('RTP packet truncated in CSRC list')
  for (let i = 0; i < csrcCount; i++) {
    csrc.push(buf.readUInt32BE(offset))
    offset += 4
  }
  let extension: RtpHeaderExtension | undefined
  if (hasExtension) {
    if (buf.length < offset + 4) throw new RtpParseError('RTP packet truncated in header extension')
    const profile = buf.readUInt16BE(offset)
    const words = buf.readUInt16BE(offset + 2)
    offset += 4
    if (buf.length < offset + words * 4) throw new RtpParseError('RTP header extension longer than packet')
    extension = { profile, data: buf.subarray(offset, offset + words * 4) }
    offset += words * 4
  }
  let end = buf.length
  let paddingLength = 0
  if (hasPadding) {
    paddingLength = buf[buf.length - 1]!
    if (paddingLength === 0 || offset + paddingLength > buf.length) {
      throw new RtpParseError(`invalid RTP padding length ${paddingLength}`)
    }
    end -= paddingLength
  }
  const packet: RtpPacket = {
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    sequenceNumber: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrc,
    payload: buf.subarray(offset, end),
    paddingLength,
  }
  if (extension) packet.extension = extension
  return packet
}

/** Size in bytes of the serialized header (fixed part, CSRCs and extension). */
export function rtpHeaderSize(packet: Pick<RtpPacket, 'csrc' | 'extension'>): number {
  return RTP_HEADER_SIZE + packet.csrc.length * 4 + (packet.extension ? 4 + packet.extension.data.length : 0)
}

export function serializeRtpPacket(packet: RtpPacket): Buffer {
  if (packet.csrc.length > 15) throw new RangeError('at most 15 CSRCs')
  if (packet.extension && packet.extension.data.length % 4 !== 0) {
    throw new RangeError('RTP header extension length must be a multiple of 4')
  }
  if (packet.paddingLength < 0 || packet.paddingLength > 255) throw new RangeError('padding must be 0..255')
  const headerSize = rtpHeaderSize(packet)
  const out = Buffer.allocUnsafe(headerSize + packet.payload.length + packet.paddingLength)
  out[0] =
    0x80 | (packet.paddingLength > 0 ? 0x20 : 0) | (packet.extension ? 0x10 : 0) | packet.csrc.length
  out[1] = (packet.marker ? 0x80 : 0) | (packet.payloadType & 0x7f)
  out.writeUInt16BE(packet.sequenceNumber & 0xffff, 2)
  out.writeUInt32BE(packet.timestamp >>> 0, 4)
  out.writeUInt32BE(packet.ssrc >>> 0, 8)
  let offset = RTP_HEADER_SIZE
  for (const c of packet.csrc) {
    out.writeUInt32BE(c >>> 0, offset)
    offset += 4
  }
  if (packet.extension) {
    out.writeUInt16BE(packet.extension.profile, offset)
    out.writeUInt16BE(packet.extension.data.length / 4, offset + 2)
    packet.extension.data.copy(out, offset + 4)
    offset += 4 + packet.extension.data.length
  }
  packet.payload.copy(out, offset)
  offset += packet.payload.length
  if (packet.paddingLength > 0) {
    out.fill(0, offset, out.length - 1)
    out[out.length - 1] = packet.paddingLength
  }
  return out
}
