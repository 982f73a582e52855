import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ValidationError } from '../../core/errors.js'
import { principalOf, type Guard, type SessionWatch } from '../../core/http/guard.js'
import { scopeOf } from '../../core/scope.js'
import { problemResponses } from '../../core/http/schemas.js'
import type { EventStreamService, StreamEvent } from './service.js'

const streamSchema = {
  tags: ['events'],
  summary: 'Server-Sent Events: new alarms, case changes and camera status changes in your subtree; resume with Last-Event-ID',
  description:
    'Each message has `id`, `event` (alarm.new, case.created, case.updated, case.transition, case.escalated, case.overdue, camera.status, export.progress) and JSON `data`. ' +
    'alarm.new and camera.status follow the registry’s visibility of their camera when sent: a site camera not shared upward (内保外用) reaches its site and the admins and technicians above it only; case events name no such camera. ' +
    'Reconnect with the `Last-Event-ID` header (or `?lastEventId=`) to receive what you missed, then live events. A comment line is sent as a heartbeat.',
  querystring: Type.Object({ lastEventId: Type.Optional(Type.String({ maxLength: 20 })) }, { additionalProperties: false }),
  response: { ...problemResponses },
}

/** Bytes a slow client may have unsent before it is cut off (it resumes with Last-Event-ID). */
const MAX_BUFFERED = 4 * 1024 * 1024

export function eventRoutes(deps: { stream: EventStreamService; guard: Guard; sessionWatch: SessionWatch; heartbeatSeconds: number }): FastifyPluginAsync {
  const { stream, guard } = deps
  return async (app) => {
    const open = new Set<() => void>()
    app.addHook('preClose', async () => {
      for (const end of [...open]) end()
    })
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.get('/events/stream', { schema: streamSchema, preHandler: guard() }, async (request, reply) => {
      const principal = principalOf(request)
      const raw = (request.headers['last-event-id'] as string | undefined) ?? request.query.lastEventId
      let afterId: number | null = null
      if (raw !== undefined && raw !== '') {
        if (!/^\d{1,15}$/.test(raw)) throw ValidationError.field(request.headers['last-event-id'] !== undefined ? 'headers.last-event-id' : 'query.lastEventId', 'must be an event id')
        afterId = Number(raw)
      }
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      res.write('retry: 3000\n\n')
      let ended = false
      let unsubscribe: () => void = () => {}
      let unwatch: () => void = () => {}
      const end = () => {
        if (ended) return
        ended = true
        clearInterval(heartbeat)
        unsubscribe()
        unwatch()
        open.delete(end)
        res.end()
      }
      // events delivered in one tick go out in one write
      let pending = ''
      const flush = () => {
        const chunk = pending
        pending = ''
        if (!ended && chunk) res.write(chunk)
      }
      const send = (e: StreamEvent) => {
        if (ended) return
        if (res.writableLength > MAX_BUFFERED) {
          end()
          return
        }
        if (!pending) queueMicrotask(flush)
        pending += `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify({ id: e.id, at: e.at, type: e.type, ...(e.payload as object) })}\n\n`
      }
      const heartbeat = setInterval(() => {
        if (!ended) res.write(`: heartbeat ${new Date().toISOString()}\n\n`)
      }, deps.heartbeatSeconds * 1000)
      heartbeat.unref()
      const scope = scopeOf(principal)
      unsubscribe = stream.subscribe({ unitPath: scope.unitPath, seesPrivateSiteCameras: scope.seesPrivateSiteCameras, send }, afterId).unsubscribe
      if (ended) unsubscribe()
      // the stream lives only as long as the session that opened it, with the authority it had
      unwatch = deps.sessionWatch(request, end)
      if (ended) unwatch()
      open.add(end)
      request.raw.on('close', end)
      res.on('error', end)
    })
  }
}
