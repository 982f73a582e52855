/**
 * MPEG-2 program stream (ISO/IEC 13818-1 §2.5) demuxer for what GB/T 28181 devices send: pack
 * headers, system headers, a program stream map (PSM) naming each elementary stream's type, and
 * PES packets whose payloads are H.264/H.265 Annex B video or G.711/AAC audio. One video frame
 * usually spans several PES packets (a PES holds at most 64 KiB); its first carries the PTS.
 *
 * Built to survive real devices and lossy links, never to throw on input:
 * - a missing or late PSM: the video codec is told from the first NAL header instead;
 * - a video PES whose length field lies (some encoders write it short, long, or 0 = unbounded):
 *   its payload ends where the next program-stream start code begins (an Annex B payload cannot
 *   hold `00 00 01` followed by a byte ≥ 0xB9, since NAL headers are < 0x80);
 * - garbage between packets: skipped up to the next start code, counted;
 * - private streams (0xBD, 0xBF), padding (0xBE) and the end code: skipped;
 * - a loss reported by the caller (`discontinuity()`): the partial frame is dropped and parsing
 *   resumes at the next pack header.
 */

export type PsCodec = 'h264' | 'h265' | 'mpeg4' | 'svac' | 'pcma' | 'pcmu' | 'aac' | 'g722' | 'g723' | 'g729' | 'unknown'

/** Stream types of a PSM (ISO/IEC 13818-1 Table 2-34, and GB/T 28181 Annex C for 0x80–0x9B). */
const STREAM_TYPES: Record<number, PsCodec> = {
  0x10: 'mpeg4',
  0x1b: 'h264',
  0x24: 'h265',
  0x80: 'svac',
  0x0f: 'aac',
  0x90: 'pcma',
  0x91: 'pcmu',
  0x92: 'g722',
  0x93: 'g723',
  0x99: 'g729',
}

export interface PsAccessUnit {
  /** PES stream id: 0xE0–0xEF video, 0xC0–0xDF audio */
  streamId: number
  kind: 'video' | 'audio'
  codec: PsCodec
  /** 90 kHz, 33 bits, when the stream gave one */
  pts: number | undefined
  dts: number | undefined
  /** elementary stream bytes: Annex B for H.264/H.265, raw samples or ADTS for audio */
  data: Buffer
}

export interface PsDemuxerStats {
  packs: number
  pesPackets: number
  accessUnits: number
  /** times the parser had to search for the next start code */
  resyncs: number
  skippedBytes: number
  /** video PES packets whose length field disagreed with where the next packet began */
  badLengths: number
  /** partial frames dropped (loss, oversize) */
  droppedFrames: number
  psmSeen: boolean
}

export interface PsDemuxerOptions {
  /** bytes held while waiting for a packet's end before giving up on it */
  maxBufferBytes?: number
  /** a video frame larger than this is dropped as broken */
  maxFrameBytes?: number
}

const PACK = 0xba
const PSM = 0xbc
const END_CODE = 0xb9

const START_PREFIX = Buffer.from([0, 0, 1])

const isVideoId = (id: number) => id >= 0xe0 && id <= 0xef
const isAudioId = (id: number) => id >= 0xc0 && id <= 0xdf

/** `00 00 01 xx` at i with xx a program-stream id (not a NAL header). */
function isPsStartCode(buf: Buffer, i: number): boolean {
  return i + 3 < buf.length && buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1 && buf[i + 3]! >= END_CODE
}

/** Index of the next program-stream start code at or after `from`, or -1. */
function findPsStartCode(buf: Buffer, from: number): number {
  let i = from
  for (;;) {
    i = buf.indexOf(START_PREFIX, i)
    if (i < 0 || i + 3 >= buf.length) return -1
    if (buf[i + 3]! >= END_CODE) return i
    i += 3
  }
}

/** Whether the bytes from i to the end could be the beginning of a start code. */
function couldStartStartCode(buf: Buffer, i: number): boolean {
  const pattern = [0, 0, 1]
  for (let k = 0; i + k < buf.length; k++) {
    if (k < 3 ? buf[i + k] !== pattern[k] : buf[i + k]! < END_CODE) return false
  }
  return true
}

/** 33-bit timestamp in 5 bytes (ISO/IEC 13818-1 §2.4.3.7), or undefined when its marker bits are wrong. */
function readTimestamp(buf: Buffer, i: number): number | undefined {
  if (i + 5 > buf.length) return undefined
  const b0 = buf[i]!
  const b2 = buf[i + 2]!
  const b4 = buf[i + 4]!
  if ((b0 & 1) !== 1 || (b2 & 1) !== 1 || (b4 & 1) !== 1) return undefined
  return ((b0 >> 1) & 0x07) * 2 ** 30 + ((buf[i + 1]! << 7) | (b2 >> 1)) * 2 ** 15 + ((buf[i + 3]! << 7) | (b4 >> 1))
}

/** H.264 or H.265, from the first NAL header of an Annex B payload (streams without a PSM). */
export function probeVideoCodec(es: Buffer): PsCodec {
  let i = es.indexOf(START_PREFIX)
  while (i >= 0 && i + 4 < es.length) {
    const b0 = es[i + 3]!
    const b1 = es[i + 4]!
    if ((b0 & 0x80) === 0) {
      const h265Type = (b0 >> 1) & 0x3f
      // H.265's second header byte is nuh_layer_id 0 + temporal id 1 in camera streams
      if (b1 === 0x01 && [32, 33, 34, 35, 39, 19, 20, 21, 1, 0].includes(h265Type)) return 'h265'
      const h264Type = b0 & 0x1f
      if (h264Type >= 1 && h264Type <= 12) return 'h264'
    }
    i = es.indexOf(START_PREFIX, i + 3)
  }
  return 'unknown'
}

interface PendingFrame {
  streamId: number
  pts: number | undefined
  dts: number | undefined
  parts: Buffer[]
  bytes: number
}

export class ProgramStreamDemuxer {
  readonly stats: PsDemuxerStats = { packs: 0, pesPackets: 0, accessUnits: 0, resyncs: 0, skippedBytes: 0, badLengths: 0, droppedFrames: 0, psmSeen: false }
  /** stream id → stream type, from the PSM */
  readonly streamTypes = new Map<number, number>()
  readonly #maxBuffer: number
  readonly #maxFrame: number
  #buf: Buffer = Buffer.alloc(0)
  /** after a loss: skip everything up to the next pack header */
  #awaitPack = false
  readonly #video = new Map<number, PendingFrame>()
  readonly #probed = new Map<number, PsCodec>()

  constructor(opts: PsDemuxerOptions = {}) {
    this.#maxBuffer = opts.maxBufferBytes ?? 4 * 1024 * 1024
    this.#maxFrame = opts.maxFrameBytes ?? 8 * 1024 * 1024
  }

  /** Feeds bytes; returns the access units they completed. */
  push(chunk: Buffer): PsAccessUnit[] {
    const out: PsAccessUnit[] = []
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk
    const consumed = this.#parse(out, false)
    this.#buf = consumed >= this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(consumed))
    if (this.#buf.length > this.#maxBuffer) {
      // a packet that never ends: give it up and look for the next start
      this.stats.skippedBytes += this.#buf.length
      this.stats.resyncs++
      this.#buf = Buffer.alloc(0)
      this.#dropVideo()
    }
    return out
  }

  /** The transport says a frame ended here (an RTP marker): completes pending video frames. */
  endOfFrame(): PsAccessUnit[] {
    const out: PsAccessUnit[] = []
    // a PES whose end is only known from the next start code ends with the frame
    const consumed = this.#parse(out, true)
    this.#buf = consumed >= this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(consumed))
    for (const id of [...this.#video.keys()]) this.#complete(id, out)
    return out
  }

  /** End of the stream: everything pending. */
  flush(): PsAccessUnit[] {
    const out = this.endOfFrame()
    this.#buf = Buffer.alloc(0)
    return out
  }

  /** Data was lost before what comes next: drop the partial frame and resume at a pack header. */
  discontinuity(): void {
    this.#buf = Buffer.alloc(0)
    this.#dropVideo()
    this.#awaitPack = true
  }

  #dropVideo(): void {
    if (this.#video.size) this.stats.droppedFrames += this.#video.size
    this.#video.clear()
  }

  codecOf(streamId: number): PsCodec {
    const type = this.streamTypes.get(streamId)
    if (type !== undefined && STREAM_TYPES[type]) return STREAM_TYPES[type]
    return this.#probed.get(streamId) ?? 'unknown'
  }

  /** Parses whole packets from #buf; returns the bytes consumed. `atEnd`: no more bytes of the current packet will come. */
  #parse(out: PsAccessUnit[], atEnd: boolean): number {
    const buf = this.#buf
    let pos = 0
    while (pos + 4 <= buf.length) {
      if (!isPsStartCode(buf, pos) || (this.#awaitPack && buf[pos + 3] !== PACK)) {
        const next = this.#awaitPack ? this.#findPack(buf, pos + 1) : findPsStartCode(buf, pos + 1)
        if (next < 0) {
          // keep a tail that may be the start of a start code
          const keep = Math.min(buf.length - pos, 3)
          this.stats.skippedBytes += buf.length - pos - keep
          if (buf.length - pos - keep > 0) this.stats.resyncs++
          return buf.length - keep
        }
        this.stats.resyncs++
        this.stats.skippedBytes += next - pos
        pos = next
        continue
      }
      const id = buf[pos + 3]!
      if (id === PACK) {
        const len = this.#packHeaderLength(buf, pos)
        if (len === 0) return pos // need more bytes
        if (len < 0) {
          pos += 4 // not a valid pack header: resync
          continue
        }
        this.#awaitPack = false
        this.stats.packs++
        pos += len
        continue
      }
      if (id === END_CODE) {
        pos += 4
        continue
      }
      if (pos + 6 > buf.length) return pos
      const declared = buf.readUInt16BE(pos + 4)
      let end = pos + 6 + declared
      if (isVideoId(id)) {
        const found = this.#videoPacketEnd(buf, pos, declared, atEnd)
        if (found === undefined) return pos // need more bytes
        end = found
      } else if (end > buf.length) {
        return pos // need more bytes
      }
      if (id === PSM) this.#parsePsm(buf.subarray(pos, end))
      else if (isVideoId(id) || isAudioId(id)) this.#onPes(id, buf.subarray(pos, end), out)
      // the system header, private streams (0xBD, 0xBF), padding, ECM/EMM, directory: nothing we need
      pos = end
    }
    return pos
  }

  #findPack(buf: Buffer, from: number): number {
    let i = from
    for (;;) {
      i = findPsStartCode(buf, i)
      if (i < 0 || buf[i + 3] === PACK) return i
      i += 3
    }
  }

  /** Length of the pack header at pos; 0 when more bytes are needed, -1 when it is not one. */
  #packHeaderLength(buf: Buffer, pos: number): number {
    if (pos + 5 > buf.length) return 0
    const b4 = buf[pos + 4]!
    if ((b4 & 0xc0) === 0x40) {
      // MPEG-2: 14 bytes and up to 7 stuffing bytes
      if (pos + 14 > buf.length) return 0
      return 14 + (buf[pos + 13]! & 0x07)
    }
    if ((b4 & 0xf0) === 0x20) return pos + 12 > buf.length ? 0 : 12 // MPEG-1
    return -1
  }

  /**
   * Where a video PES ends: its declared length when the next start code is there (or the
   * buffered bytes end exactly there), else the next start code. undefined: more bytes needed.
   */
  #videoPacketEnd(buf: Buffer, pos: number, declared: number, atEnd: boolean): number | undefined {
    const end = pos + 6 + declared
    if (declared > 0) {
      if (end === buf.length) return end
      if (end < buf.length) {
        if (isPsStartCode(buf, end)) return end
        if (!atEnd && couldStartStartCode(buf, end)) return undefined
      }
    }
    // length 0 (unbounded), or a length that lies: the packet runs to the next start code
    const next = findPsStartCode(buf, pos + 6)
    if (next >= 0) {
      if (declared > 0) this.stats.badLengths++
      return next
    }
    if (declared > 0 && end > buf.length && !atEnd) return undefined
    if (atEnd) {
      if (declared > 0 && end !== buf.length) this.stats.badLengths++
      return buf.length
    }
    return undefined
  }

  #parsePsm(p: Buffer): void {
    // 00 00 01 BC, length(2), current_next/version(1), marker(1), info_length(2), info, map_length(2), entries, CRC
    if (p.length < 16) return
    const infoLength = p.readUInt16BE(8)
    let i = 10 + infoLength
    if (i + 2 > p.length) return
    const mapLength = p.readUInt16BE(i)
    i += 2
    const mapEnd = Math.min(p.length, i + mapLength)
    while (i + 4 <= mapEnd) {
      const type = p[i]!
      const esId = p[i + 1]!
      const esInfoLength = p.readUInt16BE(i + 2)
      this.streamTypes.set(esId, type)
      i += 4 + esInfoLength
    }
    this.stats.psmSeen = true
  }

  #onPes(id: number, p: Buffer, out: PsAccessUnit[]): void {
    this.stats.pesPackets++
    let pts: number | undefined
    let dts: number | undefined
    let payloadAt: number
    if (p.length >= 9 && (p[6]! & 0xc0) === 0x80) {
      // MPEG-2 PES header
      const flags = p[7]! >> 6
      payloadAt = 9 + p[8]!
      if (flags & 2) pts = readTimestamp(p, 9)
      if (flags === 3) dts = readTimestamp(p, 14)
    } else {
      // MPEG-1 PES header: stuffing, optional STD buffer, then the timestamps
      let i = 6
      while (i < p.length && p[i] === 0xff && i < 6 + 16) i++
      if (i < p.length && (p[i]! & 0xc0) === 0x40) i += 2
      const marker = p[i] ?? 0
      if ((marker & 0xf0) === 0x20) {
        pts = readTimestamp(p, i)
        i += 5
      } else if ((marker & 0xf0) === 0x30) {
        pts = readTimestamp(p, i)
        dts = readTimestamp(p, i + 5)
        i += 10
      } else {
        i += 1
      }
      payloadAt = i
    }
    if (payloadAt > p.length) return // a header longer than its packet
    const payload = p.subarray(payloadAt)
    if (isAudioId(id)) {
      if (!payload.length) return
      this.stats.accessUnits++
      out.push({ streamId: id, kind: 'audio', codec: this.codecOf(id), pts, dts, data: Buffer.from(payload) })
      return
    }
    const pending = this.#video.get(id)
    if (pending && pts !== undefined && pending.pts !== pts) this.#complete(id, out)
    let frame = this.#video.get(id)
    if (!frame) {
      frame = { streamId: id, pts, dts, parts: [], bytes: 0 }
      this.#video.set(id, frame)
    }
    if (!payload.length) return
    frame.parts.push(Buffer.from(payload))
    frame.bytes += payload.length
    if (frame.bytes > this.#maxFrame) {
      this.#video.delete(id)
      this.stats.droppedFrames++
    }
  }

  #complete(id: number, out: PsAccessUnit[]): void {
    const frame = this.#video.get(id)
    this.#video.delete(id)
    if (!frame || !frame.bytes) return
    const data = frame.parts.length === 1 ? frame.parts[0]! : Buffer.concat(frame.parts, frame.bytes)
    if (!this.streamTypes.has(id) && !this.#probed.has(id)) {
      const codec = probeVideoCodec(data)
      if (codec !== 'unknown') this.#probed.set(id, codec)
    }
    this.stats.accessUnits++
    out.push({ streamId: id, kind: 'video', codec: this.codecOf(id), pts: frame.pts, dts: frame.dts, data })
  }
}
