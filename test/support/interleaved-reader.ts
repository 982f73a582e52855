import net from 'node:net'
import { InterleavedReader } from '../../src/lib/rtsp/index.js'

/**
 * A loopback TCP connection whose client end is read by an InterleavedReader (native/ingest), as
 * the RTSP client sets one up: the Node socket paused at connect, the reader on its descriptor.
 */

export interface Harness {
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
export async function harness(t: Tap, holdMs: number): Promise<Harness> {
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
