import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import { ConfigError } from '../../core/errors.js'

/**
 * The gateway's Ed25519 evidence signing key: from GW_EVIDENCE_SIGNING_KEY (a PKCS#8 PEM, or the
 * 32-byte seed as 64 hex digits or base64), else <dataDir>/keys/evidence-ed25519.pem, created
 * with mode 0600 on first run. The public key is published (GET /api/exports/public-key) so anyone
 * can check an export without trusting the gateway that hands it out.
 */
export interface EvidenceKey {
  privateKey: KeyObject
  publicKey: KeyObject
  publicKeyPem: string
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex */
  fingerprint: string
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

function fromText(source: string, text: string): KeyObject {
  const t = text.trim()
  try {
    if (t.includes('-----BEGIN')) return createPrivateKey(t)
    const seed = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64')
    if (seed.length !== 32) throw new Error('must be 32 bytes')
    return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  } catch (err) {
    throw new ConfigError(source, `not an Ed25519 private key (PKCS#8 PEM, or a 32-byte seed in hex/base64): ${(err as Error).message}`)
  }
}

export function describeKey(privateKey: KeyObject): EvidenceKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new ConfigError('GW_EVIDENCE_SIGNING_KEY', `key type ${privateKey.asymmetricKeyType} is not ed25519`)
  const publicKey = createPublicKey(privateKey)
  const der = publicKey.export({ format: 'der', type: 'spki' })
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(), fingerprint: createHash('sha256').update(der).digest('hex') }
}

export function loadEvidenceKey(dataDir: string, env: NodeJS.ProcessEnv, warn: (m: string) => void): EvidenceKey {
  const fromEnv = env.GW_EVIDENCE_SIGNING_KEY
  if (fromEnv) return describeKey(fromText('GW_EVIDENCE_SIGNING_KEY', fromEnv))
  const dir = join(dataDir, 'keys')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, 'evidence-ed25519.pem')
  try {
    const { privateKey } = generateKeyPairSync('ed25519')
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const mode = statSync(file).mode & 0o777
  if (mode & 0o077) {
    warn(`key file ${file} had mode ${mode.toString(8)}; tightened to 600`)
    chmodSync(file, 0o600)
  }
  return describeKey(fromText(file, readFileSync(file, 'utf8')))
}

/** Loads only the public half, for verification (CLI): from a PEM public or private key. */
export function publicKeyFromPem(pem: string): KeyObject {
  return pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem)
}

export const signDetached = (key: EvidenceKey, data: Buffer): Buffer => sign(null, data, key.privateKey)
export const verifyDetached = (publicKey: KeyObject, data: Buffer, signature: Buffer): boolean => {
  try {
    return verify(null, data, publicKey, signature)
  } catch {
    return false
  }
}
export const fingerprintOf = (publicKey: KeyObject): string => createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex')
