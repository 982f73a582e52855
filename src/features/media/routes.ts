import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ValidationError } from '../../core/errors.js'
import { principalOf, type Guard, type SessionWatch } from '../../core/http/guard.js'
import type { MediaService } from './service.js'
import { imageTypeOf } from '../../lib/net/index.js'
import { listStreamsSchema, pinSchema, snapshotSchema, whepDeleteSchema, whepOfferSchema, whepPatchSchema } from './schemas.js'

const WATCH_ROLES = ['patrol', 'admin', 'technician', 'researcher'] as const

export function mediaRoutes(deps: { media: MediaService; guard: Guard; sessionWatch: SessionWatch }): FastifyPluginAsync {
  const { media, guard } = deps
  return async (app) => {
    // WHEP bodies are SDP text; anything else is a 415 from Fastify.
    app.addContentTypeParser('application/trickle-ice-sdpfrag', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body))
    app.addContentTypeParser('application/sdp', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body))
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    r.post('/cameras/:id/whep', { schema: whepOfferSchema, preHandler: guard(...WATCH_ROLES) }, async (request, reply) => {
      const offer = request.body
      if (typeof offer !== 'string' || offer.trim() === '') throw ValidationError.field('body', 'send the SDP offer with Content-Type: application/sdp')
      // the session lives only as long as the sign-in that opened it, with the authority it had
      const watch = (end: (reason: string) => void) => deps.sessionWatch(request, end)
      const result = await media.startWhep(principalOf(request), request.params.id, request.query.stream ?? 'main', offer, request.ip, watch)
      return reply
        .status(201)
        .header('location', `/api/whep/sessions/${result.sessionId}`)
        .header('x-gateway-video', result.mode)
        .header('x-gateway-stream', result.stream)
        .header('access-control-expose-headers', 'Location, X-Gateway-Video, X-Gateway-Stream')
        .type('application/sdp')
        .send(result.answerSdp)
    })

    r.delete('/whep/sessions/:sid', { schema: whepDeleteSchema, preHandler: guard(...WATCH_ROLES) }, async (request, reply) => {
      await media.endWhep(principalOf(request), request.params.sid)
      return reply.status(204).send(null)
    })

    r.patch('/whep/sessions/:sid', { schema: whepPatchSchema, preHandler: guard(...WATCH_ROLES) }, async (request, reply) => {
      const frag = request.body
      if (typeof frag !== 'string') throw ValidationError.field('body', 'send candidates with Content-Type: application/trickle-ice-sdpfrag')
      media.trickle(principalOf(request), request.params.sid, frag)
      return reply.status(204).send(null)
    })

    r.get('/cameras/:id/snapshot', { schema: snapshotSchema, preHandler: guard(...WATCH_ROLES) }, async (request, reply) => {
      const picture = await media.snapshot(principalOf(request), request.params.id, request.query.stream ?? 'main', request.ip)
      return reply.type(imageTypeOf(picture) ?? 'image/jpeg').header('cache-control', 'no-store').send(picture)
    })

    r.put('/cameras/:id/live/pin', { schema: pinSchema, preHandler: guard('admin', 'technician') }, async (request, reply) => {
      media.pin(principalOf(request), request.params.id, request.query.stream ?? 'main', true, request.ip)
      return reply.status(204).send(null)
    })
    r.delete('/cameras/:id/live/pin', { schema: pinSchema, preHandler: guard('admin', 'technician') }, async (request, reply) => {
      media.pin(principalOf(request), request.params.id, request.query.stream ?? 'main', false, request.ip)
      return reply.status(204).send(null)
    })

    r.get('/live/streams', { schema: listStreamsSchema, preHandler: guard('admin') }, async (request) => media.streamsFor(principalOf(request)))
  }
}
