import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { webRoutes } from '../../../src/features/web/index.js'

async function serve(t: Test, distDir: string) {
  const app = Fastify()
  app.get('/api/cameras', async () => ({ items: [] }))
  await app.register(webRoutes({ distDir }))
  t.teardown(() => app.close())
  return app
}

t.test('without a build, / explains how to build instead of failing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-web-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const app = await serve(t, join(dir, 'dist'))
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], 'text/html')
  t.match(res.body, 'bash scripts/build-web.sh')
  t.equal((await app.inject({ url: '/wall' })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/cameras' })).statusCode, 200, 'API routes are untouched')
  t.equal((await app.inject({ url: '/api/nope' })).statusCode, 404)
})

t.test('with a build: files, SPA fallback, cache headers, no traversal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-web-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const dist = join(dir, 'dist')
  mkdirSync(join(dist, 'assets'), { recursive: true })
  writeFileSync(join(dist, 'index.html'), '<!doctype html><div id="app"></div>')
  writeFileSync(join(dist, 'assets', 'app-abc123.js'), 'console.log(1)')
  writeFileSync(join(dir, 'secret.txt'), 'TOPSECRET-CONTENT')
  const app = await serve(t, dist)

  const index = await app.inject({ url: '/' })
  t.equal(index.statusCode, 200)
  t.match(index.body, 'id="app"')
  t.match(index.headers['content-security-policy'], "default-src 'self'")
  const deep = await app.inject({ url: '/registry?x=1' })
  t.equal(deep.statusCode, 200)
  t.match(deep.body, 'id="app"', 'client routes get index.html')
  t.match(String(deep.headers['cache-control']), 'no-cache')
  const asset = await app.inject({ url: '/assets/app-abc123.js' })
  t.equal(asset.statusCode, 200)
  t.match(String(asset.headers['cache-control']), 'immutable')
  t.equal((await app.inject({ url: '/assets/missing.js' })).statusCode, 404)
  for (const url of ['/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/%E0%A4%A']) {
    const res = await app.inject({ url })
    t.notMatch(res.body, 'TOPSECRET', `${url} does not escape the build folder`)
  }
  t.equal((await app.inject({ url: '/docs/whatever' })).statusCode, 404, 'docs paths are not the app')
})
