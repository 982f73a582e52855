import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { createHash } from 'node:crypto'

/**
 * A minimal store-only ZIP (no compression: video does not compress) writer and reader, enough
 * for evidence exports: entries are streamed from files (never held in memory), CRC-32 and sizes
 * go into a data descriptor and the central directory. No ZIP64: an archive and each entry must
 * stay below 4 GiB (the writer refuses more). Entry names are plain ASCII file names.
 */

const LOCAL_SIG = 0x04034b50
const CENTRAL_SIG = 0x02014b50
const END_SIG = 0x06054b50
const DESCRIPTOR_SIG = 0x08074b50
const LIMIT = 0xffffffff

export function safeEntryName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,200}$/.test(name) && !name.startsWith('.')
}

interface CentralEntry {
  name: Buffer
  crc: number
  size: number
  offset: number
  dosTime: number
  dosDate: number
}

function dosDateTime(d: Date): { time: number; date: number } {
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((Math.max(1980, d.getUTCFullYear()) - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  }
}

export class ZipWriter {
  readonly #out: WriteStream
  readonly #entries: CentralEntry[] = []
  #offset = 0
  readonly #when: { time: number; date: number }

  constructor(path: string, when = new Date()) {
    this.#out = createWriteStream(path, { mode: 0o600 })
    this.#when = dosDateTime(when)
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

  #local(name: Buffer): Buffer {
    const h = Buffer.alloc(30)
    h.writeUInt32LE(LOCAL_SIG, 0)
    h.writeUInt16LE(20, 4) // version needed
    h.writeUInt16LE(0x0008, 6) // sizes in the data descriptor
    h.writeUInt16LE(0, 8) // stored
    h.writeUInt16LE(this.#when.time, 10)
    h.writeUInt16LE(this.#when.date, 12)
    h.writeUInt16LE(name.length, 26)
    return Buffer.concat([h, name])
  }

  #descriptor(crc: number, size: number): Buffer {
    const d = Buffer.alloc(16)
    d.writeUInt32LE(DESCRIPTOR_SIG, 0)
    d.writeUInt32LE(crc >>> 0, 4)
    d.writeUInt32LE(size, 8)
    d.writeUInt32LE(size, 12)
    return d
  }

  /** Adds a buffer as an entry. */
  async addBuffer(name: string, data: Buffer): Promise<void> {
    if (!safeEntryName(name)) throw new Error(`zip: bad entry name ${name}`)
    const nameBuf = Buffer.from(name, 'ascii')
    const offset = this.#offset
    await this.#write(this.#local(nameBuf))
    await this.#write(data)
    const crc = crc32(data)
    await this.#write(this.#descriptor(crc, data.length))
    this.#entries.push({ name: nameBuf, crc, size: data.length, offset, dosTime: this.#when.time, dosDate: this.#when.date })
  }

  /** Streams a file in as an entry; returns its SHA-256 (hex) computed on the way. */
  addFile(name: string, path: string, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
    return this.addStream(name, createReadStream(path, { highWaterMark: 1 << 20 }), onBytes)
  }

  /** Streams any byte source in as an entry (e.g. ffmpeg's stdout); SHA-256 and CRC-32 on the way. */
  async addStream(name: string, source: AsyncIterable<Buffer | Uint8Array>, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
    if (!safeEntryName(name)) throw new Error(`zip: bad entry name ${name}`)
    const nameBuf = Buffer.from(name, 'ascii')
    const offset = this.#offset
    if (offset > LIMIT) throw new Error('zip: archive larger than 4 GiB (no ZIP64)')
    await this.#write(this.#local(nameBuf))
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
    if (size > LIMIT) throw new Error(`zip: entry ${name} larger than 4 GiB (no ZIP64)`)
    await this.#write(this.#descriptor(crc, size))
    this.#entries.push({ name: nameBuf, crc, size, offset, dosTime: this.#when.time, dosDate: this.#when.date })
    return { sha256: hash.digest('hex'), size }
  }

  async finish(): Promise<number> {
    const cdStart = this.#offset
    for (const e of this.#entries) {
      const c = Buffer.alloc(46)
      c.writeUInt32LE(CENTRAL_SIG, 0)
      c.writeUInt16LE(20, 4) // made by
      c.writeUInt16LE(20, 6) // needed
      c.writeUInt16LE(0x0008, 8)
      c.writeUInt16LE(0, 10)
      c.writeUInt16LE(e.dosTime, 12)
      c.writeUInt16LE(e.dosDate, 14)
      c.writeUInt32LE(e.crc >>> 0, 16)
      c.writeUInt32LE(e.size, 20)
      c.writeUInt32LE(e.size, 24)
      c.writeUInt16LE(e.name.length, 28)
      c.writeUInt32LE(e.offset, 42)
      await this.#write(Buffer.concat([c, e.name]))
    }
    const cdSize = this.#offset - cdStart
    if (this.#offset > LIMIT) throw new Error('zip: archive larger than 4 GiB (no ZIP64)')
    const end = Buffer.alloc(22)
    end.writeUInt32LE(END_SIG, 0)
    end.writeUInt16LE(this.#entries.length, 8)
    end.writeUInt16LE(this.#entries.length, 10)
    end.writeUInt32LE(cdSize, 12)
    end.writeUInt32LE(cdStart, 16)
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

/** Reads the central directory of a ZIP file. Throws on anything that is not a well-formed archive. */
export async function readZipDirectory(path: string): Promise<ZipEntry[]> {
  const fh = await open(path, 'r')
  try {
    const { size } = await fh.stat()
    const tailLen = Math.min(size, 22 + 0xffff)
    const tail = Buffer.alloc(tailLen)
    await fh.read(tail, 0, tailLen, size - tailLen)
    let eocd = -1
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === END_SIG) {
        eocd = i
        break
      }
    }
    if (eocd < 0) throw new Error('not a zip archive (no end of central directory)')
    const count = tail.readUInt16LE(eocd + 10)
    const cdSize = tail.readUInt32LE(eocd + 12)
    const cdOffset = tail.readUInt32LE(eocd + 16)
    if (cdOffset + cdSize > size) throw new Error('zip: central directory out of range')
    const cd = Buffer.alloc(cdSize)
    await fh.read(cd, 0, cdSize, cdOffset)
    const entries: ZipEntry[] = []
    let p = 0
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) throw new Error('zip: corrupt central directory')
      const method = cd.readUInt16LE(p + 10)
      const crc = cd.readUInt32LE(p + 16)
      const csize = cd.readUInt32LE(p + 20)
      const nameLen = cd.readUInt16LE(p + 28)
      const extraLen = cd.readUInt16LE(p + 30)
      const commentLen = cd.readUInt16LE(p + 32)
      const localOffset = cd.readUInt32LE(p + 42)
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8')
      p += 46 + nameLen + extraLen + commentLen
      const lh = Buffer.alloc(30)
      await fh.read(lh, 0, 30, localOffset)
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
