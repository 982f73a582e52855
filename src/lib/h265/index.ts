export { H265NalType, h265NalType, isH265Vcl, isH265Irap, isH265Keyframe, h265StartsPicture } from './nal.js'
export { parseH265Sps, parseH265PpsIds, type H265SpsInfo } from './sps.js'
export { H265Depacketizer, H265RtpPacketizer, packetizeH265 } from './rtp.js'
export { H265ParameterSets } from './parameter-sets.js'
