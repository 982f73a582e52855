import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ValidationError } from '../../core/errors.js'
import { principalOf, requireRole, type Guard } from '../../core/http/guard.js'
import type { RegistryService } from './service.js'
import { createCameraSchema, deleteCameraSchema, exportCamerasSchema, getCameraSchema, importCamerasSchema, listCamerasSchema, updateCameraSchema } from './schemas.js'

export function registryRoutes(deps: { registry: RegistryService; guard: Guard; importBodyLimitBytes: number }): FastifyPluginAsync {
  const { registry, guard } = deps
  return async (app) => {
    // CSV arrives raw; decoding (UTF-8 or GB18030) is the importer's job.
    app.addContentTypeParser(['text/csv', 'application/csv', 'application/vnd.ms-excel'], { parseAs: 'buffer', bodyLimit: deps.importBodyLimitBytes }, (_req, body, done) => done(null, body))
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    r.get('/cameras', { schema: listCamerasSchema, preHandler: guard() }, async (request) => {
      const { cursor, limit, unit, ...filter } = request.query
      return registry.list(principalOf(request), { ...filter, unitId: unit }, cursor, limit)
    })
    r.get('/cameras/:id', { schema: getCameraSchema, preHandler: guard() }, async (request) => registry.get(principalOf(request), request.params.id))
    r.post('/cameras', { schema: createCameraSchema, preHandler: guard('admin', 'technician') }, async (request, reply) =>
      reply.status(201).send(registry.create(principalOf(request), request.body, request.ip)),
    )
    // Changes to one camera: found in scope first (404 outside what you may see), then the role (403).
    r.patch('/cameras/:id', { schema: updateCameraSchema, preHandler: guard() }, async (request) => {
      const principal = principalOf(request)
      registry.get(principal, request.params.id)
      requireRole(principal, 'admin', 'technician')
      return registry.update(principal, request.params.id, request.body, request.ip)
    })
    r.delete('/cameras/:id', { schema: deleteCameraSchema, preHandler: guard() }, async (request, reply) => {
      const principal = principalOf(request)
      registry.get(principal, request.params.id)
      requireRole(principal, 'admin', 'technician')
      registry.delete(principal, request.params.id, request.ip)
      return reply.status(204).send(null)
    })
    r.post('/cameras/import', { schema: importCamerasSchema, preHandler: guard('admin', 'technician'), bodyLimit: deps.importBodyLimitBytes }, async (request) => {
      if (!Buffer.isBuffer(request.body)) throw ValidationError.field('body', 'send the CSV file with Content-Type: text/csv')
      return registry.importCsv(principalOf(request), request.body, { dryRun: request.query.dryRun }, request.ip)
    })
    r.get('/cameras/export', { schema: exportCamerasSchema, preHandler: guard('admin', 'technician') }, async (request, reply) => {
      const lines = registry.exportCsv(principalOf(request), request.query.unit, request.ip)
      const first = lines.next() // runs the scope check and the audit before headers are sent
      const stream = Readable.from((function* () {
        if (!first.done) yield first.value
        yield* lines
      })())
      const stamp = new Date().toISOString().slice(0, 10)
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="cameras-${stamp}.csv"`)
        .send(stream)
    })
  }
}
