export { BitReader, BitstreamError, removeEmulationPrevention } from './bit-reader.js'
export { H264NalType, h264NalType, isH264Vcl, isH264Keyframe, h264StartsPicture, splitAnnexB, joinAnnexB } from './nal.js'
export { parseH264Sps, parseH264PpsIds, type H264SpsInfo } from './sps.js'
export { type AccessUnit, accessUnitSize } from './access-unit.js'
export {
  VideoDepacketizer,
  H264Depacketizer,
  type DepacketizerStats,
  type DepacketizerOptions,
  type PayloadResult,
} from './depacketizer.js'
export {
  packetizeH264,
  type PayloadAllocator,
  H264RtpPacketizer,
  VideoRtpPacketizer,
  type H264RtpPacketizerOptions,
  type VideoRtpPacketizerOptions,
} from './packetizer.js'
export { H264ParameterSets } from './parameter-sets.js'
