/**
 * GET of a picture from a camera (an ONVIF snapshot URI), bounded in every way a hostile or broken
 * camera could abuse:
 * - the address is checked at connect time through the caller's guard (resolved, then connected
 *   to by IP, so what was checked is what is connected to);
 * - redirects are never followed (a 3xx is an error): a camera cannot send us elsewhere;
 * - credentials are sent only in answer to a 401 challenge of this very host: Digest when offered,
 *   Basic only when Basic is the only scheme offered, never pre-emptively;
 * - one deadline covers connect, headers and the whole body (a slow drip ends at the deadline);
 * - at most `maxBytes` are read (a larger Content-Length is refused before reading);
 * - the type is read from the first bytes (JPEG or PNG magic), whatever the headers say, and a
 *   body that is not a picture is refused after its first bytes.
 * Each fetch uses a fresh connection that is closed afterwards.
 */
import http from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import { parseAuthenticate, RtspAuthenticator } from '../rtsp/auth.js'
import { RefusedAddressError, type ConnectGuard } from './policy.js'

export type ImageType = 'image/jpeg' | 'image/png'

export type CameraHttpErrorCode = 'address_not_allowed' | 'unreachable' | 'timeout' | 'too_large' | 'not_image' | 'redirect' | 'auth_failed' | 'http_status' | 'protocol'

export class CameraHttpError extends Error {
  constructor(
    readonly code: CameraHttpErrorCode,
    message: string,
    readonly extra: { httpStatus?: number; socketCode?: string; cause?: unknown } = {},
  ) {
    super(message)
    this.name = 'CameraHttpError'
  }
}

const JPEG = Buffer.from([0xff, 0xd8, 0xff])
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** The picture type from its first bytes; null when not (yet) recognisable. */
export function imageTypeOf(head: Uint8Array): ImageType | null {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength)
  if (b.length >= JPEG.length && b.subarray(0, JPEG.length).equals(JPEG)) return 'image/jpeg'
  if (b.length >= PNG.length && b.subarray(0, PNG.length).equals(PNG)) return 'image/png'
  return null
}

export interface CameraImageOptions {
  credentials?: { username: string; password: string } | null
  /** resolves and checks the host; without it the host is connected to as given */
  guard?: ConnectGuard
  /** total deadline: connect, headers and whole body, including an authentication round trip */
  timeoutMs: number
  maxBytes: number
  /** types accepted (default JPEG and PNG) */
  accept?: readonly ImageType[]
  /** https: verify the certificate (cameras mostly have self-signed ones; default false) */
  tlsVerify?: boolean
}

export interface CameraImage {
  body: Buffer
  type: ImageType
}

interface Answer {
  status: number
  challenges: string[]
  body?: Buffer
  type?: ImageType
}

export async function fetchCameraImage(uri: string, opts: CameraImageOptions): Promise<CameraImage> {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new CameraHttpError('protocol', 'not a valid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CameraHttpError('protocol', `unsupported scheme ${url.protocol}`)
  const accept = opts.accept ?? ['image/jpeg', 'image/png']
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
  const target = url.pathname + url.search
  const deadline = Date.now() + opts.timeoutMs
  const where = `${url.protocol}//${url.host}${url.pathname}`

  let address: string
  try {
    address = opts.guard ? await withDeadline(opts.guard(host, port), deadline, opts.timeoutMs) : host
  } catch (e) {
    if (e instanceof RefusedAddressError) throw new CameraHttpError('address_not_allowed', e.message, { cause: e })
    throw e
  }

  const once = (authorization?: string): Promise<Answer> =>
    new Promise<Answer>((resolve, reject) => {
      let settled = false
      const finish = (err: Error | null, answer?: Answer) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        req.destroy()
        if (err) reject(err)
        else resolve(answer!)
      }
      const mod = url.protocol === 'https:' ? https : http
      const req = mod.request({
        protocol: url.protocol,
        host: address,
        port,
        path: target,
        method: 'GET',
        agent: false,
        headers: { host: url.host, connection: 'close', accept: accept.join(', '), 'accept-encoding': 'identity', ...(authorization ? { authorization } : {}) },
        ...(url.protocol === 'https:' ? { rejectUnauthorized: opts.tlsVerify ?? false, ...(isIP(host) ? {} : { servername: host }) } : {}),
      })
      const timer = setTimeout(() => finish(new CameraHttpError('timeout', `${where}: no complete answer within ${opts.timeoutMs} ms`)), Math.max(1, deadline - Date.now()))
      req.on('error', (e: NodeJS.ErrnoException) => finish(new CameraHttpError('unreachable', `${where}: ${e.code ?? e.message}`, { ...(e.code ? { socketCode: e.code } : {}), cause: e })))
      req.on('response', (res) => {
        const status = res.statusCode ?? 0
        const challenges = res.rawHeaders.filter((_, i, a) => i % 2 === 1 && a[i - 1]!.toLowerCase() === 'www-authenticate')
        if (status !== 200) {
          res.resume()
          finish(null, { status, challenges })
          return
        }
        const declared = Number(res.headers['content-length'])
        if (Number.isFinite(declared) && declared > opts.maxBytes) {
          finish(new CameraHttpError('too_large', `${where}: answer of ${declared} bytes, more than ${opts.maxBytes}`, { httpStatus: status }))
          return
        }
        const chunks: Buffer[] = []
        let size = 0
        let type: ImageType | null = null
        res.on('data', (chunk: Buffer) => {
          if (settled) return
          size += chunk.length
          if (size > opts.maxBytes) {
            finish(new CameraHttpError('too_large', `${where}: answer larger than ${opts.maxBytes} bytes`, { httpStatus: status }))
            return
          }
          chunks.push(chunk)
          if (type === null && size >= PNG.length) {
            type = imageTypeOf(Buffer.concat(chunks, size).subarray(0, PNG.length))
            if (type === null || !accept.includes(type)) finish(new CameraHttpError('not_image', `${where}: the answer is not a ${accept.map((a) => a.slice(6).toUpperCase()).join(' or ')} picture`, { httpStatus: status }))
          }
        })
        res.on('end', () => {
          if (settled) return
          const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
          type ??= imageTypeOf(body)
          if (type === null || !accept.includes(type)) finish(new CameraHttpError('not_image', `${where}: the answer is not a picture (${size} bytes)`, { httpStatus: status }))
          else finish(null, { status, challenges, body, type })
        })
        res.on('error', (e) => finish(new CameraHttpError('protocol', `${where}: answer cut off (${e.message})`, { httpStatus: status, cause: e })))
      })
      req.end()
    })

  let answer = await once()
  if (answer.status === 401 && opts.credentials) {
    const auth = new RtspAuthenticator(opts.credentials.username, opts.credentials.password)
    if (!auth.useChallenges(parseAuthenticate(answer.challenges))) {
      throw new CameraHttpError('auth_failed', `${where}: asks for an authentication scheme the gateway does not speak (${answer.challenges.join('; ') || 'no challenge'})`, { httpStatus: 401 })
    }
    answer = await once(auth.authorize('GET', target))
  }
  if (answer.status === 401 || answer.status === 403) throw new CameraHttpError('auth_failed', `${where}: answered ${answer.status}`, { httpStatus: answer.status })
  if (answer.status >= 300 && answer.status < 400) throw new CameraHttpError('redirect', `${where}: answered a redirect (${answer.status}), which is not followed`, { httpStatus: answer.status })
  if (answer.status !== 200 || !answer.body || !answer.type) throw new CameraHttpError('http_status', `${where}: answered ${answer.status}`, { httpStatus: answer.status })
  return { body: answer.body, type: answer.type }
}

function withDeadline<T>(p: Promise<T>, deadline: number, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CameraHttpError('timeout', `no answer within ${timeoutMs} ms (resolving the host)`)), Math.max(1, deadline - Date.now())))),
  ]).finally(() => clearTimeout(timer))
}
