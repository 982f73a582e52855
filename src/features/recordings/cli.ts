import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { loadConfig } from '../../core/config.js'
import { loadEvidenceKey, publicKeyFromPem } from './signing.js'
import { verifyExportZip } from './verify.js'

/**
 * `sharp-eyes-gateway verify <export.zip> [--public-key <pem>]`: checks an export against its
 * signed manifest. The trusted key is the one given, else this gateway's own evidence key
 * (GW_EVIDENCE_SIGNING_KEY or <dataDir>/keys/evidence-ed25519.pem, never created here), else the
 * key inside the zip (integrity only, said so). Prints the report as JSON; exit 0 intact, 1 not,
 * 64 usage.
 */
export async function runVerify(args: string[]): Promise<number> {
  let zip: string | undefined
  let keyFile: string | undefined
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--public-key') keyFile = args[++i]
    else if (!zip) zip = args[i]
  }
  if (!zip || (args.includes('--public-key') && !keyFile)) {
    process.stderr.write('usage: sharp-eyes-gateway verify <export.zip> [--public-key <pem>]\n')
    return 64
  }
  let trusted: KeyObject | null = null
  if (keyFile) trusted = publicKeyFromPem(readFileSync(keyFile, 'utf8'))
  else {
    const fromEnv = process.env.GW_EVIDENCE_SIGNING_KEY
    try {
      if (fromEnv) {
        // from the environment only: loadEvidenceKey never touches the data dir when the variable is set
        trusted = loadEvidenceKey('', process.env, () => undefined).publicKey
      } else {
        const file = join(loadConfig().dataDir, 'keys', 'evidence-ed25519.pem')
        if (existsSync(file)) trusted = publicKeyFromPem(readFileSync(file, 'utf8'))
      }
    } catch {
      trusted = null
    }
  }
  const report = await verifyExportZip(zip, trusted)
  process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  if (!report.ok) for (const p of report.problems) process.stderr.write(`verify: ${p}\n`)
  return report.ok ? 0 : 1
}
