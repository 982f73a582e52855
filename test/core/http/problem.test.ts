import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { Type } from 'typebox'
import { ConflictError, NotFoundError, TooManyRequestsError, UpstreamError, ValidationError } from '../../../src/core/errors.js'
import { decodeCursor, encodeCursor } from '../../../src/core/http/cursor.js'
import { installProblemHandlers } from '../../../src/core/http/problem.js'
import { installValidators } from '../../../src/core/http/validation.js'

/** A bare Fastify with the gateway's validators and error handler, and routes that throw. */
async function app(t: Test) {
  const a = Fastify({ logger: false, bodyLimit: 1024 })
  installValidators(a)
  installProblemHandlers(a)
  const body = Type.Object({ n: Type.Integer(), tags: Type.Optional(Type.Array(Type.String())), inner: Type.Optional(Type.Object({ x: Type.Boolean() }, { additionalProperties: false })) }, { additionalProperties: false })
  a.post('/echo', { schema: { body, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ maximum: 10 })) }, { additionalProperties: false }) } }, async (req) => req.body)
  a.get('/boom', async () => {
    throw new Error('database at /var/lib/secret.db said rtsp://admin:Hik12345@10.0.0.1/')
  })
  a.get('/conflict', async () => {
    throw new ConflictError('unit JD01 still has 2 cameras', [], { blockers: ['2 cameras'] })
  })
  a.get('/slow-down', async () => {
    throw new TooManyRequestsError('wait', 42)
  })
  a.get('/missing', async () => {
    throw new NotFoundError('camera', 7)
  })
  a.get('/upstream', async () => {
    throw new UpstreamError('camera rtsp://admin:Hik12345@10.0.0.1/ refused')
  })
  a.get('/field', async () => {
    throw ValidationError.field('query.cursor', 'is not a cursor this list issued')
  })
  await a.ready()
  t.teardown(() => a.close())
  return a
}

t.test('schema violations are 400 problem+json naming each field', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'POST', url: '/echo?limit=11&extra=1', payload: { n: 3 } })
  t.equal(res.statusCode, 400)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.same((res.json().errors as { field: string }[]).map((e) => e.field).sort(), ['query.extra', 'query.limit'])
  const body = await a.inject({ method: 'POST', url: '/echo', payload: { n: '3', inner: { x: true, y: 1 }, other: 1 } })
  const bodyFields = (body.json().errors as { field: string }[]).map((e) => e.field)
  t.same(bodyFields.sort(), ['body.inner.y', 'body.n', 'body.other'], 'types are not coerced in bodies; unknown fields named with their path')
  t.equal(body.json().code, 'validation')
  t.match(body.json().type, 'urn:sharp-eyes:problem:validation')
  t.ok(body.json().requestId)
  const missing = await a.inject({ method: 'POST', url: '/echo', payload: {} })
  t.same(missing.json().errors, [{ field: 'body.n', message: "must have required property 'n'" }])
})

t.test('query strings are coerced, bodies are not', async (t) => {
  const a = await app(t)
  t.equal((await a.inject({ method: 'POST', url: '/echo?limit=5', payload: { n: 3 } })).statusCode, 200)
})

t.test('body size, JSON syntax and media type errors are 4xx naming the body', async (t) => {
  const a = await app(t)
  const big = await a.inject({ method: 'POST', url: '/echo', payload: { n: 1, tags: Array(200).fill('xxxxxxxx') } })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'body_too_large')
  t.equal(big.json().errors[0].field, 'body')
  const bad = await a.inject({ method: 'POST', url: '/echo', payload: '{"n": 1', headers: { 'content-type': 'application/json' } })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().errors[0].field, 'body')
  const xml = await a.inject({ method: 'POST', url: '/echo', payload: '<n>1</n>', headers: { 'content-type': 'application/xml' } })
  t.equal(xml.statusCode, 415)
  t.equal(xml.json().code, 'unsupported_media_type')
})

t.test('named errors map to their status; extras and Retry-After are kept', async (t) => {
  const a = await app(t)
  const c = await a.inject({ url: '/conflict' })
  t.equal(c.statusCode, 409)
  t.same(c.json().blockers, ['2 cameras'])
  t.equal(c.json().detail, 'unit JD01 still has 2 cameras')
  const r = await a.inject({ url: '/slow-down' })
  t.equal(r.statusCode, 429)
  t.equal(r.headers['retry-after'], '42')
  t.equal((await a.inject({ url: '/missing' })).json().detail, 'camera 7 not found')
  t.same((await a.inject({ url: '/field' })).json().errors, [{ field: 'query.cursor', message: 'is not a cursor this list issued' }])
  const nf = await a.inject({ url: '/no/such/route' })
  t.equal(nf.statusCode, 404)
  t.match(nf.headers['content-type'], /problem\+json/)
})

t.test('5xx text is hidden from the client; credentials never reach the client', async (t) => {
  const a = await app(t)
  const res = await a.inject({ url: '/boom' })
  t.equal(res.statusCode, 500)
  t.notMatch(res.body, /secret\.db|Hik12345|admin/)
  t.match(res.json().detail, /an internal error occurred/)
  t.match(res.json().detail, res.json().requestId, 'points at the log by request id')
  const up = await a.inject({ url: '/upstream' })
  t.equal(up.statusCode, 502)
  t.notMatch(up.body, /Hik12345/)
  t.match(up.json().detail, 'rtsp://***@10.0.0.1/')
})

t.test('cursors are opaque, kind-bound and validated', async (t) => {
  const c = encodeCursor('cam', 1234)
  t.equal(decodeCursor('cam', c), 1234)
  t.equal(decodeCursor('cam', undefined), undefined)
  t.equal(decodeCursor('cam', ''), undefined)
  for (const bad of ['!!!', 'zzz', encodeCursor('audit', 5), Buffer.from('cam:-1').toString('base64url'), Buffer.from('cam:1 OR 1=1').toString('base64url'), 'x'.repeat(65)]) {
    t.throws(() => decodeCursor('cam', bad), { name: 'ValidationError', fields: [{ field: 'query.cursor' }] }, `refuses ${bad}`)
  }
})
