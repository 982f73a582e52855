import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, requireRole, type Guard } from '../../core/http/guard.js'
import { scopeOf } from '../../core/scope.js'
import type { OrgService } from './service.js'
import { createUnitSchema, deleteUnitSchema, getUnitSchema, listUnitsSchema, updateUnitSchema } from './schemas.js'

export function orgRoutes(deps: { org: OrgService; guard: Guard }): FastifyPluginAsync {
  const { org, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.get('/units', { schema: listUnitsSchema, preHandler: guard() }, async (request) => {
      const { tier, parent, under } = request.query
      return { items: org.list(scopeOf(principalOf(request)), { tier, parentId: parent, under }) }
    })
    r.get('/units/:id', { schema: getUnitSchema, preHandler: guard() }, async (request) => org.get(scopeOf(principalOf(request)), request.params.id))
    r.post('/units', { schema: createUnitSchema, preHandler: guard('admin') }, async (request, reply) => {
      const body = request.body
      const unit = org.create(principalOf(request), { ...body, parentId: body.parentId ?? null }, request.ip)
      return reply.status(201).send(unit)
    })
    // Changes to one unit: found in scope first (404 outside the subtree), then the role (403).
    r.patch('/units/:id', { schema: updateUnitSchema, preHandler: guard() }, async (request) => {
      const principal = principalOf(request)
      org.get(scopeOf(principal), request.params.id)
      requireRole(principal, 'admin')
      return org.update(principal, request.params.id, request.body, request.ip)
    })
    r.delete('/units/:id', { schema: deleteUnitSchema, preHandler: guard() }, async (request, reply) => {
      const principal = principalOf(request)
      org.get(scopeOf(principal), request.params.id)
      requireRole(principal, 'admin')
      org.delete(principal, request.params.id, request.ip)
      return reply.status(204).send(null)
    })
  }
}
