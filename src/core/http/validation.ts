import Ajv, { type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import { Problem } from './schemas.js'

/**
 * Every time a client gives (an alarm's occurredAt, search and lock ranges, audit filters) must lie
 * between this and a day from now: a year-0000 or year-9999 time is a typo or an attack on sorting,
 * retention and deadlines, never a real event. A day ahead allows for clocks a little fast.
 */
export const EARLIEST_CLIENT_TIME = '2000-01-01T00:00:00Z'
export const CLIENT_TIME_AHEAD_MS = 24 * 3_600_000
export const CLIENT_TIME_RANGE_MESSAGE = `must be a date-time with a time zone (RFC 3339) between ${EARLIEST_CLIENT_TIME} and one day from now`

export function isSaneClientTime(value: string): boolean {
  const ms = Date.parse(value)
  return Number.isFinite(ms) && ms >= Date.parse(EARLIEST_CLIENT_TIME) && ms <= Date.now() + CLIENT_TIME_AHEAD_MS
}

type FormatCheck = true | RegExp | ((s: string) => boolean) | { validate: RegExp | ((s: string) => boolean) }
const passes = (format: FormatCheck | undefined, s: string): boolean => {
  if (format === undefined || format === true) return true
  const check = typeof format === 'object' && 'validate' in format ? format.validate : format
  return check instanceof RegExp ? check.test(s) : (check as (s: string) => boolean)(s)
}

/**
 * Two validators: query strings, params and headers arrive as text and are coerced to the schema's
 * types; JSON bodies are not, so `"class": "2"` is a type error naming the field rather than a
 * silent conversion. Unknown properties are rejected everywhere (schemas say additionalProperties:
 * false), never silently dropped.
 */
export function installValidators(app: FastifyInstance): void {
  const base: Options = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false }
  const AjvCtor = Ajv as unknown as typeof Ajv.default
  const formats = addFormats as unknown as typeof addFormats.default
  const strictAjv = new AjvCtor({ ...base, coerceTypes: false })
  const coercingAjv = new AjvCtor({ ...base, coerceTypes: 'array' })
  for (const ajv of [strictAjv, coercingAjv]) {
    formats(ajv)
    // ajv-formats' RFC 3339 check, then the sane range, checked at each request (now moves).
    const rfc3339 = (ajv as unknown as { formats: Record<string, FormatCheck | undefined> }).formats['date-time']
    ajv.addFormat('date-time', { type: 'string', validate: (s: string) => passes(rfc3339, s) && isSaneClientTime(s) })
    ajv.addSchema(Problem)
  }
  app.addSchema(Problem)
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strictAjv : coercingAjv
    return ajv.compile(schema)
  })
}
