import { createHash } from 'node:crypto'
import jpeg from 'jpeg-js'
import { CameraHttpError, fetchCameraImage, RefusedAddressError, type ConnectGuard } from '../../lib/net/index.js'
import { OnvifAuthError, OnvifClient, OnvifProtocolError, OnvifTimeoutError, OnvifUnreachableError } from '../../lib/onvif/index.js'
import { RtspAuthError, RtspClient, RtspConnectionError, RtspProtocolError, RtspStatusError, RtspTimeoutError } from '../../lib/rtsp/index.js'
import { parseH264Sps } from '../../lib/h264/index.js'
import { parseH265Sps } from '../../lib/h265/index.js'
import type { SessionDescription } from '../../lib/sdp/index.js'
import { redact } from '../../core/redact.js'
import type { CheckResult, Reason } from './model.js'

/** Node's socket error codes → our reason codes. */
export function reasonOfCode(code: string | undefined): Reason {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'refused'
    case 'ETIMEDOUT':
      return 'timeout'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'no_route'
    default:
      return 'refused'
  }
}

const msg = (err: unknown) => redact(err instanceof Error ? err.message : String(err)).slice(0, 300)

export function endpointOf(uri: string, defaultPort: number): { host: string; port: number } | null {
  try {
    const u = new URL(uri)
    const host = u.hostname.replace(/^\[|\]$/g, '')
    if (!host) return null
    return { host, port: u.port ? Number(u.port) : defaultPort }
  } catch {
    return null
  }
}

/** ONVIF GetSystemDateAndTime: the camera clock minus ours, ms. */
export type ConnectVerdict = { ok: true } | { ok: false; reason: Reason; detail: string } | { ok: null }

/**
 * GetSystemDateAndTime (no login), then, when `authenticate` and the clock answered, GetDeviceInformation
 * with the camera's credentials on the clock just read: the one call that shows a wrong ONVIF password.
 */
export async function onvifClockCheck(
  xaddr: string,
  creds: { username: string; password: string } | null,
  timeoutMs: number,
  thresholdMs: number,
  authenticate = false,
  connectGuard?: ConnectGuard,
): Promise<{ result: CheckResult; connect: ConnectVerdict; auth: CheckResult | null }> {
  const t0 = performance.now()
  const ms = () => Math.round(performance.now() - t0)
  let client: OnvifClient | undefined
  try {
    client = new OnvifClient({ xaddr, username: creds?.username, password: creds?.password, timeoutMs, connectGuard })
    const clock = await client.getSystemDateAndTime()
    const offsetMs = Math.round(clock.offsetMs)
    const data = { offsetMs, source: clock.source }
    const auth = authenticate && creds ? await onvifAuthCheck(client) : null
    if (Math.abs(offsetMs) > thresholdMs) return { result: { check: 'onvif_clock', ok: false, reason: 'clock_drift', detail: `camera clock ${offsetMs > 0 ? 'ahead' : 'behind'} by ${(Math.abs(offsetMs) / 1000).toFixed(1)} s`, ms: ms(), data }, connect: { ok: true }, auth }
    return { result: { check: 'onvif_clock', ok: true, ms: ms(), data }, connect: { ok: true }, auth }
  } catch (err) {
    let reason: Reason = 'onvif_error'
    if (err instanceof RefusedAddressError) return { ...refusedAddress('onvif_clock', err, ms()), auth: null }
    if (err instanceof OnvifTimeoutError) reason = 'timeout'
    else if (err instanceof OnvifUnreachableError) reason = reasonOfCode(err.code)
    else if (err instanceof OnvifAuthError) reason = 'auth_failed'
    else if (err instanceof OnvifProtocolError) reason = 'protocol'
    else if (err instanceof TypeError) reason = 'no_endpoint'
    const detail = msg(err)
    // a timeout covers connect and answer alike: the port's reachability is then unknown
    const connect: ConnectVerdict = err instanceof OnvifUnreachableError ? { ok: false, reason, detail } : err instanceof OnvifTimeoutError || reason === 'no_endpoint' ? { ok: null } : { ok: true }
    return { result: { check: 'onvif_clock', ok: false, reason, detail, ms: ms() }, connect, auth: null }
  } finally {
    client?.close()
  }
}

async function onvifAuthCheck(client: OnvifClient): Promise<CheckResult> {
  const t0 = performance.now()
  const ms = () => Math.round(performance.now() - t0)
  try {
    await client.getDeviceInformation()
    return { check: 'onvif_auth', ok: true, ms: ms() }
  } catch (err) {
    const reason: Reason = err instanceof OnvifAuthError ? 'auth_failed' : err instanceof OnvifTimeoutError ? 'timeout' : err instanceof OnvifUnreachableError ? reasonOfCode(err.code) : 'onvif_error'
    return { check: 'onvif_auth', ok: false, reason, detail: msg(err), ms: ms() }
  }
}

export interface StreamFacts {
  codec: string | null
  width: number | null
  height: number | null
  fps: number | null
}

const CODEC_OF: Record<string, string> = { H264: 'h264', H265: 'h265', HEVC: 'h265', JPEG: 'mjpeg', MJPEG: 'mjpeg' }

/** Codec, size and frame rate of the first video track, from the SDP (and its SPS when the SDP says no size). */
export function streamFactsOf(sdp: SessionDescription): StreamFacts {
  const video = sdp.media.find((m) => m.type === 'video')
  if (!video) return { codec: null, width: null, height: null, fps: null }
  const codec = video.codec ? (CODEC_OF[video.codec.toUpperCase()] ?? 'other') : null
  let width = video.width ?? null
  let height = video.height ?? null
  let fps = video.framerate ?? null
  try {
    if (width === null && video.h264?.sps[0]) {
      const sps = parseH264Sps(video.h264.sps[0])
      width = sps.width
      height = sps.height
      fps ??= sps.frameRate ?? null
    } else if (width === null && video.h265?.sps[0]) {
      const sps = parseH265Sps(video.h265.sps[0]) as { width: number; height: number; frameRate?: number }
      width = sps.width
      height = sps.height
      fps ??= sps.frameRate ?? null
    }
  } catch {
    // an unreadable SPS leaves the size unknown; DESCRIBE itself succeeded
  }
  return { codec, width, height, fps: fps === null ? null : Math.round(fps * 100) / 100 }
}

export interface ExpectedStream {
  codec: string | null
  width: number | null
  height: number | null
  fps: number | null
}

/** RTSP DESCRIBE with the camera's credentials, compared with what the registry expects. */
export async function rtspDescribeCheck(uri: string, creds: { username: string; password: string } | null, timeoutMs: number, expected: ExpectedStream | null, connectGuard?: ConnectGuard): Promise<{ result: CheckResult; mismatches: Reason[]; connect: ConnectVerdict }> {
  const t0 = performance.now()
  const ms = () => Math.round(performance.now() - t0)
  let client: RtspClient | undefined
  try {
    // no redirects: a camera does not send the gateway (or its credentials) elsewhere
    client = new RtspClient({ url: uri, username: creds?.username, password: creds?.password, timeoutMs, connectTimeoutMs: timeoutMs, followRedirects: false, ...(connectGuard ? { connectGuard } : {}) })
    client.on('close', () => undefined) // errors are reported by the promise
    const sdp = await client.describe()
    const facts = streamFactsOf(sdp)
    const mismatches: Reason[] = []
    const details: string[] = []
    if (expected) {
      if (expected.codec && expected.codec !== 'other' && facts.codec && facts.codec !== expected.codec) {
        mismatches.push('wrong_codec')
        details.push(`codec ${facts.codec}, registry says ${expected.codec}`)
      }
      if (expected.width && expected.height && facts.width && facts.height && (facts.width !== expected.width || facts.height !== expected.height)) {
        mismatches.push('wrong_resolution')
        details.push(`size ${facts.width}x${facts.height}, registry says ${expected.width}x${expected.height}`)
      }
      if (expected.fps && facts.fps && Math.abs(facts.fps - expected.fps) > Math.max(1, expected.fps * 0.1)) {
        mismatches.push('wrong_fps')
        details.push(`${facts.fps} fps, registry says ${expected.fps}`)
      }
    }
    const result: CheckResult = mismatches.length
      ? { check: 'rtsp_describe', ok: false, reason: mismatches[0]!, detail: details.join('; '), ms: ms(), data: { ...facts } }
      : { check: 'rtsp_describe', ok: true, ms: ms(), data: { ...facts } }
    return { result, mismatches, connect: { ok: true } }
  } catch (err) {
    let reason: Reason = 'rtsp_error'
    if (err instanceof RefusedAddressError) return { ...refusedAddress('rtsp_describe', err, ms()), mismatches: [] }
    if (err instanceof RtspAuthError) reason = 'auth_failed'
    else if (err instanceof RtspTimeoutError) reason = 'timeout'
    else if (err instanceof RtspConnectionError) reason = err.code === 'ECONNRESET' || err.code === undefined ? 'protocol' : reasonOfCode(err.code)
    else if (err instanceof RtspProtocolError) reason = 'protocol'
    else if (err instanceof RtspStatusError) reason = err.status >= 500 ? 'protocol' : 'rtsp_error'
    const detail = msg(err)
    const refused = err instanceof RtspConnectionError && err.code !== undefined && err.code !== 'ECONNRESET'
    const connectTimeout = err instanceof RtspTimeoutError && err.phase === 'connect'
    const connect: ConnectVerdict = refused || connectTimeout ? { ok: false, reason, detail } : { ok: true }
    return { result: { check: 'rtsp_describe', ok: false, reason, detail, ms: ms() }, mismatches: [], connect }
  } finally {
    await client?.close().catch(() => undefined)
  }
}

/**
 * A connection the camera address policy refused (cameras.allowedCidrs): the gateway did not
 * connect, so the port's reachability is unknown, and the reason says why.
 */
function refusedAddress(check: CheckResult['check'], err: RefusedAddressError, ms: number): { result: CheckResult; connect: ConnectVerdict } {
  return { result: { check, ok: false, reason: 'address_not_allowed', detail: msg(err), ms }, connect: { ok: null } }
}

export interface PictureFacts {
  width: number
  height: number
  /** mean luma 0..255 and its standard deviation over a sample grid; null when not decoded */
  mean: number | null
  stddev: number | null
  /** compressed bytes per pixel */
  bytesPerPixel: number
}

/** Largest picture decoded (megapixels). */
export const MAX_DECODE_MP = 8.5
/**
 * A picture with detail compresses to more than this many bytes per pixel (a uniform 1280x720
 * frame is ~0.006 at any quality, a noisy dark one ~0.28, a street scene 0.05–0.3). Only pictures
 * under it can be "almost uniform" and are decoded (jpeg-js costs ~30 ms per 640x360 picture on
 * the event loop); the others are only parsed for their size.
 */
export const UNIFORM_MAX_BYTES_PER_PIXEL = 0.03

/** Width and height from the JPEG's SOF marker and where its scan data starts; throws when the markers are broken. */
export function jpegSize(buf: Buffer): { width: number; height: number; scanOffset: number } {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) throw new Error('not a JPEG (no SOI marker)')
  let size: { width: number; height: number } | undefined
  let i = 2
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) throw new Error(`broken JPEG marker at byte ${i}`)
    const marker = buf[i + 1]!
    if (marker === 0xff) {
      i++
      continue
    }
    const len = buf.readUInt16BE(i + 2)
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > buf.length) break
      size = { width: buf.readUInt16BE(i + 7), height: buf.readUInt16BE(i + 5) }
      if (!size.width || !size.height) throw new Error('JPEG without a size')
    }
    if (marker === 0xda) {
      if (!size) break
      return { ...size, scanOffset: i + 2 + len }
    }
    if (marker === 0xd9) break
    i += 2 + len
  }
  throw new Error(size ? 'JPEG without a scan' : 'JPEG without a frame header')
}

/** Measures a JPEG's brightness (decoding it only when it may be uniform); throws when it is not a valid JPEG. */
export function analyzeJpeg(buf: Buffer): PictureFacts {
  const { scanOffset, ...size } = jpegSize(buf)
  // entropy-coded bytes only: tables and comments do not say anything about the picture
  const bytesPerPixel = Math.round(((buf.length - scanOffset) / (size.width * size.height)) * 1e4) / 1e4
  if (buf[buf.length - 2] !== 0xff || buf[buf.length - 1] !== 0xd9) {
    // trailing bytes after EOI happen; a truncated picture (no EOI anywhere near the end) does not pass
    if (buf.subarray(Math.max(0, buf.length - 64)).indexOf(Buffer.from([0xff, 0xd9])) < 0) throw new Error('truncated JPEG (no EOI marker)')
  }
  if (bytesPerPixel > UNIFORM_MAX_BYTES_PER_PIXEL) return { ...size, mean: null, stddev: null, bytesPerPixel }
  const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_DECODE_MP, maxMemoryUsageInMB: 256, tolerantDecoding: false })
  const { width, height, data } = img
  const pixels = width * height
  if (!pixels) throw new Error('empty picture')
  const channels = data.length / pixels >= 4 ? 4 : 3
  const step = Math.max(1, Math.floor(pixels / 4096))
  let n = 0
  let sum = 0
  let sq = 0
  for (let p = 0; p < pixels; p += step) {
    const i = p * channels
    const y = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!
    sum += y
    sq += y * y
    n++
  }
  const mean = sum / n
  return { width, height, mean: Math.round(mean * 10) / 10, stddev: Math.round(Math.sqrt(Math.max(0, sq / n - mean * mean)) * 10) / 10, bytesPerPixel }
}

/** "Almost uniformly dark or bright": a covered lens, a camera turned to a wall, a blown-out sensor. */
export function looksCovered(p: PictureFacts): boolean {
  return p.mean !== null && p.stddev !== null && p.stddev < 12 && (p.mean < 40 || p.mean > 215)
}

/**
 * GET of the snapshot URI (lib/net fetchCameraImage: checked address, no redirects, credentials
 * only in answer to a challenge, bounded in time and size, JPEG magic), then the picture's checks.
 */
export async function snapshotCheck(uri: string, creds: { username: string; password: string } | null, timeoutMs: number, maxBytes: number, connectGuard?: ConnectGuard): Promise<{ result: CheckResult; hash: string | null }> {
  const t0 = performance.now()
  const ms = () => Math.round(performance.now() - t0)
  let body: Buffer
  try {
    body = (await fetchCameraImage(uri, { credentials: creds, timeoutMs, maxBytes, accept: ['image/jpeg'], ...(connectGuard ? { guard: connectGuard } : {}) })).body
  } catch (err) {
    if (!(err instanceof CameraHttpError)) throw err
    const status = err.extra.httpStatus
    const reason: Reason =
      err.code === 'address_not_allowed' ? 'address_not_allowed'
      : err.code === 'auth_failed' ? 'auth_failed'
      : err.code === 'timeout' ? 'timeout'
      : err.code === 'too_large' || err.code === 'not_image' ? 'bad_snapshot'
      : err.code === 'unreachable' ? (err.extra.socketCode ? reasonOfCode(err.extra.socketCode) : 'snapshot_failed')
      : 'snapshot_failed'
    return { result: { check: 'snapshot', ok: false, reason, detail: status && err.code !== 'address_not_allowed' ? `HTTP ${status}: ${msg(err)}` : msg(err), ms: ms() }, hash: null }
  }
  const hash = createHash('sha1').update(body).digest('hex')
  let facts: PictureFacts
  try {
    facts = analyzeJpeg(body)
  } catch (err) {
    const tooBig = /maxResolutionInMP|maxMemoryUsage/i.test(msg(err))
    if (tooBig) return { result: { check: 'snapshot', ok: true, detail: 'picture too large to analyse', ms: ms(), data: { bytes: body.length } }, hash }
    return { result: { check: 'snapshot', ok: false, reason: 'bad_snapshot', detail: msg(err), ms: ms(), data: { bytes: body.length } }, hash: null }
  }
  const data = { bytes: body.length, width: facts.width, height: facts.height, bytesPerPixel: facts.bytesPerPixel, meanLuma: facts.mean, stddevLuma: facts.stddev }
  if (looksCovered(facts)) return { result: { check: 'snapshot', ok: false, reason: 'covered', detail: `picture almost uniformly ${facts.mean! < 128 ? 'dark' : 'bright'} (mean luma ${facts.mean}, σ ${facts.stddev})`, ms: ms(), data }, hash }
  return { result: { check: 'snapshot', ok: true, ms: ms(), data }, hash }
}
