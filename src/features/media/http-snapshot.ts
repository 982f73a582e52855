import { createHash, randomBytes } from 'node:crypto'
import { UpstreamError } from '../../core/errors.js'

/** GET a camera's snapshot URI (ONVIF GetSnapshotUri) with Basic or Digest auth. */
export async function fetchSnapshot(uri: string, credentials: { username: string; password: string } | null, timeoutMs: number): Promise<Buffer> {
  const signal = AbortSignal.timeout(timeoutMs)
  const url = new URL(uri)
  const target = url.pathname + url.search
  let res = await fetch(uri, { signal }).catch((err: Error) => {
    throw new UpstreamError(`snapshot: ${err.message}`)
  })
  if (res.status === 401 && credentials) {
    const challenge = res.headers.get('www-authenticate') ?? ''
    await res.arrayBuffer().catch(() => undefined)
    let authorization: string
    if (/^digest/i.test(challenge)) {
      const p: Record<string, string> = {}
      for (const m of challenge.matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g)) p[m[1]!.toLowerCase()] = m[3] ?? m[2]!
      const md5 = (s: string) => createHash('md5').update(s).digest('hex')
      const ha1 = md5(`${credentials.username}:${p.realm}:${credentials.password}`)
      const ha2 = md5(`GET:${target}`)
      const qop = p.qop?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined
      const cnonce = randomBytes(8).toString('hex')
      const nc = '00000001'
      const response = qop ? md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`)
      authorization = `Digest username="${credentials.username}", realm="${p.realm}", nonce="${p.nonce}", uri="${target}", response="${response}"` + (qop ? `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"` : '') + (p.opaque ? `, opaque="${p.opaque}"` : '')
    } else {
      authorization = 'Basic ' + Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')
    }
    res = await fetch(uri, { signal, headers: { authorization } }).catch((err: Error) => {
      throw new UpstreamError(`snapshot: ${err.message}`)
    })
  }
  if (!res.ok) throw new UpstreamError(`snapshot: camera answered ${res.status}`)
  return Buffer.from(await res.arrayBuffer())
}
