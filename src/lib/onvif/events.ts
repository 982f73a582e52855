/** Maps vendor event topics onto our closed EventKind union. Vendor quirks stop here. */
import type { ClassifiedEvent, EventKind, OnvifEvent } from './types.js'

interface Rule {
  test: RegExp
  kind: EventKind
  /** data item carrying the state, in order of preference */
  state: string[]
}

const RULES: Rule[] = [
  // Profile S video-source motion alarm (State)
  { test: /^tns1:VideoSource\/MotionAlarm$/, kind: 'motion', state: ['State'] },
  // Cell motion analytics rule (IsMotion), the ONVIF Analytics cell motion detector
  { test: /^tns1:RuleEngine\/CellMotionDetector\/Motion$/, kind: 'motion', state: ['IsMotion'] },
  // Region-based motion rule (Axis OS raises this one)
  { test: /^tns1:RuleEngine\/MotionRegionDetector\/Motion$/, kind: 'motion', state: ['State', 'IsMotion'] },
  { test: /^tns1:RuleEngine\/TamperDetector\/Tamper$/, kind: 'tamper', state: ['IsTamper', 'State'] },
  { test: /^tns1:VideoSource\/ImageTooBlurry(\/|$)/, kind: 'image-too-blurry', state: ['State'] },
  { test: /^tns1:VideoSource\/ImageTooDark(\/|$)/, kind: 'image-too-dark', state: ['State'] },
  { test: /^tns1:VideoSource\/ImageTooBright(\/|$)/, kind: 'image-too-bright', state: ['State'] },
  // Camera moved or lens covered
  { test: /^tns1:VideoSource\/GlobalSceneChange(\/|$)/, kind: 'scene-change', state: ['State'] },
  { test: /^tns1:VideoSource\/SignalLoss$/, kind: 'signal-loss', state: ['State'] },
  { test: /^tns1:Device\/Trigger\/DigitalInput$/, kind: 'digital-input', state: ['LogicalState', 'State'] },
  // Non-standard IO topic spellings seen next to Device/Trigger
  { test: /^tns1:Device\/IO\/(Input|DigitalInput)/, kind: 'digital-input', state: ['LogicalState', 'State', 'Value'] },
]

function truthy(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined
  const t = v.trim().toLowerCase()
  if (t === 'true' || t === '1' || t === 'active' || t === 'on') return true
  if (t === 'false' || t === '0' || t === 'inactive' || t === 'off') return false
  return undefined
}

export function classifyEvent(ev: OnvifEvent): ClassifiedEvent {
  for (const r of RULES) {
    if (!r.test.test(ev.topic)) continue
    for (const name of r.state) {
      const a = truthy(ev.data[name])
      if (a !== undefined) return { kind: r.kind, active: a }
    }
    return { kind: r.kind, active: undefined }
  }
  return { kind: 'other', active: undefined }
}
