import { BitReader, BitstreamError, removeEmulationPrevention } from '../h264/bit-reader.js'
import { H265NalType, h265NalType } from './nal.js'

export interface H265SpsInfo {
  vpsId: number
  spsId: number
  profileSpace: number
  tierFlag: boolean
  profileIdc: number
  /** general_level_idc: 30 × level (level 5.1 → 153). */
  levelIdc: number
  chromaFormatIdc: number
  bitDepthLuma: number
  /** Display size after the conformance window. */
  width: number
  height: number
  /** ISO/IEC 14496-15 codec string, e.g. "hvc1.1.6.L120.90". */
  codec: string
}

function reverseBits32(v: number): number {
  let r = 0
  for (let i = 0; i < 32; i++) {
    r = (r * 2) | 0
    r += (v >>> i) & 1
  }
  return r >>> 0
}

/** Parses an H.265 sequence parameter set NAL unit (with its two-byte NAL header). */
export function parseH265Sps(nal: Buffer): H265SpsInfo {
  if (h265NalType(nal) !== H265NalType.SPS) throw new BitstreamError(`not an H.265 SPS: NAL type ${h265NalType(nal)}`)
  const r = new BitReader(removeEmulationPrevention(nal.subarray(2)))
  const vpsId = r.readBits(4)
  const maxSubLayersMinus1 = r.readBits(3)
  r.readBit() // sps_temporal_id_nesting_flag
  // profile_tier_level(1, sps_max_sub_layers_minus1), §7.3.3
  const profileSpace = r.readBits(2)
  const tierFlag = r.readBool()
  const profileIdc = r.readBits(5)
  const compatibility = r.readBits(32)
  const constraints: number[] = []
  for (let i = 0; i < 6; i++) constraints.push(r.readBits(8))
  const levelIdc = r.readBits(8)
  const subProfile: boolean[] = []
  const subLevel: boolean[] = []
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.readBool())
    subLevel.push(r.readBool())
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skipBits(2)
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) r.skipBits(88)
    if (subLevel[i]) r.skipBits(8)
  }
  const spsId = r.readUE()
  if (spsId > 15) throw new BitstreamError(`invalid sps_seq_parameter_set_id ${spsId}`)
  const chromaFormatIdc = r.readUE()
  if (chromaFormatIdc > 3) throw new BitstreamError(`invalid chroma_format_idc ${chromaFormatIdc}`)
  const separateColourPlane = chromaFormatIdc === 3 ? r.readBool() : false
  let width = r.readUE()
  let height = r.readUE()
  if (r.readBool()) {
    const left = r.readUE()
    const right = r.readUE()
    const top = r.readUE()
    const bottom = r.readUE()
    // Offsets are in chroma sample units (§7.4.3.2.1).
    const chroma = separateColourPlane ? 0 : chromaFormatIdc
    const subWidthC = chroma === 1 || chroma === 2 ? 2 : 1
    const subHeightC = chroma === 1 ? 2 : 1
    width -= subWidthC * (left + right)
    height -= subHeightC * (top + bottom)
  }
  if (width <= 0 || height <= 0) throw new BitstreamError(`invalid SPS dimensions ${width}x${height}`)
  const bitDepthLuma = r.readUE() + 8

  let constraintBytes = constraints.slice()
  while (constraintBytes.length > 0 && constraintBytes.at(-1) === 0) constraintBytes = constraintBytes.slice(0, -1)
  const codec = [
    'hvc1',
    `${['', 'A', 'B', 'C'][profileSpace]}${profileIdc}`,
    reverseBits32(compatibility).toString(16),
    `${tierFlag ? 'H' : 'L'}${levelIdc}`,
    ...constraintBytes.map((b) => b.toString(16)),
  ].join('.')
  return { vpsId, spsId, profileSpace, tierFlag, profileIdc, levelIdc, chromaFormatIdc, bitDepthLuma, width, height, codec }
}

/** pps_pic_parameter_set_id and pps_seq_parameter_set_id of a PPS NAL unit. */
export function parseH265PpsIds(nal: Buffer): { ppsId: number; spsId: number } {
  if (h265NalType(nal) !== H265NalType.PPS) throw new BitstreamError(`not an H.265 PPS: NAL type ${h265NalType(nal)}`)
  const r = new BitReader(removeEmulationPrevention(nal.subarray(2, 16)))
  return { ppsId: r.readUE(), spsId: r.readUE() }
}
