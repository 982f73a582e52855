import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ConfigError } from './errors.js'

/**
 * Secret keys come from the environment, or from a key file under <dataDir>/keys created on first
 * run with mode 0600. Never from the database: a copied gateway.db must not carry its own keys.
 */
export interface KeyWarning {
  (message: string): void
}

function decodeKey(envName: string, raw: string): Buffer {
  const text = raw.trim()
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64')
  if (key.length !== 32) throw new ConfigError(envName, 'must be 32 bytes, given as 64 hex digits or base64')
  return key
}

/**
 * `mustExist`: why the key may not be made anew (data already depends on it); a missing key file
 * is then a ConfigError saying so, instead of a fresh key that silently fails everything old.
 */
export function loadSymmetricKey(dataDir: string, name: string, envName: string, env: NodeJS.ProcessEnv, warn: KeyWarning, options: { mustExist?: string } = {}): Buffer {
  const fromEnv = env[envName]
  if (fromEnv) return decodeKey(envName, fromEnv)

  const dir = join(dataDir, 'keys')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, `${name}.key`)
  if (options.mustExist && !existsSync(file)) throw new ConfigError(envName, `${file} is missing and ${envName} is not set, but ${options.mustExist}`)
  try {
    // 'wx' fails if the file exists, so two gateways starting at once cannot overwrite each other's key.
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const mode = statSync(file).mode & 0o777
  if (mode & 0o077) {
    warn(`key file ${file} had mode ${mode.toString(8)}; tightened to 600`)
    chmodSync(file, 0o600)
  }
  return decodeKey(file, readFileSync(file, 'utf8'))
}

/**
 * The key named like loadSymmetricKey's, for tools that must not create one (audit-verify): from
 * the environment, else the key file if it exists; null when neither is there.
 */
export function readSymmetricKey(dataDir: string, name: string, envName: string, env: NodeJS.ProcessEnv): Buffer | null {
  const fromEnv = env[envName]
  if (fromEnv) return decodeKey(envName, fromEnv)
  const file = join(dataDir, 'keys', `${name}.key`)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    // e.g. EACCES: run it as the gateway's account, which owns the 0600 key files.
    throw new ConfigError(file, `cannot read it: ${(err as Error).message}`)
  }
  return decodeKey(file, text)
}
