import t from 'tap'
import { CidrError, cidrContains, cidrHosts, hostCount, intToIpv4, ipv4ToInt, parseCidr } from '../../../src/lib/wsdiscovery/index.js'

t.test('parse', async (t) => {
  t.match(parseCidr('192.168.1.0/24'), { text: '192.168.1.0/24', prefix: 24, size: 256 })
  t.match(parseCidr(' 10.0.0.7 '), { text: '10.0.0.7/32', size: 1 })
  t.match(parseCidr('0.0.0.0/0'), { size: 2 ** 32, network: 0 })
  t.equal(parseCidr('255.255.255.255/32').network, 0xffffffff)
  for (const bad of ['10.0.0.7/24', '10.0.0.0/33', '10.0.0/24', '256.0.0.0/8', '010.0.0.0/8', 'fe80::/64', '10.0.0.0/24/1', '10.0.0.0/', 'x']) {
    t.throws(() => parseCidr(bad), CidrError, bad)
  }
  t.throws(() => parseCidr('10.0.0.7/24'), /did you mean 10\.0\.0\.0\/24/)
})

t.test('int conversions', async (t) => {
  t.equal(ipv4ToInt('127.0.0.1'), 0x7f000001)
  t.equal(intToIpv4(0xc0a80101), '192.168.1.1')
  t.equal(intToIpv4(ipv4ToInt('255.255.255.255')), '255.255.255.255')
})

t.test('iterate hosts: network/broadcast skipped up to /30, kept for /31 and /32', async (t) => {
  t.same([...cidrHosts(parseCidr('192.0.2.0/30'))], ['192.0.2.1', '192.0.2.2'])
  t.same([...cidrHosts(parseCidr('192.0.2.0/31'))], ['192.0.2.0', '192.0.2.1'])
  t.same([...cidrHosts(parseCidr('192.0.2.9/32'))], ['192.0.2.9'])
  const h = [...cidrHosts(parseCidr('127.23.0.0/24'))]
  t.equal(h.length, 254)
  t.equal(h[0], '127.23.0.1')
  t.equal(h.at(-1), '127.23.0.254')
  t.equal(hostCount(parseCidr('10.1.0.0/16')), 65534)
  t.equal([...cidrHosts(parseCidr('10.255.255.252/30'))].at(-1), '10.255.255.254', 'no overflow at the top of a /8')
})

t.test('contains', async (t) => {
  const c = parseCidr('127.23.4.0/22')
  t.ok(cidrContains(c, '127.23.7.255'))
  t.notOk(cidrContains(c, '127.23.8.0'))
  t.notOk(cidrContains(c, '127.23.3.255'))
})
