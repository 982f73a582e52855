import { Type } from 'typebox'
import { problemResponses } from '../../core/http/schemas.js'

export const AuditEntrySchema = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  actorId: Type.Union([Type.Integer(), Type.Null()]),
  actor: Type.String(),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  unitPath: Type.String(),
  client: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Record(Type.String(), Type.Unknown()),
  hash: Type.String(),
})

export const AuditListQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    action: Type.Optional(Type.String({ maxLength: 100 })),
    actor: Type.Optional(Type.String({ maxLength: 100 })),
    targetType: Type.Optional(Type.String({ maxLength: 50 })),
    targetId: Type.Optional(Type.String({ maxLength: 100 })),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
)

export const auditListSchema = {
  tags: ['audit'],
  summary: 'Read the audit log of your subtree, newest first',
  querystring: AuditListQuery,
  response: {
    200: Type.Object({ items: Type.Array(AuditEntrySchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
    ...problemResponses,
  },
}

export const auditVerifySchema = {
  tags: ['audit'],
  summary: 'Verify the whole hash chain; reports the first broken row',
  response: {
    200: Type.Object({
      ok: Type.Boolean(),
      rows: Type.Integer(),
      lastHash: Type.Optional(Type.String()),
      firstBrokenId: Type.Optional(Type.Integer()),
      reason: Type.Optional(Type.String()),
    }),
    ...problemResponses,
  },
}
