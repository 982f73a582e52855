import t from 'tap'
import { AddressPolicy, formatIp, parseIp, parseIpCidr, parseIPv4Loose, RefusedAddressError } from '../../../src/lib/net/index.js'

const CAMERA_NETWORKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7']

t.test('IPv4 in every spelling the C resolver and the URL parser accept', async (t) => {
  for (const spelling of ['127.0.0.1', '2130706433', '0x7f000001', '0X7F000001', '0177.0.0.1', '127.1', '0x7f.1', '127.0.0.1.', '[::ffff:127.0.0.1]', '::ffff:7f00:1']) {
    const ip = parseIp(spelling, { loose: true })
    t.ok(ip, spelling)
    t.equal(ip && formatIp(ip), '127.0.0.1', `${spelling} is 127.0.0.1`)
  }
  for (const notIp of ['example.com', '1.2.3.4.5', '256.0.0.1', '0x1g', '', 'fe80::1%eth0']) t.equal(parseIp(notIp, { loose: true }), undefined, `${JSON.stringify(notIp)} is not an address`)
  t.equal(parseIPv4Loose('4294967296'), undefined, 'above 32 bits')
  t.equal(formatIp(parseIp('[2001:db8:0:0:1:0:0:1]')!), '2001:db8::1:0:0:1')
  t.equal(parseIpCidr('::ffff:10.0.0.0/104').text, '10.0.0.0/8', 'an IPv4-mapped range is the IPv4 range')
  t.throws(() => parseIpCidr('10.0.0.1/8'), /host bits/)
  t.throws(() => parseIpCidr('10.0.0.0/33'), /out of range/)
})

t.test('the default camera networks refuse loopback, link-local, multicast, unspecified and the outside world', async (t) => {
  const p = new AddressPolicy({ allowedCidrs: CAMERA_NETWORKS })
  const kinds: [string, string | null][] = [
    ['127.0.0.1', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['2130706433', 'loopback'],
    ['[::1]', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['localhost', 'loopback'],
    ['cam.localhost', 'loopback'],
    ['169.254.169.254', 'link_local'],
    ['[fe80::1]', 'link_local'],
    ['224.0.0.251', 'multicast'],
    ['[ff02::1]', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['[::]', 'unspecified'],
    ['[::127.0.0.1]', 'reserved'],
    ['8.8.8.8', 'outside_allowed'],
    ['[2001:db8::1]', 'outside_allowed'],
    ['10.1.2.3', null],
    ['192.168.1.64', null],
    ['100.64.0.9', null],
    ['[fd12::64]', null],
    ['camera-1.site.example', null],
  ]
  for (const [host, kind] of kinds) t.equal(p.hostRefusal(host, 80)?.kind ?? null, kind, `${host}: ${kind ?? 'allowed'}`)
})

t.test('special ranges are allowed only by a range listed inside them', async (t) => {
  const broad = new AddressPolicy({ allowedCidrs: ['0.0.0.0/0', '::/0'] })
  t.equal(broad.hostRefusal('127.0.0.1')?.kind, 'loopback', '0.0.0.0/0 does not let loopback in by accident')
  t.equal(broad.hostRefusal('169.254.169.254')?.kind, 'link_local')
  t.equal(broad.hostRefusal('8.8.8.8'), null)
  const lab = new AddressPolicy({ allowedCidrs: ['127.0.0.0/8', '::1/128'] })
  t.equal(lab.hostRefusal('127.0.0.1'), null, 'an explicit 127.0.0.0/8 allows loopback')
  t.equal(lab.hostRefusal('[::1]'), null)
  t.equal(lab.hostRefusal('169.254.1.1')?.kind, 'link_local', 'and nothing else')
})

t.test("the gateway's own listener is refused whatever the ranges say", async (t) => {
  let listeners = [{ address: '127.0.0.1', port: 8080 }]
  const p = new AddressPolicy({ allowedCidrs: ['127.0.0.0/8', '10.0.0.0/8'], ownListeners: () => listeners })
  t.equal(p.hostRefusal('127.0.0.1', 8080)?.kind, 'own_listener')
  t.equal(p.hostRefusal('0x7f000001', 8080)?.kind, 'own_listener')
  t.equal(p.hostRefusal('127.0.0.1', 8081), null, 'another port is a camera simulator')
  listeners = [{ address: '0.0.0.0', port: 8080 }]
  t.equal(p.hostRefusal('127.0.0.2', 8080)?.kind, 'own_listener', 'bound to every address: loopback reaches it')
  t.equal(p.hostRefusal('10.9.9.9', 8080), null, 'an address of another host on the same port is not the gateway')
})

t.test('connect time: names are resolved and every address must pass (a name resolving to loopback, DNS rebinding)', async (t) => {
  const answers = new Map<string, string[]>([
    ['cam.example', ['10.0.0.7']],
    ['evil.example', ['127.0.0.1']],
    ['mixed.example', ['10.0.0.7', '169.254.169.254']],
    ['mapped.example', ['::ffff:127.0.0.1']],
  ])
  const p = new AddressPolicy({ allowedCidrs: CAMERA_NETWORKS, lookup: async (h) => answers.get(h) ?? [] })
  t.equal(await p.resolve('cam.example', 80), '10.0.0.7')
  t.equal(await p.resolve('0x0a000007', 80), '10.0.0.7', 'a literal in an odd spelling is connected to as its dotted form')
  for (const host of ['evil.example', 'mixed.example', 'mapped.example', 'nothing.example', '127.0.0.1', '[::1]']) {
    const err = await p.resolve(host, 80).then(() => null, (e: unknown) => e)
    t.type(err, RefusedAddressError, `${host} refused`)
    t.equal((err as RefusedAddressError).code, 'address_not_allowed')
  }
  // rebinding: allowed when written, loopback when connected
  answers.set('cam.example', ['127.0.0.1'])
  t.equal(((await p.resolve('cam.example', 80).catch((e: unknown) => e)) as RefusedAddressError).kind, 'loopback', 'the answer at connect time counts')
  // the real resolver
  const real = new AddressPolicy({ allowedCidrs: CAMERA_NETWORKS })
  t.equal(((await real.resolve('localhost', 80).catch((e: unknown) => e)) as RefusedAddressError).kind, 'loopback', 'localhost resolves to loopback')
})
