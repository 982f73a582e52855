import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import t, { type Test } from 'tap'
import { ZipWriter, hashZipEntry, readZipDirectory, readZipEntry, type ZipWriterOptions } from '../../../src/lib/zip/index.js'
import { bsdtarMember, centralRecords, endRecords, has, pythonRead, walkLocal } from './tools.js'

// ZIP64 structure on small archives: the writer's test-only zip64Threshold moves the 4 GiB line
// down to a few bytes, so every ZIP64 path runs here in milliseconds; the real >4 GiB archive is
// zip64-large.test.ts. Every archive is read back by our reader, Python's zipfile and whichever of
// unzip, 7-Zip and bsdtar are installed.

const dir = mkdtempSync(join(tmpdir(), 'gw-zip64-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const MAX32 = 0xffffffff
const WHEN = new Date('2026-01-02T03:04:06Z')

const text = Buffer.from('hello evidence\n')
const file = Buffer.alloc(300_000)
for (let i = 0; i < file.length; i++) file[i] = (i * 31 + 7) & 0xff
const filePath = join(dir, 'file.bin')
writeFileSync(filePath, file)
const streamChunks = [0, 1, 2, 3, 4].map((i) => Buffer.alloc(10_000 + i, i + 1))
const streamed = Buffer.concat(streamChunks)
async function* stream(): AsyncGenerator<Buffer> {
  for (const c of streamChunks) yield c
}
const contents: Record<string, Buffer> = { 'a.txt': text, 'file.bin': file, 'stream.bin': streamed, 'hinted.bin': streamed, 'empty.txt': Buffer.alloc(0) }

/** The same five entries each time: a buffer, a file, a stream without and one with a size hint, an empty buffer. */
async function build(t: Test, name: string, options?: ZipWriterOptions): Promise<string> {
  const path = join(dir, name)
  const zip = new ZipWriter(path, WHEN, options)
  await zip.addBuffer('a.txt', text)
  t.equal((await zip.addFile('file.bin', filePath)).sha256, sha(file))
  t.equal((await zip.addStream('stream.bin', stream())).sha256, sha(streamed))
  t.equal((await zip.addStream('hinted.bin', stream(), undefined, { sizeHint: 100_000 })).sha256, sha(streamed))
  await zip.addBuffer('empty.txt', Buffer.alloc(0))
  const size = await zip.finish()
  t.equal(size, readFileSync(path).length, 'finish() returns the archive size')
  t.equal(zip.sha256, sha(readFileSync(path)), 'archive hash computed on the way')
  return path
}

/** What every reader must agree on: names, sizes, CRC-32s and bytes. */
async function readersAgree(t: Test, path: string, expected: Record<string, Buffer> = contents): Promise<void> {
  const names = Object.keys(expected)
  const ours = await readZipDirectory(path)
  t.same(ours.map((e) => [e.name, e.size, e.crc >>> 0]), names.map((n) => [n, expected[n]!.length, crc32(expected[n]!) >>> 0]), 'our reader: names, sizes, CRC-32s')
  for (const e of ours) {
    t.equal(await hashZipEntry(path, e), sha(expected[e.name]!), `our reader: ${e.name} bytes`)
    if (e.size < 1e6) t.same(await readZipEntry(path, e), expected[e.name]!)
  }
  const py = pythonRead(path)
  t.equal(py.testzip, null, 'zipfile.testzip() finds no bad entry')
  t.same(py.entries.map((e) => [e.name, e.size, e.compressSize, e.crc, e.sha256]), names.map((n) => [n, expected[n]!.length, expected[n]!.length, crc32(expected[n]!) >>> 0, sha(expected[n]!)]), "Python's zipfile: names, sizes, CRC-32s, bytes")
  const walked = walkLocal(readFileSync(path), new Map(ours.map((e) => [e.name, e.size])))
  t.same(walked.map((w) => [w.name, w.dataOffset]), ours.map((e) => [e.name, e.dataOffset]), 'a streaming walk finds each entry where our reader does')
  t.same(py.entries.map((e) => e.offset), walked.map((w) => w.offset), "Python's zipfile: the same local header offsets")
  if (has('unzip')) {
    t.match(execFileSync('unzip', ['-t', path], { encoding: 'utf8' }), /No errors detected/, 'unzip -t')
  }
  if (has('7zz') || has('7z')) {
    t.match(execFileSync(has('7zz') ? '7zz' : '7z', ['t', path], { encoding: 'utf8' }), /Everything is Ok/, '7-Zip: t')
  }
  if (has('bsdtar')) {
    for (const fromPipe of [false, true]) {
      for (const n of names) t.same(await bsdtarMember(path, n, fromPipe), { crc: crc32(expected[n]!) >>> 0, size: expected[n]!.length }, `bsdtar ${fromPipe ? 'from a pipe' : 'from the file'}: ${n}`)
    }
  }
}

t.test('small archives are byte for byte what the writer wrote before ZIP64', async (t) => {
  const path = await build(t, 'plain.zip')
  const zip = readFileSync(path)
  // length and SHA-256 of these entries as the writer without ZIP64 support wrote them (commit 70ede16)
  t.equal(zip.length, 400601)
  t.equal(sha(zip), 'c5b1b897b938c7fe60ff507920ccf14bb0822eaa086548ec45b918f9457d4c73')
  const end = endRecords(zip)
  t.equal(end.zip64, null, 'no Zip64 end record')
  t.ok(centralRecords(zip, end.cdOffset, end.count).every((c) => c.versionNeeded === 20 && c.versionMadeBy === 20 && c.zip64 === null), 'version 2.0, no extra fields')
  await readersAgree(t, path)
})

t.test('ZIP64 throughout (threshold 0): every entry, offset and the end', async (t) => {
  const path = await build(t, 'forced.zip', { zip64Threshold: 0 })
  const zip = readFileSync(path)
  const ours = await readZipDirectory(path)
  const walked = walkLocal(zip, new Map(ours.map((e) => [e.name, e.size])))
  t.same(
    walked.map((w) => [w.name, w.versionNeeded, w.localSizes, w.localZip64, w.descriptorLength]),
    [
      ['a.txt', 45, [MAX32, MAX32], 16, 24],
      ['file.bin', 45, [MAX32, MAX32], 16, 24],
      // no hint: the local header was plain, the sizes reached the threshold, the descriptor is 8-byte all the same
      ['stream.bin', 20, [0, 0], null, 24],
      ['hinted.bin', 45, [MAX32, MAX32], 16, 24],
      ['empty.txt', 45, [MAX32, MAX32], 16, 24],
    ],
    'local headers: Zip64 field with sizes 0xFFFFFFFF where a size was hinted; 8-byte descriptors',
  )
  const end = endRecords(zip)
  t.same([end.count, end.cdSize, end.cdOffset], [5, MAX32, MAX32], 'end record: sizes point to the Zip64 record, the count fits')
  t.ok(end.zip64)
  t.same(end.zip64!.version, [45, 45])
  t.equal(end.zip64!.count, 5)
  t.equal(end.zip64!.cdOffset + end.zip64!.cdSize, end.zip64!.at, 'central directory right before the Zip64 end record')
  const central = centralRecords(zip, end.zip64!.cdOffset, end.zip64!.count)
  t.same(
    central.map((c) => [c.name, c.versionMadeBy, c.versionNeeded, c.sizes, c.offset, c.zip64]),
    walked.map((w) => [w.name, 45, 45, [MAX32, MAX32], MAX32, [contents[w.name]!.length, contents[w.name]!.length, w.offset]]),
    'central headers: version 4.5, sizes and offset in the Zip64 field, in APPNOTE order',
  )
  await readersAgree(t, path)
  t.ok(pythonRead(path).entries.every((e) => e.version === 45), "Python's zipfile sees version 4.5")
})

t.test('ZIP64 only where needed (threshold 64 KiB)', async (t) => {
  const path = await build(t, 'mixed.zip', { zip64Threshold: 65536 })
  const zip = readFileSync(path)
  const ours = await readZipDirectory(path)
  const walked = walkLocal(zip, new Map(ours.map((e) => [e.name, e.size])))
  t.same(
    walked.map((w) => [w.name, w.versionNeeded, w.localZip64, w.descriptorLength]),
    [
      ['a.txt', 20, null, 16],
      ['file.bin', 45, 16, 24], // 300,000 bytes, known from the file
      ['stream.bin', 20, null, 16], // 50,010 bytes
      ['hinted.bin', 45, 16, 24], // hinted at 100,000
      ['empty.txt', 20, null, 16],
    ],
  )
  const end = endRecords(zip)
  t.ok(end.zip64, 'the central directory starts past the threshold: Zip64 end record')
  t.same([end.count, end.cdSize, end.cdOffset], [5, end.zip64!.cdSize, MAX32], 'only the offset is moved to the Zip64 record')
  const central = centralRecords(zip, end.zip64!.cdOffset, 5)
  const [a, f, s, h, e] = walked
  t.same(
    central.map((c) => [c.name, c.versionNeeded, c.sizes, c.offset, c.zip64]),
    [
      ['a.txt', 20, [15, 15], 0, null],
      ['file.bin', 45, [MAX32, MAX32], f!.offset, [300_000, 300_000]],
      ['stream.bin', 45, [50_010, 50_010], MAX32, [s!.offset]], // starts past the threshold: only its offset
      ['hinted.bin', 45, [MAX32, MAX32], MAX32, [50_010, 50_010, h!.offset]],
      ['empty.txt', 45, [0, 0], MAX32, [e!.offset]],
    ],
  )
  t.equal(a!.offset, 0)
  await readersAgree(t, path)
  if (has('zipdetails')) t.notMatch(execFileSync('zipdetails', [path], { encoding: 'utf8' }), /WARNING/, 'zipdetails walks every record without a warning')
})

t.test('65,535 entries: the count goes to the Zip64 end record, the entries stay plain', async (t) => {
  const path = join(dir, 'many.zip')
  const zip = new ZipWriter(path, WHEN)
  const n = 0xffff
  const expected: Record<string, Buffer> = {}
  for (let i = 0; i < n; i++) {
    const name = `f${String(i).padStart(5, '0')}.txt`
    expected[name] = Buffer.from(String(i))
    await zip.addBuffer(name, expected[name]!)
  }
  await zip.finish()
  const buf = readFileSync(path)
  const end = endRecords(buf)
  t.equal(end.count, 0xffff, 'the 16-bit count is 0xFFFF')
  t.equal(end.zip64?.count, n)
  t.ok(end.cdOffset < MAX32 && end.cdSize < MAX32 && end.cdOffset === end.zip64!.cdOffset && end.cdSize === end.zip64!.cdSize, 'sizes that fit stay in the end record too')
  t.ok(centralRecords(buf, end.cdOffset, n).every((c) => c.versionNeeded === 20 && c.zip64 === null), 'no entry is ZIP64')
  const ours = await readZipDirectory(path)
  t.equal(ours.length, n)
  t.same(await readZipEntry(path, ours[n - 1]!), expected['f65534.txt'])
  const py = pythonRead(path, false)
  t.equal(py.entries.length, n)
  t.same(py.entries[n - 1], { name: 'f65534.txt', size: 5, compressSize: 5, crc: crc32(Buffer.from('65534')) >>> 0, version: 20, offset: ours[n - 1]!.dataOffset - 30 - 10, sha256: sha(Buffer.from('65534')) })
  if (has('unzip')) t.match(execFileSync('unzip', ['-t', path], { encoding: 'utf8', maxBuffer: 64 << 20 }), /No errors detected/, 'unzip -t')
  if (has('7zz')) t.match(execFileSync('7zz', ['t', path], { encoding: 'utf8', maxBuffer: 64 << 20 }), /Files: 65535/, '7-Zip counts them all')
})

t.test('the reader refuses broken ZIP64 end records and fields', async (t) => {
  const good = readFileSync(await build(t, 'forced2.zip', { zip64Threshold: 0 }))
  const end = endRecords(good)
  const broken = async (name: string, patch: (b: Buffer) => void): Promise<string> => {
    const b = Buffer.from(good)
    patch(b)
    const path = join(dir, name)
    writeFileSync(path, b)
    return path
  }
  await t.rejects(readZipDirectory(await broken('bad-record.zip', (b) => b.writeUInt32LE(0, end.zip64!.at))), /corrupt Zip64 end of central directory record/)
  await t.rejects(readZipDirectory(await broken('bad-locator.zip', (b) => b.writeBigUInt64LE(BigInt(b.length), b.length - 22 - 20 + 8))), /Zip64 end of central directory record out of range/)
  await t.rejects(readZipDirectory(await broken('no-locator.zip', (b) => b.writeUInt32LE(0, b.length - 22 - 20))), /Zip64 end of central directory locator missing/)
  // the first central header's Zip64 field, cut to 16 bytes: its offset is missing
  const extraLenAt = end.zip64!.cdOffset + 30
  await t.rejects(
    readZipDirectory(
      await broken('short-field.zip', (b) => {
        b.writeUInt16LE(16, end.zip64!.cdOffset + 46 + 5 + 2)
      }),
    ),
    /a\.txt: Zip64 extra field too short/,
  )
  t.equal(good.readUInt16LE(extraLenAt), 28, 'the unpatched field: 4 + 3 × 8 bytes')
})
