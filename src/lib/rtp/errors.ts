/** A buffer that is not a well-formed RTP or RTCP packet. */
export class RtpParseError extends Error {
  override readonly name = 'RtpParseError'
}
