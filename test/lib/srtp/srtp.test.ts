import { createSocket, type Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { RtpHeader, RtpPacket, SrtpSession } from 'werift'
import { nativeSrtpStatus, socketAddress, SrtpSender, udpSocketFd } from '../../../src/lib/srtp/index.js'

/**
 * The native SRTP module against an independent implementation (werift's, in JavaScript): the same
 * keys must give the same bytes, across a sequence-number wrap (the rollover counter), and what
 * sendRtp puts on a real UDP socket must decrypt to the packets asked for.
 */

const PROFILES = [
  { profile: 0x0001, name: 'AES_CM_128_HMAC_SHA1_80', saltLength: 14 },
  { profile: 0x0007, name: 'AEAD_AES_128_GCM', saltLength: 12 },
] as const

const session = (profile: number, key: Buffer, salt: Buffer) =>
  new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile: profile as 1 | 7 })

t.test('the module is built and loads (scripts/build-native.sh, run by setup)', async (t) => {
  const status = nativeSrtpStatus()
  t.ok(status.available, status.reason)
})

for (const { profile, name, saltLength } of PROFILES) {
  t.test(`${name}: byte for byte what werift's SRTP makes, across a sequence-number wrap`, async (t) => {
    const key = randomBytes(16)
    const salt = randomBytes(saltLength)
    const js = session(profile, key, salt)
    const native = SrtpSender.create(profile, key, salt)!
    t.ok(native, 'sender created')
    t.teardown(() => native.close())
    let same = 0
    const total = 300
    for (let i = 0; i < total; i++) {
      const header = new RtpHeader({ payloadType: 102, sequenceNumber: (65_436 + i) & 0xffff, timestamp: 90_000 + 3600 * i, marker: i % 7 === 6, ssrc: 0x1234abcd })
      const payload = randomBytes(1 + ((i * 37) % 1188))
      const expected = js.encrypt(payload, header)
      const actual = native.protect(new RtpPacket(header, payload).serialize())
      if (actual.equals(expected)) same++
      else if (same === i) t.fail(`packet ${i} (seq ${header.sequenceNumber}) differs`)
    }
    t.equal(same, total, 'every packet identical, before and after seq 65535 → 0')
  })

  t.test(`${name}: sendRtp puts a frame on a UDP socket as consecutive SRTP packets`, async (t) => {
    const key = randomBytes(16)
    const salt = randomBytes(saltLength)
    const receiver = session(profile, key, salt)
    const sender = SrtpSender.create(profile, key, salt)!
    const rx = await bound()
    const tx = await bound()
    t.teardown(() => {
      sender.close()
      rx.close()
      tx.close()
    })
    const got: Buffer[] = []
    rx.on('message', (m) => got.push(m))
    const fd = udpSocketFd(tx)
    t.type(fd, 'number', 'the socket has a file descriptor')
    const address = socketAddress('127.0.0.1', rx.address().port)!
    // 70 payloads: more than one sendmmsg batch (64)
    const payloads = Array.from({ length: 70 }, (_, i) => Buffer.alloc(100 + i * 10, i))
    const sent = sender.sendRtp(fd!, address, { payloadType: 96, ssrc: 0xcafe0001, firstSequenceNumber: 65_530, timestamp: 123_456, markerOnLast: true }, payloads)
    t.equal(sent, 70, 'the kernel took all 70')
    await until(() => got.length >= 70, 2000)
    t.equal(got.length, 70, 'all 70 arrived')
    const packets = got.map((m) => RtpPacket.deSerialize(receiver.decrypt(m)))
    t.same(packets.map((p) => p.header.sequenceNumber), payloads.map((_, i) => (65_530 + i) & 0xffff), 'consecutive sequence numbers, wrapping')
    t.same(packets.map((p) => p.header.marker), payloads.map((_, i) => i === 69), 'the marker on the last packet only')
    t.ok(packets.every((p) => p.header.timestamp === 123_456 && p.header.payloadType === 96 && p.header.ssrc === 0xcafe0001), 'timestamp, payload type, SSRC')
    t.ok(packets.every((p, i) => Buffer.compare(p.payload, payloads[i]!) === 0), 'payloads intact')
    t.equal(got[0]!.length, 12 + 100 + sender.tagLength, 'header + payload + authentication tag')
  })
}

t.test('AES_CM_128_HMAC_SHA1_32: the _80 packet with a 4-byte tag', async (t) => {
  const key = randomBytes(16)
  const salt = randomBytes(14)
  const long = SrtpSender.create(0x0001, key, salt)!
  const short = SrtpSender.create(0x0002, key, salt)!
  t.teardown(() => (long.close(), short.close()))
  const rtp = new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: 7, timestamp: 1, ssrc: 9 }), randomBytes(500)).serialize()
  const a = long.protect(rtp)
  const b = short.protect(rtp)
  t.equal(b.length, rtp.length + 4)
  t.same(b, a.subarray(0, rtp.length + 4))
})

t.test('bad input is refused with a reason; close is idempotent', async (t) => {
  const key = randomBytes(16)
  t.equal(SrtpSender.create(0x0005, key, randomBytes(14)), null, 'an unsupported profile: no native sender')
  t.throws(() => SrtpSender.create(0x0001, randomBytes(15), randomBytes(14)), /masterKey must be 16 bytes/)
  t.throws(() => SrtpSender.create(0x0007, key, randomBytes(14)), /masterSalt must be 12 bytes/)
  const sender = SrtpSender.create(0x0001, key, randomBytes(14))!
  t.throws(() => sender.protect(Buffer.from([1, 2, 3])), /not an RTP packet/)
  t.throws(() => sender.protect(Buffer.alloc(20, 0x40)), /not an RTP packet/, 'version 1')
  const address = socketAddress('127.0.0.1', 9)!
  t.throws(() => sender.sendRtp(0, address, { payloadType: 96, ssrc: 1, firstSequenceNumber: 1, timestamp: 1, markerOnLast: true }, [Buffer.alloc(1401)]), /larger than 1400/)
  t.throws(() => socketAddress('not an address', 9), /not an IPv4 or IPv6/)
  t.throws(() => socketAddress('127.0.0.1', 0), /port/)
  t.equal(socketAddress('::1', 5000)!.length, 28, 'IPv6: a sockaddr_in6')
  // A descriptor that isn't open: the socket error comes back as -errno (EBADF = 9), not a throw.
  t.equal(sender.sendRtp(1_000_000, address, { payloadType: 96, ssrc: 1, firstSequenceNumber: 1, timestamp: 1, markerOnLast: true }, [Buffer.alloc(10)]), -9)
  sender.close()
  sender.close()
  t.ok(sender.closed)
  t.throws(() => sender.protect(Buffer.alloc(20, 0x80)), /closed/)
})

function bound(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4')
    s.once('error', reject)
    s.bind(0, '127.0.0.1', () => resolve(s))
  })
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
}
