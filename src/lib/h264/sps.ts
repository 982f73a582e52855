import { BitReader, BitstreamError, removeEmulationPrevention } from './bit-reader.js'
import { H264NalType, h264NalType } from './nal.js'

export interface H264SpsInfo {
  profileIdc: number
  /** constraint_set0..5 flags byte, as it appears in profile-level-id. */
  constraintFlags: number
  levelIdc: number
  spsId: number
  chromaFormatIdc: number
  bitDepthLuma: number
  /** Display size after frame cropping. */
  width: number
  height: number
  frameMbsOnly: boolean
  /** From VUI timing info, when present (time_scale / (2 * num_units_in_tick)). */
  frameRate?: number
  sarWidth?: number
  sarHeight?: number
  /** RFC 6381 codec string, e.g. "avc1.42c01e". */
  codec: string
}

/** Profiles whose SPS carries chroma format, bit depth and scaling matrices (H.264 §7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135])

/** Table E-1 sample aspect ratios, indexed by aspect_ratio_idc. */
const SAR_TABLE: ReadonlyArray<readonly [number, number]> = [
  [0, 0], [1, 1], [12, 11], [10, 11], [16, 11], [40, 33], [24, 11], [20, 11], [32, 11],
  [80, 33], [18, 11], [15, 11], [64, 33], [160, 99], [4, 3], [3, 2], [2, 1],
]

function skipScalingList(r: BitReader, size: number): void {
  let last = 8
  let next = 8
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.readSE() + 256) % 256
    last = next === 0 ? last : next
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0')
}

/** Parses an H.264 sequence parameter set NAL unit (with its one-byte NAL header). */
export function parseH264Sps(nal: Buffer): H264SpsInfo {
  if (h264NalType(nal) !== H264NalType.SPS) throw new BitstreamError(`not an SPS: NAL type ${h264NalType(nal)}`)
  const r = new BitReader(removeEmulationPrevention(nal.subarray(1)))
  const profileIdc = r.readBits(8)
  const constraintFlags = r.readBits(8)
  const levelIdc = r.readBits(8)
  const spsId = r.readUE()
  if (spsId > 31) throw new BitstreamError(`invalid seq_parameter_set_id ${spsId}`)
  let chromaFormatIdc = 1
  let separateColourPlane = false
  let bitDepthLuma = 8
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.readUE()
    if (chromaFormatIdc > 3) throw new BitstreamError(`invalid chroma_format_idc ${chromaFormatIdc}`)
    if (chromaFormatIdc === 3) separateColourPlane = r.readBool()
    bitDepthLuma = r.readUE() + 8
    r.readUE() // bit_depth_chroma_minus8
    r.readBit() // qpprime_y_zero_transform_bypass_flag
    if (r.readBool()) {
      const lists = chromaFormatIdc !== 3 ? 8 : 12
      for (let i = 0; i < lists; i++) {
        if (r.readBool()) skipScalingList(r, i < 6 ? 16 : 64)
      }
    }
  }
  r.readUE() // log2_max_frame_num_minus4
  const pocType = r.readUE()
  if (pocType === 0) {
    r.readUE()
  } else if (pocType === 1) {
    r.readBit()
    r.readSE()
    r.readSE()
    const cycle = r.readUE()
    for (let i = 0; i < cycle; i++) r.readSE()
  } else if (pocType !== 2) {
    throw new BitstreamError(`invalid pic_order_cnt_type ${pocType}`)
  }
  r.readUE() // max_num_ref_frames
  r.readBit() // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.readUE() + 1
  const heightMapUnits = r.readUE() + 1
  const frameMbsOnly = r.readBool()
  if (!frameMbsOnly) r.readBit() // mb_adaptive_frame_field_flag
  r.readBit() // direct_8x8_inference_flag
  let cropLeft = 0
  let cropRight = 0
  let cropTop = 0
  let cropBottom = 0
  if (r.readBool()) {
    cropLeft = r.readUE()
    cropRight = r.readUE()
    cropTop = r.readUE()
    cropBottom = r.readUE()
  }
  // Crop offsets are in chroma sample units (§7.4.2.1.1): 2 luma samples for 4:2:0 horizontally
  // and vertically, doubled vertically again for field-coded streams.
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc
  const subWidthC = chromaFormatIdc === 3 ? 1 : 2
  const subHeightC = chromaFormatIdc === 1 ? 2 : 1
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (frameMbsOnly ? 1 : 2)
  const width = widthMbs * 16 - cropUnitX * (cropLeft + cropRight)
  const height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom)
  if (width <= 0 || height <= 0) throw new BitstreamError(`invalid SPS dimensions ${width}x${height}`)

  const info: H264SpsInfo = {
    profileIdc,
    constraintFlags,
    levelIdc,
    spsId,
    chromaFormatIdc,
    bitDepthLuma,
    width,
    height,
    frameMbsOnly,
    codec: `avc1.${hex2(profileIdc)}${hex2(constraintFlags)}${hex2(levelIdc)}`,
  }
  // VUI is optional and some encoders truncate it; the size above is what matters, so a short
  // VUI leaves frameRate/SAR undefined rather than failing the whole SPS.
  try {
    if (r.readBool()) parseVui(r, info)
  } catch (err) {
    if (!(err instanceof BitstreamError)) throw err
  }
  return info
}

function parseVui(r: BitReader, info: H264SpsInfo): void {
  if (r.readBool()) {
    const idc = r.readBits(8)
    if (idc === 255) {
      info.sarWidth = r.readBits(16)
      info.sarHeight = r.readBits(16)
    } else if (SAR_TABLE[idc]) {
      ;[info.sarWidth, info.sarHeight] = SAR_TABLE[idc]!
    }
  }
  if (r.readBool()) r.readBit() // overscan
  if (r.readBool()) {
    r.skipBits(4) // video_format, video_full_range_flag
    if (r.readBool()) r.skipBits(24) // colour primaries, transfer, matrix
  }
  if (r.readBool()) {
    r.readUE()
    r.readUE()
  }
  if (r.readBool()) {
    const unitsInTick = r.readBits(32)
    const timeScale = r.readBits(32)
    if (unitsInTick > 0 && timeScale > 0) info.frameRate = timeScale / (2 * unitsInTick)
  }
}

/** Reads pic_parameter_set_id and seq_parameter_set_id from a PPS NAL unit. */
export function parseH264PpsIds(nal: Buffer): { ppsId: number; spsId: number } {
  if (h264NalType(nal) !== H264NalType.PPS) throw new BitstreamError(`not a PPS: NAL type ${h264NalType(nal)}`)
  const r = new BitReader(removeEmulationPrevention(nal.subarray(1, 16)))
  return { ppsId: r.readUE(), spsId: r.readUE() }
}
