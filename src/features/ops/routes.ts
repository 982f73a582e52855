import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import type { Registry } from 'prom-client'
import type { Db } from '../../core/db.js'

/** Liveness, readiness and Prometheus metrics: unauthenticated, for orchestrators and scrapers. */
export function opsRoutes(deps: { db: Db; metrics: Registry; version: string; isShuttingDown: () => boolean }): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { tags: ['ops'], response: { 200: Type.Object({ status: Type.Literal('ok'), version: Type.String() }) } } }, async () => ({ status: 'ok' as const, version: deps.version }))
    app.get(
      '/readyz',
      { schema: { tags: ['ops'], response: { 200: Type.Object({ status: Type.String() }), 503: Type.Object({ status: Type.String(), reason: Type.String() }) } } },
      async (_request, reply) => {
        if (deps.isShuttingDown()) return reply.status(503).send({ status: 'not_ready', reason: 'shutting down' })
        try {
          deps.db.prepare('SELECT 1').get()
        } catch {
          return reply.status(503).send({ status: 'not_ready', reason: 'database unavailable' })
        }
        return { status: 'ready' }
      },
    )
    app.get('/metrics', { schema: { tags: ['ops'], hide: true } }, async (_request, reply) => {
      reply.type(deps.metrics.contentType)
      return deps.metrics.metrics()
    })
  }
}
