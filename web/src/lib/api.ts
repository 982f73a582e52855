/**
 * The gateway's HTTP API as the screens use it. Same-origin, the session rides in the HttpOnly
 * `gw_session` cookie; a 401 anywhere ends the session in the UI (back to the login screen).
 */
export type Tier = 'street' | 'police_station' | 'community' | 'site'
export type Role = 'admin' | 'technician' | 'patrol' | 'researcher'
export type CameraKind = 'fixed' | 'ptz' | 'dome' | 'door_access' | 'checkpoint'
export type CameraClass = 1 | 2 | 3
export type CameraStatus = 'unknown' | 'online' | 'degraded' | 'offline'
/** what the PTZ head can do (from the camera's PTZ node); null: not known, every control shown */
export interface PtzFeatures {
  panTilt: { continuous: boolean; relative: boolean; absolute: boolean }
  zoom: { continuous: boolean; relative: boolean; absolute: boolean }
  presets: boolean
}
export const CAMERA_KINDS: CameraKind[] = ['fixed', 'ptz', 'dome', 'door_access', 'checkpoint']
export const CAMERA_STATUSES: CameraStatus[] = ['online', 'degraded', 'offline', 'unknown']
export const ROLES: Role[] = ['admin', 'technician', 'patrol', 'researcher']

export interface User {
  id: number
  username: string
  displayName: string
  unitId: number | null
  roles: Role[]
  disabled: boolean
  locked: boolean
  lastLoginAt: string | null
  createdAt: string
  updatedAt: string
}
export interface Me {
  user: User
  unit: { id: number; code: string; name: string; tier: Tier; path: string } | null
}
export interface Unit {
  id: number
  parentId: number | null
  tier: Tier
  code: string
  name: string
  path: string
  address: string | null
  lat: number | null
  lon: number | null
}
export interface Stream {
  uri: string
  codec: string | null
  width: number | null
  height: number | null
  fps: number | null
}
export interface Camera {
  id: number
  unitId: number
  name: string
  class: CameraClass
  kind: CameraKind
  location: { lat: number | null; lon: number | null; address: string | null }
  onvifUrl: string | null
  device: { manufacturer: string | null; model: string | null; serial: string | null; firmware: string | null }
  streams: { main: Stream | null; sub: Stream | null }
  snapshotUri: string | null
  capabilities: { ptz: boolean; events: boolean; ptzFeatures: PtzFeatures | null }
  tags: string[]
  enabled: boolean
  sharedUpward: boolean
  hasCredentials: boolean
  status: CameraStatus
  statusReasons: string[]
  statusChangedAt: string | null
  updatedAt: string
}
export interface WallLayout {
  size: 1 | 4 | 9 | 16
  tiles: (number | null)[]
  updatedAt: string | null
}
export interface Tour {
  id: number
  unitId: number
  name: string
  intervalSeconds: number
  cameraIds: number[]
  createdBy: number | null
}
export interface FieldProblem {
  field: string
  message: string
  line?: number
}
export interface ImportReport {
  dryRun: boolean
  rows: number
  created: number
  updated: number
  unchanged: number
  errors: FieldProblem[]
}
export interface AuditEntry {
  id: number
  at: string
  actor: string
  action: string
  targetType: string | null
  targetId: string | null
  unitPath: string
  client: string | null
  detail: Record<string, unknown>
}
export interface ChainVerdict {
  ok: boolean
  rows: number
  lastHash?: string
  firstBrokenId?: number
  reason?: string
  /** the head anchor outside the database: missing / invalid come with a warning */
  anchor?: 'ok' | 'missing' | 'invalid' | 'truncated' | 'rewritten' | 'forged'
  /** keyed rows and no audit key: not verified (never shown as intact) */
  unverifiable?: true
  verifiedRows?: number
  anchorLastId?: number
  anchorAt?: string
  warning?: string
}

/** A failed request, with the server's problem+json details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: FieldProblem[] = [],
    readonly body: Record<string, unknown> = {},
  ) {
    super(message)
  }
}

let onUnauthorized: () => void = () => {}
/** The app installs what a 401 does (back to login with "session expired"). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn
}

export async function request<T>(method: string, url: string, body?: unknown, init: { contentType?: string; raw?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  let payload: BodyInit | undefined
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Blob || body instanceof ArrayBuffer) {
      payload = body as BodyInit
      headers['content-type'] = init.contentType ?? 'text/plain'
    } else {
      payload = JSON.stringify(body)
      headers['content-type'] = 'application/json'
    }
  }
  const res = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' })
  if (res.status === 401 && !url.startsWith('/api/auth/login')) onUnauthorized()
  if (!res.ok) {
    let problem: Record<string, unknown> = {}
    try {
      problem = (await res.json()) as Record<string, unknown>
    } catch {
      /* not JSON */
    }
    const message = String(problem.detail ?? problem.title ?? res.statusText)
    throw new ApiError(res.status, message, (problem.errors as FieldProblem[] | undefined) ?? [], problem)
  }
  if (res.status === 204) return undefined as T
  if (init.raw) return (await res.text()) as T
  return (await res.json()) as T
}

export const api = {
  login: (username: string, password: string) => request<{ token: string; expiresAt: string; user: User }>('POST', '/api/auth/login', { username, password }),
  logout: () => request<void>('POST', '/api/auth/logout'),
  me: () => request<Me>('GET', '/api/auth/me'),
  units: () => request<{ items: Unit[] }>('GET', '/api/units').then((r) => r.items),
  cameraPage: (query: Record<string, string | number | undefined>) => {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, String(v))
    return request<{ items: Camera[]; nextCursor: string | null }>('GET', `/api/cameras?${qs}`)
  },
  /** every camera the user may see, following cursors */
  async allCameras(): Promise<Camera[]> {
    const out: Camera[] = []
    let cursor: string | undefined
    do {
      const page = await api.cameraPage({ limit: 500, cursor })
      out.push(...page.items)
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    return out
  },
  createCamera: (body: Record<string, unknown>) => request<Camera>('POST', '/api/cameras', body),
  updateCamera: (id: number, body: Record<string, unknown>) => request<Camera>('PATCH', `/api/cameras/${id}`, body),
  deleteCamera: (id: number) => request<void>('DELETE', `/api/cameras/${id}`),
  importCsv: (csv: Blob | string, dryRun: boolean) => request<ImportReport>('POST', `/api/cameras/import?dryRun=${dryRun}`, csv, { contentType: 'text/csv' }),
  layout: () => request<WallLayout>('GET', '/api/wall/layout'),
  saveLayout: (size: number, tiles: (number | null)[]) => request<WallLayout>('PUT', '/api/wall/layout', { size, tiles }),
  tours: () => request<{ items: Tour[] }>('GET', '/api/tours').then((r) => r.items),
  createTour: (body: { name: string; intervalSeconds: number; cameraIds: number[]; unitId?: number }) => request<Tour>('POST', '/api/tours', body),
  updateTour: (id: number, body: Partial<{ name: string; intervalSeconds: number; cameraIds: number[] }>) => request<Tour>('PATCH', `/api/tours/${id}`, body),
  deleteTour: (id: number) => request<void>('DELETE', `/api/tours/${id}`),
  users: () => request<{ items: User[] }>('GET', '/api/users').then((r) => r.items),
  createUser: (body: { username: string; displayName?: string; unitId: number | null; roles: Role[]; password: string }) => request<User>('POST', '/api/users', body),
  updateUser: (id: number, body: Partial<{ displayName: string; roles: Role[]; password: string; disabled: boolean; unitId: number | null }>) => request<User>('PATCH', `/api/users/${id}`, body),
  audit: (query: Record<string, string | undefined>) => {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v) qs.set(k, v)
    return request<{ items: AuditEntry[]; nextCursor: string | null }>('GET', `/api/audit?${qs}`)
  },
  verifyAudit: () => request<ChainVerdict>('GET', '/api/audit/verify'),
}

// --- alarms and cases ------------------------------------------------------------------------
export type CaseState = 'registered' | 'dispatched' | 'in_progress' | 'resolved' | 'closed' | 'archived'
export type Priority = 'urgent' | 'high' | 'normal' | 'low'
export type AlarmKind = 'motion' | 'tamper' | 'video_loss' | 'line_crossing' | 'intrusion' | 'one_button_alarm' | 'one_button_help' | 'io_input' | 'person' | 'vehicle' | 'face' | 'camera_offline' | 'other'
export const ALARM_KINDS: AlarmKind[] = ['motion', 'tamper', 'video_loss', 'line_crossing', 'intrusion', 'one_button_alarm', 'one_button_help', 'io_input', 'person', 'vehicle', 'face', 'camera_offline', 'other']
export const CASE_STATES: CaseState[] = ['registered', 'dispatched', 'in_progress', 'resolved', 'closed', 'archived']
export interface Case {
  id: number
  number: string
  kind: AlarmKind
  priority: Priority
  state: CaseState
  title: string
  description: string | null
  unit: { id: number; code: string; name: string }
  assignee: { id: number; username: string; displayName: string } | null
  cameras: { id: number; name: string }[]
  occurrences: number
  firstSeenAt: string
  lastSeenAt: string
  deadlines: { acknowledgeBy: string; resolveBy: string }
  overdue: { acknowledge: boolean; resolve: boolean; any: boolean }
  allowedTransitions: CaseState[]
  createdBy: string
  createdAt: string
  updatedAt: string
}
export interface CaseDetail extends Case {
  timeline: { id: number; at: string; actor: string; type: string; detail: Record<string, unknown> }[]
  attachments: { id: number; kind: 'snapshot' | 'footage'; contentType: string | null; cameraId: number | null; takenAt: string; sha256: string | null }[]
  alarmIds: number[]
}

// --- health ----------------------------------------------------------------------------------
export interface RateCell { rate: number | null; online: number; degraded: number; offline: number; unknown: number; total: number }
export interface HealthSummary {
  unit: { id: number; code: string; name: string; tier: string } | null
  at: string
  now: RateCell & { byClass: Record<string, RateCell>; byKind: Record<string, RateCell> }
  buckets?: { start: string; end: string; rate: number | null }[]
}
export interface HealthProblem { cameraId: number; name: string; unitId: number; class: number; kind: string; status: CameraStatus; reasons: string[]; since: string | null }
export interface SafetyEntry { unit: { id: number; code: string; name: string; tier: string }; score: number; colour: 'green' | 'blue' | 'orange' | 'red'; cases: number; byKind: Record<string, number>; redStreak: number; underSupervision: boolean }

export const cases = {
  list: (query: Record<string, string | undefined>) => {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v) qs.set(k, v)
    return request<{ items: Case[]; nextCursor: string | null }>('GET', `/api/cases?${qs}`)
  },
  get: (id: number) => request<CaseDetail>('GET', `/api/cases/${id}`),
  create: (body: { kind: AlarmKind; title: string; priority?: Priority; description?: string; cameraIds?: number[]; snapshot?: boolean }) => request<CaseDetail>('POST', '/api/cases', body),
  transition: (id: number, to: CaseState, comment?: string) => request<CaseDetail>('POST', `/api/cases/${id}/transitions`, comment ? { to, comment } : { to }),
  escalate: (id: number, reason: string) => request<CaseDetail>('POST', `/api/cases/${id}/escalate`, { reason }),
  comment: (id: number, text: string) => request<CaseDetail>('POST', `/api/cases/${id}/comments`, { text }),
  safetyIndex: (month?: string, unit?: number) => request<{ month: string; unit: SafetyEntry; children: SafetyEntry[] }>('GET', `/api/safety-index?${new URLSearchParams({ ...(month ? { month } : {}), ...(unit ? { unit: String(unit) } : {}) })}`),
}

export const health = {
  summary: (unit?: number, period?: 'now' | 'hour' | 'day' | 'week') => request<HealthSummary>('GET', `/api/health/summary?${new URLSearchParams({ ...(unit ? { unit: String(unit) } : {}), ...(period ? { period } : {}) })}`),
  problems: (unit?: number) => request<{ items: HealthProblem[]; truncated: boolean }>('GET', `/api/health/problems${unit ? `?unit=${unit}` : ''}`),
  checkCamera: (id: number) => request<{ status: CameraStatus; reasons: string[] }>('POST', `/api/cameras/${id}/health/check`),
  checkUnit: (unit?: number) => request<{ checked: number; online: number; degraded: number; offline: number; durationMs: number }>('POST', `/api/health/check${unit ? `?unit=${unit}` : ''}`),
}

// --- discovery -------------------------------------------------------------------------------
export interface Candidate {
  id: number
  endpointRef: string
  address: string
  xaddrs: string[]
  name: string | null
  location: string | null
  hardware: string | null
  source: 'multicast' | 'unicast' | 'direct'
  lastSeen: string
  state: 'new' | 'registered' | 'moved' | string
  camera: { id: number; name: string; unitId: number } | null
}
export interface DiscoveryJob {
  id: number
  status: 'running' | 'done' | 'failed'
  progress: Record<string, unknown> | null
  error: string | null
  candidates: Candidate[]
}
export interface AdoptBody {
  unitId: number
  name?: string
  class: CameraClass
  kind: CameraKind
  credentials: { username: string; password: string }
  tags?: string[]
  sharedUpward?: boolean
}
export const discovery = {
  scan: (body: { multicast?: boolean; ranges?: string[]; hosts?: { host: string; port?: number }[] }) => request<{ id: number }>('POST', '/api/discovery/scans', body),
  job: (id: number) => request<DiscoveryJob>('GET', `/api/discovery/scans/${id}`),
  candidates: (state?: string) => request<{ items: Candidate[] }>('GET', `/api/discovery/candidates?limit=500${state ? `&state=${state}` : ''}`).then((r) => r.items),
  adopt: (id: number, body: AdoptBody) => request<{ camera: Camera; warnings: string[] }>('POST', `/api/discovery/candidates/${id}/adopt`, body),
  adoptAddress: (body: AdoptBody & { host: string; port?: number }) => request<{ camera: Camera; warnings: string[] }>('POST', '/api/discovery/adopt', body),
}
export const ptz = {
  move: (id: number, pan: number, tilt: number, zoom = 0) => request<unknown>('POST', `/api/cameras/${id}/ptz/move`, { pan, tilt, zoom, timeoutMs: 1500 }),
  stop: (id: number) => request<unknown>('POST', `/api/cameras/${id}/ptz/stop`),
}

// --- footage (recordings, exports) -------------------------------------------------------------
export interface Segment {
  id: number
  cameraId: number
  start: string
  end: string
  durationMs: number
  size: number
  sha256: string
  recovered: boolean
  /** The camera's clock minus the gateway's when the segment was written (ms); null: not known. */
  cameraClockOffsetMs: number | null
  locked: boolean
  url: string
}
export interface Gap { from: string; to: string; durationMs: number }
export interface CameraTimeline { cameraId: number; name: string; segments: Segment[]; gaps: Gap[] }
export type ExportState = 'queued' | 'running' | 'done' | 'failed'
export interface ExportJob {
  id: string
  state: ExportState
  progress: number
  cameraIds: number[]
  from: string
  to: string
  caseId: number | null
  reason: string | null
  frameExact: boolean
  createdBy: string
  createdAt: string
  finishedAt: string | null
  size: number | null
  sha256: string | null
  error: string | null
  download: string | null
}
export interface FileVerdict { name: string; status: 'ok' | 'missing' | 'hash_mismatch' | 'size_mismatch' | 'extra'; expectedSha256?: string; actualSha256?: string }
export interface VerifyReport {
  ok: boolean
  signature: 'valid' | 'invalid' | 'missing'
  manifest: 'ok' | 'missing' | 'unreadable' | 'edited'
  key: { source: 'trusted' | 'embedded'; fingerprint: string; matchesEmbedded: boolean | null }
  files: FileVerdict[]
  problems: string[]
  exportId: string | null
}
export const footage = {
  timeline: (cameraIds: number[], from: string, to: string) =>
    request<{ from: string; to: string; cameras: CameraTimeline[] }>('GET', `/api/recordings?${new URLSearchParams({ camera: cameraIds.join(','), from, to })}`),
  playlistUrl: (cameraId: number, from: string, to: string) => `/api/recordings/${cameraId}/playlist.m3u8?${new URLSearchParams({ from, to })}`,
  createExport: (body: { cameraIds: number[]; from: string; to: string; caseId?: number; reason?: string; frameExact?: boolean }) => request<ExportJob>('POST', '/api/exports', body),
  exportJob: (id: string) => request<ExportJob>('GET', `/api/exports/${encodeURIComponent(id)}`),
  downloadUrl: (id: string) => `/api/exports/${encodeURIComponent(id)}/download`,
  verify: (zip: Blob) => request<VerifyReport>('POST', '/api/exports/verify', zip, { contentType: 'application/zip' }),
}

// --- map plans ---------------------------------------------------------------------------------
export interface LatLon { lat: number; lon: number }
export interface Plan {
  unitId: number
  contentType: 'image/png' | 'image/jpeg' | 'image/webp'
  width: number
  height: number
  size: number
  sha256: string
  /** north-west (top-left) and south-east (bottom-right) corners of the image */
  corners: { nw: LatLon; se: LatLon }
  uploadedBy: string
  updatedAt: string
  imageUrl: string
}
export interface PlanCorners { nwLat: number; nwLon: number; seLat: number; seLon: number }
export const plans = {
  list: () => request<{ items: Plan[] }>('GET', '/api/plans').then((r) => r.items),
  upload: (unitId: number, file: Blob, c: PlanCorners) =>
    request<Plan>('PUT', `/api/plans/${unitId}?${new URLSearchParams({ nwLat: String(c.nwLat), nwLon: String(c.nwLon), seLat: String(c.seLat), seLon: String(c.seLon) })}`, file, { contentType: file.type || 'application/octet-stream' }),
  /** Moves the corners only; the image (and its URL) stays. */
  setCorners: (unitId: number, c: PlanCorners) => request<Plan>('PATCH', `/api/plans/${unitId}`, { nwLat: c.nwLat, nwLon: c.nwLon, seLat: c.seLat, seLon: c.seLon }),
  remove: (unitId: number) => request<void>('DELETE', `/api/plans/${unitId}`),
}
