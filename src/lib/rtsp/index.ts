export {
  RtspClient,
  type RtspClientOptions,
  type RtspClientEvents,
  type RtspClientState,
  type RtspClientStats,
  type RtspTrack,
  type RtspPlayResult,
  type RtspTransportKind,
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
export { InterleavedReader, nativeInterleavedReaderStatus, type InterleavedReaderHandlers } from './native-reader.js'
