/** One coded picture (all its slices) with the NAL units that travel with it (SPS, PPS, SEI…). */
export interface AccessUnit {
  /** NAL units without start codes, in decoding order. */
  nalus: Buffer[]
  /** RTP timestamp (90 kHz for video). */
  timestamp: number
  /** True when a decoder can start here (H.264 IDR; H.265 IRAP). */
  keyframe: boolean
}

export function accessUnitSize(au: Pick<AccessUnit, 'nalus'>): number {
  let n = 0
  for (const nal of au.nalus) n += nal.length
  return n
}
