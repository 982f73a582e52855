import t from 'tap'
import { normalizeOnvifEvent, parseState } from '../../../src/features/alarms/index.js'
import { cellMotion, notification } from './support.js'

t.test('Profile S motion and cell motion (Hikvision/Dahua/Axis)', async (t) => {
  const on = normalizeOnvifEvent(notification({ topic: 'tns1:VideoSource/MotionAlarm', source: { Source: 'VideoSource_1' }, data: { State: 'true' } }))
  t.match(on, { kind: 'motion', active: true, initial: false })
  const off = normalizeOnvifEvent(notification({ topic: 'tns1:VideoSource/MotionAlarm', source: { Source: 'VideoSource_1' }, data: { State: 'false' } }))
  t.match(off, { kind: 'motion', active: false })
  t.match(normalizeOnvifEvent(cellMotion(true)), { kind: 'motion', active: true, rule: 'MyMotionDetectorRule' })
  t.match(normalizeOnvifEvent(cellMotion(false, 'Initialized')), { kind: 'motion', active: false, initial: true })
})

t.test('a camera that binds the ONVIF topic namespace to another prefix (Dahua "tns:")', async (t) => {
  const ev = notification({ topic: 'tns:RuleEngine/CellMotionDetector/Motion', topicPrefixDecl: 'xmlns:tns="http://www.onvif.org/ver10/topics"', data: { IsMotion: '1' } })
  t.equal(ev.topic, 'tns1:RuleEngine/CellMotionDetector/Motion')
  t.match(normalizeOnvifEvent(ev), { kind: 'motion', active: true })
})

t.test('tampering and image-quality topics', async (t) => {
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:RuleEngine/TamperDetector/Tamper', data: { IsTamper: 'true' } })), { kind: 'tamper', active: true })
  for (const topic of ['tns1:VideoSource/ImageTooBlurry/ImagingService', 'tns1:VideoSource/ImageTooDark/AnalyticsService', 'tns1:VideoSource/GlobalSceneChange/ImagingService']) {
    t.match(normalizeOnvifEvent(notification({ topic, source: { Source: 'VideoSourceToken' }, data: { State: 'true' } })), { kind: 'tamper', active: true }, topic)
  }
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:VideoSource/SignalLoss', data: { State: 'true' } })), { kind: 'video_loss', active: true })
})

t.test('analytics: line crossing (a pulse), field intrusion, digital input', async (t) => {
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:RuleEngine/LineDetector/Crossed', source: { VideoSourceConfigurationToken: 'vs', Rule: 'Gate line' }, data: { ObjectId: '15' } })), { kind: 'line_crossing', active: true, rule: 'Gate line' })
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:RuleEngine/FieldDetector/ObjectsInside', data: { IsInside: 'true' } })), { kind: 'intrusion', active: true })
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:RuleEngine/FieldDetector/ObjectsInside', data: { IsInside: 'false' } })), { kind: 'intrusion', active: false })
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:Device/Trigger/DigitalInput', source: { InputToken: 'DI_1' }, data: { LogicalState: 'true' } })), { kind: 'io_input', active: true })
})

t.test('vendor rule topics: Hikvision MyRuleDetector, vendor namespaces, Dahua numeric states', async (t) => {
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:RuleEngine/MyRuleDetector/LineDetect', data: { State: 'true' } })), { kind: 'line_crossing', active: true })
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:RuleEngine/MyRuleDetector/FieldDetect', data: { State: '1' } })), { kind: 'intrusion', active: true })
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:RuleEngine/MyRuleDetector/VMD', data: { IsMotion: 'true' } })), { kind: 'motion', active: true })
  t.match(normalizeOnvifEvent(notification({ topic: 'tnshik:Shelteralarm', data: { State: 'true' } })), { kind: 'tamper', active: true })
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:RuleEngine/CrossRegionDetector/IntrusionArea', data: { State: '0' } })), { kind: 'intrusion', active: false })
  t.match(normalizeOnvifEvent(notification({ topic: 'tns1:Monitoring/ProcessorUsage', data: { Value: '12' } })), { kind: 'other', active: undefined })
  t.equal(parseState('Active'), true)
  t.equal(parseState('OFF'), false)
  t.equal(parseState('maybe'), undefined)
})

t.test('people, vehicle and face detection of the common vendors and ONVIF Profile M', async (t) => {
  const kind = (topic: string, data: Record<string, string> = { State: 'true' }, source: Record<string, string> = { Source: 'VideoSource_1' }) => normalizeOnvifEvent(notification({ topic, source, data }))
  // Hikvision smart events (and the firmwares that copy its MyRuleDetector names)
  t.match(kind('tns1:RuleEngine/MyRuleDetector/PeopleDetect'), { kind: 'person', active: true })
  t.match(kind('tns1:RuleEngine/MyRuleDetector/VehicleDetect'), { kind: 'vehicle', active: true })
  t.match(kind('tns1:RuleEngine/MyRuleDetector/FaceDetect', { State: 'false' }), { kind: 'face', active: false })
  t.match(kind('tns1:RuleEngine/MyRuleDetector/HumanShapeDetect', { IsPeople: 'true' }), { kind: 'person', active: true })
  // TP-Link/Tapo, Uniview: PeopleDetector with IsPeople
  t.match(kind('tns1:RuleEngine/PeopleDetector/People', { IsPeople: 'true' }, { VideoSourceConfigurationToken: 'vs', Rule: 'MyPeopleDetectorRule' }), { kind: 'person', active: true, rule: 'MyPeopleDetectorRule' })
  // Dahua IVS detectors by name
  t.match(kind('tns1:RuleEngine/FaceDetector/FaceDetection'), { kind: 'face', active: true })
  t.match(kind('tns1:RuleEngine/HumanDetector/Human', { State: '1' }), { kind: 'person', active: true })
  t.match(kind('tns1:RuleEngine/VehicleDetector/Vehicle', { State: '0' }), { kind: 'vehicle', active: false })
  t.match(kind('tns1:RuleEngine/LoiteringDetector/ObjectIsLoitering', { IsLoitering: 'true', State: 'true' }), { kind: 'intrusion', active: true })
  // Profile M: field entrance, recognitions (pulses)
  t.match(kind('tns1:RuleEngine/FieldDetector/RegionEntrance', { ObjectId: '3' }), { kind: 'intrusion', active: true })
  t.match(kind('tns1:RuleEngine/Recognition/Face', { Likelihood: '0.9' }), { kind: 'face', active: true })
  t.match(kind('tns1:RuleEngine/Recognition/LicensePlate', { PlateNumber: '浙A12345' }), { kind: 'vehicle', active: true })
  // Axis applications (tnsaxis:, state `active`) and vendor namespaces
  t.match(kind('tnsaxis:CameraApplicationPlatform/FenceGuard/Camera1Profile1', { active: '1' }), { kind: 'line_crossing', active: true })
  t.match(kind('tnsaxis:CameraApplicationPlatform/LoiteringGuard/Camera1Profile1', { active: '0' }), { kind: 'intrusion', active: false })
  t.match(kind('tnsdahua:HumanDetect', { State: 'true' }), { kind: 'person', active: true })
  // an unknown detector stays unclassified (and is ignored, as before)
  t.match(kind('tns1:RuleEngine/CountAggregationDetector/Counter', { Count: '4' }), { kind: 'other', active: undefined })
  t.match(kind('tns1:RuleEngine/RecognitionDetector/Something', { State: 'true' }), { kind: 'other' }, 'no I/O input out of a name that only contains "io"')
})
