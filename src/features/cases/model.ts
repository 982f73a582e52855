/** The alarm and case vocabulary. Vendor topics and webhook spellings are mapped to these at the adapters. */
export const ALARM_KINDS = ['motion', 'tamper', 'video_loss', 'line_crossing', 'intrusion', 'one_button_alarm', 'one_button_help', 'io_input', 'person', 'vehicle', 'face', 'camera_offline', 'other'] as const
export type AlarmKind = (typeof ALARM_KINDS)[number]

/** One-button alarm and help (一键报警 / 一键求助): never dropped, rate-limited or merged. */
export const ONE_BUTTON_KINDS: readonly AlarmKind[] = ['one_button_alarm', 'one_button_help']
export const isOneButton = (kind: AlarmKind): boolean => ONE_BUTTON_KINDS.includes(kind)

export const PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const
export type Priority = (typeof PRIORITIES)[number]

export const CASE_STATES = ['registered', 'dispatched', 'in_progress', 'resolved', 'closed', 'archived'] as const
export type CaseState = (typeof CASE_STATES)[number]

/**
 * The workflow (登记备案 → 分流督办 → 跟踪处理 → 结案归档). Besides the main line:
 * registered → closed (a false alarm is closed without dispatch), dispatched → resolved (handled
 * on arrival), resolved → in_progress (reopen when the result is not accepted).
 */
export const TRANSITIONS: Record<CaseState, readonly CaseState[]> = {
  registered: ['dispatched', 'closed'],
  dispatched: ['in_progress', 'resolved'],
  in_progress: ['resolved'],
  resolved: ['closed', 'in_progress'],
  closed: ['archived'],
  archived: [],
}

/** States in which a case is still being worked on (counts against deleting its unit, is merged into). */
export const OPEN_STATES: readonly CaseState[] = ['registered', 'dispatched', 'in_progress', 'resolved']
/** States whose resolve deadline still runs. */
export const UNRESOLVED_STATES: readonly CaseState[] = ['registered', 'dispatched', 'in_progress']

export const TIMELINE_TYPES = ['registered', 'transition', 'comment', 'assignment', 'update', 'escalation', 'occurrence', 'snapshot', 'attachment', 'overdue', 'note'] as const
export type TimelineType = (typeof TIMELINE_TYPES)[number]

export interface CaseRef {
  id: number
  code: string
  name: string
}

export interface CaseView {
  id: number
  number: string
  kind: AlarmKind
  priority: Priority
  state: CaseState
  title: string
  description: string | null
  unit: CaseRef
  assignee: { id: number; username: string; displayName: string } | null
  cameras: { id: number; name: string }[]
  sourceAlarmId: number | null
  occurrences: number
  firstSeenAt: string
  lastSeenAt: string
  notifyStreet: boolean
  location: { lat: number | null; lon: number | null; address: string | null } | null
  deadlines: { acknowledgeBy: string; resolveBy: string }
  acknowledgedAt: string | null
  resolvedAt: string | null
  closedAt: string | null
  archivedAt: string | null
  overdue: { acknowledge: boolean; resolve: boolean; any: boolean }
  allowedTransitions: CaseState[]
  createdBy: string
  createdAt: string
  updatedAt: string
}

export interface TimelineEntry {
  id: number
  at: string
  actor: string
  type: TimelineType
  detail: Record<string, unknown>
}

export interface AttachmentView {
  id: number
  kind: 'snapshot' | 'footage'
  contentType: string | null
  size: number | null
  sha256: string | null
  cameraId: number | null
  ref: Record<string, unknown> | null
  takenAt: string
}

export interface CaseDetail extends CaseView {
  timeline: TimelineEntry[]
  attachments: AttachmentView[]
  alarmIds: number[]
}

/** Where snapshots at alarm time come from (the media feature's snapshot, wired in app.ts). */
export interface SnapshotSource {
  snapshot(cameraId: number): Promise<{ contentType: string; data: Buffer }>
}

export interface Deadlines {
  acknowledgeMinutes: number
  resolveMinutes: number
}
export type DeadlineSettings = Record<Priority, Deadlines>
