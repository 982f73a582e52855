import { Type, type TSchema } from 'typebox'
import { IdParams, problemResponses, StringEnum, Timestamp } from '../../core/http/schemas.js'
import { CAMERA_STATUSES } from '../registry/index.js'
import { ALL_REASONS, CHECK_NAMES } from './model.js'

const Status = StringEnum(CAMERA_STATUSES)
const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()])
const PERIODS = ['now', 'hour', 'day', 'week'] as const

export const CheckResultSchema = Type.Object({
  check: StringEnum(CHECK_NAMES),
  ok: Type.Boolean(),
  reason: Type.Optional(StringEnum(ALL_REASONS, { description: ALL_REASONS.join(' | ') })),
  detail: Type.Optional(Type.String()),
  ms: Type.Number({ description: 'how long the check took' }),
  data: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), { description: 'check figures: clock offsetMs; codec/width/height/fps; snapshot bytes, size, mean luma; carried=true when the verdict is from an earlier check' })),
})

export const TransitionSchema = Type.Object({
  id: Type.Integer(),
  cameraId: Type.Integer(),
  unitId: Type.Integer(),
  from: Status,
  to: Status,
  reasons: Type.Array(Type.String()),
  at: Timestamp,
})

export const CameraHealthSchema = Type.Object({
  cameraId: Type.Integer(),
  status: Status,
  reasons: Type.Array(Type.String()),
  since: Nullable(Type.String()),
  checkedAt: Nullable(Type.String()),
  failures: Type.Integer({ description: 'failed checks in a row (offline after health.offlineAfterFailures)' }),
  clockOffsetMs: Nullable(Type.Number()),
  checks: Type.Array(CheckResultSchema),
  transitions: Type.Array(TransitionSchema),
})

const RateCell = Type.Object({
  rate: Nullable(Type.Number({ description: '(online + degraded) / (online + degraded + offline); null when none is checked' })),
  online: Type.Integer(),
  degraded: Type.Integer(),
  offline: Type.Integer(),
  unknown: Type.Integer({ description: 'never checked: counted in total, not in the rate' }),
  total: Type.Integer(),
})
const RateBreakdown = Type.Object({
  ...RateCell.properties,
  byClass: Type.Record(Type.String(), RateCell, { description: 'keys 1, 2, 3' }),
  byKind: Type.Record(Type.String(), RateCell),
})
const TimeCell = Type.Object({
  rate: Nullable(Type.Number({ description: 'share of known camera-time online or degraded' })),
  onlineSeconds: Type.Number(),
  degradedSeconds: Type.Number(),
  offlineSeconds: Type.Number(),
})
const TimeBreakdown = Type.Object({ ...TimeCell.properties, byClass: Type.Record(Type.String(), TimeCell), byKind: Type.Record(Type.String(), TimeCell) })
const Bucket = Type.Object({ start: Timestamp, end: Timestamp, ...TimeBreakdown.properties })

export const summarySchema = {
  tags: ['health'],
  summary: 'Online rate (在线率) of a unit over its subtree: now, or per hour/day/week from the status history',
  querystring: Type.Object(
    {
      unit: Type.Optional(Type.Integer({ minimum: 1, description: 'default: your own unit (administrators: the whole tree)' })),
      period: Type.Optional(StringEnum(PERIODS, { description: 'now (default) | hour | day | week' })),
      from: Type.Optional(Type.String({ description: 'ISO time; default: 24 hours, 7 days or 4 weeks before `to`' })),
      to: Type.Optional(Type.String({ description: 'ISO time; default now. Buckets are aligned in UTC+health.bucketUtcOffsetMinutes' })),
    },
    { additionalProperties: false },
  ),
  response: {
    200: Type.Object({
      unit: Nullable(Type.Object({ id: Type.Integer(), code: Type.String(), name: Type.String(), tier: Type.String() })),
      period: StringEnum(PERIODS),
      at: Timestamp,
      now: RateBreakdown,
      from: Type.Optional(Timestamp),
      to: Type.Optional(Timestamp),
      total: Type.Optional(TimeBreakdown),
      buckets: Type.Optional(Type.Array(Bucket)),
    }),
    ...problemResponses,
  },
}

export const cameraHealthSchema = {
  tags: ['health'],
  summary: "A camera's status, its latest checks and its recent status transitions",
  params: IdParams,
  querystring: Type.Object({ transitions: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 50 })) }, { additionalProperties: false }),
  response: { 200: CameraHealthSchema, ...problemResponses },
}

export const checkCameraSchema = {
  tags: ['health'],
  summary: 'Check one camera now (technician, admin)',
  params: IdParams,
  response: { 200: CameraHealthSchema, ...problemResponses },
}

export const checkUnitSchema = {
  tags: ['health'],
  summary: "Check every enabled camera of a unit's subtree now (technician, admin); answers when done",
  querystring: Type.Object({ unit: Type.Optional(Type.Integer({ minimum: 1, description: 'default: your own unit' })) }, { additionalProperties: false }),
  response: {
    200: Type.Object({
      unitId: Nullable(Type.Integer()),
      durationMs: Type.Number(),
      checked: Type.Integer(),
      online: Type.Integer(),
      degraded: Type.Integer(),
      offline: Type.Integer(),
      unknown: Type.Integer(),
      transitions: Type.Integer(),
    }),
    ...problemResponses,
  },
}

export const problemsSchema = {
  tags: ['health'],
  summary: 'Offline and degraded cameras you may see, offline first, with reasons (dashboard)',
  querystring: Type.Object(
    { unit: Type.Optional(Type.Integer({ minimum: 1 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })) },
    { additionalProperties: false },
  ),
  response: {
    200: Type.Object({
      items: Type.Array(
        Type.Object({
          cameraId: Type.Integer(),
          name: Type.String(),
          unitId: Type.Integer(),
          class: Type.Integer(),
          kind: Type.String(),
          status: Status,
          reasons: Type.Array(Type.String()),
          since: Nullable(Type.String()),
        }),
      ),
      truncated: Type.Boolean(),
    }),
    ...problemResponses,
  },
}
