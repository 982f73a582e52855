import { RtspProtocolError } from './errors.js'

export class RtspHeaders {
  readonly #map = new Map<string, string[]>()

  append(name: string, value: string): void {
    const key = name.toLowerCase()
    const list = this.#map.get(key)
    if (list) list.push(value)
    else this.#map.set(key, [value])
  }

  get(name: string): string | undefined {
    return this.#map.get(name.toLowerCase())?.[0]
  }

  getAll(name: string): string[] {
    return this.#map.get(name.toLowerCase()) ?? []
  }

  has(name: string): boolean {
    return this.#map.has(name.toLowerCase())
  }
}

export interface RtspResponse {
  status: number
  statusText: string
  headers: RtspHeaders
  body: Buffer
  cseq: number | undefined
}

/** A request sent by the server to us (some cameras send OPTIONS or GET_PARAMETER as keep-alive). */
export interface RtspServerRequest {
  method: string
  uri: string
  headers: RtspHeaders
  body: Buffer
  cseq: number | undefined
}

export type RtspStreamItem =
  | { kind: 'interleaved'; channel: number; data: Buffer }
  | { kind: 'response'; response: RtspResponse }
  | { kind: 'request'; request: RtspServerRequest }

const MAX_HEADER_BYTES = 64 * 1024
const DOLLAR = 0x24

function findHeaderEnd(buf: Buffer): { end: number; sepLength: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n')
  const lf = buf.indexOf('\n\n')
  if (crlf < 0 && lf < 0) return undefined
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf, sepLength: 4 }
  return { end: lf, sepLength: 2 }
}

/**
 * Incremental parser of the RTSP-over-TCP byte stream: RTSP messages and `$`-framed interleaved
 * RTP/RTCP (RFC 2326 §10.12), in any mix and split anywhere across socket reads.
 */
export class RtspStreamParser {
  #buf: Buffer = Buffer.alloc(0)
  /** Bytes skipped to resynchronize on garbage between frames. */
  skippedBytes = 0

  /** Bytes held of an item not yet complete (0: the next byte pushed starts a new item). */
  get pendingBytes(): number {
    return this.#buf.length
  }

  push(chunk: Buffer): RtspStreamItem[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    const out: RtspStreamItem[] = []
    for (;;) {
      const buf = this.#buf
      if (buf.length === 0) break
      if (buf[0] === DOLLAR) {
        if (buf.length < 4) break
        const len = buf.readUInt16BE(2)
        if (buf.length < 4 + len) break
        out.push({ kind: 'interleaved', channel: buf[1]!, data: buf.subarray(4, 4 + len) })
        this.#buf = buf.subarray(4 + len)
        continue
      }
      if (!this.#looksLikeMessageStart(buf)) {
        // Some cameras pad between interleaved frames; skip to the next '$' or 'RTSP/'.
        const next = this.#resyncPoint(buf)
        if (next < 0) {
          this.skippedBytes += buf.length
          this.#buf = Buffer.alloc(0)
          break
        }
        this.skippedBytes += next
        this.#buf = buf.subarray(next)
        continue
      }
      const head = findHeaderEnd(buf)
      if (!head) {
        if (buf.length > MAX_HEADER_BYTES) throw new RtspProtocolError('RTSP header exceeds 64 KiB')
        break
      }
      const lines = buf.subarray(0, head.end).toString('latin1').split(/\r?\n/)
      const headers = new RtspHeaders()
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim())
      }
      const contentLength = Number(headers.get('content-length') ?? 0)
      if (!Number.isInteger(contentLength) || contentLength < 0) {
        throw new RtspProtocolError(`invalid Content-Length ${headers.get('content-length')}`)
      }
      const bodyStart = head.end + head.sepLength
      if (buf.length < bodyStart + contentLength) break
      const body = Buffer.from(buf.subarray(bodyStart, bodyStart + contentLength))
      this.#buf = buf.subarray(bodyStart + contentLength)
      const cseqRaw = headers.get('cseq')
      const cseq = cseqRaw !== undefined && /^\d+$/.test(cseqRaw) ? Number(cseqRaw) : undefined
      const start = lines[0]!
      const status = /^RTSP\/\d\.\d\s+(\d{3})\s*(.*)$/.exec(start)
      if (status) {
        out.push({
          kind: 'response',
          response: { status: Number(status[1]), statusText: status[2]!, headers, body, cseq },
        })
      } else {
        const req = /^([A-Z_]+)\s+(\S+)\s+RTSP\/\d\.\d$/.exec(start)
        if (!req) throw new RtspProtocolError(`malformed RTSP start line: ${start.slice(0, 80)}`)
        out.push({ kind: 'request', request: { method: req[1]!, uri: req[2]!, headers, body, cseq } })
      }
    }
    return out
  }

  #looksLikeMessageStart(buf: Buffer): boolean {
    const probe = buf.subarray(0, 5).toString('latin1')
    if ('RTSP/'.startsWith(probe) || probe.startsWith('RTSP/')) return true
    return /^[A-Z_]+$/.test(probe) || /^[A-Z_]+ /.test(probe)
  }

  #resyncPoint(buf: Buffer): number {
    const dollar = buf.indexOf(DOLLAR, 1)
    const rtsp = buf.indexOf('RTSP/', 1)
    if (dollar < 0) return rtsp
    if (rtsp < 0) return dollar
    return Math.min(dollar, rtsp)
  }
}

export function serializeRequest(
  method: string,
  uri: string,
  cseq: number,
  headers: Record<string, string>,
  body?: Buffer,
): Buffer {
  let head = `${method} ${uri} RTSP/1.0\r\nCSeq: ${cseq}\r\n`
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
  if (body && body.length > 0) head += `Content-Length: ${body.length}\r\n`
  head += '\r\n'
  const h = Buffer.from(head, 'latin1')
  return body && body.length > 0 ? Buffer.concat([h, body]) : h
}

export interface RtspSessionHeader {
  id: string
  /** Seconds; RFC 2326 default is 60 when the server does not say. */
  timeout: number
}

export function parseSessionHeader(value: string): RtspSessionHeader {
  const [id, ...params] = value.split(';')
  let timeout = 60
  for (const p of params) {
    const m = /^\s*timeout\s*=\s*(\d+)/i.exec(p)
    if (m) timeout = Number(m[1]) || 60
  }
  return { id: id!.trim(), timeout }
}

export interface RtspTransportHeader {
  protocol: string
  interleaved?: [number, number]
  ssrc?: number
  clientPort?: [number, number]
  serverPort?: [number, number]
  params: Record<string, string>
}

function pair(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined
  const m = /^(\d+)(?:-(\d+))?$/.exec(v.trim())
  if (!m) return undefined
  const a = Number(m[1])
  return [a, m[2] !== undefined ? Number(m[2]) : a + 1]
}

export function parseTransportHeader(value: string): RtspTransportHeader {
  // Several alternatives may be listed; the server's answer holds the one it chose, first.
  const first = value.split(',')[0]!
  const [protocol, ...rest] = first.split(';')
  const params: Record<string, string> = {}
  for (const p of rest) {
    const eq = p.indexOf('=')
    if (eq < 0) params[p.trim().toLowerCase()] = ''
    else params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim()
  }
  const out: RtspTransportHeader = { protocol: protocol!.trim(), params }
  const interleaved = pair(params['interleaved'])
  if (interleaved) out.interleaved = interleaved
  const clientPort = pair(params['client_port'])
  if (clientPort) out.clientPort = clientPort
  const serverPort = pair(params['server_port'])
  if (serverPort) out.serverPort = serverPort
  if (params['ssrc'] && /^[0-9a-f]{1,8}$/i.test(params['ssrc'])) out.ssrc = Number.parseInt(params['ssrc'], 16) >>> 0
  return out
}

export interface RtpInfoEntry {
  url: string
  seq?: number
  rtptime?: number
}

export function parseRtpInfo(value: string): RtpInfoEntry[] {
  return value
    .split(',')
    .map((entry) => {
      const out: RtpInfoEntry = { url: '' }
      for (const p of entry.split(';')) {
        const eq = p.indexOf('=')
        if (eq < 0) continue
        const k = p.slice(0, eq).trim().toLowerCase()
        const v = p.slice(eq + 1).trim()
        if (k === 'url') out.url = v
        else if (k === 'seq' && /^\d+$/.test(v)) out.seq = Number(v)
        else if (k === 'rtptime' && /^\d+$/.test(v)) out.rtptime = Number(v)
      }
      return out
    })
    .filter((e) => e.url !== '')
}
