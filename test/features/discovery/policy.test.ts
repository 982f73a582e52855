/** AddressPolicy: which camera addresses and scan ranges the gateway may reach. Pure, no network. */
import t from 'tap'
import { ConfigError, ValidationError } from '../../../src/core/errors.js'
import { AddressPolicy } from '../../../src/features/discovery/index.js'

const own = () => ['192.168.1.10', '127.0.0.1']

t.test('broad ranges never let loopback, link-local or the gateway itself through', async (t) => {
  const p = new AddressPolicy(['0.0.0.0/0'], own)
  t.equal(p.refusal('192.168.1.64'), null)
  t.match(p.refusal('127.0.0.1'), /loopback/)
  t.match(p.refusal('169.254.10.20'), /link-local/)
  t.match(p.refusal('192.168.1.10'), /gateway itself/)
  t.match(p.refusal('224.0.0.1'), /not a unicast/)
  t.match(p.refusal('0.0.0.0'), /not a unicast/)
  t.match(p.refusal('fe80::1'), /IPv6/)
})

t.test('explicit ranges allow them', async (t) => {
  const p = new AddressPolicy(['127.0.0.0/8', '169.254.0.0/16', '192.168.1.10/32'], own)
  t.equal(p.refusal('127.33.1.1'), null)
  t.equal(p.refusal('169.254.10.20'), null)
  t.equal(p.refusal('192.168.1.10'), null)
  t.match(p.refusal('192.168.1.11'), /outside the allowed/)
})

t.test('scan ranges: at most /16, inside an allowed range, named by index', async (t) => {
  const p = new AddressPolicy(['10.0.0.0/8', '127.0.0.0/8'], own)
  t.same(p.checkRanges(['10.1.0.0/16', '127.9.9.0/24'], 'body.ranges').map((c) => c.text), ['10.1.0.0/16', '127.9.9.0/24'])
  const err = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      return e as ValidationError
    }
    throw new Error('did not throw')
  }
  t.equal(err(() => p.checkRanges(['10.0.0.0/15'], 'body.ranges')).fields[0]!.field, 'body.ranges')
  t.equal(err(() => p.checkRanges(['10.0.0.0/24', '11.0.0.0/24'], 'body.ranges')).fields[0]!.field, 'body.ranges.1')
  const wide = new AddressPolicy(['0.0.0.0/0'], own)
  t.match(err(() => wide.checkRanges(['127.0.0.0/16'], 'body.ranges')).message, /loopback/)
})

t.test('host names are checked after resolution', async (t) => {
  const p = new AddressPolicy(['10.0.0.0/8'], own)
  await t.rejects(p.resolve('localhost', 'body.host'), { fields: [{ field: 'body.host' }], message: /resolves to 127\.0\.0\.1 is a loopback|outside/ })
  const lo = new AddressPolicy(['127.0.0.0/8'], own)
  t.equal(await lo.resolve('localhost', 'body.host'), '127.0.0.1')
  await t.rejects(p.resolve('no-such-host.invalid', 'body.host'), ValidationError)
})

t.test('a bad configured range stops start-up naming the key', async (t) => {
  t.throws(() => new AddressPolicy(['10.0.0.1/8']), ConfigError)
})
