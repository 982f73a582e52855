import { createSocket, type Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { RtcpPacketConverter, RtpHeader, RtpPacket, SrtcpSession, SrtpSession } from 'werift'
import { buildReceiverReport, buildSdesCname, buildSenderReport } from '../../../src/lib/rtp/index.js'
import { nativeSrtpStatus, socketAddress, SrtpSender, udpSocketFd } from '../../../src/lib/srtp/index.js'

/**
 * The native SRTP module against an independent implementation (werift's, in JavaScript): the same
 * keys must give the same bytes, across a sequence-number wrap (the rollover counter), and what
 * sendRtp puts on a real UDP socket must decrypt to the packets asked for. SRTCP likewise: werift's
 * SRTCP context decrypts what protectRtcp / sendRtcp make, and makes the same bytes at the same
 * index (werift numbers from 1; RFC 3711 3.3.2 and the native module from 0).
 */

const PROFILES = [
  { profile: 0x0001, name: 'AES_CM_128_HMAC_SHA1_80', saltLength: 14 },
  { profile: 0x0007, name: 'AEAD_AES_128_GCM', saltLength: 12 },
] as const

const session = (profile: number, key: Buffer, salt: Buffer) =>
  new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile: profile as 1 | 7 })
const rtcpSession = (profile: number, key: Buffer, salt: Buffer) =>
  new SrtcpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile: profile as 1 | 7 })

/** A compound SR + SDES as the relay sends it, with a few varying fields; `i` also varies the length. */
function compound(i: number, ssrc = 0x5eed0000 + i): Buffer {
  const sr = buildSenderReport({ ssrc, ntpSeconds: 3_900_000_000 + i, ntpFraction: (i * 0x9e3779b9) >>> 0, rtpTimestamp: 3000 * i, packetCount: 40 * i, octetCount: 40_000 * i })
  return Buffer.concat([sr, buildSdesCname(ssrc, `cname-${'x'.repeat(i % 9)}`)])
}

/** The E||index word that ends an AES_CM SRTCP packet before its tag, or a GCM one after its tag. */
function srtcpIndexWord(srtcp: Buffer, profile: number): number {
  return srtcp.readUInt32BE(srtcp.length - (profile === 0x0007 ? 4 : 14))
}

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
    const { key, salt, sender, rx, tx } = await udpPair(t, profile, saltLength)
    const receiver = session(profile, key, salt)
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

for (const { profile, name, saltLength } of PROFILES) {
  t.test(`${name}: SRTCP that werift's SRTCP context decrypts, and makes itself at the same index`, async (t) => {
    const key = randomBytes(16)
    const salt = randomBytes(saltLength)
    const js = rtcpSession(profile, key, salt)
    const native = SrtpSender.create(profile, key, salt)!
    t.teardown(() => native.close())
    const total = 12
    const tag = profile === 0x0007 ? 16 : 10
    t.equal(native.rtcpOverhead, 4 + tag, 'overhead: the E||index word and the tag')
    let decrypted = 0
    let identical = 0
    const indexes: number[] = []
    for (let i = 0; i < total; i++) {
      const rtcp = i === 5 ? buildReceiverReport(0x5eed0005) : compound(i) // an 8-byte RR: nothing but the clear header to encrypt
      const srtcp = native.protectRtcp(rtcp)
      t.equal(srtcp.length, rtcp.length + 4 + tag, `packet ${i}: RTCP + E||index + ${tag * 8}-bit tag`)
      if (rtcp.length > 8) t.not(srtcp.subarray(8, rtcp.length).toString('hex'), rtcp.subarray(8).toString('hex'), `packet ${i}: encrypted after the first 8 octets`)
      t.same(srtcp.subarray(0, 8), rtcp.subarray(0, 8), `packet ${i}: header and SSRC in the clear`)
      indexes.push(srtcpIndexWord(srtcp, profile))
      if (Buffer.compare(js.decrypt(srtcp), rtcp) === 0) decrypted++
      // werift increments its per-SSRC index before use: set it one below the native index
      js.localContext.setIndex(rtcp.readUInt32BE(4), i - 1)
      if (js.encrypt(rtcp).equals(srtcp)) identical++
    }
    t.equal(decrypted, total, 'werift decrypts every packet to the RTCP given')
    t.same(indexes, Array.from({ length: total }, (_, i) => (0x8000_0000 | i) >>> 0), 'E=1 (encrypted), index 0, 1, 2, … one per packet')
    t.equal(identical, total, 'byte for byte what werift makes at the same index')

    // A tampered packet fails werift's authentication: the tag covers the header, body and index.
    const good = native.protectRtcp(compound(1))
    for (const at of [1, 9, good.length - tag - 1, good.length - 1]) {
      const bad = Buffer.from(good)
      bad[at]! ^= 0x01
      t.throws(() => js.decrypt(bad), /authenticate/, `a bit flipped at byte ${at} is refused`)
    }
  })

  t.test(`${name}: sendRtcp puts an SRTCP packet on a UDP socket`, async (t) => {
    const { key, salt, sender, rx, tx } = await udpPair(t, profile, saltLength)
    const receiver = rtcpSession(profile, key, salt)
    const got: Buffer[] = []
    rx.on('message', (m) => got.push(m))
    const address = socketAddress('127.0.0.1', rx.address().port)!
    const sent = [compound(3), compound(4), compound(5)]
    const results = sent.map((rtcp) => sender.sendRtcp(udpSocketFd(tx)!, address, rtcp))
    t.same(results, sent.map((rtcp) => rtcp.length + sender.rtcpOverhead), 'each call returns the bytes the kernel took')
    await until(() => got.length >= 3, 2000)
    t.equal(got.length, 3, 'three datagrams')
    t.same(got.map((m) => srtcpIndexWord(m, profile) & 0x7fff_ffff), [0, 1, 2], 'indexes 0, 1, 2')
    const rtcp = got.map((m) => receiver.decrypt(m))
    t.ok(rtcp.every((r, i) => r.equals(sent[i]!)), 'each decrypts to the compound packet sent')
    const [sr, sdes] = RtcpPacketConverter.deSerialize(rtcp[0]!) as unknown as [{ type: number; ssrc: number; senderInfo: { packetCount: number; octetCount: number; rtpTimestamp: number } }, { type: number; chunks: { items: { text: string }[] }[] }]
    t.same([sr.type, sr.ssrc, sr.senderInfo.rtpTimestamp, sr.senderInfo.packetCount, sr.senderInfo.octetCount], [200, 0x5eed0003, 9000, 120, 120_000], 'werift parses the SR')
    t.same([sdes.type, sdes.chunks[0]?.items[0]?.text], [202, 'cname-xxx'], 'and the SDES CNAME')
  })
}

t.test('AES_CM_128_HMAC_SHA1_32: SRTCP keeps the 80-bit tag (RFC 5764 4.1.2), so the _80 packet byte for byte', async (t) => {
  // werift has no _32 profile, so _32's SRTCP is checked against _80's, which werift decrypts above.
  const key = randomBytes(16)
  const salt = randomBytes(14)
  const long = SrtpSender.create(0x0001, key, salt)!
  const short = SrtpSender.create(0x0002, key, salt)!
  t.teardown(() => (long.close(), short.close()))
  t.equal(short.rtcpOverhead, 14)
  for (let i = 0; i < 3; i++) {
    const rtcp = compound(i)
    const a = long.protectRtcp(rtcp)
    const b = short.protectRtcp(rtcp)
    t.equal(b.length, rtcp.length + 4 + 10, `packet ${i}: a 10-byte tag`)
    t.same(b, a, `packet ${i}: the same bytes as _80 at the same index`)
  }
})

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

t.test('bad RTCP input is refused with a named reason; a closed context is refused', async (t) => {
  const sender = SrtpSender.create(0x0001, randomBytes(16), randomBytes(14))!
  const rr = buildReceiverReport(7)
  const refused = (fn: () => unknown, reason: RegExp, what: string) => t.throws(fn, { code: 'ERR_SRTP_ARG', message: reason }, what)
  refused(() => sender.protectRtcp('not a buffer' as unknown as Buffer), /rtcpPacket must be a Buffer/, 'not a Buffer')
  refused(() => sender.protectRtcp(rr.subarray(0, 4)), /shorter than 8 bytes/, 'a 4-byte header alone')
  refused(() => sender.protectRtcp(Buffer.from([0x40, 201, 0, 1, 0, 0, 0, 7])), /not an RTCP packet/, 'version 1')
  refused(() => sender.protectRtcp(new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 7 }), Buffer.alloc(8)).serialize()), /not an RTCP packet/, 'an RTP packet (payload type 96)')
  refused(() => sender.protectRtcp(Buffer.concat([rr, Buffer.alloc(2)])), /multiple of 4/, 'a length that is not whole 32-bit words')
  refused(() => sender.protectRtcp(Buffer.concat([rr, Buffer.alloc(1400)])), /larger than 1400/, 'too long')
  const address = socketAddress('127.0.0.1', 9)!
  refused(() => sender.sendRtcp(-1, address, rr), /fd must be a file descriptor/, 'a negative fd')
  refused(() => sender.sendRtcp(3, Buffer.alloc(5), rr), /address must come from socketAddress/, 'an address of the wrong size')
  refused(() => sender.sendRtcp(3, address, Buffer.alloc(12)), /not an RTCP packet/, 'sendRtcp validates the packet too')
  // A descriptor that isn't open: the socket error comes back as -errno (EBADF = 9), not a throw.
  t.equal(sender.sendRtcp(1_000_000, address, rr), -9, 'EBADF as -9')
  // Refused packets take no index; the EBADF send's packet was protected, and took index 0 (an
  // index is never used twice, sent or not).
  t.equal(srtcpIndexWord(sender.protectRtcp(rr), 0x0001), 0x8000_0001, 'refused input takes no index; a failed send does')
  sender.close()
  t.throws(() => sender.protectRtcp(rr), /closed/, 'protectRtcp after close')
  t.throws(() => sender.sendRtcp(3, address, rr), /closed/, 'sendRtcp after close')
})

/** Fresh keys, a native sender keyed with them, and two bound UDP sockets; all closed at the test's end. */
async function udpPair(t: Test, profile: number, saltLength: number): Promise<{ key: Buffer; salt: Buffer; sender: SrtpSender; rx: Socket; tx: Socket }> {
  const key = randomBytes(16)
  const salt = randomBytes(saltLength)
  const sender = SrtpSender.create(profile, key, salt)!
  const rx = await bound()
  const tx = await bound()
  t.teardown(() => {
    sender.close()
    rx.close()
    tx.close()
  })
  return { key, salt, sender, rx, tx }
}

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
