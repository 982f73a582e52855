import t from 'tap'
import { parseRtpPacket, RtpParseError, serializeRtpPacket, type RtpPacket } from '../../../src/lib/rtp/index.js'

t.test('parses a plain H.264 packet as a camera sends it', async (t) => {
  // V=2, M=1, PT=96, seq=0x1234, ts=0xdeadbeef, ssrc=0x01020304, payload = FU-A end fragment
  const buf = Buffer.from('80e01234deadbeef010203047c4511223344', 'hex')
  const p = parseRtpPacket(buf)
  t.equal(p.payloadType, 96)
  t.equal(p.marker, true)
  t.equal(p.sequenceNumber, 0x1234)
  t.equal(p.timestamp, 0xdeadbeef)
  t.equal(p.ssrc, 0x01020304)
  t.same(p.csrc, [])
  t.equal(p.extension, undefined)
  t.equal(p.paddingLength, 0)
  t.equal(p.payload.toString('hex'), '7c4511223344')
  t.same(serializeRtpPacket(p), buf, 'serializes back to the same bytes')
})

t.test('CSRC list, one-byte header extension and padding', async (t) => {
  const buf = Buffer.from(
    'b2' + // V=2 P=1 X=1 CC=2
      '60' + // M=0 PT=96
      'ffff' + // seq 65535
      '00000001' +
      'cafebabe' +
      '11111111' +
      '22222222' +
      'bede0001' + // RFC 8285 profile, 1 word
      '10aa0000' +
      '6588' + // payload
      '000003', // 3 bytes padding, last one is the count
    'hex',
  )
  const p = parseRtpPacket(buf)
  t.same(p.csrc, [0x11111111, 0x22222222])
  t.equal(p.extension?.profile, 0xbede)
  t.equal(p.extension?.data.toString('hex'), '10aa0000')
  t.equal(p.payload.toString('hex'), '6588')
  t.equal(p.paddingLength, 3)
  t.equal(p.marker, false)
  t.same(serializeRtpPacket(p), buf)
})

t.test('serialize then parse keeps every field', async (t) => {
  const p: RtpPacket = {
    payloadType: 127,
    sequenceNumber: 0,
    timestamp: 0xffffffff,
    ssrc: 0x80000000,
    marker: true,
    csrc: [1],
    extension: { profile: 0x1000, data: Buffer.alloc(8, 7) },
    payload: Buffer.from('hello'),
    paddingLength: 1,
  }
  const q = parseRtpPacket(serializeRtpPacket(p))
  t.same({ ...q, payload: q.payload.toString(), extension: { ...q.extension, data: [...q.extension!.data] } }, {
    ...p,
    payload: 'hello',
    extension: { profile: 0x1000, data: [7, 7, 7, 7, 7, 7, 7, 7] },
  })
})

t.test('rejects malformed packets', async (t) => {
  t.throws(() => parseRtpPacket(Buffer.alloc(11)), RtpParseError, 'too short')
  t.throws(() => parseRtpPacket(Buffer.from('40e0000100000000000000016500', 'hex')), RtpParseError, 'version 1')
  t.throws(() => parseRtpPacket(Buffer.from('82e000010000000000000001', 'hex')), RtpParseError, 'CSRC missing')
  t.throws(() => parseRtpPacket(Buffer.from('90e000010000000000000001bede0002', 'hex')), RtpParseError, 'extension longer')
  t.throws(() => parseRtpPacket(Buffer.from('a0e0000100000000000000016510', 'hex')), RtpParseError, 'padding > size')
})
