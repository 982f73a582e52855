import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'

/** /metrics is not for everyone on every interface: loopback only by default, or a bearer token. */

t.test('without metrics.token only this host may scrape', async (t) => {
  const gw = await startTestGateway(t, { demo: false })
  const scrape = (remoteAddress: string, headers: Record<string, string> = {}) => gw.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers })
  const local = await scrape('127.0.0.1')
  t.equal(local.statusCode, 200, 'a local scraper (the tests, a node exporter) still works')
  t.match(local.body, /gateway_http_request_duration_seconds/)
  t.equal((await scrape('::1')).statusCode, 200)
  const remote = await scrape('10.9.9.9')
  t.equal(remote.statusCode, 401, 'a client on another host is refused')
  t.match(remote.json(), { code: 'unauthenticated', detail: /metrics\.token/ })
  t.notMatch(remote.body, /gateway_/, 'and learns no metric')
  t.equal((await scrape('127.0.0.1', { 'x-forwarded-for': '10.9.9.9' })).statusCode, 401, 'nor through a reverse proxy on this host')
  t.equal((await gw.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.9.9.9' })).statusCode, 200, '/healthz stays open to orchestrators')
})

t.test('with metrics.token a scraper must send it, from anywhere', async (t) => {
  const token = 'scrape-token-0123456789abcdef'
  const gw = await startTestGateway(t, { demo: false, overrides: { metrics: { token } } })
  const scrape = (remoteAddress: string, authorization?: string) => gw.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers: authorization ? { authorization } : {} })
  t.equal((await scrape('10.9.9.9', `Bearer ${token}`)).statusCode, 200, 'the token from another host')
  t.equal((await scrape('127.0.0.1')).statusCode, 401, 'no token, even locally')
  t.equal((await scrape('10.9.9.9', `Bearer ${token}x`)).statusCode, 401, 'a wrong token')
  t.equal((await scrape('10.9.9.9', `Basic ${Buffer.from(`x:${token}`).toString('base64')}`)).statusCode, 401, 'not as Basic')
})
