import { Type } from 'typebox'
import { IdParams, Page, problemResponses, StringEnum } from '../../core/http/schemas.js'
import { ALARM_KINDS, CASE_STATES, PRIORITIES, TIMELINE_TYPES } from './model.js'

export const AlarmKindSchema = StringEnum(ALARM_KINDS)
export const PrioritySchema = StringEnum(PRIORITIES)
export const CaseStateSchema = StringEnum(CASE_STATES)
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()])

export const CaseSchema = Type.Object({
  id: Type.Integer(),
  number: Type.String({ description: 'readable number, YYYY-NNNNNN' }),
  kind: AlarmKindSchema,
  priority: PrioritySchema,
  state: CaseStateSchema,
  title: Type.String(),
  description: Nullable(Type.String()),
  unit: Type.Object({ id: Type.Integer(), code: Type.String(), name: Type.String() }),
  assignee: Type.Union([Type.Object({ id: Type.Integer(), username: Type.String(), displayName: Type.String() }), Type.Null()]),
  cameras: Type.Array(Type.Object({ id: Type.Integer(), name: Type.String() })),
  sourceAlarmId: Nullable(Type.Integer()),
  occurrences: Type.Integer(),
  firstSeenAt: Type.String(),
  lastSeenAt: Type.String(),
  notifyStreet: Type.Boolean(),
  location: Type.Union([Type.Object({ lat: Nullable(Type.Number()), lon: Nullable(Type.Number()), address: Nullable(Type.String()) }), Type.Null()]),
  deadlines: Type.Object({ acknowledgeBy: Type.String(), resolveBy: Type.String() }),
  acknowledgedAt: Nullable(Type.String()),
  resolvedAt: Nullable(Type.String()),
  closedAt: Nullable(Type.String()),
  archivedAt: Nullable(Type.String()),
  overdue: Type.Object({ acknowledge: Type.Boolean(), resolve: Type.Boolean(), any: Type.Boolean() }),
  allowedTransitions: Type.Array(CaseStateSchema),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

export const CaseDetailSchema = Type.Intersect([
  CaseSchema,
  Type.Object({
    timeline: Type.Array(Type.Object({ id: Type.Integer(), at: Type.String(), actor: Type.String(), type: StringEnum(TIMELINE_TYPES), detail: Type.Record(Type.String(), Type.Unknown()) })),
    attachments: Type.Array(
      Type.Object({
        id: Type.Integer(),
        kind: StringEnum(['snapshot', 'footage'] as const),
        contentType: Nullable(Type.String()),
        size: Nullable(Type.Integer()),
        sha256: Nullable(Type.String()),
        cameraId: Nullable(Type.Integer()),
        ref: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
        takenAt: Type.String(),
      }),
    ),
    alarmIds: Type.Array(Type.Integer()),
  }),
])

export const listCasesSchema = {
  tags: ['cases'],
  summary: 'Cases whose unit is in your subtree, newest first',
  querystring: Type.Object(
    {
      state: Type.Optional(CaseStateSchema),
      kind: Type.Optional(AlarmKindSchema),
      priority: Type.Optional(PrioritySchema),
      unit: Type.Optional(Type.Integer({ minimum: 1, description: 'only this unit and its subtree' })),
      overdue: Type.Optional(Type.Boolean()),
      cursor: Type.Optional(Type.String({ maxLength: 64 })),
      limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
    },
    { additionalProperties: false },
  ),
  response: { 200: Page(CaseSchema), ...problemResponses },
}

export const getCaseSchema = { tags: ['cases'], params: IdParams, response: { 200: CaseDetailSchema, ...problemResponses } }

export const createCaseSchema = {
  tags: ['cases'],
  summary: 'Register a case by hand (patrol, admin)',
  body: Type.Object(
    {
      kind: AlarmKindSchema,
      priority: Type.Optional(PrioritySchema),
      title: Type.String({ minLength: 1, maxLength: 200 }),
      description: Type.Optional(Type.Union([Type.String({ maxLength: 4000 }), Type.Null()])),
      unitId: Type.Optional(Type.Integer({ minimum: 1, description: 'default: your unit' })),
      cameraIds: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 50 })),
      snapshot: Type.Optional(Type.Boolean({ description: 'take a snapshot of the first camera now' })),
      assigneeId: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  response: { 201: CaseDetailSchema, ...problemResponses },
}

export const updateCaseSchema = {
  tags: ['cases'],
  summary: 'Reassign, reprioritise or edit a case (not archived)',
  params: IdParams,
  body: Type.Object(
    {
      assigneeId: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
      priority: Type.Optional(PrioritySchema),
      title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      description: Type.Optional(Type.Union([Type.String({ maxLength: 4000 }), Type.Null()])),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
  response: { 200: CaseDetailSchema, ...problemResponses },
}

export const transitionSchema = {
  tags: ['cases'],
  summary: 'Move a case along its workflow; an illegal move is 409 listing the allowed ones',
  params: IdParams,
  body: Type.Object(
    {
      to: CaseStateSchema,
      comment: Type.Optional(Type.String({ maxLength: 4000 })),
      assigneeId: Type.Optional(Type.Integer({ minimum: 1 })),
    },
    { additionalProperties: false },
  ),
  response: { 200: CaseDetailSchema, ...problemResponses },
}

export const escalateSchema = {
  tags: ['cases'],
  summary: 'Hand the case to the parent unit (small matters stay low, big ones go up)',
  params: IdParams,
  body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 4000 }) }, { additionalProperties: false }),
  response: { 200: CaseDetailSchema, ...problemResponses },
}

export const commentSchema = {
  tags: ['cases'],
  params: IdParams,
  body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 4000 }) }, { additionalProperties: false }),
  response: { 201: CaseDetailSchema, ...problemResponses },
}

export const attachmentSchema = {
  tags: ['cases'],
  summary: 'An attachment: the snapshot image (X-Content-SHA256) or a footage reference (JSON); audited',
  params: Type.Object({ id: Type.Integer({ minimum: 1 }), aid: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  response: { ...problemResponses },
}

const Colour = StringEnum(['green', 'blue', 'orange', 'red'] as const)
const IndexEntry = Type.Object({
  unit: Type.Object({ id: Type.Integer(), code: Type.String(), name: Type.String(), tier: Type.String() }),
  score: Type.Number(),
  colour: Colour,
  cases: Type.Integer(),
  byKind: Type.Record(Type.String(), Type.Integer()),
  redStreak: Type.Integer({ description: 'red months in a row, ending with this one' }),
  underSupervision: Type.Boolean(),
})
export const safetyIndexSchema = {
  tags: ['cases'],
  summary: 'Safety index (平安指数) of a unit and its child units for one month',
  querystring: Type.Object(
    {
      unit: Type.Optional(Type.Integer({ minimum: 1, description: 'default: your unit' })),
      month: Type.Optional(Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM; default: this month' })),
    },
    { additionalProperties: false },
  ),
  response: { 200: Type.Object({ month: Type.String(), unit: IndexEntry, children: Type.Array(IndexEntry) }), ...problemResponses },
}
