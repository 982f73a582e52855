import { readdirSync } from 'node:fs'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { InterleavedReader, nativeInterleavedReaderStatus } from '../../../src/lib/rtsp/index.js'

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

interface Harness {
  /** the server's end of the connection */
  peer: net.Socket
  socket: net.Socket
  reader: InterleavedReader
  /** each onData call: its bytes and when it came */
  calls: { bytes: Buffer; at: number }[]
  ended: Promise<number>
  /** what onData answers (true: aligned) */
  aligned: boolean
  /** resolves at the next onData call */
  nextCall(): Promise<void>
}

/** A loopback connection read by an InterleavedReader, as the RTSP client sets one up (the Node socket paused at connect). */
async function harness(t: Tap, holdMs: number): Promise<Harness> {
  let accept!: (s: net.Socket) => void
  const accepted = new Promise<net.Socket>((r) => (accept = r))
  const srv = net.createServer((s) => accept(s))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())))
  const port = (srv.address() as net.AddressInfo).port
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, onread: { buffer: Buffer.alloc(1024), callback: () => { throw new Error('the Node socket read: it should be paused') } } })
    s.once('connect', () => {
      s.pause()
      resolve(s)
    })
    s.once('error', reject)
  })
  const peer = await accepted
  peer.setNoDelay(true)
  const buffer = Buffer.alloc(128 * 1024)
  const calls: Harness['calls'] = []
  let waiters: (() => void)[] = []
  let endWith!: (e: number) => void
  const h: Harness = {
    peer,
    socket,
    calls,
    aligned: true,
    ended: new Promise<number>((r) => (endWith = r)),
    reader: undefined as unknown as InterleavedReader,
    nextCall: () => new Promise<void>((r) => waiters.push(r)),
  }
  const reader = InterleavedReader.open(socket, buffer, holdMs, {
    onData: (length) => {
      calls.push({ bytes: Buffer.from(buffer.subarray(0, length)), at: performance.now() })
      const w = waiters
      waiters = []
      for (const f of w) f()
      return h.aligned
    },
    onEnd: (errno) => endWith(errno),
  })
  if (!reader) throw new Error('the native reader did not open')
  h.reader = reader
  t.teardown(() => {
    reader.close()
    socket.destroy()
    peer.destroy()
  })
  return h
}
interface Tap {
  teardown(fn: () => unknown): void
}
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
