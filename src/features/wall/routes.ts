import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, type Guard } from '../../core/http/guard.js'
import type { WallService } from './service.js'
import { createTourSchema, deleteTourSchema, getLayoutSchema, getTourSchema, listToursSchema, putLayoutSchema, updateTourSchema } from './schemas.js'

/** Patrol staff and administrators edit tours; everyone signed in may read and run them. */
export function wallRoutes(deps: { wall: WallService; guard: Guard }): FastifyPluginAsync {
  const { wall, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.get('/wall/layout', { schema: getLayoutSchema, preHandler: guard() }, async (request) => wall.getLayout(principalOf(request)))
    r.put('/wall/layout', { schema: putLayoutSchema, preHandler: guard() }, async (request) => wall.putLayout(principalOf(request), request.body.size, request.body.tiles))

    r.get('/tours', { schema: listToursSchema, preHandler: guard() }, async (request) => ({ items: wall.listTours(principalOf(request), request.query.unit) }))
    r.get('/tours/:id', { schema: getTourSchema, preHandler: guard() }, async (request) => wall.getTour(principalOf(request), request.params.id))
    r.post('/tours', { schema: createTourSchema, preHandler: guard('admin', 'patrol') }, async (request, reply) =>
      reply.status(201).send(wall.createTour(principalOf(request), request.body, request.ip)),
    )
    r.patch('/tours/:id', { schema: updateTourSchema, preHandler: guard('admin', 'patrol') }, async (request) =>
      wall.updateTour(principalOf(request), request.params.id, request.body, request.ip),
    )
    r.delete('/tours/:id', { schema: deleteTourSchema, preHandler: guard('admin', 'patrol') }, async (request, reply) => {
      wall.deleteTour(principalOf(request), request.params.id, request.ip)
      return reply.status(204).send(null)
    })
  }
}
