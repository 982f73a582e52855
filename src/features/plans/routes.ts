import type { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../../core/errors.js'
import { principalOf, type Guard } from '../../core/http/guard.js'
import { PLAN_TYPES } from './image.js'
import type { PlanService } from './service.js'
import { deletePlanSchema, getPlanSchema, listPlansSchema, patchPlanSchema, planImageSchema, putPlanSchema } from './schemas.js'

const ACCEPTED: ReadonlySet<string> = new Set([...PLAN_TYPES, 'application/octet-stream'])

/**
 * Reads an uploaded image with a size cap. The body arrives as a raw stream (see the parser
 * below), so nothing is read before the scope and role checks, and an oversized upload is cut
 * off at the cap instead of being buffered.
 */
async function readUpload(request: FastifyRequest, maxBytes: number): Promise<Buffer> {
  const declared = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  const body = request.body as { upload?: Readable } | string | object | undefined
  if (body === undefined || body === null || body === '') throw ValidationError.field('body', 'send the plan image (PNG, JPEG or WebP) as the request body')
  if (!ACCEPTED.has(declared) || typeof body !== 'object' || !('upload' in body) || !body.upload) {
    throw UnsupportedMediaTypeError.field('headers.content-type', `send the image as image/png, image/jpeg or image/webp (got ${declared || 'no Content-Type'})`)
  }
  const tooLarge = (n: number | string) => PayloadTooLargeError.field('body', `the plan image is ${n} bytes: at most ${maxBytes} (${Math.round(maxBytes / 104857.6) / 10} MB)`)
  const length = Number(request.headers['content-length'])
  if (Number.isFinite(length) && length > maxBytes) throw tooLarge(length)
  const chunks: Buffer[] = []
  let n = 0
  for await (const chunk of body.upload as AsyncIterable<Buffer>) {
    n += chunk.length
    if (n > maxBytes) throw tooLarge(`more than ${maxBytes}`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, n)
}

/** Everyone signed in reads plans in their subtree; admins and technicians of the unit or above change them. */
export function planRoutes(deps: { plans: PlanService; guard: Guard }): FastifyPluginAsync {
  const { plans, guard } = deps
  return async (app) => {
    // Images (and anything else not JSON or text) arrive as a stream, read by the handler.
    app.addContentTypeParser('*', (_request, payload, done) => done(null, { upload: payload }))
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    r.get('/plans', { schema: listPlansSchema, preHandler: guard() }, async (request) => ({ items: plans.list(principalOf(request), request.query.unit) }))
    r.get('/plans/:unitId', { schema: getPlanSchema, preHandler: guard() }, async (request) => plans.get(principalOf(request), request.params.unitId))
    r.get('/plans/:unitId/image', { schema: planImageSchema, preHandler: guard() }, async (request, reply) => {
      const principal = principalOf(request)
      const plan = plans.get(principal, request.params.unitId)
      const etag = `"${plan.sha256}"`
      // imageUrl carries the image's hash: that URL may be kept for good; any other is revalidated.
      const versioned = request.query.v !== undefined && plan.sha256.startsWith(request.query.v) && request.query.v.length >= 8
      reply
        .header('etag', etag)
        .header('last-modified', new Date(plan.updatedAt).toUTCString())
        .header('cache-control', versioned ? 'private, max-age=31536000, immutable' : 'private, no-cache')
        .header('x-content-type-options', 'nosniff')
      const inm = request.headers['if-none-match']
      if (inm && inm.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) return reply.status(304).send(null)
      const { data } = plans.image(principal, request.params.unitId)
      return reply.type(plan.contentType).send(data)
    })
    // Found in scope first (404 outside the subtree), then the role (403), then the corners, then the bytes.
    r.put('/plans/:unitId', { schema: putPlanSchema, preHandler: guard() }, async (request, reply) => {
      const principal = principalOf(request)
      const { unitId } = request.params
      plans.assertMayEdit(principal, unitId)
      plans.checkCorners(request.query)
      const image = await readUpload(request, plans.maxBytes)
      const { plan, created } = plans.put(principal, unitId, request.query, image, request.ip)
      return reply.status(created ? 201 : 200).send(plan)
    })
    // Corners only, as JSON: the image is untouched. Same order of checks as the upload.
    r.patch('/plans/:unitId', {
      schema: patchPlanSchema,
      // anything but JSON (an image, text) is 415 naming the header, not a confusing body error
      preValidation: async (request) => {
        const declared = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
        if (request.body !== undefined && declared !== 'application/json') {
          throw UnsupportedMediaTypeError.field('headers.content-type', `send the corners as application/json (got ${declared || 'no Content-Type'})`)
        }
      },
      preHandler: guard(),
    }, async (request) => plans.setCorners(principalOf(request), request.params.unitId, request.body, request.ip))
    r.delete('/plans/:unitId', { schema: deletePlanSchema, preHandler: guard() }, async (request, reply) => {
      plans.delete(principalOf(request), request.params.unitId, request.ip)
      return reply.status(204).send(null)
    })
  }
}
