import type { CameraClass, CameraKind, CameraStatus } from '../registry/index.js'

/** The checks a health probe runs; `live` and `demo` replace probing (see service.ts). */
export const CHECK_NAMES = ['tcp', 'onvif_clock', 'onvif_auth', 'rtsp_describe', 'snapshot', 'events', 'live', 'demo'] as const
export type CheckName = (typeof CHECK_NAMES)[number]

/**
 * Reason codes. The first group means "cannot reach the video" and counts towards offline
 * (hysteresis); the second leaves the camera reachable but degraded.
 */
/** `address_not_allowed`: the camera address policy (cameras.allowedCidrs) refused the address; as a snapshot reason it only degrades */
export const FAILURE_REASONS = ['no_route', 'refused', 'timeout', 'protocol', 'no_endpoint', 'live_failed', 'address_not_allowed'] as const
export const DEGRADED_REASONS = [
  'auth_failed',
  'clock_drift',
  'wrong_codec',
  'wrong_resolution',
  'wrong_fps',
  'covered',
  'frozen',
  'bad_snapshot',
  'snapshot_failed',
  'onvif_unreachable',
  'onvif_error',
  'rtsp_error',
  /** the camera's event subscription (PullPoint or push) keeps failing: its alarms do not arrive */
  'events_failed',
] as const
export type FailureReason = (typeof FAILURE_REASONS)[number]
export type DegradedReason = (typeof DEGRADED_REASONS)[number]
export type Reason = FailureReason | DegradedReason
export const ALL_REASONS: readonly Reason[] = [...FAILURE_REASONS, ...DEGRADED_REASONS]

export interface CheckResult {
  check: CheckName
  ok: boolean
  /** reason code when not ok */
  reason?: Reason
  /** short, redacted, human text */
  detail?: string
  ms: number
  /** check-specific figures: clock offset, codec/size/fps, luma */
  data?: Record<string, string | number | boolean | null>
}

/** What one check of one camera concluded, before hysteresis. */
export interface ProbeOutcome {
  results: CheckResult[]
  /** the video cannot be reached: counts towards offline */
  failed: boolean
  failureReasons: Reason[]
  degradedReasons: Reason[]
  clockOffsetMs: number | null
  snapshotHash: string | null
  snapshotChecked: boolean
  /** an authenticated ONVIF call was made in this check */
  authChecked: boolean
}

export interface HealthSettings {
  intervalSeconds: number
  jitterSeconds: number
  concurrency: number
  checkTimeoutSeconds: number
  offlineAfterFailures: number
  clockDriftThresholdSeconds: number
  snapshotEveryChecks: number
  /** an authenticated ONVIF call every Nth check */
  onvifAuthEveryChecks: number
  frozenAfterChecks: number
  snapshotMaxBytes: number
  writeBatchSize: number
  /** transitions older than this are pruned after each full sweep (each camera keeps its last one) */
  historyDays: number
  /** minimum gap between camera starts in a manual full sweep, ms (0: flat out) */
  sweepPaceMs: number
  bucketUtcOffsetMinutes: number
}

export interface CameraHealthState {
  cameraId: number
  status: CameraStatus
  reasons: string[]
  failures: number
  checkedAt: string | null
  /** the last snapshot verdict (carried forward while the snapshot is not due); the other results live in health_latest */
  lastSnapshot: CheckResult | null
  snapshotHash: string | null
  sameSnapshotCount: number
  checksSinceSnapshot: number
  /** the last authenticated ONVIF call's verdict (carried forward while the next one is not due) */
  lastAuth: CheckResult | null
  checksSinceAuth: number
}

export interface Transition {
  id: number
  cameraId: number
  unitId: number
  from: CameraStatus
  to: CameraStatus
  reasons: string[]
  at: string
}

export type Period = 'now' | 'hour' | 'day' | 'week'

export interface RateCell {
  /** share of (camera-)time online or degraded among known; null when nothing is known */
  rate: number | null
  online: number
  degraded: number
  offline: number
  unknown: number
  total: number
}

export interface RateBreakdown extends RateCell {
  byClass: Record<string, RateCell>
  byKind: Record<string, RateCell>
}

export interface CameraFacts {
  id: number
  unitId: number
  class: CameraClass
  kind: CameraKind
}
