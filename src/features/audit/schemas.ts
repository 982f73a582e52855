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
  summary: 'Verify the whole hash chain and its end against the anchor; reports the first broken row',
  description:
    'For gateway administrators only (scope: the whole tree); other admins get 403. The chain is walked from row 1, then its end is compared with the head anchor kept outside the database: rows deleted from the end are reported as truncated. A missing or unusable anchor is a warning, not a failure.',
  response: {
    200: Type.Object({
      ok: Type.Boolean(),
      rows: Type.Integer(),
      lastHash: Type.Optional(Type.String()),
      firstBrokenId: Type.Optional(Type.Integer()),
      reason: Type.Optional(Type.String()),
      unverifiable: Type.Optional(Type.Literal(true, { description: 'keyed rows exist and the audit key is not available: they could not be verified (never reported as intact)' })),
      verifiedRows: Type.Optional(Type.Integer({ description: 'with unverifiable: the rows before the upgrade to keyed hashes, which hold' })),
      anchor: Type.Optional(
        Type.Union(['ok', 'missing', 'invalid', 'truncated', 'rewritten', 'forged'].map((s) => Type.Literal(s)), {
          description: 'ok: the anchor names a row the chain holds with the same hash · missing / invalid: a warning, the chain end is not witnessed · truncated / rewritten: the chain lost rows the anchor names · forged: the anchor was not written by the gateway (its MAC under the audit key does not hold)',
        }),
      ),
      anchorLastId: Type.Optional(Type.Integer({ description: 'the row the anchor names' })),
      anchorAt: Type.Optional(Type.String({ description: 'when the anchor was written' })),
      warning: Type.Optional(Type.String()),
    }),
    ...problemResponses,
  },
}
