import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, type Guard } from '../../core/http/guard.js'
import type { AlarmsService } from './service.js'
import type { SourceRow } from './store.js'
import { createSourceSchema, deleteRuleSchema, getRulesSchema, listAlarmsSchema, listSourcesSchema, patchSourceSchema, postAlarmSchema, putRuleSchema } from './schemas.js'

declare module 'fastify' {
  interface FastifyRequest {
    alarmSource?: SourceRow
  }
}

export function alarmRoutes(deps: { alarms: AlarmsService; guard: Guard }): FastifyPluginAsync {
  const { alarms, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.get('/alarms', { schema: listAlarmsSchema, preHandler: guard() }, async (request) => {
      const { cursor, limit, unit, camera, kind } = request.query
      return alarms.list(principalOf(request), { kind, cameraId: camera, unitId: unit, caseId: request.query.case }, cursor, limit)
    })
    r.post(
      '/alarms',
      {
        schema: postAlarmSchema,
        // the token is checked before the body: a stranger learns nothing about the body rules
        onRequest: async (request) => {
          const raw = request.headers['x-alarm-token']
          request.alarmSource = alarms.authenticateSource(Array.isArray(raw) ? raw[0] : raw)
        },
      },
      async (request, reply) => {
        const result = await alarms.receive(request.alarmSource!, request.body)
        return reply.status(result.outcome === 'duplicate' ? 200 : 202).send(result)
      },
    )
    r.get('/alarm-sources', { schema: listSourcesSchema, preHandler: guard('admin') }, async (request) => ({ items: alarms.listSources(principalOf(request)) }))
    r.post('/alarm-sources', { schema: createSourceSchema, preHandler: guard('admin') }, async (request, reply) =>
      reply.status(201).send(alarms.createSource(principalOf(request), request.body, request.ip)),
    )
    r.patch('/alarm-sources/:id', { schema: patchSourceSchema, preHandler: guard('admin') }, async (request) =>
      alarms.setSourceEnabled(principalOf(request), request.params.id, request.body.enabled, request.ip),
    )
    r.get('/alarm-rules', { schema: getRulesSchema, preHandler: guard('admin') }, async (request) => alarms.rules(principalOf(request), request.query.unit))
    r.put('/alarm-rules', { schema: putRuleSchema, preHandler: guard('admin') }, async (request) => alarms.putRule(principalOf(request), request.body, request.ip))
    r.delete('/alarm-rules', { schema: deleteRuleSchema, preHandler: guard('admin') }, async (request, reply) => {
      alarms.deleteRule(principalOf(request), request.query.unit, request.query.kind, request.ip)
      return reply.status(204).send(null)
    })
  }
}
