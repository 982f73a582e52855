import type { KeyObject } from 'node:crypto'
import { hashZipEntry, readZipDirectory, readZipEntry, type ZipEntry } from '../../lib/zip/index.js'
import { fingerprintOf, publicKeyFromPem, verifyDetached } from './signing.js'

/**
 * Checks an export zip against its signed manifest: the signature over manifest.json (with the
 * trusted public key: the gateway's own, or one given), then every file listed (present, size,
 * SHA-256), then anything in the zip that the manifest does not list. Names what does not match.
 */

export const MANIFEST = 'manifest.json'
export const SIGNATURE = 'manifest.sig'
export const PUBLIC_KEY = 'public-key.pem'
const META = new Set([MANIFEST, SIGNATURE, PUBLIC_KEY])

export interface ManifestFile {
  name: string
  sha256: string
  size: number
}

export interface FileVerdict {
  name: string
  status: 'ok' | 'missing' | 'hash_mismatch' | 'size_mismatch' | 'extra'
  expectedSha256?: string
  actualSha256?: string
}

export interface VerifyReport {
  ok: boolean
  signature: 'valid' | 'invalid' | 'missing'
  /** 'edited' when the signature does not match the manifest bytes */
  manifest: 'ok' | 'missing' | 'unreadable' | 'edited'
  /** which key the signature was checked with */
  key: { source: 'trusted' | 'embedded'; fingerprint: string; matchesEmbedded: boolean | null }
  files: FileVerdict[]
  problems: string[]
  exportId: string | null
}

export async function verifyExportZip(zipPath: string, trusted: KeyObject | null): Promise<VerifyReport> {
  const problems: string[] = []
  const report: VerifyReport = { ok: false, signature: 'missing', manifest: 'missing', key: { source: 'trusted', fingerprint: '', matchesEmbedded: null }, files: [], problems, exportId: null }
  let entries: ZipEntry[]
  try {
    entries = await readZipDirectory(zipPath)
  } catch (err) {
    problems.push(`not a readable zip: ${(err as Error).message}`)
    return report
  }
  const byName = new Map(entries.map((e) => [e.name, e]))
  const manifestEntry = byName.get(MANIFEST)
  const sigEntry = byName.get(SIGNATURE)
  const keyEntry = byName.get(PUBLIC_KEY)
  let embedded: KeyObject | null = null
  if (keyEntry) {
    try {
      embedded = publicKeyFromPem((await readZipEntry(zipPath, keyEntry, 64 * 1024)).toString('utf8'))
    } catch {
      problems.push(`${PUBLIC_KEY}: not a public key`)
    }
  }
  const key = trusted ?? embedded
  if (key) {
    report.key = { source: trusted ? 'trusted' : 'embedded', fingerprint: fingerprintOf(key), matchesEmbedded: trusted && embedded ? fingerprintOf(trusted) === fingerprintOf(embedded) : null }
    if (!trusted) problems.push('no trusted public key given: the signature was checked with the key inside the zip, which proves integrity, not origin')
    if (report.key.matchesEmbedded === false) problems.push(`${PUBLIC_KEY}: not the trusted key`)
  } else problems.push('no public key to check the signature with')

  if (!manifestEntry) {
    problems.push(`${MANIFEST}: missing`)
    return report
  }
  const manifestBytes = await readZipEntry(zipPath, manifestEntry)
  if (!sigEntry) problems.push(`${SIGNATURE}: missing`)
  else if (key) {
    const sig = Buffer.from((await readZipEntry(zipPath, sigEntry, 4096)).toString('utf8').trim(), 'base64')
    report.signature = verifyDetached(key, manifestBytes, sig) ? 'valid' : 'invalid'
    if (report.signature === 'invalid') problems.push(`${SIGNATURE}: signature invalid: ${MANIFEST} was edited or was not signed by this key`)
  }
  let manifest: { exportId?: string; files?: ManifestFile[] }
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as typeof manifest
    if (!Array.isArray(manifest.files)) throw new Error('no files list')
  } catch (err) {
    report.manifest = 'unreadable'
    problems.push(`${MANIFEST}: unreadable (${(err as Error).message})`)
    return report
  }
  report.manifest = report.signature === 'invalid' ? 'edited' : 'ok'
  report.exportId = typeof manifest.exportId === 'string' ? manifest.exportId : null
  const listed = new Set<string>()
  for (const f of manifest.files!) {
    listed.add(f.name)
    const e = byName.get(f.name)
    if (!e) {
      report.files.push({ name: f.name, status: 'missing', expectedSha256: f.sha256 })
      problems.push(`${f.name}: missing from the zip`)
      continue
    }
    const actual = await hashZipEntry(zipPath, e)
    if (actual !== f.sha256) {
      report.files.push({ name: f.name, status: 'hash_mismatch', expectedSha256: f.sha256, actualSha256: actual })
      problems.push(`${f.name}: SHA-256 does not match the manifest`)
    } else if (e.size !== f.size) {
      report.files.push({ name: f.name, status: 'size_mismatch', expectedSha256: f.sha256, actualSha256: actual })
      problems.push(`${f.name}: size does not match the manifest`)
    } else report.files.push({ name: f.name, status: 'ok', actualSha256: actual })
  }
  for (const e of entries) {
    if (listed.has(e.name) || META.has(e.name)) continue
    report.files.push({ name: e.name, status: 'extra' })
    problems.push(`${e.name}: in the zip but not in the manifest`)
  }
  report.ok = report.signature === 'valid' && report.manifest === 'ok' && report.files.every((f) => f.status === 'ok') && report.key.matchesEmbedded !== false
  return report
}
