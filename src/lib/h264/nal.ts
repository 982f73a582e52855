/** H.264 NAL unit types (ITU-T H.264 Table 7-1) and RTP payload structures (RFC 6184). */
export const H264NalType = {
  SLICE: 1,
  SLICE_DPA: 2,
  SLICE_DPB: 3,
  SLICE_DPC: 4,
  IDR: 5,
  SEI: 6,
  SPS: 7,
  PPS: 8,
  AUD: 9,
  END_OF_SEQUENCE: 10,
  END_OF_STREAM: 11,
  FILLER: 12,
  SPS_EXT: 13,
  PREFIX: 14,
  SUBSET_SPS: 15,
  SLICE_EXT: 20,
  /** RTP aggregation packets and fragmentation units (RFC 6184 §5.4). */
  STAP_A: 24,
  STAP_B: 25,
  MTAP16: 26,
  MTAP24: 27,
  FU_A: 28,
  FU_B: 29,
} as const

export function h264NalType(nal: Buffer): number {
  return (nal[0] ?? 0) & 0x1f
}

/** Video coding layer NAL (a slice of a picture). */
export function isH264Vcl(type: number): boolean {
  return type >= 1 && type <= 5
}

/**
 * An access unit is a keyframe when it holds an IDR slice: a decoder can start from it (given
 * SPS/PPS). Recovery-point SEI streams without IDR are not treated as keyframes.
 */
export function isH264Keyframe(nalus: readonly Buffer[]): boolean {
  return nalus.some((n) => h264NalType(n) === H264NalType.IDR)
}

/**
 * Whether the access unit holds its picture's first slice: its first slice has first_mb_in_slice
 * 0 (ue(v) coded, so the slice header's first bit is 1). One that does not lost its beginning,
 * e.g. a stream joined in the middle of a multi-slice frame.
 */
export function h264StartsPicture(nalus: readonly Buffer[]): boolean {
  for (const n of nalus) if (isH264Vcl(h264NalType(n))) return n.length >= 2 && (n[1]! & 0x80) !== 0
  return false
}

const START_CODE = Buffer.from([0, 0, 0, 1])

/** Splits an Annex B byte stream (00 00 01 / 00 00 00 01 start codes) into NAL units. */
export function splitAnnexB(stream: Buffer): Buffer[] {
  const out: Buffer[] = []
  let start = -1
  let i = 0
  while (i + 2 < stream.length) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1) {
      if (start >= 0) {
        let end = i
        while (end > start && stream[end - 1] === 0) end--
        if (end > start) out.push(stream.subarray(start, end))
      }
      i += 3
      start = i
    } else {
      i++
    }
  }
  if (start >= 0 && start < stream.length) out.push(stream.subarray(start))
  return out
}

/** Joins NAL units into an Annex B byte stream (what decoders and ffmpeg's `-f h264` read). */
export function joinAnnexB(nalus: readonly Buffer[]): Buffer {
  const parts: Buffer[] = []
  for (const n of nalus) parts.push(START_CODE, n)
  return Buffer.concat(parts)
}
