import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  classifyEvent,
  interpretReply,
  OnvifAuthError,
  OnvifFaultError,
  OnvifNotSupportedError,
  OnvifProtocolError,
  parseCreatePullPointSubscription,
  parseDeviceInformation,
  parseGetCapabilities,
  parseGetPresets,
  parseGetProfiles,
  parseGetProfiles2,
  parseGetServices,
  parseMediaUri,
  parsePullMessages,
  parseSystemDateAndTime,
  type SoapReply,
} from '../../../src/lib/onvif/index.js'

const fixture = (p: string): string => readFileSync(new URL(`../../fixtures/onvif/${p}`, import.meta.url), 'utf8')
const reply = (p: string, status = 200): SoapReply => interpretReply(status, fixture(p), { endpoint: 'http://192.0.2.1/onvif/device_service', operation: 'Test' })

t.test('Hikvision GetSystemDateAndTime: UTC clock and offset', async (t) => {
  const local = Date.UTC(2024, 2, 1, 2, 15, 0)
  const c = parseSystemDateAndTime(reply('hikvision/GetSystemDateAndTime.xml').payload, local)
  t.equal(c.cameraTime.toISOString(), '2024-03-01T02:15:07.000Z')
  t.equal(c.offsetMs, 7000)
  t.equal(c.source, 'utc')
  t.equal(c.dateTimeType, 'NTP')
  t.equal(c.timeZone, 'CST-8:00:00')
  t.equal(c.daylightSavings, false)
})

t.test('Uniview-style clock with LocalDateTime only is corrected by the POSIX TZ', async (t) => {
  const c = parseSystemDateAndTime(reply('uniview/GetSystemDateAndTime-local-only.xml').payload, Date.UTC(2024, 2, 1, 2, 15, 7))
  t.equal(c.source, 'local-with-tz')
  // 10:15:07 in CST-8 (UTC+8) is 02:15:07 UTC
  t.equal(c.cameraTime.toISOString(), '2024-03-01T02:15:07.000Z')
  t.equal(c.offsetMs, 0)
})

t.test('Hikvision GetDeviceInformation', async (t) => {
  t.same(parseDeviceInformation(reply('hikvision/GetDeviceInformation.xml').payload), {
    manufacturer: 'HIKVISION',
    model: 'DS-2CD2143G2-I',
    firmwareVersion: 'V5.7.3 build 220112',
    serialNumber: 'DS-2CD2143G2-I20220315AAWRJ12345678',
    hardwareId: '88',
  })
})

t.test('Hikvision GetServices: kinds, versions, vendor extension kept as other', async (t) => {
  const s = parseGetServices(reply('hikvision/GetServices.xml').payload)
  t.equal(s.length, 9)
  const byKind = Object.fromEntries(s.filter((e) => e.kind !== 'other').map((e) => [e.kind, e.xaddr.href]))
  t.same(byKind, {
    device: 'http://192.0.2.64/onvif/device_service',
    media: 'http://192.0.2.64/onvif/Media',
    events: 'http://192.0.2.64/onvif/Events',
    imaging: 'http://192.0.2.64/onvif/Imaging',
    deviceIO: 'http://192.0.2.64/onvif/DeviceIO',
    analytics: 'http://192.0.2.64/onvif/Analytics',
    ptz: 'http://192.0.2.64/onvif/PTZ',
    media2: 'http://192.0.2.64/onvif/Media2',
  })
  t.equal(s[0]!.version, '17.12')
  t.equal(s.filter((e) => e.kind === 'other').length, 1)
})

t.test('Dahua GetCapabilities (fallback path): XAddrs and PullPoint support', async (t) => {
  const c = parseGetCapabilities(reply('dahua/GetCapabilities.xml').payload)
  t.equal(c.pullPointSupport, true)
  t.same(
    c.entries.map((e) => `${e.kind} ${e.xaddr.pathname}`),
    ['device /onvif/device_service', 'media /onvif/media_service', 'ptz /onvif/ptz_service', 'events /onvif/event_service', 'imaging /onvif/imaging_service', 'analytics /onvif/analytics_service'],
  )
})

t.test('Hikvision Media1 GetProfiles: encoder, audio, PTZ', async (t) => {
  const p = parseGetProfiles(reply('hikvision/GetProfiles.xml').payload)
  t.equal(p.length, 2)
  t.match(p[0], {
    token: 'Profile_1',
    name: 'mainStream',
    fixed: true,
    api: 'media1',
    videoSourceToken: 'VideoSource_1',
    hasAudio: true,
    ptzConfigurationToken: 'PTZToken',
    video: { encoding: 'H264', width: 2560, height: 1440, frameRateLimit: 25, bitrateLimitKbps: 4096, govLength: 50, codecProfile: 'Main' },
  })
  t.match(p[1], { token: 'Profile_2', hasAudio: false, ptzConfigurationToken: undefined, video: { width: 640, height: 360 } })
})

t.test('Dahua Media1 profile declaring H265 (outside the Media1 schema) is understood', async (t) => {
  const p = parseGetProfiles(reply('dahua/GetProfiles.xml').payload)
  t.match(p[0], { token: 'MediaProfile00000', video: { encoding: 'H265', encodingRaw: 'H265', govLength: 40, codecProfile: 'Main', width: 2560 }, ptzConfigurationToken: '000' })
  t.match(p[1], { video: { encoding: 'H264', width: 704, height: 576 } })
})

t.test('Uniview profiles with non-standard ns1/ns3 prefixes', async (t) => {
  const p = parseGetProfiles(reply('uniview/GetProfiles.xml').payload)
  t.same(
    p.map((x) => [x.token, x.video?.width, x.video?.height, x.video?.codecProfile, x.ptzConfigurationToken]),
    [
      ['media_profile1', 1920, 1080, 'High', 'ptz0'],
      ['media_profile2', 720, 576, 'Main', undefined],
    ],
  )
})

t.test('Axis Media2 profiles and stream URI', async (t) => {
  const p = parseGetProfiles2(reply('axis/GetProfiles-media2.xml').payload)
  t.same(
    p.map((x) => [x.token, x.api, x.video?.encoding, x.video?.width, x.video?.govLength, x.video?.codecProfile]),
    [
      ['profile_1_h264', 'media2', 'H264', 1920, 32, 'High'],
      ['profile_1_jpeg', 'media2', 'JPEG', 1280, undefined, undefined],
    ],
  )
  t.equal(parseMediaUri(reply('axis/GetStreamUri-media2.xml').payload).uri, 'rtsp://192.0.2.90/onvif-media/media.amp?profile=profile_1_h264&sessiontimeout=60&streamtype=unicast')
})

t.test('Hikvision GetStreamUri decodes &amp;', async (t) => {
  const u = parseMediaUri(reply('hikvision/GetStreamUri.xml').payload)
  t.same(u, {
    uri: 'rtsp://192.0.2.64:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1',
    invalidAfterConnect: false,
    invalidAfterReboot: false,
    timeout: 'PT60S',
  })
})

t.test('Uniview GetPresets with and without a position', async (t) => {
  t.same(parseGetPresets(reply('uniview/GetPresets.xml').payload), [
    { token: '1', name: 'Gate North', position: { pan: -0.512, tilt: 0.125, zoom: 0.25 } },
    { token: '2', name: 'Parking', position: undefined },
  ])
})

t.test('Hikvision PullMessages: cell motion, motion alarm, scene change', async (t) => {
  const r = parsePullMessages(reply('hikvision/PullMessages.xml').payload)
  t.equal(r.currentTime?.toISOString(), '2024-03-01T02:15:10.000Z')
  t.equal(r.terminationTime?.toISOString(), '2024-03-01T02:16:10.000Z')
  t.equal(r.events.length, 3)
  t.same(r.events[0], {
    topic: 'tns1:RuleEngine/CellMotionDetector/Motion',
    topicNamespace: 'http://www.onvif.org/ver10/topics',
    utcTime: new Date('2024-03-01T02:15:09Z'),
    propertyOperation: 'Changed',
    source: { VideoSourceConfigurationToken: 'VideoSourceToken', VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken', Rule: 'MyMotionDetectorRule' },
    key: {},
    data: { IsMotion: 'true' },
  })
  t.same(r.events.map(classifyEvent), [
    { kind: 'motion', active: true },
    { kind: 'motion', active: true },
    { kind: 'scene-change', active: true },
  ])
})

t.test('Dahua PullMessages: Initialized state and tamper', async (t) => {
  const r = parsePullMessages(reply('dahua/PullMessages.xml').payload)
  t.equal(r.events[0]!.propertyOperation, 'Initialized')
  t.same(r.events.map(classifyEvent), [
    { kind: 'motion', active: false },
    { kind: 'tamper', active: true },
  ])
})

t.test('Axis PullMessages: per-segment tns1 prefixes collapse, vendor topics stay other', async (t) => {
  const r = parsePullMessages(reply('axis/PullMessages.xml').payload)
  t.equal(r.events[0]!.topic, 'tns1:RuleEngine/MotionRegionDetector/Motion')
  t.equal(r.events[0]!.utcTime?.toISOString(), '2024-03-01T02:30:04.512Z')
  t.same(classifyEvent(r.events[0]!), { kind: 'motion', active: true })
  t.equal(r.events[1]!.topic, 'tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1')
  t.equal(r.events[1]!.topicNamespace, 'http://www.axis.com/2009/event/topics')
  t.same(classifyEvent(r.events[1]!), { kind: 'other', active: undefined })
})

t.test('Uniview PullMessages: topic under ns9 prefix is normalised to tns1, zone-less times are UTC', async (t) => {
  const r = parsePullMessages(reply('uniview/PullMessages.xml').payload)
  t.equal(r.events[0]!.topic, 'tns1:VideoSource/ImageTooBlurry/ImagingService')
  t.equal(r.currentTime?.toISOString(), '2024-03-01T02:40:00.000Z')
  t.same(classifyEvent(r.events[0]!), { kind: 'image-too-blurry', active: true })
})

t.test('CreatePullPointSubscription: Hikvision path style and Axis reference parameters', async (t) => {
  const h = parseCreatePullPointSubscription(reply('hikvision/CreatePullPointSubscription.xml').payload)
  t.equal(h.address.href, 'http://192.0.2.64/onvif/Events/PullSubManager_2024-03-01T02:15:07Z_0')
  t.equal(h.referenceParameters.length, 0)
  t.equal(h.terminationTime!.getTime() - h.currentTime!.getTime(), 60_000)
  const a = parseCreatePullPointSubscription(reply('axis/CreatePullPointSubscription.xml').payload)
  t.equal(a.address.pathname, '/onvif/services')
  t.equal(a.referenceParameters.length, 1)
  t.match(a.referenceParameters[0], { name: 'SubscriptionId', ns: 'http://www.axis.com/2009/event', text: '2' })
})

t.test('faults are told apart', async (t) => {
  const hik = t.throws(() => reply('hikvision/fault-NotAuthorized-401.xml', 401)) as unknown
  t.type(hik, OnvifAuthError)
  t.match(hik, { httpStatus: 401, fault: { soapVersion: '1.2', code: 'env:Sender', subcodes: ['ter:NotAuthorized'] } })

  // Dahua never declares the ter prefix; the subcode still counts.
  const dahua = t.throws(() => reply('dahua/fault-NotAuthorized-400.xml', 400)) as unknown
  t.type(dahua, OnvifAuthError)
  t.match(dahua, { httpStatus: 400, fault: { code: 'env:Sender', subcodes: ['ter:NotAuthorized'], reason: 'Sender not Authorized' } })

  const axisAuth = t.throws(() => reply('axis/fault-NotAuthorized-400.xml', 400))
  t.type(axisAuth, OnvifAuthError)

  // No subcode at all, only a reason text.
  t.type(t.throws(() => reply('uniview/fault-no-subcode-401.xml', 401)), OnvifAuthError)

  const ns = t.throws(() => reply('axis/fault-ActionNotSupported-500.xml', 500)) as OnvifNotSupportedError
  t.type(ns, OnvifNotSupportedError)
  t.same(ns.fault?.subcodes, ['ter:ActionNotSupported', 'ter:PTZNotSupported'])
  t.equal(ns.fault?.code, 'env:Receiver')

  const bad = t.throws(() => reply('axis/fault-InvalidArgVal-400.xml', 400)) as OnvifFaultError
  t.type(bad, OnvifFaultError)
  t.equal(bad.code, 'env:Sender')
  t.same(bad.subcodes, ['ter:InvalidArgVal', 'ter:NoProfile'])
  t.equal(bad.httpStatus, 400)
  t.match(bad.reason, /profile token/)

  const soap11 = t.throws(() => reply('generic/soap11-gsoap-not-implemented-500.xml', 500)) as OnvifNotSupportedError
  t.type(soap11, OnvifNotSupportedError)
  t.match(soap11.fault, { soapVersion: '1.1', code: 'env:Sender', httpStatus: 500 })

  const gone = t.throws(() => reply('generic/wsrf-resource-unknown-400.xml', 400)) as OnvifFaultError
  t.type(gone, OnvifFaultError)
  t.same(gone.fault.detailTypes, ['wsrf-rw:ResourceUnknownFault'])
})

t.test('HTML 401 page (Hikvision digest refusal) is an auth error, HTML 500 a protocol error', async (t) => {
  t.type(t.throws(() => reply('hikvision/unauthorized-401.html', 401)), OnvifAuthError)
  const e = t.throws(() => interpretReply(500, '<html><body>500</body></html>', { endpoint: 'x', operation: 'Op' })) as OnvifProtocolError
  t.type(e, OnvifProtocolError)
  t.equal(e.problem, 'http-status')
  t.equal(e.httpStatus, 500)
})

t.test('DTD payloads are refused before any entity is expanded', async (t) => {
  for (const f of ['generic/billion-laughs.xml', 'generic/xxe.xml']) {
    const e = t.throws(() => reply(f)) as OnvifProtocolError
    t.type(e, OnvifProtocolError, f)
    t.equal(e.problem, 'dtd-or-entity', f)
  }
})
