import type { OnvifEvent } from '../../lib/onvif/index.js'
import type { AlarmKind } from '../cases/index.js'

/**
 * ONVIF event topics → our closed AlarmKind set. Vendor topic quirks stop here.
 *
 * Topics arrive normalised by the ONVIF client (`tns1:` for the ONVIF topic namespace whatever
 * prefix the camera bound it to; vendor segments keep their prefix, e.g. `tnshik:`).
 */
export interface NormalizedEvent {
  kind: AlarmKind
  /** true: the condition started (or a pulse event), false: it ended, undefined: a message with no state */
  active: boolean | undefined
  /** the rule or detector name the camera reported, when any (Hikvision/Dahua smart rules) */
  rule: string | undefined
  /** the state-initialisation message a new subscription gets (not a new alarm when active=false) */
  initial: boolean
}

interface TopicRule {
  test: RegExp
  kind: AlarmKind | ((m: RegExpExecArray) => AlarmKind)
  /** data items carrying the state, in order of preference; empty: the message itself is the event (a pulse) */
  state: string[]
  /** a name-guessing rule that recognised nothing leaves the topic unclassified (and ignored) */
  onlyKnown?: boolean
}

/**
 * Guess a kind from a vendor's free-form detector/rule name (Hikvision MyRuleDetector, Dahua IVS,
 * Axis applications). A rule about where something went (a line, a field) names the event even
 * when it only watches people or cars; a detector of a class of object names that class.
 */
function kindFromName(name: string): AlarmKind {
  if (/line|cross|tripwire|fence|绊线|越线/i.test(name)) return 'line_crossing'
  if (/field|intrusion|region|inside|perimeter|loiter|区域|入侵/i.test(name)) return 'intrusion'
  if (/face|人脸/i.test(name)) return 'face'
  if (/people|person|human|pedestrian|body|人员|人形|行人/i.test(name)) return 'person'
  if (/vehicle|car\b|motor|licen[cs]e.?plate|plate|anpr|lpr|车辆|车牌/i.test(name)) return 'vehicle'
  if (/tamper|shelter|cover|defocus|blur|scene|遮挡/i.test(name)) return 'tamper'
  if (/motion|vmd|移动侦测/i.test(name)) return 'motion'
  if (/videoloss|signal/i.test(name)) return 'video_loss'
  if (/alarm.?in|digital.?input|\bio\b|i\/o/i.test(name)) return 'io_input'
  return 'other'
}

const RULES: TopicRule[] = [
  // Profile S motion (Hikvision, Uniview, Axis, Dahua)
  { test: /^tns1:VideoSource\/MotionAlarm$/, kind: 'motion', state: ['State', 'IsMotion'] },
  // Cell motion analytics (Hikvision, Dahua, Axis)
  { test: /^tns1:RuleEngine\/CellMotionDetector\/Motion$/, kind: 'motion', state: ['IsMotion', 'State'] },
  // Dahua newer firmwares and Axis: region-based motion
  { test: /^tns1:RuleEngine\/MotionRegionDetector\/Motion$/, kind: 'motion', state: ['State', 'IsMotion'] },
  { test: /^tns1:RuleEngine\/TamperDetector\/Tamper$/, kind: 'tamper', state: ['IsTamper', 'State'] },
  // Image-quality alarms are tampering (lens covered, sprayed, turned away); Hikvision and Uniview use GlobalSceneChange for covering.
  { test: /^tns1:VideoSource\/(ImageTooBlurry|ImageTooDark|ImageTooBright|GlobalSceneChange)(\/|$)/, kind: 'tamper', state: ['State'] },
  { test: /^tns1:VideoSource\/SignalLoss(\/|$)/, kind: 'video_loss', state: ['State'] },
  // Dahua NVR channels report video loss as VideoSource/VideoLoss
  { test: /^tns1:VideoSource\/VideoLoss(\/|$)/, kind: 'video_loss', state: ['State'] },
  // Line crossing is a pulse: the message (ObjectId) is the event
  { test: /^tns1:RuleEngine\/LineDetector\/Crossed$/, kind: 'line_crossing', state: [] },
  { test: /^tns1:RuleEngine\/FieldDetector\/ObjectsInside$/, kind: 'intrusion', state: ['IsInside', 'State'] },
  // Dahua: CrossLineDetector / CrossRegionDetector (IVS) with State
  { test: /^tns1:RuleEngine\/CrossLineDetector(\/|$)/, kind: 'line_crossing', state: ['State'] },
  { test: /^tns1:RuleEngine\/CrossRegionDetector(\/|$)/, kind: 'intrusion', state: ['State', 'IsInside'] },
  // ONVIF Profile M (analytics): entering a field is an intrusion, leaving it is not; recognitions are pulses
  { test: /^tns1:RuleEngine\/FieldDetector\/RegionEntrance$/, kind: 'intrusion', state: [] },
  { test: /^tns1:RuleEngine\/Recognition\/Face$/, kind: 'face', state: [] },
  { test: /^tns1:RuleEngine\/Recognition\/LicensePlate$/, kind: 'vehicle', state: [] },
  // People detection of Tapo/TP-Link, Reolink-style firmwares (IsPeople) and Uniview
  { test: /^tns1:RuleEngine\/PeopleDetector\/People$/, kind: 'person', state: ['IsPeople', 'State'] },
  { test: /^tns1:Device\/Trigger\/DigitalInput$/, kind: 'io_input', state: ['LogicalState', 'State'] },
  // Hikvision NVR-attached channels and some Dahua models
  { test: /^tns1:Device\/IO\/(Input|DigitalInput|AlarmIn)/i, kind: 'io_input', state: ['LogicalState', 'State', 'Value'] },
  // Hikvision smart rules: tns1:RuleEngine/MyRuleDetector/<RuleName>, e.g. LineDetect, FieldDetect,
  // PeopleDetect, VehicleDetect, FaceDetect (Hikvision, and the Reolink/Tapo firmwares that copy it)
  { test: /^tns1:RuleEngine\/MyRuleDetector\/(.+)$/, kind: (m) => kindFromName(m[1]!), state: ['State', 'IsMotion', 'IsInside', 'IsPeople', 'IsVehicle', 'IsFace', 'Value'] },
  // Vendor-namespaced topics (tnshik:, tnsdahua:, tnsaxis: e.g. CameraApplicationPlatform/FenceGuard/…,
  // tnsuniview:): best effort by name; Axis applications say `active`
  { test: /^tns(?:hik|dahua|axis|uniview)\w*:(.+)$/i, kind: (m) => kindFromName(m[1]!), state: ['State', 'IsMotion', 'IsInside', 'LogicalState', 'active', 'Value'] },
  // Other analytics detectors (Dahua FaceDetector, HumanDetector, VehicleDetector …): by the detector's name
  { test: /^tns1:RuleEngine\/([^/]+Detector)(\/|$)/, kind: (m) => kindFromName(m[1]!), state: ['State', 'IsInside', 'IsPeople', 'IsVehicle', 'IsFace', 'Value'], onlyKnown: true },
]

/** Vendors spell booleans many ways: true/false, 1/0, active/inactive, on/off (Dahua: "1"). */
export function parseState(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined
  const t = v.trim().toLowerCase()
  if (t === 'true' || t === '1' || t === 'active' || t === 'on' || t === 'start') return true
  if (t === 'false' || t === '0' || t === 'inactive' || t === 'off' || t === 'stop') return false
  return undefined
}

export function normalizeOnvifEvent(ev: Pick<OnvifEvent, 'topic' | 'data' | 'source' | 'propertyOperation'>): NormalizedEvent {
  const initial = ev.propertyOperation === 'Initialized'
  const rule = ev.source.Rule ?? ev.source.RuleName ?? undefined
  for (const r of RULES) {
    const m = r.test.exec(ev.topic)
    if (!m) continue
    const kind = typeof r.kind === 'function' ? r.kind(m) : r.kind
    if (r.onlyKnown && kind === 'other') continue
    if (!r.state.length) return { kind, active: true, rule, initial }
    for (const name of r.state) {
      const a = parseState(ev.data[name])
      if (a !== undefined) return { kind, active: a, rule, initial }
    }
    // a known topic with no readable state: Hikvision sends some rule events as bare pulses
    return { kind, active: ev.propertyOperation === 'Deleted' ? false : undefined, rule, initial }
  }
  return { kind: 'other', active: undefined, rule, initial }
}
