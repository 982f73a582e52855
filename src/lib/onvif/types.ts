/** Our own result types. No xml2js/fast-xml-parser object ever leaves src/lib/onvif. */

export interface CameraClock {
  /** the camera's idea of "now" (UTC) at the moment it answered */
  cameraTime: Date
  /** camera clock minus our clock, ms (positive: camera ahead) */
  offsetMs: number
  /**
   * `utc`: from UTCDateTime; `local-with-tz`: LocalDateTime corrected by the POSIX TZ;
   * `local-unknown-tz`: LocalDateTime taken as UTC because the TZ could not be read
   */
  source: 'utc' | 'local-with-tz' | 'local-unknown-tz'
  dateTimeType: 'NTP' | 'Manual' | 'unknown'
  timeZone: string | undefined
  daylightSavings: boolean | undefined
}

export interface DeviceInformation {
  manufacturer: string
  model: string
  firmwareVersion: string
  serialNumber: string
  hardwareId: string
}

export type OnvifServiceKind = 'device' | 'media' | 'media2' | 'ptz' | 'events' | 'imaging' | 'analytics' | 'deviceIO' | 'recording' | 'search' | 'replay'

export interface OnvifServiceEntry {
  kind: OnvifServiceKind | 'other'
  namespace: string
  xaddr: URL
  /** "major.minor" when reported */
  version: string | undefined
}

export interface OnvifServices {
  source: 'GetServices' | 'GetCapabilities'
  entries: OnvifServiceEntry[]
  device: URL
  media: URL | undefined
  media2: URL | undefined
  ptz: URL | undefined
  events: URL | undefined
  imaging: URL | undefined
  /** GetCapabilities Events/WSPullPointSupport; undefined when the device did not say */
  pullPointSupport: boolean | undefined
  /** service XAddrs whose host differed from the device address and were re-based onto it */
  rebased: string[]
}

export type VideoEncoding = 'H264' | 'H265' | 'JPEG' | 'MPEG4' | 'other'

export interface VideoEncoderInfo {
  token: string | undefined
  encoding: VideoEncoding
  /** what the device wrote, for diagnostics */
  encodingRaw: string
  width: number
  height: number
  frameRateLimit: number | undefined
  bitrateLimitKbps: number | undefined
  govLength: number | undefined
  /** e.g. Main, High, Baseline */
  codecProfile: string | undefined
}

export interface MediaProfile {
  token: string
  name: string
  fixed: boolean | undefined
  api: 'media1' | 'media2'
  videoSourceToken: string | undefined
  video: VideoEncoderInfo | undefined
  hasAudio: boolean
  /** PTZ configuration token; set when the profile can steer PTZ */
  ptzConfigurationToken: string | undefined
  /** the PTZ node (head) that configuration steers */
  ptzNodeToken?: string | undefined
}

/** Which moves a PTZ node (head) takes: a space missing from its SupportedPTZSpaces is a mode it lacks. */
export interface PtzNodeCapabilities {
  token: string
  panTilt: { continuous: boolean; relative: boolean; absolute: boolean }
  zoom: { continuous: boolean; relative: boolean; absolute: boolean }
  /** MaximumNumberOfPresets; 0: no presets */
  maxPresets: number
  home: boolean
}

export interface MediaUri {
  uri: string
  invalidAfterConnect: boolean
  invalidAfterReboot: boolean
  /** xs:duration as written, e.g. PT60S */
  timeout: string | undefined
}

export interface PtzVector {
  /** -1..1 in the generic velocity/translation spaces */
  pan?: number
  tilt?: number
  zoom?: number
}

export interface PtzPreset {
  token: string
  name: string
  position: PtzVector | undefined
}

export type EventPropertyOperation = 'Initialized' | 'Changed' | 'Deleted'

export interface OnvifEvent {
  /** normalised topic: ONVIF topics always as `tns1:…`, e.g. `tns1:RuleEngine/CellMotionDetector/Motion` */
  topic: string
  /** namespace of the topic's first segment */
  topicNamespace: string
  utcTime: Date | undefined
  propertyOperation: EventPropertyOperation | undefined
  source: Record<string, string>
  key: Record<string, string>
  data: Record<string, string>
}

/** Closed set the alarm feature works with; vendor topics are mapped in events.ts. */
export type EventKind =
  | 'motion'
  | 'tamper'
  | 'image-too-blurry'
  | 'image-too-dark'
  | 'image-too-bright'
  | 'scene-change'
  | 'signal-loss'
  | 'digital-input'
  | 'other'

export interface ClassifiedEvent {
  kind: EventKind
  /** true: condition started, false: ended, undefined: not a state event */
  active: boolean | undefined
}

export interface SubscriptionTimes {
  currentTime: Date | undefined
  terminationTime: Date | undefined
}

export interface PullMessagesResult extends SubscriptionTimes {
  events: OnvifEvent[]
}

export interface StreamChoice {
  profileToken: string
  profileName: string
  streamUri: string
  snapshotUri: string | undefined
  video: VideoEncoderInfo | undefined
}

export interface InterrogatedProfile extends MediaProfile {
  streamUri: string | undefined
  snapshotUri: string | undefined
}

export interface DeviceReport {
  xaddr: string
  clock: CameraClock
  info: DeviceInformation
  services: OnvifServices
  profiles: InterrogatedProfile[]
  main: StreamChoice | undefined
  sub: StreamChoice | undefined
  /** the spaces of the PTZ node the main profile steers; undefined when not known (no PTZ, or GetNodes failed) */
  ptzNode?: PtzNodeCapabilities | undefined
  capabilities: {
    ptz: boolean
    events: boolean
    pullPoint: boolean
    media2: boolean
    snapshot: boolean
  }
  /** non-fatal problems met on the way (no secrets) */
  warnings: string[]
}
