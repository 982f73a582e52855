import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, type Guard } from '../../core/http/guard.js'
import type { DiscoveryService } from './service.js'
import { adoptAddressSchema, adoptCandidateSchema, getJobSchema, listJobsSchema, listCandidatesSchema, refreshCameraSchema, refreshUnitSchema, startScanSchema } from './schemas.js'

export function discoveryRoutes(deps: { discovery: DiscoveryService; guard: Guard }): FastifyPluginAsync {
  const { discovery, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    const maintainers = guard('admin', 'technician')
    r.post('/discovery/scans', { schema: startScanSchema, preHandler: maintainers }, async (request, reply) =>
      reply.status(202).send(await discovery.startScan(principalOf(request), request.body, request.ip)),
    )
    r.get('/discovery/scans', { schema: listJobsSchema, preHandler: maintainers }, async (request) => ({ items: discovery.listJobs(principalOf(request), request.query.limit) as never[] }))
    r.get('/discovery/scans/:id', { schema: getJobSchema, preHandler: maintainers }, async (request) => discovery.getJob(principalOf(request), request.params.id) as never)
    r.get('/discovery/candidates', { schema: listCandidatesSchema, preHandler: maintainers }, async (request) => {
      const { state, cursor, limit } = request.query
      return discovery.listCandidates(principalOf(request), { state, cursor, limit })
    })
    r.post('/discovery/candidates/:id/adopt', { schema: adoptCandidateSchema, preHandler: maintainers }, async (request, reply) =>
      reply.status(201).send(await discovery.adoptCandidate(principalOf(request), request.params.id, request.body, request.ip)),
    )
    r.post('/discovery/adopt', { schema: adoptAddressSchema, preHandler: maintainers }, async (request, reply) =>
      reply.status(201).send(await discovery.adoptAddress(principalOf(request), request.body, request.ip)),
    )
    // One camera / one unit: found in scope first (404 outside your subtree), then the role (403).
    r.post('/cameras/:id/refresh', { schema: refreshCameraSchema, preHandler: guard() }, async (request) =>
      discovery.refreshCamera(principalOf(request), request.params.id, request.body ?? {}, request.ip),
    )
    r.post('/units/:id/refresh', { schema: refreshUnitSchema, preHandler: guard() }, async (request, reply) =>
      reply.status(202).send(discovery.startUnitRefresh(principalOf(request), request.params.id, request.ip)),
    )
  }
}
