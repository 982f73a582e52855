import { Type } from 'typebox'
import { IdParams, problemResponses, StringEnum } from '../../core/http/schemas.js'
import { CameraClassSchema, CameraKindSchema, CameraSchema } from '../registry/schemas.js'
import { CANDIDATE_STATES } from './store.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
/** 502/504: the camera failed (codes camera_unreachable, camera_timeout, camera_bad_reply, camera_fault …). */
export const cameraProblems = { ...problemResponses, 502: Type.Ref('Problem'), 504: Type.Ref('Problem') }

const Host = Type.String({ minLength: 1, maxLength: 253, description: 'IPv4 address or DNS name (checked against discovery.allowedCidrs after resolution)' })
const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const Credentials = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ maxLength: 256 }) },
  { additionalProperties: false, description: 'write-only; used for WS-UsernameToken on the camera clock' },
)

const CandidateSchema = Type.Object({
  id: Type.Integer(),
  endpointRef: Type.String(),
  address: Type.String(),
  xaddrs: Type.Array(Type.String()),
  scopes: Type.Array(Type.String()),
  name: Nullable(Type.String()),
  location: Nullable(Type.String()),
  hardware: Nullable(Type.String()),
  types: Type.Array(Type.String()),
  source: StringEnum(['multicast', 'unicast', 'direct'] as const),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  scanId: Nullable(Type.Integer()),
  state: StringEnum(CANDIDATE_STATES, { description: 'new | registered (matches a camera) | moved (a known camera at a new address)' }),
  camera: Nullable(Type.Object({ id: Type.Integer(), name: Type.String(), unitId: Type.Integer(), onvifUrl: Nullable(Type.String()) }, { description: 'only when the camera is in your part of the org tree' })),
})

export const startScanSchema = {
  tags: ['discovery'],
  summary: 'Start a discovery scan (multicast, unicast ranges, direct hosts); 202 with the job id',
  body: Type.Object(
    {
      multicast: Type.Optional(Type.Boolean({ description: 'WS-Discovery probe on discovery.multicastInterfaces' })),
      ranges: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 43 }), { maxItems: 64, description: 'IPv4 CIDRs, at most a /16 each, inside discovery.allowedCidrs' })),
      hosts: Type.Optional(Type.Array(Type.Object({ host: Host, port: Type.Optional(Port) }, { additionalProperties: false }), { maxItems: 256, description: 'direct add: probed on UDP 3702, else checked with GetSystemDateAndTime on the HTTP port (default 80)' })),
    },
    { additionalProperties: false },
  ),
  response: { 202: Type.Object({ id: Type.Integer() }), ...problemResponses },
}

const JobSchema = Type.Object({
  id: Type.Integer(),
  kind: StringEnum(['scan', 'unit_refresh'] as const),
  status: StringEnum(['running', 'done', 'failed'] as const),
  startedBy: Type.String(),
  startedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
  request: Type.Unknown(),
  progress: Type.Unknown({ description: 'scan: probesPlanned, probesSent, replies, candidates, refused, hostsChecked, errors; refresh: total, done, changed, failed' }),
  error: Nullable(Type.String()),
  candidates: Type.Array(CandidateSchema),
  results: Type.Array(Type.Unknown()),
})

export const listJobsSchema = {
  tags: ['discovery'],
  summary: 'Latest scans and unit refreshes you may read, newest first (without candidates and results)',
  querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }) }, { additionalProperties: false }),
  response: { 200: Type.Object({ items: Type.Array(Type.Omit(JobSchema, ['candidates', 'results'])) }), ...problemResponses },
}

export const getJobSchema = { tags: ['discovery'], summary: 'A scan or unit refresh job: progress, and results so far', params: IdParams, response: { 200: JobSchema, ...problemResponses } }

export const listCandidatesSchema = {
  tags: ['discovery'],
  summary: 'Discovered devices awaiting adoption (quarantine), gateway-wide',
  querystring: Type.Object(
    {
      state: Type.Optional(StringEnum(CANDIDATE_STATES)),
      cursor: Type.Optional(Type.String({ maxLength: 100 })),
      limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    },
    { additionalProperties: false },
  ),
  response: { 200: Type.Object({ items: Type.Array(CandidateSchema), nextCursor: Nullable(Type.String()) }), ...problemResponses },
}

const AdoptFields = {
  unitId: Type.Integer({ minimum: 1 }),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  class: CameraClassSchema,
  kind: CameraKindSchema,
  credentials: Credentials,
  tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 50 })),
  sharedUpward: Type.Optional(Type.Boolean()),
}

const AdoptResultSchema = Type.Object({
  camera: CameraSchema,
  clockOffsetMs: Type.Integer({ description: 'camera clock minus gateway clock' }),
  warnings: Type.Array(Type.String()),
  elapsedMs: Type.Integer(),
})

export const adoptCandidateSchema = {
  tags: ['discovery'],
  summary: 'Adopt a candidate into a unit: interrogate it with the credentials and register it',
  description: 'Errors: 422 camera_auth_failed (wrong user name or password, field body.credentials.password), 502 camera_unreachable, 504 camera_timeout, 502 camera_bad_reply, 502 camera_fault, 409 already registered.',
  params: IdParams,
  body: Type.Object(AdoptFields, { additionalProperties: false }),
  response: { 201: AdoptResultSchema, ...cameraProblems },
}

export const adoptAddressSchema = {
  tags: ['discovery'],
  summary: 'Adopt a device by address (no discovery needed)',
  description: adoptCandidateSchema.description,
  body: Type.Object({ host: Host, port: Type.Optional(Port), path: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'device service path, default /onvif/device_service' })), ...AdoptFields }, { additionalProperties: false }),
  response: { 201: AdoptResultSchema, ...cameraProblems },
}

const ChangeSchema = Type.Object({ field: Type.String(), before: Type.Unknown(), after: Type.Unknown() })

export const refreshCameraSchema = {
  tags: ['discovery'],
  summary: 'Re-interrogate a camera (stored or new credentials, optionally a new address) and apply what changed',
  params: IdParams,
  body: Type.Optional(Type.Object({ credentials: Type.Optional(Credentials), onvifUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })) }, { additionalProperties: false })),
  response: { 200: Type.Object({ camera: CameraSchema, changes: Type.Array(ChangeSchema), warnings: Type.Array(Type.String()) }), ...cameraProblems },
}

export const refreshUnitSchema = {
  tags: ['discovery'],
  summary: 'Re-interrogate every ONVIF camera of a unit subtree (a job; read it at /api/discovery/scans/:id)',
  params: IdParams,
  response: { 202: Type.Object({ id: Type.Integer() }), ...problemResponses },
}
