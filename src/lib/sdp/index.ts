export { parseSdp, parseFmtp, resolveControlUrl, SdpParseError, type ParseSdpOptions } from './parse.js'
export { buildSdp } from './build.js'
export type {
  SessionDescription,
  SdpMedia,
  SdpAttribute,
  SdpOrigin,
  SdpRtpMap,
  SdpDirection,
  H264SdpParameters,
  H265SdpParameters,
} from './types.js'
