import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, requireRole, type Guard } from '../../core/http/guard.js'
import type { RegistryService } from '../registry/index.js'
import type { HealthService } from './service.js'
import { cameraHealthSchema, checkCameraSchema, checkUnitSchema, problemsSchema, summarySchema } from './schemas.js'

export function healthRoutes(deps: { health: HealthService; registry: RegistryService; guard: Guard }): FastifyPluginAsync {
  const { health, registry, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.get('/health/summary', { schema: summarySchema, preHandler: guard() }, async (request) => {
      const { unit, period, from, to } = request.query
      return health.summary(principalOf(request), { unitId: unit, period: period ?? 'now', from, to })
    })
    r.get('/health/problems', { schema: problemsSchema, preHandler: guard() }, async (request) =>
      health.problems(principalOf(request), request.query.unit, request.query.limit ?? 500),
    )
    r.get('/cameras/:id/health', { schema: cameraHealthSchema, preHandler: guard() }, async (request) =>
      health.cameraHealth(principalOf(request), request.params.id, request.query.transitions ?? 50),
    )
    // Found in scope first (404 outside what you may see), then the role (403).
    r.post('/cameras/:id/health/check', { schema: checkCameraSchema, preHandler: guard() }, async (request) => {
      const principal = principalOf(request)
      registry.get(principal, request.params.id)
      requireRole(principal, 'admin', 'technician')
      return health.checkCamera(principal, request.params.id)
    })
    r.post('/health/check', { schema: checkUnitSchema, preHandler: guard('admin', 'technician') }, async (request) =>
      health.checkUnit(principalOf(request), request.query.unit),
    )
  }
}
