import { readdirSync } from 'node:fs'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { InterleavedReader, nativeInterleavedReaderStatus } from '../../../src/lib/rtsp/index.js'
import { harness } from '../../support/interleaved-reader.js'

/** One interleaved unit: '$', channel, length, then an RTP (v2) packet of `payloadBytes` bytes of payload. */
function rtpUnit(seq: number, marker: boolean, payloadBytes: number, channel = 0): Buffer {
  const rtp = Buffer.alloc(12 + payloadBytes, 0x55)
  rtp[0] = 0x80
  rtp[1] = (marker ? 0x80 : 0) | 96
  rtp.writeUInt16BE(seq, 2)
  return Buffer.concat([Buffer.from([0x24, channel, rtp.length >> 8, rtp.length & 0xff]), rtp])
}
/** An RTCP receiver report (no blocks) on channel 1. */
const rtcpUnit = Buffer.concat([Buffer.from([0x24, 1, 0, 8]), Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1])])

const write = (s: net.Socket, b: Buffer | string) => new Promise<void>((r) => s.write(b, () => r()))

t.test('the module is built and loads (scripts/build-native.sh, run by setup)', async (t) => {
  const status = nativeInterleavedReaderStatus()
  t.ok(status.available, status.reason)
})

t.test('a frame written in pieces reaches JavaScript in one call, when its marker packet comes', async (t) => {
  const h = await harness(t, 1000)
  const frame = [rtpUnit(1, false, 2), rtpUnit(2, false, 1400), rtpUnit(3, false, 1400), rtpUnit(4, true, 700)]
  const sentAt: number[] = []
  for (const [i, part] of [[frame[0]!], [frame[1]!, frame[2]!.subarray(0, 600)], [frame[2]!.subarray(600), frame[3]!]].entries()) {
    if (i > 0) await sleep(30)
    sentAt.push(performance.now())
    await write(h.peer, Buffer.concat(part))
  }
  await (h.calls.length ? Promise.resolve() : h.nextCall())
  await sleep(50)
  t.equal(h.calls.length, 1, 'one call for the frame')
  t.same(h.calls[0]!.bytes, Buffer.concat(frame), 'every byte, in order')
  t.ok(h.calls[0]!.at >= sentAt[2]!, 'handed over once the marker packet came, not before')
})

t.test('bytes of a frame whose marker never comes are handed over holdMs after they came', async (t) => {
  const h = await harness(t, 40)
  const units = Buffer.concat([rtpUnit(1, false, 100), rtpUnit(2, false, 100)])
  const sent = performance.now()
  await write(h.peer, units)
  await h.nextCall()
  const waited = h.calls[0]!.at - sent
  t.same(h.calls[0]!.bytes, units)
  t.ok(waited >= 30, `held about holdMs (${waited.toFixed(1)} ms)`)
  t.ok(waited < 900, 'and then handed over')
})

t.test('an RTSP message and an RTCP packet are handed over at once; so is everything while JavaScript holds a partial item', async (t) => {
  const h = await harness(t, 5000)
  const response = 'RTSP/1.0 200 OK\r\nCSeq: 7\r\nSession: 12345678\r\n\r\n'
  await write(h.peer, response)
  await h.nextCall()
  t.equal(h.calls[0]!.bytes.toString('latin1'), response, 'the response, without waiting')

  await write(h.peer, Buffer.concat([rtpUnit(1, false, 50), rtcpUnit]))
  await h.nextCall()
  t.same(h.calls[1]!.bytes, Buffer.concat([rtpUnit(1, false, 50), rtcpUnit]), 'an RTCP packet ends what is held')

  // JavaScript's parser now holds a partial message: the reader cannot know where the next unit
  // starts, so it must not hold bytes back by its own framing.
  h.aligned = false
  await write(h.peer, 'RTSP/1.0 200 OK\r\nCS')
  await h.nextCall()
  const before = performance.now()
  await write(h.peer, Buffer.concat([Buffer.from('eq: 8\r\n\r\n'), rtpUnit(2, false, 50)]))
  await h.nextCall()
  t.ok(performance.now() - before < 2500, 'handed over at once, not after the 5 s hold')
  t.same(h.calls[3]!.bytes, Buffer.concat([Buffer.from('eq: 8\r\n\r\n'), rtpUnit(2, false, 50)]))
})

t.test("the peer's close: bytes held are handed over first, then onEnd(0)", async (t) => {
  const h = await harness(t, 5000)
  const unit = rtpUnit(1, false, 300)
  await write(h.peer, unit)
  await sleep(30)
  t.equal(h.calls.length, 0, 'a frame without its end is held')
  h.peer.end()
  t.equal(await h.ended, 0, 'onEnd(0)')
  t.same(Buffer.concat(h.calls.map((c) => c.bytes)), unit, 'what was held came before the end')
})

t.test('close() is idempotent, reads nothing more, and with the socket destroyed ends the connection without leaking a descriptor', async (t) => {
  const fds = () => readdirSync('/proc/self/fd').length
  const before = fds()
  const h = await harness(t, 1000)
  h.reader.close()
  h.reader.close()
  t.ok(h.reader.closed)
  await write(h.peer, rtpUnit(1, true, 10))
  await sleep(50)
  t.equal(h.calls.length, 0, 'nothing read after close()')
  // Unread bytes make the kernel end the connection with a reset rather than a FIN: either ends it.
  h.peer.on('error', () => undefined)
  const peerClosed = new Promise((r) => h.peer.once('close', r))
  h.socket.destroy()
  await peerClosed
  t.pass('the peer saw the connection end')
  h.peer.destroy()
  await sleep(50)
  t.ok(fds() <= before + 1, `descriptors back to where they were (${before} → ${fds()}; the listening socket is still open)`)
})

t.test('bad arguments are refused with a reason', async (t) => {
  const h = await harness(t, 1000)
  t.throws(() => InterleavedReader.open(h.socket, Buffer.alloc(1024), 5, { onData: () => true, onEnd: () => undefined }), { name: 'TypeError', message: /buffer must be a Buffer of at least 65540 bytes/ })
  t.throws(() => InterleavedReader.open(h.socket, Buffer.alloc(70_000), 0, { onData: () => true, onEnd: () => undefined }), { name: 'TypeError', message: /holdMs/ })
})
