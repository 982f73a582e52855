export { RtpParseError } from './errors.js'
export {
  RTP_HEADER_SIZE,
  parseRtpPacket,
  serializeRtpPacket,
  rtpHeaderSize,
  type RtpPacket,
  type RtpHeaderExtension,
} from './packet.js'
export { seqDiff, seqLessThan, seqNext, timestampDiff, SequenceUnwrapper } from './sequence.js'
export {
  RtcpType,
  parseRtcp,
  isSenderReport,
  ntpToUnixMs,
  unixMsToNtp,
  RtpWallClock,
  buildPli,
  buildFir,
  buildReceiverReport,
  buildSenderReport,
  buildSdesCname,
  type SenderInfo,
  type RtcpPacket,
  type RtcpSenderReport,
  type RtcpReceiverReport,
  type RtcpReportBlock,
  type RtcpBye,
  type RtcpFeedback,
  type RtcpOther,
} from './rtcp.js'
export { frameRfc4571, Rfc4571Reader } from './rfc4571.js'
