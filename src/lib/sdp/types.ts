export interface SdpAttribute {
  name: string
  /** Text after the first ':'; undefined for flag attributes such as `a=recvonly`. */
  value?: string
}

export interface SdpOrigin {
  username: string
  sessionId: string
  sessionVersion: string
  netType: string
  addrType: string
  address: string
}

export interface SdpRtpMap {
  payloadType: number
  /** Encoding name as the device wrote it (case varies: "H264", "h264", "MP4A-LATM"). */
  encoding: string
  clockRate: number
  channels?: number
}

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'

export interface H264SdpParameters {
  profileLevelId?: string
  packetizationMode: number
  /** Decoded sprop-parameter-sets, NAL units without start codes. */
  sps: Buffer[]
  pps: Buffer[]
}

export interface H265SdpParameters {
  vps: Buffer[]
  sps: Buffer[]
  pps: Buffer[]
}

export interface SdpMedia {
  /** Position among the m= sections, the track index used by the RTSP client. */
  index: number
  type: string
  port: number
  protocol: string
  formats: string[]
  connection?: string
  bandwidth: Record<string, number>
  attributes: SdpAttribute[]
  rtpmaps: SdpRtpMap[]
  /** fmtp parameters per payload type, keys lower-cased. */
  fmtps: Map<number, Record<string, string>>
  /** `a=control` as written. */
  control?: string
  /** Absolute URL for SETUP, resolved against the base (see resolveControlUrl). */
  url?: string
  direction?: SdpDirection
  /** First payload type of the m= line and its rtpmap/fmtp, the one a camera actually sends. */
  payloadType?: number
  /** Upper-cased encoding name of that payload type, e.g. "H264", "H265", "PCMA". */
  codec?: string
  clockRate?: number
  channels?: number
  parameters: Record<string, string>
  framerate?: number
  /** From `a=x-dimensions` or `a=cliprect`, when a device states it. */
  width?: number
  height?: number
  h264?: H264SdpParameters
  h265?: H265SdpParameters
}

export interface SessionDescription {
  version: number
  origin?: SdpOrigin
  name: string
  info?: string
  connection?: string
  timing?: string
  bandwidth: Record<string, number>
  attributes: SdpAttribute[]
  /** Session-level `a=control` as written. */
  control?: string
  /** Absolute aggregate-control URL (for PLAY/TEARDOWN), if a base was known. */
  url?: string
  range?: string
  media: SdpMedia[]
}
