import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, type Guard } from '../../core/http/guard.js'
import type { PtzService } from './service.js'
import { gotoSchema, moveSchema, presetsSchema, setPresetSchema, stopSchema, zoomSchema } from './schemas.js'

/** Roles are checked after the camera is found in scope (404 first), inside PtzService. */
export function ptzRoutes(deps: { ptz: PtzService; guard: Guard }): FastifyPluginAsync {
  const { ptz, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.post('/cameras/:id/ptz/move', { schema: moveSchema, preHandler: guard() }, async (request) => {
      await ptz.move(principalOf(request), request.params.id, request.body)
      return { ok: true }
    })
    r.post('/cameras/:id/ptz/stop', { schema: stopSchema, preHandler: guard() }, async (request) => {
      await ptz.stop(principalOf(request), request.params.id)
      return { ok: true }
    })
    r.post('/cameras/:id/ptz/zoom', { schema: zoomSchema, preHandler: guard() }, async (request) => {
      await ptz.zoom(principalOf(request), request.params.id, request.body.delta)
      return { ok: true }
    })
    r.get('/cameras/:id/ptz/presets', { schema: presetsSchema, preHandler: guard() }, async (request) => ({
      items: (await ptz.presets(principalOf(request), request.params.id)).map((p) => ({ token: p.token, name: p.name })),
    }))
    r.post('/cameras/:id/ptz/presets/:token/goto', { schema: gotoSchema, preHandler: guard() }, async (request) => {
      await ptz.gotoPreset(principalOf(request), request.params.id, request.params.token)
      return { ok: true }
    })
    r.post('/cameras/:id/ptz/presets', { schema: setPresetSchema, preHandler: guard() }, async (request, reply) =>
      reply.status(201).send(await ptz.setPreset(principalOf(request), request.params.id, request.body.name, request.ip)),
    )
  }
}
