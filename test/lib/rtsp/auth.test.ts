import t from 'tap'
import { parseAuthenticate, RtspAuthenticator } from '../../../src/lib/rtsp/index.js'

function digestParams(header: string): Record<string, string> {
  const [c] = parseAuthenticate([header])
  return c!.params
}

t.test('parses separate and combined challenges', async (t) => {
  t.same(parseAuthenticate(['Digest realm="IP Camera(C2195)", nonce="a7c3d", stale="FALSE"', 'Basic realm="IP Camera(C2195)"']), [
    { scheme: 'digest', params: { realm: 'IP Camera(C2195)', nonce: 'a7c3d', stale: 'FALSE' } },
    { scheme: 'basic', params: { realm: 'IP Camera(C2195)' } },
  ])
  t.same(parseAuthenticate(['Digest realm="a, b", qop="auth,auth-int", nonce=xyz, Basic realm="r"']), [
    { scheme: 'digest', params: { realm: 'a, b', qop: 'auth,auth-int', nonce: 'xyz' } },
    { scheme: 'basic', params: { realm: 'r' } },
  ])
})

t.test('Digest with qop=auth matches RFC 2617 §3.5', async (t) => {
  const auth = new RtspAuthenticator('Mufasa', 'Circle Of Life')
  t.ok(
    auth.useChallenges(
      parseAuthenticate([
        'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
      ]),
    ),
  )
  const header = auth.authorize('GET', '/dir/index.html')!
  const p = digestParams(header)
  t.equal(p['qop'], 'auth')
  t.equal(p['nc'], '00000001')
  t.equal(p['opaque'], '5ccc069c403ebaf9f0171e9517f40e41')
  t.equal(p['algorithm'], undefined, 'no algorithm param when the server sent none')
  // Recompute with the RFC's cnonce to check the formula, then check ours with its own cnonce.
  const { createHash } = await import('node:crypto')
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex')
  const ha1 = md5('Mufasa:testrealm@host.com:Circle Of Life')
  const ha2 = md5('GET:/dir/index.html')
  t.equal(md5(`${ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:${ha2}`), '6629fae49393a05397450978507c4ef1')
  t.equal(p['response'], md5(`${ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:${p['cnonce']}:auth:${ha2}`))
  t.equal(digestParams(auth.authorize('GET', '/x')!)['nc'], '00000002', 'nonce count increments')
})

t.test('Digest without qop (older cameras) and Basic', async (t) => {
  const auth = new RtspAuthenticator('admin', '12345')
  auth.useChallenges(parseAuthenticate(['Basic realm="x"', 'Digest realm="Login to 4M0123PAZ", nonce="f3b6d2c1"']))
  t.equal(auth.scheme, 'digest', 'digest preferred over basic')
  const p = digestParams(auth.authorize('DESCRIBE', 'rtsp://10.0.0.7:554/cam/realmonitor?channel=1&subtype=0')!)
  const { createHash } = await import('node:crypto')
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex')
  const expected = md5(
    `${md5('admin:Login to 4M0123PAZ:12345')}:f3b6d2c1:${md5('DESCRIBE:rtsp://10.0.0.7:554/cam/realmonitor?channel=1&subtype=0')}`,
  )
  t.equal(p['response'], expected)
  t.equal(p['qop'], undefined)
  const basic = new RtspAuthenticator('admin', 'pa:ss')
  t.equal(basic.authorize('OPTIONS', '*'), undefined, 'nothing before a challenge')
  basic.useChallenges(parseAuthenticate(['Basic realm="r"']))
  t.equal(basic.authorize('OPTIONS', '*'), 'Basic ' + Buffer.from('admin:pa:ss').toString('base64'))
  t.notOk(new RtspAuthenticator('a', 'b').useChallenges(parseAuthenticate(['Negotiate abc'])), 'unsupported scheme')
})
