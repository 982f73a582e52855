/**
 * Incremental Annex B parser: bytes in (from a pipe, in arbitrary chunks), complete access units
 * out. A new access unit starts at an access unit delimiter, at parameter sets or SEI following a
 * picture, or at a slice with first_mb_in_slice = 0 (H.264) / first_slice_segment_in_pic_flag
 * (H.265) after a picture, so streams with or without AUDs work, single- or multi-slice. An access
 * unit is emitted when the next one begins (one frame of delay, the price of a raw byte stream).
 */

export type AnnexBCodec = 'h264' | 'h265'

export interface AnnexBAccessUnit {
  /** NAL units without start codes, AUD removed. */
  nalus: Buffer[]
  keyframe: boolean
}

function h264Boundary(nal: Buffer, hasVcl: boolean): 'aud' | 'start' | 'vcl' | 'other' {
  const type = nal[0]! & 0x1f
  if (type === 9) return 'aud'
  if (type >= 1 && type <= 5) {
    // first_mb_in_slice is ue(v): its first bit is 1 exactly when the value is 0.
    return hasVcl && nal.length > 1 && (nal[1]! & 0x80) !== 0 ? 'start' : 'vcl'
  }
  if (hasVcl && (type === 6 || type === 7 || type === 8 || (type >= 14 && type <= 18))) return 'start'
  return 'other'
}

function h265Boundary(nal: Buffer, hasVcl: boolean): 'aud' | 'start' | 'vcl' | 'other' {
  const type = (nal[0]! >> 1) & 0x3f
  if (type === 35) return 'aud'
  if (type <= 31) {
    return hasVcl && nal.length > 2 && (nal[2]! & 0x80) !== 0 ? 'start' : 'vcl'
  }
  if (hasVcl && (type === 32 || type === 33 || type === 34 || type === 39 || (type >= 41 && type <= 44))) return 'start'
  return 'other'
}

function isKey(codec: AnnexBCodec, nalus: readonly Buffer[]): boolean {
  if (codec === 'h264') return nalus.some((n) => (n[0]! & 0x1f) === 5)
  return nalus.some((n) => {
    const t = (n[0]! >> 1) & 0x3f
    return t >= 16 && t <= 21
  })
}

function isVcl(codec: AnnexBCodec, nal: Buffer): boolean {
  if (codec === 'h264') {
    const t = nal[0]! & 0x1f
    return t >= 1 && t <= 5
  }
  return ((nal[0]! >> 1) & 0x3f) <= 31
}

export class AnnexBParser {
  readonly codec: AnnexBCodec
  #buf: Buffer = Buffer.alloc(0)
  #au: Buffer[] = []
  #hasVcl = false
  /** Bytes buffered beyond which the stream is considered broken (no start code). */
  readonly maxBufferBytes: number

  constructor(codec: AnnexBCodec = 'h264', maxBufferBytes = 16 * 1024 * 1024) {
    this.codec = codec
    this.maxBufferBytes = maxBufferBytes
  }

  /** Feeds bytes; returns the access units completed by them. */
  push(chunk: Buffer): AnnexBAccessUnit[] {
    const out: AnnexBAccessUnit[] = []
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk
    const buf = this.#buf
    // Find start codes; every NAL between two start codes is complete.
    let nalStart = -1
    let i = 0
    let consumed = 0
    while (i + 2 < buf.length) {
      if (buf[i + 2]! > 1) {
        i += 3
        continue
      }
      if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
        if (nalStart >= 0) {
          let end = i
          while (end > nalStart && buf[end - 1] === 0) end--
          if (end > nalStart) this.#nal(Buffer.from(buf.subarray(nalStart, end)), out)
        }
        i += 3
        nalStart = i
        consumed = i
      } else {
        i++
      }
    }
    this.#buf = nalStart >= 0 ? buf.subarray(consumed) : buf
    if (this.#buf.length > this.maxBufferBytes) throw new Error('Annex B stream: no start code within the buffer limit')
    // Keep the tail as a start-code-prefixed remainder: re-add the prefix lost by slicing.
    if (nalStart >= 0) this.#buf = Buffer.concat([Buffer.from([0, 0, 1]), this.#buf])
    return out
  }

  /** Emits what is buffered (end of stream). */
  flush(): AnnexBAccessUnit[] {
    const out: AnnexBAccessUnit[] = []
    const rest = this.#buf
    this.#buf = Buffer.alloc(0)
    if (rest.length > 3 && rest[0] === 0 && rest[1] === 0 && rest[2] === 1) {
      let end = rest.length
      while (end > 3 && rest[end - 1] === 0) end--
      if (end > 3) this.#nal(Buffer.from(rest.subarray(3, end)), out)
    }
    this.#emit(out)
    return out
  }

  #nal(nal: Buffer, out: AnnexBAccessUnit[]): void {
    if (nal.length === 0) return
    const kind = this.codec === 'h264' ? h264Boundary(nal, this.#hasVcl) : h265Boundary(nal, this.#hasVcl)
    if (kind === 'aud') {
      this.#emit(out)
      return
    }
    if (kind === 'start') this.#emit(out)
    this.#au.push(nal)
    if (isVcl(this.codec, nal)) this.#hasVcl = true
  }

  #emit(out: AnnexBAccessUnit[]): void {
    if (this.#au.length && this.#hasVcl) out.push({ nalus: this.#au, keyframe: isKey(this.codec, this.#au) })
    this.#au = []
    this.#hasVcl = false
  }
}
