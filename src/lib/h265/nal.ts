/** H.265 NAL unit types (ITU-T H.265 Table 7-1) and RTP payload structures (RFC 7798). */
export const H265NalType = {
  TRAIL_N: 0,
  TRAIL_R: 1,
  BLA_W_LP: 16,
  BLA_W_RADL: 17,
  BLA_N_LP: 18,
  IDR_W_RADL: 19,
  IDR_N_LP: 20,
  CRA_NUT: 21,
  VPS: 32,
  SPS: 33,
  PPS: 34,
  AUD: 35,
  EOS: 36,
  EOB: 37,
  FD: 38,
  SEI_PREFIX: 39,
  SEI_SUFFIX: 40,
  /** Aggregation packet, fragmentation unit, PACI (RFC 7798 §4.4). */
  AP: 48,
  FU: 49,
  PACI: 50,
} as const

export function h265NalType(nal: Buffer): number {
  return ((nal[0] ?? 0) >> 1) & 0x3f
}

export function isH265Vcl(type: number): boolean {
  return type <= 31
}

/** Intra random access point (BLA, IDR, CRA): a decoder can start there. */
export function isH265Irap(type: number): boolean {
  return type >= 16 && type <= 23
}

export function isH265Keyframe(nalus: readonly Buffer[]): boolean {
  return nalus.some((n) => isH265Irap(h265NalType(n)))
}

/**
 * Whether the access unit holds its picture's first slice segment (first_slice_segment_in_pic_flag,
 * the first bit after the 2-byte NAL header, set on its first one). See h264StartsPicture.
 */
export function h265StartsPicture(nalus: readonly Buffer[]): boolean {
  for (const n of nalus) if (isH265Vcl(h265NalType(n))) return n.length >= 3 && (n[2]! & 0x80) !== 0
  return false
}
