import Ajv, { type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import { Problem } from './schemas.js'

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
    ajv.addSchema(Problem)
  }
  app.addSchema(Problem)
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strictAjv : coercingAjv
    return ajv.compile(schema)
  })
}
