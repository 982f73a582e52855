import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, TooManyRequestsError, type FieldProblem } from '../errors.js'
import { redact } from '../redact.js'
import { CLIENT_TIME_RANGE_MESSAGE } from './validation.js'

/**
 * The one error handler: maps named errors and Fastify's own (validation, body size, media type)
 * to application/problem+json. 5xx details go to the log, never to the client.
 */
const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' }

interface AjvIssue {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

export function fieldsFromValidation(part: string | undefined, issues: AjvIssue[]): FieldProblem[] {
  const prefix = PART_NAMES[part ?? 'body'] ?? 'body'
  return issues.map((issue) => {
    const segments = issue.instancePath.split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    if (issue.keyword === 'required') segments.push(String(issue.params.missingProperty))
    if (issue.keyword === 'additionalProperties') {
      segments.push(String(issue.params.additionalProperty))
      return { field: [prefix, ...segments].join('.'), message: 'is not a known field' }
    }
    let message = issue.message ?? 'is invalid'
    if (issue.keyword === 'format' && issue.params.format === 'date-time') message = CLIENT_TIME_RANGE_MESSAGE
    if (issue.keyword === 'enum' && Array.isArray(issue.params.allowedValues)) {
      message = `must be one of ${(issue.params.allowedValues as unknown[]).join(', ')}`
    }
    return { field: [prefix, ...segments].join('.'), message }
  })
}

/** ajv reports one error per branch of a union; keep one line per field. */
function dedupe(fields: FieldProblem[]): FieldProblem[] {
  const seen = new Map<string, FieldProblem>()
  for (const f of fields) if (!seen.has(f.field)) seen.set(f.field, f)
  return [...seen.values()]
}

function send(reply: FastifyReply, request: FastifyRequest, status: number, code: string, title: string, detail?: string, errors?: FieldProblem[], extra: Record<string, unknown> = {}) {
  const body: Record<string, unknown> = {
    ...extra,
    type: `urn:sharp-eyes:problem:${code}`,
    title,
    status,
    code,
    requestId: request.id,
  }
  if (detail) body.detail = redact(detail)
  if (errors?.length) body.errors = errors.map((e) => ({ ...e, message: redact(e.message) }))
  return reply.status(status).type('application/problem+json').send(body)
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  423: 'Locked',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    send(reply, request, 404, 'not_found', 'Not Found', `no route ${request.method} ${request.url.split('?')[0]}`),
  )

  app.setErrorHandler((error: FastifyError | GatewayError | Error, request, reply) => {
    if (error instanceof GatewayError) {
      if (error instanceof TooManyRequestsError) reply.header('retry-after', String(error.retryAfterSeconds))
      if (error.status >= 500) request.log.warn({ err: { type: error.name, message: redact(error.message) } }, 'upstream failure')
      return send(reply, request, error.status, error.code, TITLES[error.status] ?? 'Error', error.message, error.fields, error.extra)
    }
    const fe = error as FastifyError & { validation?: AjvIssue[]; validationContext?: string }
    if (fe.validation) {
      const fields = dedupe(fieldsFromValidation(fe.validationContext, fe.validation))
      const detail = fields.map((f) => `${f.field} ${f.message}`).join('; ')
      return send(reply, request, 400, 'validation', 'Bad Request', detail, fields)
    }
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500
    if (status >= 400 && status < 500) {
      const code = fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body_too_large' : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type' : 'bad_request'
      const field = status === 400 || status === 413 || status === 415 ? [{ field: 'body', message: fe.message }] : undefined
      return send(reply, request, status, code, TITLES[status] ?? 'Bad Request', fe.message, field)
    }
    request.log.error({ err: error }, 'unhandled error')
    return send(reply, request, 500, 'internal', 'Internal Server Error', 'an internal error occurred; see the gateway log for request ' + request.id)
  })
}
