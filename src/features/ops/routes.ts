import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Registry } from 'prom-client'
import type { Db } from '../../core/db.js'
import { UnauthenticatedError } from '../../core/errors.js'

const isLoopback = (address: string | undefined) => address !== undefined && /^(127\.|::1$|::ffff:127\.)/.test(address)
const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * Who may scrape /metrics (it names cameras by id, units, users' activity rates, process memory):
 * with `metrics.token` set, a client sending `Authorization: Bearer <token>`, from any address;
 * without one, only a client on this host (loopback, not forwarded by a proxy).
 */
function assertMayScrape(request: FastifyRequest, token: string): void {
  if (token) {
    const given = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? ''
    // Compared as digests: equal length, constant time, whatever was sent.
    if (given && timingSafeEqual(digest(given), digest(token))) return
    throw new UnauthenticatedError('/metrics needs the bearer token configured in metrics.token (GW_METRICS_TOKEN)')
  }
  const forwarded = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined
  if (isLoopback(request.socket.remoteAddress) && !forwarded) return
  throw new UnauthenticatedError('/metrics answers only this host unless metrics.token (GW_METRICS_TOKEN) is set; scrape with Authorization: Bearer <token>')
}

/** Liveness and readiness, unauthenticated for orchestrators; Prometheus metrics for local or token-holding scrapers. */
export function opsRoutes(deps: { db: Db; metrics: Registry; metricsToken: string; version: string; isShuttingDown: () => boolean }): FastifyPluginAsync {
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
    app.get('/metrics', { schema: { tags: ['ops'], hide: true } }, async (request, reply) => {
      assertMayScrape(request, deps.metricsToken)
      reply.type(deps.metrics.contentType)
      return deps.metrics.metrics()
    })
  }
}
