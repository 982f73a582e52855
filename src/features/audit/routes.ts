import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { decodeCursor, encodeCursor } from '../../core/http/cursor.js'
import { principalOf, type Guard } from '../../core/http/guard.js'
import { scopeOf } from '../../core/scope.js'
import type { AuditLog } from './service.js'
import { auditListSchema, auditVerifySchema } from './schemas.js'

export function auditRoutes(deps: { audit: AuditLog; guard: Guard }): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.get('/audit', { schema: auditListSchema, preHandler: deps.guard('admin') }, async (request) => {
      const { cursor, limit, ...filters } = request.query
      const items = deps.audit.list(scopeOf(principalOf(request)), { ...filters, limit, afterId: decodeCursor('audit', cursor) })
      const last = items.at(-1)
      return { items, nextCursor: items.length === limit && last ? encodeCursor('audit', last.id) : null }
    })
    // Admin role first (guard), then scope: the chain spans the whole gateway, so only a whole-tree scope may verify it.
    r.get('/audit/verify', { schema: auditVerifySchema, preHandler: deps.guard('admin') }, async (request) => deps.audit.verify(scopeOf(principalOf(request))))
  }
}
