import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { ZipWriter, readZipDirectory, readZipEntry } from '../../../src/lib/zip/index.js'
import { describeKey, loadEvidenceKey, signDetached } from '../../../src/features/recordings/signing.js'
import { verifyExportZip } from '../../../src/features/recordings/verify.js'
import { createHash } from 'node:crypto'

const dir = mkdtempSync(join(tmpdir(), 'gw-zip-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const key = describeKey(generateKeyPairSync('ed25519').privateKey)

async function makeExport(name: string, opts: { files: Record<string, Buffer>; listed: Record<string, Buffer>; signWith?: typeof key; zip64?: boolean }): Promise<string> {
  const path = join(dir, name)
  // zip64: every entry, offset and the end record in ZIP64 form, as in an export past 4 GiB
  const zip = new ZipWriter(path, undefined, opts.zip64 ? { zip64Threshold: 0 } : {})
  for (const [n, data] of Object.entries(opts.files)) await zip.addBuffer(n, data)
  const manifest = Buffer.from(JSON.stringify({ exportId: 'x', files: Object.entries(opts.listed).map(([n, d]) => ({ name: n, sha256: sha(d), size: d.length })) }))
  await zip.addBuffer('manifest.json', manifest)
  await zip.addBuffer('manifest.sig', Buffer.from(signDetached(opts.signWith ?? key, manifest).toString('base64')))
  await zip.addBuffer('public-key.pem', Buffer.from((opts.signWith ?? key).publicKeyPem))
  await zip.finish()
  return path
}

t.test('store-only zip: standard tools read it', async (t) => {
  const a = Buffer.from('hello evidence')
  const big = Buffer.alloc(3 * 1024 * 1024, 7)
  writeFileSync(join(dir, 'big.bin'), big)
  const path = join(dir, 'plain.zip')
  const zip = new ZipWriter(path)
  await zip.addBuffer('a.txt', a)
  const r = await zip.addFile('big.bin', join(dir, 'big.bin'))
  t.equal(r.sha256, sha(big))
  await zip.finish()
  t.ok(zip.sha256, 'archive hash computed on the way')
  execFileSync('unzip', ['-tq', path])
  t.pass('unzip -t accepts the archive')
  const entries = await readZipDirectory(path)
  t.same(entries.map((e) => [e.name, e.size]), [['a.txt', a.length], ['big.bin', big.length]])
  t.same(await readZipEntry(path, entries[0]!), a)
  await t.rejects(new ZipWriter(join(dir, 'bad.zip')).addBuffer('../evil', a), /bad entry name/)
})

t.test('verify names missing, extra and mismatched files, and a foreign key', async (t) => {
  const v1 = Buffer.from('video one')
  const v2 = Buffer.from('video two')
  const good = await makeExport('good.zip', { files: { 'camera-1.mp4': v1, 'camera-2.mp4': v2 }, listed: { 'camera-1.mp4': v1, 'camera-2.mp4': v2 } })
  const ok = await verifyExportZip(good, key.publicKey)
  t.ok(ok.ok, ok.problems.join('; '))

  const missing = await verifyExportZip(await makeExport('missing.zip', { files: { 'camera-1.mp4': v1 }, listed: { 'camera-1.mp4': v1, 'camera-2.mp4': v2 } }), key.publicKey)
  t.notOk(missing.ok)
  t.same(missing.files.filter((f) => f.status !== 'ok').map((f) => [f.name, f.status]), [['camera-2.mp4', 'missing']])

  const extra = await verifyExportZip(await makeExport('extra.zip', { files: { 'camera-1.mp4': v1, 'notes.txt': Buffer.from('x') }, listed: { 'camera-1.mp4': v1 } }), key.publicKey)
  t.notOk(extra.ok)
  t.same(extra.files.filter((f) => f.status !== 'ok').map((f) => [f.name, f.status]), [['notes.txt', 'extra']])

  const swapped = await verifyExportZip(await makeExport('swapped.zip', { files: { 'camera-1.mp4': v2 }, listed: { 'camera-1.mp4': v1 } }), key.publicKey)
  t.same(swapped.files.map((f) => [f.name, f.status]), [['camera-1.mp4', 'hash_mismatch']])

  // re-signed by someone else (with their key inside the zip): integrity holds, origin does not
  const other = describeKey(generateKeyPairSync('ed25519').privateKey)
  const forged = await makeExport('forged.zip', { files: { 'camera-1.mp4': v1 }, listed: { 'camera-1.mp4': v1 }, signWith: other })
  const f = await verifyExportZip(forged, key.publicKey)
  t.notOk(f.ok, 'a zip signed by another key fails against the trusted key')
  t.equal(f.signature, 'invalid')
  t.equal(f.key.matchesEmbedded, false)
  const embeddedOnly = await verifyExportZip(forged, null)
  t.equal(embeddedOnly.signature, 'valid')
  t.match(embeddedOnly.problems.join('\n'), /proves integrity, not origin/)

  const notZip = join(dir, 'not.zip')
  writeFileSync(notZip, 'garbage')
  t.notOk((await verifyExportZip(notZip, key.publicKey)).ok)
})

t.test('verify reads ZIP64 exports (an export past 4 GiB), and still names what does not match', async (t) => {
  const v1 = Buffer.from('video one')
  const v2 = Buffer.from('video two')
  const good = await makeExport('zip64.zip', { files: { 'camera-1.mp4': v1, 'camera-2.mp4': v2 }, listed: { 'camera-1.mp4': v1, 'camera-2.mp4': v2 }, zip64: true })
  t.equal(readFileSync(good).readUInt32LE(readFileSync(good).length - 22 - 20), 0x07064b50, 'the archive ends in ZIP64 form')
  const ok = await verifyExportZip(good, key.publicKey)
  t.ok(ok.ok, ok.problems.join('; '))
  t.same(ok.files.map((f) => [f.name, f.status]), [['camera-1.mp4', 'ok'], ['camera-2.mp4', 'ok']])
  const swapped = await verifyExportZip(await makeExport('zip64-swapped.zip', { files: { 'camera-1.mp4': v2 }, listed: { 'camera-1.mp4': v1 }, zip64: true }), key.publicKey)
  t.same(swapped.files.map((f) => [f.name, f.status]), [['camera-1.mp4', 'hash_mismatch']])
})

t.test('evidence key: created once with mode 0600, or from the environment', async (t) => {
  const d = join(dir, 'data')
  const k1 = loadEvidenceKey(d, {}, () => undefined)
  const k2 = loadEvidenceKey(d, {}, () => undefined)
  t.equal(k1.fingerprint, k2.fingerprint, 'the same key on the second start')
  const mode = execFileSync('stat', ['-c', '%a', join(d, 'keys', 'evidence-ed25519.pem')]).toString().trim()
  t.equal(mode, '600')
  const seed = Buffer.alloc(32, 9).toString('hex')
  const fromEnv = loadEvidenceKey(join(dir, 'nowhere'), { GW_EVIDENCE_SIGNING_KEY: seed }, () => undefined)
  t.equal(fromEnv.fingerprint, loadEvidenceKey(join(dir, 'nowhere'), { GW_EVIDENCE_SIGNING_KEY: Buffer.alloc(32, 9).toString('base64') }, () => undefined).fingerprint, 'hex and base64 seeds agree')
  t.throws(() => loadEvidenceKey(d, { GW_EVIDENCE_SIGNING_KEY: 'short' }, () => undefined), /GW_EVIDENCE_SIGNING_KEY/)
})
