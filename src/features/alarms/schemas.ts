import { Type } from 'typebox'
import { IdParams, Page, problemResponses, StringEnum } from '../../core/http/schemas.js'
import { AlarmKindSchema, PrioritySchema } from '../cases/index.js'
import { HANDLING_TIERS } from './rules.js'

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()])

export const AlarmSchema = Type.Object({
  id: Type.Integer(),
  receivedAt: Type.String(),
  occurredAt: Type.String(),
  kind: AlarmKindSchema,
  origin: StringEnum(['webhook', 'onvif', 'health'] as const),
  sourceId: Nullable(Type.Integer()),
  externalId: Nullable(Type.String()),
  cameraId: Nullable(Type.Integer()),
  unitId: Type.Integer(),
  topic: Nullable(Type.String()),
  payload: Type.Unknown(),
  description: Nullable(Type.String()),
  location: Type.Union([Type.Object({ lat: Nullable(Type.Number()), lon: Nullable(Type.Number()), address: Nullable(Type.String()) }), Type.Null()]),
  caseId: Nullable(Type.Integer()),
  caseNumber: Nullable(Type.String()),
  outcome: StringEnum(['opened', 'merged', 'logged'] as const),
})

export const listAlarmsSchema = {
  tags: ['alarms'],
  summary: 'Alarms raised in your subtree, newest first',
  querystring: Type.Object(
    {
      kind: Type.Optional(AlarmKindSchema),
      camera: Type.Optional(Type.Integer({ minimum: 1 })),
      unit: Type.Optional(Type.Integer({ minimum: 1 })),
      case: Type.Optional(Type.Integer({ minimum: 1 })),
      cursor: Type.Optional(Type.String({ maxLength: 64 })),
      limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
    },
    { additionalProperties: false },
  ),
  response: { 200: Page(AlarmSchema), ...problemResponses },
}

const IngestResultSchema = Type.Object({
  alarmId: Nullable(Type.Integer()),
  caseId: Nullable(Type.Integer()),
  caseNumber: Nullable(Type.String()),
  outcome: StringEnum(['opened', 'merged', 'logged', 'duplicate', 'rate_limited', 'ignored'] as const),
})

export const postAlarmSchema = {
  tags: ['alarms'],
  summary: 'Webhook for one-button alarm/help boxes and other systems (header X-Alarm-Token)',
  description:
    'Answered 202 only after the alarm (and its case change) is durably stored. The same source and `externalId` again answers 200 with the first alarm. ' +
    'Name the camera (`cameraId` or `cameraSerial`) or, for a box not tied to a camera, the unit (`unitCode`).',
  security: [],
  headers: Type.Object({ 'x-alarm-token': Type.Optional(Type.String()) }),
  body: Type.Object(
    {
      kind: AlarmKindSchema,
      cameraId: Type.Optional(Type.Integer({ minimum: 1 })),
      cameraSerial: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
      unitCode: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      occurredAt: Type.Optional(Type.String({ format: 'date-time' })),
      description: Type.Optional(Type.String({ maxLength: 4000 })),
      location: Type.Optional(
        Type.Object(
          {
            lat: Type.Optional(Type.Union([Type.Number({ minimum: -90, maximum: 90 }), Type.Null()])),
            lon: Type.Optional(Type.Union([Type.Number({ minimum: -180, maximum: 180 }), Type.Null()])),
            address: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
      ),
      externalId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'idempotency key within the source' })),
      payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { additionalProperties: false },
  ),
  response: { 200: IngestResultSchema, 202: IngestResultSchema, ...problemResponses },
}

const SourceSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  unit: Type.Object({ id: Type.Integer(), code: Type.String() }),
  tokenHint: Type.String(),
  enabled: Type.Boolean(),
  createdBy: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Nullable(Type.String()),
})

export const listSourcesSchema = { tags: ['alarms'], summary: 'Webhook alarm sources of your subtree', response: { 200: Type.Object({ items: Type.Array(SourceSchema) }), ...problemResponses } }
export const createSourceSchema = {
  tags: ['alarms'],
  summary: 'Create a webhook alarm source; the token is shown once',
  body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), unitId: Type.Integer({ minimum: 1, description: 'alarms may only name cameras and units in this subtree' }) }, { additionalProperties: false }),
  response: { 201: Type.Intersect([SourceSchema, Type.Object({ token: Type.String() })]), ...problemResponses },
}
export const patchSourceSchema = {
  tags: ['alarms'],
  summary: 'Enable or disable a source',
  params: IdParams,
  body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
  response: { 200: SourceSchema, ...problemResponses },
}

const HandlingTierSchema = StringEnum(HANDLING_TIERS, { description: 'own: the camera’s unit; else the camera’s ancestor of that tier (its own unit when it sits higher)' })
const EffectiveRuleSchema = Type.Object({
  kind: AlarmKindSchema,
  action: StringEnum(['case', 'log'] as const),
  priority: PrioritySchema,
  handlingTier: HandlingTierSchema,
  notifyStreet: Type.Boolean(),
  definedBy: Type.Union([Type.Object({ unitId: Type.Integer(), code: Type.String() }), Type.Null()], { description: 'null: built-in default' }),
})
export const getRulesSchema = {
  tags: ['alarms'],
  summary: 'Effective alarm rules of a unit, per kind (its own, an ancestor’s, or the default)',
  querystring: Type.Object({ unit: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
  response: { 200: Type.Object({ unit: Type.Object({ id: Type.Integer(), code: Type.String() }), rules: Type.Array(EffectiveRuleSchema) }), ...problemResponses },
}
export const putRuleSchema = {
  tags: ['alarms'],
  summary: 'Set the rule of a unit for one alarm kind (missing fields keep the effective value)',
  body: Type.Object(
    {
      unitId: Type.Integer({ minimum: 1 }),
      kind: AlarmKindSchema,
      action: Type.Optional(StringEnum(['case', 'log'] as const)),
      priority: Type.Optional(PrioritySchema),
      handlingTier: Type.Optional(HandlingTierSchema),
      notifyStreet: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
  response: { 200: EffectiveRuleSchema, ...problemResponses },
}
export const deleteRuleSchema = {
  tags: ['alarms'],
  summary: 'Remove a unit’s own rule for a kind (its ancestors’ or the default applies again)',
  querystring: Type.Object({ unit: Type.Integer({ minimum: 1 }), kind: AlarmKindSchema }, { additionalProperties: false }),
  response: { 204: Type.Null(), ...problemResponses },
}
