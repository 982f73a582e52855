import t from 'tap'
import { parseXAddr, parseXAddrList, redactUrl } from '../../../src/lib/onvif/index.js'

const reason = (s: string, o?: { allowBareHost?: boolean }): string | undefined => {
  const r = parseXAddr(s, o)
  return r.ok ? undefined : r.reason
}

t.test('valid XAddrs', async (t) => {
  const r = parseXAddr('http://192.0.2.64/onvif/device_service')
  t.ok(r.ok)
  if (r.ok) t.match(r.xaddr, { protocol: 'http', host: '192.0.2.64', hostKind: 'ipv4', port: 80, path: '/onvif/device_service' })
  const v6 = parseXAddr('https://[2001:db8::1]:8443/onvif/device_service')
  t.ok(v6.ok)
  if (v6.ok) t.match(v6.xaddr, { protocol: 'https', host: '2001:db8::1', hostKind: 'ipv6', port: 8443 })
  const dns = parseXAddr('http://cam-01.example.org:8080')
  t.ok(dns.ok)
  if (dns.ok) t.match(dns.xaddr, { hostKind: 'dns', port: 8080, path: '/onvif/device_service' })
  const bare = parseXAddr('192.0.2.7:8000', { allowBareHost: true })
  t.ok(bare.ok)
  if (bare.ok) t.equal(bare.xaddr.url.href, 'http://192.0.2.7:8000/onvif/device_service')
})

t.test('rejected XAddrs say why', async (t) => {
  t.match(reason('192.0.2.7'), /scheme/)
  t.match(reason('ftp://192.0.2.7/'), /unsupported scheme/)
  t.match(reason('http://admin:secret@192.0.2.7/onvif/device_service'), /credentials/)
  t.match(reason('http://[fe80::1%eth0]/onvif/device_service'), /zone/)
  t.match(reason('http://192.0.2.7:99999/'), /valid URL|port/)
  t.match(reason('http://bad_host!/x'), /host|valid URL/)
  t.match(reason('http://192.0.2.7/a b'), /characters/)
  t.match(reason(''), /empty/)
  t.match(reason('http://192.0.2.7/x#frag'), /fragment/)
})

t.test('XAddrs lists keep valid entries once', async (t) => {
  const l = parseXAddrList('http://192.0.2.1/onvif/device_service  garbage http://[2001:db8::1]/onvif/device_service http://192.0.2.1/onvif/device_service')
  t.same(l.map((x) => x.url.href), ['http://192.0.2.1/onvif/device_service', 'http://[2001:db8::1]/onvif/device_service'])
})

t.test('redactUrl drops user info and query', async (t) => {
  t.equal(redactUrl('http://u:p@192.0.2.1:81/x?token=1'), 'http://192.0.2.1:81/x')
})
