import { RTP_HEADER_SIZE, type RtpPacket } from '../rtp/packet.js'
import type { AccessUnit } from './access-unit.js'
import { H264NalType, h264NalType } from './nal.js'

/** Where packetizers get the bytes of the payloads they build. */
export type PayloadAllocator = (length: number) => Buffer

const allocUnsafe: PayloadAllocator = (length) => Buffer.allocUnsafe(length)

/**
 * Splits an access unit's NAL units into RFC 6184 packetization-mode 1 payloads of at most
 * `maxPayloadSize` bytes: small consecutive NALs are aggregated into STAP-A, large ones are
 * fragmented into FU-A, the rest go as single NAL unit packets (the NAL unit itself, not a copy).
 * A fragmented NAL's payloads share one allocation from `alloc` (a relay passes a ByteArena's).
 */
export function packetizeH264(nalus: readonly Buffer[], maxPayloadSize: number, alloc: PayloadAllocator = allocUnsafe): Buffer[] {
  if (maxPayloadSize < 3) throw new RangeError('maxPayloadSize too small for FU-A')
  const out: Buffer[] = []
  let group: Buffer[] = []
  let groupSize = 1 // STAP-A header byte

  const flush = (): void => {
    if (group.length === 1) out.push(group[0]!)
    else if (group.length > 1) out.push(buildStapA(group, alloc))
    group = []
    groupSize = 1
  }

  for (const nal of nalus) {
    if (nal.length === 0) continue
    if (nal.length > maxPayloadSize) {
      flush()
      fragmentFuA(nal, maxPayloadSize, alloc, out)
      continue
    }
    if (groupSize + 2 + nal.length > maxPayloadSize) flush()
    // A lone NAL that fits goes unwrapped; it becomes a STAP-A only if another one joins it.
    if (group.length === 0 && 1 + 2 + nal.length > maxPayloadSize) {
      out.push(nal)
      continue
    }
    group.push(nal)
    groupSize += 2 + nal.length
  }
  flush()
  return out
}

function buildStapA(nalus: readonly Buffer[], alloc: PayloadAllocator): Buffer {
  let size = 1
  let nri = 0
  for (const n of nalus) {
    size += 2 + n.length
    nri = Math.max(nri, n[0]! & 0x60)
  }
  const out = alloc(size)
  // F is the OR of the aggregated F bits, NRI their maximum (RFC 6184 §5.7.1).
  const f = nalus.some((n) => (n[0]! & 0x80) !== 0) ? 0x80 : 0
  out[0] = f | nri | H264NalType.STAP_A
  let o = 1
  for (const n of nalus) {
    out.writeUInt16BE(n.length, o)
    n.copy(out, o + 2)
    o += 2 + n.length
  }
  return out
}

/** Appends the FU-A payloads of `nal` to `out`; all of them are cut from one allocation. */
function fragmentFuA(nal: Buffer, maxPayloadSize: number, alloc: PayloadAllocator, out: Buffer[]): void {
  const indicator = (nal[0]! & 0xe0) | H264NalType.FU_A
  const type = nal[0]! & 0x1f
  const chunk = maxPayloadSize - 2
  const count = Math.ceil((nal.length - 1) / chunk)
  const bytes = alloc(nal.length - 1 + 2 * count)
  let w = 0
  for (let o = 1; o < nal.length; o += chunk) {
    const end = Math.min(o + chunk, nal.length)
    bytes[w] = indicator
    bytes[w + 1] = (o === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type
    nal.copy(bytes, w + 2, o, end)
    out.push(bytes.subarray(w, w + 2 + end - o))
    w += 2 + end - o
  }
}

export interface VideoRtpPacketizerOptions {
  /** Largest serialized RTP packet (header included). Default 1200, safe for WebRTC over any MTU. */
  maxPacketSize?: number
  payloadType?: number
  ssrc?: number
  initialSequenceNumber?: number
  /** NAL types dropped before packetization. Default: the codec's filler data, pure padding. */
  dropNalTypes?: readonly number[]
}

export type H264RtpPacketizerOptions = VideoRtpPacketizerOptions

/**
 * Turns access units into RTP packets with continuous sequence numbers. The marker bit is set
 * only on the last packet of the access unit, even when a frame has several slices: browsers'
 * jitter buffers treat the marker as end-of-frame and would decode half a picture otherwise.
 */
export abstract class VideoRtpPacketizer {
  readonly maxPacketSize: number
  readonly payloadType: number
  readonly ssrc: number
  #seq: number
  readonly #drop: ReadonlySet<number>

  constructor(opts: VideoRtpPacketizerOptions, defaultDrop: readonly number[]) {
    this.maxPacketSize = opts.maxPacketSize ?? 1200
    if (this.maxPacketSize <= RTP_HEADER_SIZE + 3) throw new RangeError('maxPacketSize too small')
    this.payloadType = opts.payloadType ?? 96
    this.ssrc = (opts.ssrc ?? Math.floor(Math.random() * 0xffffffff)) >>> 0
    this.#seq = (opts.initialSequenceNumber ?? Math.floor(Math.random() * 0x10000)) & 0xffff
    this.#drop = new Set(opts.dropNalTypes ?? defaultDrop)
  }

  protected abstract nalType(nal: Buffer): number
  protected abstract payloads(nalus: readonly Buffer[], maxPayloadSize: number): Buffer[]

  /** Sequence number the next packet will carry. */
  get nextSequenceNumber(): number {
    return this.#seq
  }

  packetize(au: Pick<AccessUnit, 'nalus' | 'timestamp'>, timestamp = au.timestamp): RtpPacket[] {
    const nalus = au.nalus.filter((n) => !this.#drop.has(this.nalType(n)))
    const payloads = this.payloads(nalus, this.maxPacketSize - RTP_HEADER_SIZE)
    return payloads.map((payload, i) => {
      const packet: RtpPacket = {
        payloadType: this.payloadType,
        sequenceNumber: this.#seq,
        timestamp: timestamp >>> 0,
        ssrc: this.ssrc,
        marker: i === payloads.length - 1,
        csrc: [],
        payload,
        paddingLength: 0,
      }
      this.#seq = (this.#seq + 1) & 0xffff
      return packet
    })
  }
}

/** RFC 6184 packetization-mode 1 (STAP-A, FU-A) packetizer. */
export class H264RtpPacketizer extends VideoRtpPacketizer {
  constructor(opts: H264RtpPacketizerOptions = {}) {
    super(opts, [H264NalType.FILLER])
  }

  protected nalType(nal: Buffer): number {
    return h264NalType(nal)
  }

  protected payloads(nalus: readonly Buffer[], maxPayloadSize: number): Buffer[] {
    return packetizeH264(nalus, maxPayloadSize)
  }
}
