import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, type Guard } from '../../core/http/guard.js'
import type { SafetyIndex } from './safety-index.js'
import type { CasesService } from './service.js'
import { attachmentSchema, commentSchema, createCaseSchema, escalateSchema, getCaseSchema, listCasesSchema, safetyIndexSchema, transitionSchema, updateCaseSchema } from './schemas.js'

export function caseRoutes(deps: { cases: CasesService; safetyIndex: SafetyIndex; guard: Guard }): FastifyPluginAsync {
  const { cases, guard } = deps
  const handlers = guard('admin', 'patrol', 'technician')
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.get('/cases', { schema: listCasesSchema, preHandler: guard() }, async (request) => {
      const { cursor, limit, unit, ...filter } = request.query
      return cases.list(principalOf(request), { ...filter, unitId: unit }, cursor, limit)
    })
    r.post('/cases', { schema: createCaseSchema, preHandler: guard('admin', 'patrol') }, async (request, reply) =>
      reply.status(201).send(cases.create(principalOf(request), request.body, request.ip)),
    )
    r.get('/cases/:id', { schema: getCaseSchema, preHandler: guard() }, async (request) => cases.get(principalOf(request), request.params.id))
    r.patch('/cases/:id', { schema: updateCaseSchema, preHandler: guard('admin', 'patrol') }, async (request) =>
      cases.update(principalOf(request), request.params.id, request.body, request.ip),
    )
    r.post('/cases/:id/transitions', { schema: transitionSchema, preHandler: handlers }, async (request) => {
      const { to, comment, assigneeId } = request.body
      return cases.transition(principalOf(request), request.params.id, to, { comment, assigneeId }, request.ip)
    })
    r.post('/cases/:id/escalate', { schema: escalateSchema, preHandler: handlers }, async (request) =>
      cases.escalate(principalOf(request), request.params.id, request.body.reason, request.ip),
    )
    r.post('/cases/:id/comments', { schema: commentSchema, preHandler: guard() }, async (request, reply) =>
      reply.status(201).send(cases.comment(principalOf(request), request.params.id, request.body.text)),
    )
    r.get('/cases/:id/attachments/:aid', { schema: attachmentSchema, preHandler: guard() }, async (request, reply) => {
      const a = cases.attachment(principalOf(request), request.params.id, request.params.aid, request.ip)
      if (a.sha256) reply.header('x-content-sha256', a.sha256)
      return reply.type(a.contentType).header('cache-control', 'private, no-store').send(a.data)
    })
    r.get('/safety-index', { schema: safetyIndexSchema, preHandler: guard() }, async (request) =>
      deps.safetyIndex.compute(principalOf(request), request.query.unit, request.query.month),
    )
  }
}
