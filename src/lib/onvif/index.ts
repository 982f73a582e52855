/**
 * ONVIF client for the gateway.
 *
 * Why our own SOAP code instead of the `onvif` npm package (0.8.3, read in node_modules/onvif/lib):
 * - Timeout: `Cam#_requestPart2` only calls `req.setTimeout(timeout)`, a socket *idle* timer, not a
 *   deadline: a device that trickles a byte now and then is never cut off (see the simulator's `trickle`
 *   fault and client.test.ts), and the only error is a bare `Error('Network timeout')`.
 * - Size limit: the reply is accumulated in `bufs` without bound until 'end'; there is no hook to stop it.
 * - DTD/entities: `utils.parseSOAPString` hands the text to xml2js/sax. A reply with a `<!DOCTYPE …>`
 *   is parsed and used (checked: a DTD-bearing envelope yields data); one that uses its entities fails
 *   only as the generic `Wrong ONVIF SOAP response`, the same error as garbage. Nothing refuses DTDs.
 *   It also deletes every `xmlns` with a regex and lower-cases tag names, so namespaces (fault QNames
 *   such as `ter:NotAuthorized`, event topic prefixes) cannot be resolved.
 * - Wrong password: `Cam#connect` catches GetProfiles/GetVideoSources failures, sets `profiles = []`,
 *   emits 'warning' and calls back *without* an error; a digest refusal is a plain
 *   `Error('Digest authentication failed 401')`. Nothing is typed.
 * - Faults: `parseSOAPString` reduces a fault to `Error('ONVIF SOAP Fault: ' + reason)`; the code,
 *   subcode chain and HTTP status are lost, so 400/401/500 and NotAuthorized vs ActionNotSupported
 *   cannot be told apart.
 * - Clock: `_passwordDigest` does use `timeShift`, but it is set only `if (!this.timeShift)` and never
 *   refreshed after a camera reboot/NTP jump, and a missing UTCDateTime falls back to LocalDateTime taken
 *   as UTC. The username is concatenated into the envelope unescaped.
 * - Discovery: `Discovery` is a process-wide singleton emitter, sends one probe, only to the group
 *   (no unicast), type NetworkVideoTransmitter only, never checks RelatesTo, and by default constructs an
 *   auto-connecting `Cam` (120 s timeout) per reply; a malformed XAddr throws inside a setImmediate.
 * So the package is not used at runtime; this module implements SOAP, WS-Security, WS-Addressing and
 * WS-Discovery itself with node:http, node:dgram and fast-xml-parser behind a DTD/entity/size gate.
 */
export {
  OnvifAuthError,
  OnvifError,
  OnvifFaultError,
  OnvifNotSupportedError,
  OnvifProtocolError,
  OnvifSubscriptionGoneError,
  OnvifTimeoutError,
  OnvifUnreachableError,
  type OnvifErrorOptions,
  type OnvifProtocolProblem,
  type SoapFault,
} from './errors.js'
export { OnvifClient, PullPointSubscription, PushSubscription, interrogate, pickStreams, type OnvifClientOptions } from './client.js'
export { classifyEvent } from './events.js'
export { DEFAULT_MAX_NOTIFY_BYTES, parseNotify, type NotifyContent, type ParseNotifyOptions } from './notify.js'
export {
  mapEncoding,
  normalizeTopic,
  parseCreatePullPointSubscription,
  parseDeviceInformation,
  parseEventProperties,
  parseGetCapabilities,
  parseGetNodes,
  parseGetPresets,
  parseGetProfiles,
  parseGetProfiles2,
  parseGetServices,
  parseMediaUri,
  parseNotificationMessage,
  parsePullMessages,
  parseRenew,
  parseSetPreset,
  parseSubscribe,
  parseSystemDateAndTime,
  posixTzOffsetMinutes,
  serviceKind,
} from './parse.js'
export { NS } from './ns.js'
export {
  buildEnvelope,
  digestAuthorization,
  interpretReply,
  isAuthFault,
  isNotSupportedFault,
  parseDigestChallenges,
  parseFault,
  soapCall,
  soapTimestamp,
  usernameTokenDigest,
  type Credentials,
  type SoapCallOptions,
  type SoapReply,
} from './soap.js'
export type * from './types.js'
export { DEFAULT_DEVICE_PATH, parseXAddr, parseXAddrList, redactUrl, type ParseXAddrOptions, type XAddr, type XAddrHostKind, type XAddrResult } from './xaddr.js'
export { DEFAULT_MAX_XML_BYTES, parseXml, type XmlElement } from './xml.js'
