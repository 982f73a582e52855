import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { crc32 } from 'node:zlib'

/**
 * Helpers of the zip tests: archives are read back by other implementations (Python's zipfile,
 * Info-ZIP unzip, 7-Zip, libarchive's bsdtar) and walked record by record as a streaming reader
 * would walk them.
 */

export const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0

export interface PyEntry {
  name: string
  size: number
  compressSize: number
  crc: number
  version: number
  offset: number
  sha256: string
}

// zipfile checks each entry's CRC-32 against the central directory as it reads it to the end
const PY_READ = `
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    out = {'testzip': z.testzip() if sys.argv[2] == '1' else None, 'entries': []}
    for i in z.infolist():
        h = hashlib.sha256()
        with z.open(i) as f:
            for b in iter(lambda: f.read(1 << 20), b''):
                h.update(b)
        out['entries'].append({'name': i.filename, 'size': i.file_size, 'compressSize': i.compress_size, 'crc': i.CRC,
                               'version': i.extract_version, 'offset': i.header_offset, 'sha256': h.hexdigest()})
print(json.dumps(out))
`

/** Every entry read through Python's zipfile (CRC-checked), hashed; with `testzip`, zipfile's own test first. */
export function pythonRead(path: string, testzip = true): { testzip: string | null; entries: PyEntry[] } {
  return JSON.parse(execFileSync('python3', ['-c', PY_READ, path, testzip ? '1' : '0'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { testzip: string | null; entries: PyEntry[] }
}

/** CRC-32 and byte count of one member as bsdtar extracts it (to stdout, from the file or from a pipe). */
export async function bsdtarMember(path: string, member: string, fromPipe = false): Promise<{ crc: number; size: number }> {
  const child = fromPipe ? spawn('sh', ['-c', 'bsdtar -xOf - "$1" < "$2"', 'sh', member, path]) : spawn('bsdtar', ['-xOf', path, member])
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  let crc = 0
  let size = 0
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    crc = crc32(chunk, crc)
    size += chunk.length
  }
  const code = await exited
  if (code !== 0) throw new Error(`bsdtar exited ${code}: ${stderr}`)
  return { crc: crc >>> 0, size }
}

export interface WalkedEntry {
  name: string
  offset: number
  versionNeeded: number
  /** the local header's 4-byte sizes (0xFFFFFFFF: in the Zip64 field) */
  localSizes: [number, number]
  /** the local header carries a Zip64 extra field (and its length) */
  localZip64: number | null
  dataOffset: number
  /** 16 (4-byte sizes) or 24 (8-byte sizes) */
  descriptorLength: number
}

/**
 * Walks a small archive's local headers in order, as a streaming reader does: every entry's data
 * of the given size, its data descriptor right after (signature, CRC, sizes), the next record
 * right after that. Sizes come from the central directory (the reader under test gives them).
 */
export function walkLocal(zip: Buffer, sizes: Map<string, number>): WalkedEntry[] {
  const out: WalkedEntry[] = []
  let p = 0
  while (zip.readUInt32LE(p) === 0x04034b50) {
    const nameLen = zip.readUInt16LE(p + 26)
    const extraLen = zip.readUInt16LE(p + 28)
    const name = zip.subarray(p + 30, p + 30 + nameLen).toString('ascii')
    const extra = zip.subarray(p + 30 + nameLen, p + 30 + nameLen + extraLen)
    let localZip64: number | null = null
    for (let q = 0; q + 4 <= extra.length; q += 4 + extra.readUInt16LE(q + 2)) if (extra.readUInt16LE(q) === 1) localZip64 = extra.readUInt16LE(q + 2)
    const size = sizes.get(name)
    if (size === undefined) throw new Error(`walk: ${name} not in the central directory`)
    const dataOffset = p + 30 + nameLen + extraLen
    const d = dataOffset + size
    if (zip.readUInt32LE(d) !== 0x08074b50) throw new Error(`walk: no data descriptor after ${name}`)
    const crc = crc32(zip.subarray(dataOffset, d)) >>> 0
    if (zip.readUInt32LE(d + 4) !== crc) throw new Error(`walk: descriptor CRC of ${name}`)
    // the descriptor's length is whatever makes its sizes match and a record follow
    const next = (n: number) => [0x04034b50, 0x02014b50].includes(zip.readUInt32LE(d + n))
    let descriptorLength: number
    if (zip.readUInt32LE(d + 8) === size && zip.readUInt32LE(d + 12) === size && next(16)) descriptorLength = 16
    else if (Number(zip.readBigUInt64LE(d + 8)) === size && Number(zip.readBigUInt64LE(d + 16)) === size && next(24)) descriptorLength = 24
    else throw new Error(`walk: descriptor sizes of ${name}`)
    out.push({ name, offset: p, versionNeeded: zip.readUInt16LE(p + 4), localSizes: [zip.readUInt32LE(p + 18), zip.readUInt32LE(p + 22)], localZip64, dataOffset, descriptorLength })
    p = d + descriptorLength
  }
  if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`walk: no central directory at ${p}`)
  return out
}

export interface CentralRecord {
  name: string
  versionMadeBy: number
  versionNeeded: number
  sizes: [number, number]
  offset: number
  /** the Zip64 extra field's 8-byte values, in order */
  zip64: number[] | null
}

/** The end records: the 22-byte end record's fields, and the Zip64 record through its locator when there is one. */
export function endRecords(zip: Buffer): { count: number; cdSize: number; cdOffset: number; zip64: { count: number; cdSize: number; cdOffset: number; at: number; version: [number, number] } | null } {
  const e = zip.length - 22
  if (zip.readUInt32LE(e) !== 0x06054b50) throw new Error('no end record at the end')
  const end = { count: zip.readUInt16LE(e + 10), cdSize: zip.readUInt32LE(e + 12), cdOffset: zip.readUInt32LE(e + 16) }
  if (e < 20 || zip.readUInt32LE(e - 20) !== 0x07064b50) return { ...end, zip64: null }
  const at = Number(zip.readBigUInt64LE(e - 20 + 8))
  if (zip.readUInt32LE(at) !== 0x06064b50 || at + 56 !== e - 20) throw new Error('Zip64 end record not right before its locator')
  return {
    ...end,
    zip64: { at, count: Number(zip.readBigUInt64LE(at + 32)), cdSize: Number(zip.readBigUInt64LE(at + 40)), cdOffset: Number(zip.readBigUInt64LE(at + 48)), version: [zip.readUInt16LE(at + 12), zip.readUInt16LE(at + 14)] },
  }
}

/** The central directory headers, raw. */
export function centralRecords(zip: Buffer, cdOffset: number, count: number): CentralRecord[] {
  const out: CentralRecord[] = []
  let p = cdOffset
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`no central header at ${p}`)
    const nameLen = zip.readUInt16LE(p + 28)
    const extraLen = zip.readUInt16LE(p + 30)
    const extra = zip.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen)
    let zip64: number[] | null = null
    for (let q = 0; q + 4 <= extra.length; q += 4 + extra.readUInt16LE(q + 2)) {
      if (extra.readUInt16LE(q) !== 1) continue
      zip64 = []
      for (let k = 0; k < extra.readUInt16LE(q + 2); k += 8) zip64.push(Number(extra.readBigUInt64LE(q + 4 + k)))
    }
    out.push({ name: zip.subarray(p + 46, p + 46 + nameLen).toString('ascii'), versionMadeBy: zip.readUInt16LE(p + 4), versionNeeded: zip.readUInt16LE(p + 6), sizes: [zip.readUInt32LE(p + 20), zip.readUInt32LE(p + 24)], offset: zip.readUInt32LE(p + 42), zip64 })
    p += 46 + nameLen + extraLen + zip.readUInt16LE(p + 32)
  }
  return out
}
