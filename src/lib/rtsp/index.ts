export {
  RtspClient,
  type RtspClientOptions,
  type RtspClientEvents,
  type RtspClientState,
  type RtspClientStats,
  type RtspTrack,
  type RtspPlayResult,
  type RtspTransportKind,
  type AssembledFrameHandler,
  type AssembledFrameStats,
} from './client.js'
export {
  RtspError,
  RtspAuthError,
  RtspConnectionError,
  RtspTimeoutError,
  RtspNoDataError,
  RtspProtocolError,
  RtspStatusError,
  RtspUdpUnavailableError,
  type RtspTimeoutPhase,
  type RtspUdpFailure,
} from './errors.js'
export { parseAuthenticate, RtspAuthenticator, type AuthChallenge } from './auth.js'
export {
  RtspStreamParser,
  RtspHeaders,
  serializeRequest,
  parseSessionHeader,
  parseTransportHeader,
  parseRtpInfo,
  type RtspResponse,
  type RtspServerRequest,
  type RtspStreamItem,
  type RtspSessionHeader,
  type RtspTransportHeader,
  type RtpInfoEntry,
} from './message.js'
export { parseRtspUrl, redactUrl, type ParsedRtspUrl } from './url.js'
export { FrameCounter, InterleavedReader, MAX_NATIVE_FRAME_BYTES, nativeInterleavedReaderStatus, type H264FrameAssembly, type InterleavedReaderHandlers } from './native-reader.js'
