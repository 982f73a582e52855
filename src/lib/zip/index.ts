import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { createHash } from 'node:crypto'

/**
 * A minimal store-only ZIP (no compression: video does not compress) writer and reader, enough
 * for evidence exports: entries are streamed from files (never held in memory), CRC-32 and sizes
 * go into a data descriptor and the central directory. Entry names are plain ASCII file names.
 *
 * ZIP64 (APPNOTE 6.3.x: 4.5.3 extra field, 4.3.14 end record, 4.3.15 locator, 4.3.9 data descriptor)
 * only where needed: an entry of 4 GiB or more, an entry or the central directory starting at
 * 4 GiB or more into the archive, 65535 entries or more. Any other archive is exactly what a
 * plain ZIP writer writes (version 2.0, no extra fields), byte for byte as before ZIP64.
 *
 * How a streamed entry's local header signals ZIP64: the local header is written before the data,
 * so it cannot hold the sizes (bit 3: CRC and sizes follow in a data descriptor), and a reader
 * tells a descriptor's 8-byte sizes from 4-byte ones only by a Zip64 extra field in the local
 * header (4.3.9.2). An entry that may reach 4 GiB therefore carries that field from the start
 * (sizes 0xFFFFFFFF in the header, zeros in the field, as Python's zipfile writes a streamed
 * ZIP64 entry). Doing so for every entry would change every small archive, so the writer decides
 * per entry from a size hint: exact for buffers and files, the caller's upper estimate for streams
 * of unknown length (exports estimate theirs from the footage). A stream that reaches 4 GiB
 * without such a hint still gets an 8-byte descriptor and its Zip64 field in the central
 * directory, as Go's archive/zip writes every streamed entry: unzip, Python, 7-Zip, bsdtar (even
 * from a pipe) and this reader read it; only a strict walk of the local headers (zipdetails)
 * stops at that one descriptor.
 */

const LOCAL_SIG = 0x04034b50
const CENTRAL_SIG = 0x02014b50
const END_SIG = 0x06054b50
const ZIP64_END_SIG = 0x06064b50
const ZIP64_LOCATOR_SIG = 0x07064b50
const DESCRIPTOR_SIG = 0x08074b50
const ZIP64_EXTRA_ID = 0x0001
/** In a 4-byte size or offset field this value means "in the Zip64 extra field": one less is the largest stored as is. */
const MAX32 = 0xffffffff
/** The same for the 2-byte entry counts of the end record. */
const MAX16 = 0xffff
const VERSION_PLAIN = 20
const VERSION_ZIP64 = 45
const ZIP64_END_LEN = 56
const ZIP64_LOCATOR_LEN = 20
/** The central directory is read into memory: 256 MiB holds millions of entries, and refuses a forged size. */
const MAX_CD_BYTES = 256 * 1024 * 1024

export function safeEntryName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,200}$/.test(name) && !name.startsWith('.')
}

export interface ZipWriterOptions {
  /**
   * For tests only: sizes and offsets at or above this many bytes are written as ZIP64 (default
   * 0xFFFFFFFF, where the 4-byte fields end), so that small archives take the ZIP64 paths; 0 makes
   * every entry, offset and the end of the central directory ZIP64.
   */
  zip64Threshold?: number
}

export interface EntryOptions {
  /**
   * Expected size of a streamed entry in bytes, exact or an upper estimate, when known before the
   * data: a hint at or above 4 GiB makes the local header declare ZIP64.
   */
  sizeHint?: number
}

interface CentralEntry {
  name: Buffer
  crc: number
  size: number
  offset: number
  /** sizes in ZIP64 form: in the data descriptor (8 bytes each) and in the central directory's extra field */
  zip64: boolean
  dosTime: number
  dosDate: number
}

function dosDateTime(d: Date): { time: number; date: number } {
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((Math.max(1980, d.getUTCFullYear()) - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  }
}

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeBigUInt64LE(BigInt(value), at)
}

export class ZipWriter {
  readonly #out: WriteStream
  readonly #entries: CentralEntry[] = []
  #offset = 0
  readonly #when: { time: number; date: number }
  /** sizes and offsets at or above this are ZIP64 */
  readonly #limit: number

  constructor(path: string, when = new Date(), options: ZipWriterOptions = {}) {
    this.#out = createWriteStream(path, { mode: 0o600 })
    this.#when = dosDateTime(when)
    this.#limit = Math.min(MAX32, Math.max(0, options.zip64Threshold ?? MAX32))
  }

  readonly #archiveHash = createHash('sha256')
  #digest: string | undefined

  /** SHA-256 of the whole archive, once finished. */
  get sha256(): string | undefined {
    return this.#digest
  }

  async #write(buf: Buffer): Promise<void> {
    this.#offset += buf.length
    this.#archiveHash.update(buf)
    if (!this.#out.write(buf)) await new Promise<void>((resolve) => this.#out.once('drain', resolve))
  }

  /** A local file header; with `zip64`, sizes 0xFFFFFFFF and a Zip64 extra field of zero sizes (the real ones follow in the descriptor). */
  #local(name: Buffer, zip64: boolean): Buffer {
    const h = Buffer.alloc(30 + name.length + (zip64 ? 20 : 0))
    h.writeUInt32LE(LOCAL_SIG, 0)
    h.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_PLAIN, 4) // version needed
    h.writeUInt16LE(0x0008, 6) // sizes in the data descriptor
    h.writeUInt16LE(0, 8) // stored
    h.writeUInt16LE(this.#when.time, 10)
    h.writeUInt16LE(this.#when.date, 12)
    if (zip64) {
      h.writeUInt32LE(MAX32, 18) // compressed size: in the Zip64 field
      h.writeUInt32LE(MAX32, 22) // uncompressed size: in the Zip64 field
    }
    h.writeUInt16LE(name.length, 26)
    h.writeUInt16LE(zip64 ? 20 : 0, 28)
    name.copy(h, 30)
    if (zip64) {
      const x = 30 + name.length
      h.writeUInt16LE(ZIP64_EXTRA_ID, x)
      h.writeUInt16LE(16, x + 2) // uncompressed and compressed size, both 8 zero bytes
    }
    return h
  }

  #descriptor(crc: number, size: number, zip64: boolean): Buffer {
    if (!zip64) {
      const d = Buffer.alloc(16)
      d.writeUInt32LE(DESCRIPTOR_SIG, 0)
      d.writeUInt32LE(crc >>> 0, 4)
      d.writeUInt32LE(size, 8)
      d.writeUInt32LE(size, 12)
      return d
    }
    const d = Buffer.alloc(24)
    d.writeUInt32LE(DESCRIPTOR_SIG, 0)
    d.writeUInt32LE(crc >>> 0, 4)
    writeU64(d, size, 8) // compressed
    writeU64(d, size, 16) // uncompressed
    return d
  }

  /** Writes one entry: local header, data, descriptor; returns the entry's size and SHA-256. */
  async #entry(name: string, source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer>, sizeHint: number | undefined, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
    if (!safeEntryName(name)) throw new Error(`zip: bad entry name ${name}`)
    const nameBuf = Buffer.from(name, 'ascii')
    const offset = this.#offset
    const zip64Local = sizeHint !== undefined && sizeHint >= this.#limit
    await this.#write(this.#local(nameBuf, zip64Local))
    let crc = 0
    let size = 0
    const hash = createHash('sha256')
    for await (const chunk of source) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
      crc = crc32(b, crc)
      hash.update(b)
      size += b.length
      await this.#write(b)
      onBytes?.(b.length)
    }
    // a stream past its hint: 8-byte descriptor all the same (see the top of this file)
    const zip64 = zip64Local || size >= this.#limit
    await this.#write(this.#descriptor(crc, size, zip64))
    this.#entries.push({ name: nameBuf, crc, size, offset, zip64, dosTime: this.#when.time, dosDate: this.#when.date })
    return { sha256: hash.digest('hex'), size }
  }

  /** Adds a buffer as an entry. */
  async addBuffer(name: string, data: Buffer): Promise<void> {
    await this.#entry(name, [data], data.length)
  }

  /** Streams a file in as an entry (its size, known up front, decides ZIP64); returns its SHA-256 (hex) computed on the way. */
  async addFile(name: string, path: string, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
    const { size } = await stat(path)
    return this.#entry(name, createReadStream(path, { highWaterMark: 1 << 20 }), size, onBytes)
  }

  /** Streams any byte source in as an entry (e.g. ffmpeg's stdout); SHA-256 and CRC-32 on the way. */
  addStream(name: string, source: AsyncIterable<Buffer | Uint8Array>, onBytes?: (n: number) => void, options: EntryOptions = {}): Promise<{ sha256: string; size: number }> {
    return this.#entry(name, source, options.sizeHint, onBytes)
  }

  /** A central directory header: sizes and the local header's offset go into a Zip64 extra field when they need it. */
  #central(e: CentralEntry): Buffer {
    const bigOffset = e.offset >= this.#limit
    const wide: number[] = [] // the extra field's 8-byte values, in APPNOTE 4.5.3's order
    if (e.zip64) wide.push(e.size, e.size) // uncompressed, compressed
    if (bigOffset) wide.push(e.offset)
    const zip64 = wide.length > 0
    const extraLen = zip64 ? 4 + 8 * wide.length : 0
    const c = Buffer.alloc(46 + e.name.length + extraLen)
    c.writeUInt32LE(CENTRAL_SIG, 0)
    c.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_PLAIN, 4) // made by (MS-DOS attributes)
    c.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_PLAIN, 6) // needed
    c.writeUInt16LE(0x0008, 8)
    c.writeUInt16LE(0, 10)
    c.writeUInt16LE(e.dosTime, 12)
    c.writeUInt16LE(e.dosDate, 14)
    c.writeUInt32LE(e.crc >>> 0, 16)
    c.writeUInt32LE(e.zip64 ? MAX32 : e.size, 20)
    c.writeUInt32LE(e.zip64 ? MAX32 : e.size, 24)
    c.writeUInt16LE(e.name.length, 28)
    c.writeUInt16LE(extraLen, 30)
    c.writeUInt32LE(bigOffset ? MAX32 : e.offset, 42)
    e.name.copy(c, 46)
    if (zip64) {
      let x = 46 + e.name.length
      c.writeUInt16LE(ZIP64_EXTRA_ID, x)
      c.writeUInt16LE(8 * wide.length, x + 2)
      x += 4
      for (const v of wide) {
        writeU64(c, v, x)
        x += 8
      }
    }
    return c
  }

  async finish(): Promise<number> {
    const cdStart = this.#offset
    for (const e of this.#entries) await this.#write(this.#central(e))
    const cdSize = this.#offset - cdStart
    const count = this.#entries.length
    const bigCount = count >= MAX16
    const bigSize = cdSize >= this.#limit
    const bigStart = cdStart >= this.#limit
    if (bigCount || bigSize || bigStart) {
      // Zip64 end of central directory record (4.3.14), then its locator (4.3.15)
      const recordAt = this.#offset
      const z = Buffer.alloc(ZIP64_END_LEN + ZIP64_LOCATOR_LEN)
      z.writeUInt32LE(ZIP64_END_SIG, 0)
      writeU64(z, ZIP64_END_LEN - 12, 4) // size of the rest of the record
      z.writeUInt16LE(VERSION_ZIP64, 12) // made by
      z.writeUInt16LE(VERSION_ZIP64, 14) // needed
      // 16, 20: this disk and the central directory's, both 0
      writeU64(z, count, 24) // entries on this disk
      writeU64(z, count, 32) // entries
      writeU64(z, cdSize, 40)
      writeU64(z, cdStart, 48)
      z.writeUInt32LE(ZIP64_LOCATOR_SIG, 56)
      // 60: disk of the Zip64 end record, 0
      writeU64(z, recordAt, 64)
      z.writeUInt32LE(1, 72) // disks in all
      await this.#write(z)
    }
    const end = Buffer.alloc(22)
    end.writeUInt32LE(END_SIG, 0)
    end.writeUInt16LE(bigCount ? MAX16 : count, 8)
    end.writeUInt16LE(bigCount ? MAX16 : count, 10)
    end.writeUInt32LE(bigSize ? MAX32 : cdSize, 12)
    end.writeUInt32LE(bigStart ? MAX32 : cdStart, 16)
    await this.#write(end)
    this.#digest = this.#archiveHash.digest('hex')
    await new Promise<void>((resolve, reject) => {
      this.#out.once('error', reject)
      this.#out.end(resolve)
    })
    return this.#offset
  }

  /** Abandons the archive (the caller removes the file). */
  destroy(): void {
    this.#out.destroy()
  }
}

export interface ZipEntry {
  name: string
  /** offset of the entry's data in the archive */
  dataOffset: number
  size: number
  crc: number
  method: number
}

async function readAt(fh: FileHandle, length: number, position: number, what: string): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  const { bytesRead } = await fh.read(buf, 0, length, position)
  if (bytesRead !== length) throw new Error(`zip: ${what} truncated`)
  return buf
}

function readU64(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip: ${what} out of range`)
  return Number(v)
}

/** The data of the Zip64 extended information extra field (ID 0x0001) in an extra field block, if any. */
function zip64Field(extra: Buffer): Buffer | undefined {
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(p)
    const len = extra.readUInt16LE(p + 2)
    if (p + 4 + len > extra.length) return undefined
    if (id === ZIP64_EXTRA_ID) return extra.subarray(p + 4, p + 4 + len)
    p += 4 + len
  }
  return undefined
}

/** Reads the central directory of a ZIP file (ZIP64 too). Throws on anything that is not a well-formed archive. */
export async function readZipDirectory(path: string): Promise<ZipEntry[]> {
  const fh = await open(path, 'r')
  try {
    const { size } = await fh.stat()
    const tailLen = Math.min(size, 22 + 0xffff)
    const tail = await readAt(fh, tailLen, size - tailLen, 'end of central directory')
    let eocd = -1
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === END_SIG) {
        eocd = i
        break
      }
    }
    if (eocd < 0) throw new Error('not a zip archive (no end of central directory)')
    const eocdAt = size - tailLen + eocd
    let count = tail.readUInt16LE(eocd + 10)
    let cdSize = tail.readUInt32LE(eocd + 12)
    let cdOffset = tail.readUInt32LE(eocd + 16)
    // ZIP64: a locator right before the end record points at the Zip64 end record, whose counts and sizes stand
    const locatorAt = eocdAt - ZIP64_LOCATOR_LEN
    const locator = locatorAt >= 0 ? await readAt(fh, ZIP64_LOCATOR_LEN, locatorAt, 'Zip64 end of central directory locator') : undefined
    if (locator && locator.readUInt32LE(0) === ZIP64_LOCATOR_SIG) {
      if (locator.readUInt32LE(4) !== 0 || locator.readUInt32LE(16) > 1) throw new Error('zip: multi-disk archives are not supported')
      const recordAt = readU64(locator, 8, 'Zip64 end of central directory record offset')
      if (recordAt + ZIP64_END_LEN > locatorAt) throw new Error('zip: Zip64 end of central directory record out of range')
      const record = await readAt(fh, ZIP64_END_LEN, recordAt, 'Zip64 end of central directory record')
      if (record.readUInt32LE(0) !== ZIP64_END_SIG) throw new Error('zip: corrupt Zip64 end of central directory record')
      count = readU64(record, 32, 'entry count')
      cdSize = readU64(record, 40, 'central directory size')
      cdOffset = readU64(record, 48, 'central directory offset')
    } else if (cdSize === MAX32 || cdOffset === MAX32) throw new Error('zip: Zip64 end of central directory locator missing')
    if (cdOffset + cdSize > size) throw new Error('zip: central directory out of range')
    if (cdSize > MAX_CD_BYTES) throw new Error('zip: central directory too large')
    const cd = await readAt(fh, cdSize, cdOffset, 'central directory')
    const entries: ZipEntry[] = []
    let p = 0
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) throw new Error('zip: corrupt central directory')
      const method = cd.readUInt16LE(p + 10)
      const crc = cd.readUInt32LE(p + 16)
      let csize = cd.readUInt32LE(p + 20)
      let usize = cd.readUInt32LE(p + 24)
      const nameLen = cd.readUInt16LE(p + 28)
      const extraLen = cd.readUInt16LE(p + 30)
      const commentLen = cd.readUInt16LE(p + 32)
      let localOffset = cd.readUInt32LE(p + 42)
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new Error('zip: corrupt central directory')
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8')
      if (usize === MAX32 || csize === MAX32 || localOffset === MAX32) {
        // 4.5.3: the Zip64 field holds, in this order, those of these that are 0xFFFFFFFF above
        const z = zip64Field(cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen))
        if (!z) throw new Error(`zip: entry ${name} lacks its Zip64 extra field`)
        let q = 0
        const next = (what: string): number => {
          if (q + 8 > z.length) throw new Error(`zip: entry ${name}: Zip64 extra field too short`)
          const v = readU64(z, q, `entry ${name}: ${what}`)
          q += 8
          return v
        }
        if (usize === MAX32) usize = next('size')
        if (csize === MAX32) csize = next('compressed size')
        if (localOffset === MAX32) localOffset = next('offset')
      }
      p += 46 + nameLen + extraLen + commentLen
      const lh = await readAt(fh, 30, localOffset, `local header of ${name}`)
      if (lh.readUInt32LE(0) !== LOCAL_SIG) throw new Error(`zip: corrupt local header of ${name}`)
      const dataOffset = localOffset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28)
      if (dataOffset + csize > size) throw new Error(`zip: entry ${name} out of range`)
      entries.push({ name, dataOffset, size: csize, crc, method })
    }
    return entries
  } finally {
    await fh.close()
  }
}

/** SHA-256 of a stored entry's data. */
export async function hashZipEntry(path: string, entry: ZipEntry): Promise<string> {
  const hash = createHash('sha256')
  if (entry.size === 0) return hash.digest('hex')
  for await (const chunk of createReadStream(path, { start: entry.dataOffset, end: entry.dataOffset + entry.size - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** A stored entry's data in memory (small entries: manifest, signature). */
export async function readZipEntry(path: string, entry: ZipEntry, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
  if (entry.method !== 0) throw new Error(`zip: entry ${entry.name} is compressed (only stored entries are supported)`)
  if (entry.size > maxBytes) throw new Error(`zip: entry ${entry.name} too large`)
  let fh: FileHandle | undefined
  try {
    fh = await open(path, 'r')
    const buf = Buffer.alloc(entry.size)
    await fh.read(buf, 0, entry.size, entry.dataOffset)
    return buf
  } finally {
    await fh?.close()
  }
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size
}
