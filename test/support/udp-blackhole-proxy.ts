import dgram from 'node:dgram'
import net from 'node:net'

/**
 * A TCP proxy in front of an RTSP server that plays the firewall dropping UDP: it rewrites the
 * `client_port=a-b` of every SETUP it forwards to a port pair of its own that swallows
 * everything, so the server streams over UDP into a black hole while RTSP itself works. TCP
 * interleaved sessions pass through untouched.
 */
export interface UdpBlackholeProxy {
  readonly port: number
  url(path?: string): string
  /** SETUPs whose client_port was rewritten. */
  readonly rewrites: number
  /** Datagrams the black hole swallowed. */
  readonly swallowed: number
  close(): Promise<void>
}

async function bindEvenPair(): Promise<[dgram.Socket, dgram.Socket]> {
  for (let i = 0; i < 64; i++) {
    const a = dgram.createSocket('udp4')
    await new Promise<void>((r) => a.bind(0, '127.0.0.1', r))
    const p = a.address().port
    if (p % 2 === 0) {
      const b = dgram.createSocket('udp4')
      const ok = await new Promise<boolean>((r) => {
        b.once('error', () => r(false))
        b.bind(p + 1, '127.0.0.1', () => r(true))
      })
      if (ok) return [a, b]
      b.close()
    }
    a.close()
  }
  throw new Error('no even/odd UDP port pair')
}

export async function startUdpBlackholeProxy(target: { host?: string; port: number }): Promise<UdpBlackholeProxy> {
  const hole = await bindEvenPair()
  let swallowed = 0
  for (const s of hole) s.on('message', () => swallowed++)
  const holePort = hole[0].address().port
  let rewrites = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host ?? '127.0.0.1')
    sockets.add(client).add(upstream)
    for (const s of [client, upstream]) {
      s.on('error', () => undefined)
      s.on('close', () => {
        sockets.delete(s)
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1')
      if (/client_port=\d+-\d+/.test(text)) {
        rewrites++
        upstream.write(Buffer.from(text.replace(/client_port=\d+-\d+/g, `client_port=${holePort}-${holePort + 1}`), 'latin1'))
      } else upstream.write(chunk)
    })
    upstream.pipe(client)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    url: (path = '/test') => `rtsp://127.0.0.1:${port}${path}`,
    get rewrites() {
      return rewrites
    },
    get swallowed() {
      return swallowed
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
      for (const s of hole) s.close()
    },
  }
}
