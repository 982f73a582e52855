import { VideoDepacketizer, type PayloadResult } from '../h264/depacketizer.js'
import { VideoRtpPacketizer, type PayloadAllocator, type VideoRtpPacketizerOptions } from '../h264/packetizer.js'
import { H265NalType, h265NalType, h265StartsPicture, isH265Keyframe } from './nal.js'

/**
 * RFC 7798 depacketizer: single NAL unit packets, aggregation packets (AP) and fragmentation
 * units (FU). Assumes sprop-max-don-diff = 0 (no DONL fields), as every camera we know sends.
 */
export class H265Depacketizer extends VideoDepacketizer {
  protected decodePayload(payload: Buffer): PayloadResult {
    if (payload.length < 3) return { broken: true }
    const type = (payload[0]! >> 1) & 0x3f
    if (type < H265NalType.AP) {
      const interrupted = this.interruptsFragment()
      if (interrupted) return interrupted
      return { nalus: [payload] }
    }
    if (type === H265NalType.AP) {
      const interrupted = this.interruptsFragment()
      if (interrupted) return interrupted
      const nalus: Buffer[] = []
      let o = 2
      while (o + 2 <= payload.length) {
        const size = payload.readUInt16BE(o)
        o += 2
        if (size < 2 || o + size > payload.length) return { broken: true }
        nalus.push(payload.subarray(o, o + size))
        o += size
      }
      return { nalus }
    }
    if (type === H265NalType.FU) {
      const fu = payload[2]!
      return this.fragment((fu & 0x80) !== 0, (fu & 0x40) !== 0, () => Buffer.of((payload[0]! & 0x81) | ((fu & 0x3f) << 1), payload[1]!), payload.subarray(3))
    }
    return { unsupported: true }
  }

  protected isKeyframe(nalus: readonly Buffer[]): boolean {
    return isH265Keyframe(nalus)
  }

  protected startsPicture(nalus: readonly Buffer[]): boolean {
    return h265StartsPicture(nalus)
  }
}

function layerId(nal: Buffer): number {
  return ((nal[0]! & 1) << 5) | (nal[1]! >> 3)
}

function buildAp(nalus: readonly Buffer[], alloc: PayloadAllocator): Buffer {
  let size = 2
  let f = 0
  let lid = 63
  let tid = 7
  for (const n of nalus) {
    size += 2 + n.length
    f |= n[0]! & 0x80
    lid = Math.min(lid, layerId(n))
    tid = Math.min(tid, n[1]! & 7)
  }
  const out = alloc(size)
  // F is the OR, LayerId and TID the lowest of the aggregated units (RFC 7798 §4.4.2).
  out[0] = f | (H265NalType.AP << 1) | (lid >> 5)
  out[1] = ((lid & 0x1f) << 3) | tid
  let o = 2
  for (const n of nalus) {
    out.writeUInt16BE(n.length, o)
    n.copy(out, o + 2)
    o += 2 + n.length
  }
  return out
}

/** Appends the FU payloads of `nal` to `out`; all of them are cut from one allocation. */
function fragment(nal: Buffer, maxPayloadSize: number, alloc: PayloadAllocator, out: Buffer[]): void {
  const h0 = (nal[0]! & 0x81) | (H265NalType.FU << 1)
  const h1 = nal[1]!
  const type = h265NalType(nal)
  const chunk = maxPayloadSize - 3
  const count = Math.ceil((nal.length - 2) / chunk)
  const bytes = alloc(nal.length - 2 + 3 * count)
  let w = 0
  for (let o = 2; o < nal.length; o += chunk) {
    const end = Math.min(o + chunk, nal.length)
    bytes[w] = h0
    bytes[w + 1] = h1
    bytes[w + 2] = (o === 2 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type
    nal.copy(bytes, w + 3, o, end)
    out.push(bytes.subarray(w, w + 3 + end - o))
    w += 3 + end - o
  }
}

/**
 * RFC 7798 payloads of at most maxPayloadSize: AP for runs of small NALs, FU for large ones. A
 * fragmented NAL's payloads share one allocation from `alloc` (a relay passes a ByteArena's).
 */
export function packetizeH265(nalus: readonly Buffer[], maxPayloadSize: number, alloc: PayloadAllocator = (length) => Buffer.allocUnsafe(length)): Buffer[] {
  if (maxPayloadSize < 4) throw new RangeError('maxPayloadSize too small for FU')
  const out: Buffer[] = []
  let group: Buffer[] = []
  let groupSize = 2
  const flush = (): void => {
    if (group.length === 1) out.push(group[0]!)
    else if (group.length > 1) out.push(buildAp(group, alloc))
    group = []
    groupSize = 2
  }
  for (const nal of nalus) {
    if (nal.length < 2) continue
    if (nal.length > maxPayloadSize) {
      flush()
      fragment(nal, maxPayloadSize, alloc, out)
      continue
    }
    if (groupSize + 2 + nal.length > maxPayloadSize) flush()
    if (group.length === 0 && 2 + 2 + nal.length > maxPayloadSize) {
      out.push(nal)
      continue
    }
    group.push(nal)
    groupSize += 2 + nal.length
  }
  flush()
  return out
}

export class H265RtpPacketizer extends VideoRtpPacketizer {
  constructor(opts: VideoRtpPacketizerOptions = {}) {
    super(opts, [H265NalType.FD])
  }

  protected nalType(nal: Buffer): number {
    return h265NalType(nal)
  }

  protected payloads(nalus: readonly Buffer[], maxPayloadSize: number): Buffer[] {
    return packetizeH265(nalus, maxPayloadSize)
  }
}
