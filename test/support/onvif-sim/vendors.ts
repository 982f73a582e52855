/**
 * Vendor personalities of the simulator, modelled on published captures of real cameras: the
 * identifiers, service paths, RTSP URL shapes, envelope prefixes and auth-refusal styles differ the
 * way they do between Hikvision, Dahua, Axis and Uniview units. Nothing here is used by src/.
 */

export type VendorName = 'hikvision' | 'dahua' | 'axis' | 'uniview'

export interface ProfileSpec {
  token: string
  name: string
  width: number
  height: number
  fps: number
  bitrateKbps: number
  gov: number
}

export interface VendorProfile {
  name: VendorName
  manufacturer: string
  model: string
  firmwareVersion: string
  hardwareId: string
  serialPrefix: string
  /** prefix bound to the SOAP 1.2 envelope namespace */
  envPrefix: string
  /** prefixes for the payload namespaces (keys are our canonical names) */
  prefixes: Record<'tt' | 'tds' | 'trt' | 'tr2' | 'tptz' | 'tev' | 'wsnt' | 'wsa' | 'tns1' | 'ter', string>
  /** HTTP status used when WS-Security is refused */
  authFailureStatus: 400 | 401
  /** false: fault without a Subcode, only the reason text (older gSOAP builds) */
  authFaultHasSubcode: boolean
  authFailureReason: string
  paths: { device: string; media: string; media2: string | undefined; ptz: string; events: string }
  /** `path`: each subscription has its own URL; `reference-parameter`: one URL, id echoed in the header */
  subscriptionStyle: 'path' | 'reference-parameter'
  subscriptionPath: (id: number, createdIso: string) => string
  /** operations answered with ter:ActionNotSupported */
  unsupported: string[]
  profiles: [ProfileSpec, ProfileSpec]
  defaultStreamUri: (address: string, index: 0 | 1) => string
  snapshotPath: (index: 0 | 1) => string
  ptz: boolean
  serverHeader: string
  locationScopes: string[]
}

export const VENDORS: Record<VendorName, VendorProfile> = {
  hikvision: {
    name: 'hikvision',
    manufacturer: 'HIKVISION',
    model: 'DS-2DE2A404IW-DE3',
    firmwareVersion: 'V5.7.3 build 220112',
    hardwareId: '88',
    serialPrefix: 'DS-2DE2A404IW-DE320220315AAWRJ',
    envPrefix: 'env',
    prefixes: { tt: 'tt', tds: 'tds', trt: 'trt', tr2: 'tr2', tptz: 'tptz', tev: 'tev', wsnt: 'wsnt', wsa: 'wsa5', tns1: 'tns1', ter: 'ter' },
    authFailureStatus: 401,
    authFaultHasSubcode: true,
    authFailureReason: 'The action requested requires authorization and the sender is not authorized',
    paths: { device: '/onvif/device_service', media: '/onvif/Media', media2: '/onvif/Media2', ptz: '/onvif/PTZ', events: '/onvif/Events' },
    subscriptionStyle: 'path',
    subscriptionPath: (id, created) => `/onvif/Events/PullSubManager_${created}_${id}`,
    unsupported: [],
    profiles: [
      { token: 'Profile_1', name: 'mainStream', width: 1920, height: 1080, fps: 25, bitrateKbps: 4096, gov: 50 },
      { token: 'Profile_2', name: 'subStream', width: 640, height: 360, fps: 15, bitrateKbps: 512, gov: 30 },
    ],
    defaultStreamUri: (a, i) => `rtsp://${a}:554/Streaming/Channels/${i === 0 ? 101 : 102}?transportmode=unicast&profile=Profile_${i + 1}`,
    snapshotPath: (i) => `/onvif-http/snapshot?Profile_${i + 1}`,
    ptz: true,
    serverHeader: 'App-webs/',
    locationScopes: ['city/hangzhou'],
  },
  dahua: {
    name: 'dahua',
    manufacturer: 'Dahua',
    model: 'DH-SD22404DB-GNY',
    firmwareVersion: '2.800.0000000.31.R, Build Date 2021-09-14',
    hardwareId: '1.00',
    serialPrefix: '6G0A1B2PAZ',
    envPrefix: 's',
    prefixes: { tt: 'tt', tds: 'tds', trt: 'trt', tr2: 'tr2', tptz: 'tptz', tev: 'tev', wsnt: 'wsnt', wsa: 'wsa', tns1: 'tns1', ter: 'ter' },
    authFailureStatus: 400,
    authFaultHasSubcode: true,
    authFailureReason: 'Sender not Authorized',
    paths: { device: '/onvif/device_service', media: '/onvif/media_service', media2: undefined, ptz: '/onvif/ptz_service', events: '/onvif/event_service' },
    subscriptionStyle: 'path',
    subscriptionPath: (id) => `/onvif/Subscription?Idx=${id}`,
    unsupported: [],
    profiles: [
      { token: 'MediaProfile000', name: 'MediaProfile_Channel1_MainStream', width: 1920, height: 1080, fps: 25, bitrateKbps: 4096, gov: 50 },
      { token: 'MediaProfile001', name: 'MediaProfile_Channel1_SubStream1', width: 640, height: 360, fps: 15, bitrateKbps: 512, gov: 30 },
    ],
    defaultStreamUri: (a, i) => `rtsp://${a}:554/cam/realmonitor?channel=1&subtype=${i}&unicast=true&proto=Onvif`,
    snapshotPath: (i) => `/onvifsnapshot/media_service/snapshot?channel=1&subtype=${i}`,
    ptz: true,
    serverHeader: 'Webs',
    locationScopes: ['country/china'],
  },
  axis: {
    name: 'axis',
    manufacturer: 'AXIS',
    model: 'P3245-LV',
    firmwareVersion: '10.12.114',
    hardwareId: '7A1',
    serialPrefix: 'ACCC8E',
    envPrefix: 'SOAP-ENV',
    prefixes: { tt: 'tt', tds: 'tds', trt: 'trt', tr2: 'tr2', tptz: 'tptz', tev: 'tev', wsnt: 'wsnt', wsa: 'wsa5', tns1: 'tns1', ter: 'ter' },
    authFailureStatus: 400,
    authFaultHasSubcode: true,
    authFailureReason: 'Sender not authorized',
    paths: { device: '/onvif/device_service', media: '/onvif/services', media2: '/onvif/services', ptz: '/onvif/services', events: '/onvif/services' },
    subscriptionStyle: 'reference-parameter',
    subscriptionPath: () => '/onvif/services',
    unsupported: [],
    profiles: [
      { token: 'profile_1_h264', name: 'profile_1 h264', width: 1920, height: 1080, fps: 30, bitrateKbps: 0, gov: 32 },
      { token: 'profile_2_h264', name: 'profile_2 h264', width: 640, height: 360, fps: 30, bitrateKbps: 0, gov: 32 },
    ],
    defaultStreamUri: (a, i) => `rtsp://${a}/onvif-media/media.amp?profile=profile_${i + 1}_h264&sessiontimeout=60&streamtype=unicast`,
    snapshotPath: (i) => `/onvif-cgi/jpg/image.cgi?resolution=${i === 0 ? '1920x1080' : '640x360'}&compression=30`,
    ptz: false,
    serverHeader: 'Apache',
    locationScopes: [],
  },
  uniview: {
    name: 'uniview',
    manufacturer: 'UNIVIEW',
    model: 'IPC322LB-SF28-A',
    firmwareVersion: 'IPC_6201.10.1.SDK.200525',
    hardwareId: 'A',
    serialPrefix: '210235C3EN320100',
    envPrefix: 'SOAP-ENV',
    // Non-standard prefixes on purpose: a client that matches prefixes instead of namespaces breaks here.
    prefixes: { tt: 'ns1', tds: 'ns2', trt: 'ns3', tr2: 'ns4', tptz: 'ns5', tev: 'ns6', wsnt: 'ns7', wsa: 'ns8', tns1: 'ns9', ter: 'ns10' },
    authFailureStatus: 401,
    authFaultHasSubcode: false,
    authFailureReason: 'Sender not Authorized',
    paths: { device: '/onvif/device_service', media: '/onvif/media_service', media2: undefined, ptz: '/onvif/ptz_service', events: '/onvif/event_service' },
    subscriptionStyle: 'path',
    subscriptionPath: (id) => `/onvif/subscription_${id}`,
    unsupported: ['GetServices'],
    profiles: [
      { token: 'media_profile1', name: 'profile1', width: 1920, height: 1080, fps: 25, bitrateKbps: 3072, gov: 50 },
      { token: 'media_profile2', name: 'profile2', width: 640, height: 360, fps: 25, bitrateKbps: 512, gov: 50 },
    ],
    defaultStreamUri: (a, i) => `rtsp://${a}:554/unicast/c1/s${i}/live`,
    snapshotPath: (i) => `/images/snapshot_${i}.jpg`,
    ptz: true,
    serverHeader: 'HTTPD',
    locationScopes: ['Country/China', 'City/Hangzhou%20Binjiang'],
  },
}
