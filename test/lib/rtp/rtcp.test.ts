import t from 'tap'
import {
  buildFir,
  buildPli,
  buildReceiverReport,
  buildSdesCname,
  buildSenderReport,
  isSenderReport,
  ntpToUnixMs,
  parseRtcp,
  RtcpType,
  RtpParseError,
  RtpWallClock,
  unixMsToNtp,
} from '../../../src/lib/rtp/index.js'

// Compound packet as a camera sends it every few seconds: SR (no report blocks) + SDES CNAME.
const SR_SDES = Buffer.from(
  '80c80006' + // SR, length 6 words
    '3aa1f3d5' + // sender SSRC
    'e9a6b4c8' + // NTP seconds (2024-03-01…)
    '80000000' + // NTP fraction = 0.5 s
    '12345678' + // RTP timestamp
    '000003e8' + // 1000 packets
    '000f4240' + // 1,000,000 octets
    '81ca0004' + // SDES, 1 chunk, 4 words
    '3aa1f3d5' +
    '01064361' + // CNAME len 6 "Camera"
    '6d657261' +
    '00000000',
  'hex',
)

t.test('parses a compound SR + SDES', async (t) => {
  const packets = parseRtcp(SR_SDES)
  t.equal(packets.length, 2)
  const sr = packets[0]!
  t.ok(isSenderReport(sr))
  if (!isSenderReport(sr)) return
  t.equal(sr.ssrc, 0x3aa1f3d5)
  t.equal(sr.ntpSeconds, 0xe9a6b4c8)
  t.equal(sr.ntpFraction, 0x80000000)
  t.equal(sr.rtpTimestamp, 0x12345678)
  t.equal(sr.packetCount, 1000)
  t.equal(sr.octetCount, 1_000_000)
  t.same(sr.reports, [])
  t.equal(packets[1]!.type, RtcpType.SDES)
  const unixMs = ntpToUnixMs(sr.ntpSeconds, sr.ntpFraction)
  t.equal(unixMs, (0xe9a6b4c8 - 2_208_988_800) * 1000 + 500)
})

t.test('RtpWallClock maps RTP time to wall clock from the SR, across timestamp wrap', async (t) => {
  const clock = new RtpWallClock(90000)
  t.equal(clock.toUnixMs(0), undefined, 'unknown before the first SR')
  const sr = parseRtcp(SR_SDES)[0]!
  if (!isSenderReport(sr)) throw new Error('expected SR')
  clock.update(sr)
  const base = ntpToUnixMs(sr.ntpSeconds, sr.ntpFraction)
  t.equal(clock.toUnixMs(0x12345678 + 90000), base + 1000)
  t.equal(clock.toUnixMs(0x12345678 - 45000), base - 500)
  const wrapped = new RtpWallClock(90000)
  wrapped.update({ ...sr, rtpTimestamp: 0xffffff00 })
  t.equal(wrapped.toUnixMs(0x00000100 + 90000 - 0x200), base + 1000, 'wraps through 2^32')
  const ntp = unixMsToNtp(base)
  t.equal(ntp.ntpSeconds, sr.ntpSeconds)
  t.equal(ntp.ntpFraction, sr.ntpFraction)
})

t.test('parses a receiver report with a report block (negative cumulative loss)', async (t) => {
  const rr = Buffer.from('81c90007' + '00000001' + '00000002' + '40ffffff' + '00010010' + '00000020' + '00000030' + '00000040', 'hex')
  const [p] = parseRtcp(rr)
  t.equal(p!.type, RtcpType.RR)
  t.match(p, { ssrc: 1, reports: [{ ssrc: 2, fractionLost: 0x40, cumulativeLost: -1, highestSequence: 0x10010, jitter: 0x20 }] })
})

t.test('PLI and FIR wire format (RFC 4585 / RFC 5104)', async (t) => {
  t.equal(buildPli(0x11223344, 0x55667788).toString('hex'), '81ce0002' + '11223344' + '55667788')
  t.equal(
    buildFir(0x11223344, 0x55667788, 7).toString('hex'),
    '84ce0004' + '11223344' + '00000000' + '55667788' + '07000000',
  )
  const [pli] = parseRtcp(buildPli(1, 2))
  t.match(pli, { type: RtcpType.PSFB, format: 1, senderSsrc: 1, mediaSsrc: 2 })
  const [fir] = parseRtcp(buildFir(1, 2, 3))
  t.match(fir, { type: RtcpType.PSFB, format: 4, senderSsrc: 1 })
  const compound = Buffer.concat([buildReceiverReport(1), buildPli(1, 2)])
  t.same(parseRtcp(compound).map((p) => p.type), [RtcpType.RR, RtcpType.PSFB])
})

t.test('rejects truncated RTCP', async (t) => {
  t.throws(() => parseRtcp(SR_SDES.subarray(0, 20)), RtpParseError)
  t.throws(() => parseRtcp(Buffer.from('40c80000', 'hex')), RtpParseError)
})

t.test('buildSenderReport + buildSdesCname: the compound SR + SDES byte for byte', async (t) => {
  const sr = buildSenderReport({ ssrc: 0x3aa1f3d5, ntpSeconds: 0xe9a6b4c8, ntpFraction: 0x80000000, rtpTimestamp: 0x12345678, packetCount: 1000, octetCount: 1_000_000 })
  const sdes = buildSdesCname(0x3aa1f3d5, 'Camera')
  t.equal(Buffer.concat([sr, sdes]).toString('hex'), SR_SDES.toString('hex'))
  // counts past 2^32 wrap (RFC 3550 §6.4.1)
  const wrapped = parseRtcp(buildSenderReport({ ssrc: 1, ntpSeconds: 0, ntpFraction: 0, rtpTimestamp: 0, packetCount: 2 ** 32 + 5, octetCount: 2 ** 40 + 7 }))[0]!
  t.ok(isSenderReport(wrapped) && wrapped.packetCount === 5 && wrapped.octetCount === 7)
  const withBlock = parseRtcp(buildSenderReport({ ssrc: 1, ntpSeconds: 2, ntpFraction: 3, rtpTimestamp: 4, packetCount: 5, octetCount: 6 }, [{ ssrc: 9, fractionLost: 1, cumulativeLost: -2, highestSequence: 3, jitter: 4, lastSr: 5, delaySinceLastSr: 6 }]))[0]!
  t.ok(isSenderReport(withBlock))
  if (isSenderReport(withBlock)) t.same(withBlock.reports, [{ ssrc: 9, fractionLost: 1, cumulativeLost: -2, highestSequence: 3, jitter: 4, lastSr: 5, delaySinceLastSr: 6 }], 'a report block round-trips')
})

t.test('buildSdesCname: a null octet ends the item list, padded to 32 bits, whatever the length', async (t) => {
  for (let n = 0; n <= 9; n++) {
    const name = 'c'.repeat(n)
    const sdes = buildSdesCname(0x01020304, name)
    t.equal(sdes.length % 4, 0, `${n} chars: whole words`)
    t.equal(sdes.readUInt16BE(2), sdes.length / 4 - 1, `${n} chars: the length field`)
    t.same([sdes[0], sdes[1], sdes.readUInt32BE(4), sdes[8], sdes[9], sdes.subarray(10, 10 + n).toString()], [0x81, 202, 0x01020304, 1, n, name], `${n} chars: one chunk, one CNAME item`)
    t.ok(10 + n < sdes.length && sdes.subarray(10 + n).every((b) => b === 0), `${n} chars: at least one null octet after the item`)
  }
  t.equal(buildSdesCname(1, 'c'.repeat(300))[9], 255, 'cut at 255 bytes')
  const long = buildSdesCname(1, 'é'.repeat(200)) // 2 bytes each
  t.same([long[9], long.subarray(10, 10 + long[9]!).toString()], [254, 'é'.repeat(127)], 'cut at a character boundary')
})
