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
