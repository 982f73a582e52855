import { createHash } from 'node:crypto'
import t from 'tap'
import { buildEnvelope, digestAuthorization, parseDigestChallenges, parseXml, soapTimestamp, usernameTokenDigest } from '../../../src/lib/onvif/index.js'
import { child, descendant } from '../../../src/lib/onvif/xml.js'

t.test('UsernameToken digest = base64(sha1(nonce + created + password))', async (t) => {
  const nonce = Buffer.from('LKqI6G/AikKCQrN0zqZFlg==', 'base64')
  const created = '2010-09-16T07:50:45Z'
  const manual = createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created), Buffer.from('userpassword')])).digest('base64')
  t.equal(usernameTokenDigest(nonce, created, 'userpassword'), manual)
  // ONVIF Application Programmer's Guide example (nonce/created above, password "userpassword")
  t.equal(manual, 'tuOSpGlFlIXsozq4HFNeeGeFLEI=')
})

t.test('Created is taken from the camera clock, without milliseconds', async (t) => {
  t.equal(soapTimestamp(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), '2024-01-02T03:04:05Z')
  const twoHours = 2 * 3600_000
  const before = Date.now()
  const env = parseXml(
    buildEnvelope({ url: new URL('http://127.0.0.1/x'), action: 'urn:a', body: '<x/>', credentials: { username: 'a<b', password: 'p' }, clockOffsetMs: twoHours }),
  )
  const created = Date.parse(descendant(env, 'Created')!.text)
  t.ok(created >= Math.floor((before + twoHours) / 1000) * 1000 && created <= Date.now() + twoHours, 'Created is about now + 2 h')
  t.equal(descendant(env, 'Username')!.text, 'a<b', 'username escaped and round-trips')
  t.notOk(JSON.stringify(env).includes('"p"'), 'password never in the envelope')
})

t.test('WS-Addressing headers and reference parameters', async (t) => {
  const rp = parseXml('<d:SubscriptionId xmlns:d="http://www.axis.com/2009/event">3</d:SubscriptionId>')
  const env = parseXml(
    buildEnvelope({ url: new URL('http://127.0.0.1/onvif/services'), action: 'urn:act', body: '<x/>', addressing: { referenceParameters: [rp] } }),
  )
  const h = child(env, 'Header')!
  t.equal(child(h, 'Action')!.text, 'urn:act')
  t.equal(child(h, 'To')!.text, 'http://127.0.0.1/onvif/services')
  t.match(child(h, 'MessageID')!.text, /^urn:uuid:[0-9a-f-]{36}$/)
  const sid = child(h, 'SubscriptionId')!
  t.equal(sid.text, '3')
  t.equal(sid.attrs.IsReferenceParameter, 'true')
})

t.test('HTTP Digest: prefers SHA-256 and computes RFC 7616 response', async (t) => {
  const raw = [
    'WWW-Authenticate',
    'Digest qop="auth", realm="IP Camera(12345)", nonce="4e5749344e7a4e6a4e6d4d364d7a49314f546c6b59513d3d", stale="FALSE"',
    'WWW-Authenticate',
    'Digest qop="auth", realm="IP Camera(12345)", nonce="4e5749344e7a4e6a4e6d4d364d7a49314f546c6b59513d3d", algorithm="SHA-256", stale="FALSE"',
    'WWW-Authenticate',
    'Basic realm="x"',
  ]
  const ch = parseDigestChallenges(raw)
  t.equal(ch.length, 2)
  t.equal(ch[0]!.algorithm, 'SHA-256')
  const hdr = digestAuthorization(ch[0]!, { username: 'admin', password: 'pw' }, 'POST', '/onvif/device_service')
  const f = Object.fromEntries([...hdr.matchAll(/(\w+)="?([^",]*)"?/g)].map((m) => [m[1], m[2]]))
  const h = (s: string): string => createHash('sha256').update(s).digest('hex')
  const expect = h(`${h('admin:IP Camera(12345):pw')}:${f.nonce}:${f.nc}:${f.cnonce}:auth:${h('POST:/onvif/device_service')}`)
  t.equal(f.response, expect)
  t.equal(f.algorithm, 'SHA-256')
  t.notOk(hdr.includes('pw"'), 'password not in the header')
})
