import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statfsSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import t from 'tap'
import { ZipWriter, hashZipEntry, readZipDirectory, readZipEntry } from '../../../src/lib/zip/index.js'
import { bsdtarMember, centralRecords, has, pythonRead } from './tools.js'

// One real archive past 4 GiB: 4.1 GiB of generated footage streamed through the writer to a file
// (never held in memory), an entry after it whose local header lies past 4 GiB, read back by
// Python's zipfile (every byte, CRC-checked), our reader, unzip, and 7-Zip and bsdtar where
// installed. About 20 s to write and 10–20 s to read back on a 2-core machine; the file is removed
// afterwards, failed or not.

const MiB = 1 << 20
const CHUNKS = 4200 // 4.10 GiB
const SIZE = CHUNKS * MiB
const MAX32 = 0xffffffff

const dir = mkdtempSync(join(tmpdir(), 'gw-zip64-large-'))
const cleanUp = () => rmSync(dir, { recursive: true, force: true })
t.teardown(cleanUp)
process.once('exit', cleanUp) // also when a timeout ends the process
const { bavail, bsize } = statfsSync(dir)
const lowOnSpace = bavail * bsize < SIZE + 2 * 1024 * MiB

t.test('a 4.1 GiB entry and an entry past 4 GiB: ZIP64 that every reader reads', { skip: lowOnSpace ? `needs ${Math.ceil(SIZE / 1024 / MiB) + 2} GiB free in ${tmpdir()}` : false }, async (t) => {
  let clock = Date.now()
  const lap = (what: string) => {
    t.comment(`${what}: ${((Date.now() - clock) / 1000).toFixed(1)} s`)
    clock = Date.now()
  }
  const path = join(dir, 'large.zip')
  const before = Buffer.from('before the footage\n')
  const after = Buffer.from('after the footage\n')
  const base = randomBytes(MiB)
  let crc = 0
  async function* footage(): AsyncGenerator<Buffer> {
    for (let i = 0; i < CHUNKS; i++) {
      // each MiB numbered: a MiB written twice or in the wrong place changes the CRC
      const b = Buffer.allocUnsafe(MiB)
      base.copy(b)
      b.writeUInt32LE(i, 0)
      crc = crc32(b, crc)
      yield b
    }
  }
  const zip = new ZipWriter(path)
  await zip.addBuffer('before.txt', before)
  const big = await zip.addStream('footage.mp4', footage(), undefined, { sizeHint: SIZE })
  await zip.addBuffer('after.txt', after)
  const total = await zip.finish()
  crc >>>= 0
  lap(`written (${total} bytes)`)
  t.equal(big.size, SIZE)
  t.ok(total > SIZE && total > MAX32)

  // the records themselves
  const fh = await open(path, 'r')
  const tail = Buffer.alloc(22 + 20 + 56)
  const entries = await readZipDirectory(path)
  let cd: Buffer
  let local: Buffer
  let descriptor: Buffer
  try {
    await fh.read(tail, 0, tail.length, total - tail.length)
    const cdOffset = Number(tail.readBigUInt64LE(48))
    cd = Buffer.alloc(Number(tail.readBigUInt64LE(40)))
    await fh.read(cd, 0, cd.length, cdOffset)
    local = Buffer.alloc(30 + 11 + 20)
    await fh.read(local, 0, local.length, entries[1]!.dataOffset - local.length)
    descriptor = Buffer.alloc(24 + 4)
    await fh.read(descriptor, 0, descriptor.length, entries[1]!.dataOffset + SIZE)
  } finally {
    await fh.close()
  }
  t.equal(tail.readUInt32LE(0), 0x06064b50, 'Zip64 end of central directory record')
  t.equal(Number(tail.readBigUInt64LE(32)), 3)
  t.equal(tail.readUInt32LE(56), 0x07064b50, 'its locator')
  t.equal(Number(tail.readBigUInt64LE(64)), total - tail.length, 'the locator points at the record')
  t.same([tail.readUInt32LE(76), tail.readUInt16LE(86), tail.readUInt32LE(88 + 4)], [0x06054b50, 3, MAX32], 'end record: the count fits, the offset is in the Zip64 record')
  t.same(
    centralRecords(cd, 0, 3).map((c) => [c.name, c.versionNeeded, c.sizes, c.offset, c.zip64]),
    [
      ['before.txt', 20, [before.length, before.length], 0, null],
      ['footage.mp4', 45, [MAX32, MAX32], entries[1]!.dataOffset - local.length, [SIZE, SIZE]],
      ['after.txt', 45, [after.length, after.length], MAX32, [entries[2]!.dataOffset - 30 - 9]],
    ],
    'central headers: ZIP64 only for the large sizes and the offset past 4 GiB',
  )
  t.same([local.readUInt32LE(0), local.readUInt16LE(4), local.readUInt32LE(18), local.readUInt16LE(28), local.readUInt16LE(41), local.readUInt16LE(43)], [0x04034b50, 45, MAX32, 20, 1, 16], 'local header of the footage: version 4.5, Zip64 extra field')
  t.same([descriptor.readUInt32LE(0), descriptor.readUInt32LE(4), Number(descriptor.readBigUInt64LE(8)), Number(descriptor.readBigUInt64LE(16)), descriptor.readUInt32LE(24)], [0x08074b50, crc, SIZE, SIZE, 0x04034b50], 'data descriptor with 8-byte sizes, then the next local header')

  // our reader, as verify uses it
  t.same(entries.map((e) => [e.name, e.size, e.crc >>> 0]), [['before.txt', before.length, crc32(before) >>> 0], ['footage.mp4', SIZE, crc], ['after.txt', after.length, crc32(after) >>> 0]])
  t.ok(entries[2]!.dataOffset > MAX32)
  t.same(await readZipEntry(path, entries[2]!), after, 'the entry past 4 GiB reads back')
  t.equal(await hashZipEntry(path, entries[1]!), big.sha256, 'the footage hashes to what the writer reported')
  lap('our reader')

  const py = pythonRead(path, false)
  t.same(
    py.entries.map((e) => [e.name, e.size, e.crc, e.version]),
    [['before.txt', before.length, crc32(before) >>> 0, 20], ['footage.mp4', SIZE, crc, 45], ['after.txt', after.length, crc32(after) >>> 0, 45]],
    "Python's zipfile: names, sizes, CRC-32s (checked against every byte read)",
  )
  t.equal(py.entries[1]!.sha256, big.sha256)
  lap("Python's zipfile")

  if (has('unzip')) {
    // the footage's CRC is checked above; unzip's own takes ~17 s for it
    t.match(execFileSync('unzip', ['-l', path], { encoding: 'utf8' }), new RegExp(`\\b${SIZE}\\s+\\S+\\s+\\S+\\s+footage\\.mp4`), 'unzip -l: the 8-byte size')
    t.match(execFileSync('unzip', ['-t', path, 'before.txt', 'after.txt'], { encoding: 'utf8' }), /No errors detected/, 'unzip -t of the entries on either side')
    lap('unzip')
  }
  if (has('7zz') || has('7z')) {
    t.match(execFileSync(has('7zz') ? '7zz' : '7z', ['t', path], { encoding: 'utf8' }), /Everything is Ok/, '7-Zip: t')
    lap('7-Zip')
  }
  if (has('bsdtar')) {
    t.same(await bsdtarMember(path, 'footage.mp4'), { crc, size: SIZE }, 'bsdtar from the file')
    t.same(await bsdtarMember(path, 'after.txt', true), { crc: crc32(after) >>> 0, size: after.length }, 'bsdtar from a pipe, past the footage')
    lap('bsdtar')
  }
})
