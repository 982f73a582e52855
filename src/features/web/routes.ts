import { statSync } from 'node:fs'
import { join, normalize, sep } from 'node:path'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fastifyStatic from '@fastify/static'

/**
 * Serves the command-centre web application (the Vite build in web/dist) at `/`. Any GET that is
 * not an API or docs path and not a built file gets index.html, so client-side routes survive a
 * reload. The build is looked up per request: building while the gateway runs just works, and a
 * missing build answers a page that says how to make one instead of an error.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ')

const NOT_BUILT = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Sharp Eyes Gateway</title>
<style>body{font:16px/1.6 system-ui,sans-serif;background:#0b1220;color:#dbe4f3;max-width:46rem;margin:4rem auto;padding:0 1rem}code{background:#1a2438;padding:.15rem .4rem;border-radius:4px}</style>
</head><body>
<h1>网页界面尚未构建 · The web application has not been built</h1>
<p>运行以下命令构建界面，然后刷新本页：<br>Build it with the command below, then reload this page:</p>
<p><code>bash scripts/build-web.sh</code></p>
<p>API 已可用：<a href="/docs" style="color:#7fb3ff">/docs</a> · The API is running: see <a href="/docs" style="color:#7fb3ff">/docs</a>.</p>
</body></html>`

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

export function webRoutes(deps: { distDir: string }): FastifyPluginAsync {
  const root = deps.distDir
  return async (app) => {
    // Only the reply.sendFile decorator: which file to send is decided below.
    await app.register(fastifyStatic, { root, serve: false })

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      let path: string
      try {
        path = decodeURIComponent(request.url.split('?')[0] ?? '/')
      } catch {
        return reply.callNotFound()
      }
      if (path === '/api' || path.startsWith('/api/') || path.startsWith('/docs')) return reply.callNotFound()
      if (!isFile(join(root, 'index.html'))) {
        return reply.status(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT)
      }
      const rel = normalize(path).replace(/^([/\\])+/, '')
      const candidate = join(root, rel)
      if (rel && !rel.includes('\0') && candidate.startsWith(root + sep) && isFile(candidate)) {
        // Vite puts content-hashed files under assets/: they never change.
        const hashed = rel.startsWith('assets' + sep) || rel.startsWith('assets/')
        return reply.header('content-security-policy', CSP).sendFile(rel, hashed ? { maxAge: 365 * 24 * 3600 * 1000, immutable: true } : { maxAge: 0 })
      }
      if (/\.[a-z0-9]{1,8}$/i.test(path)) return reply.callNotFound() // a missing asset is a 404, not the app
      return reply.header('content-security-policy', CSP).header('cache-control', 'no-cache').sendFile('index.html', { maxAge: 0, cacheControl: false })
    }
    app.get('/', { schema: { hide: true } }, handler)
    app.get('/*', { schema: { hide: true } }, handler)
  }
}
