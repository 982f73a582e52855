import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { GatewayError } from '../../core/errors.js'
import { projectRoot } from '../../core/paths.js'

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))))

/** scrypt with N=2^15, r=8, p=1 (OWASP's minimum is 2^17 for r=8, p=1 at 64 MiB; 2^15 keeps login ≈ 60 ms on a 2-core gateway). */
const PARAMS = { N: 1 << 15, r: 8, p: 1, keylen: 32 }

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, PARAMS.keylen, { N: PARAMS.N, r: PARAMS.r, p: PARAMS.p, maxmem: 128 * PARAMS.N * PARAMS.r * 2 })
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [algo, n, r, p, salt, key] = stored.split('$')
  if (algo !== 'scrypt' || !n || !r || !p || !salt || !key) return false
  const expected = Buffer.from(key, 'base64url')
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 128 * Number(n) * Number(r) * 2 })
  return timingSafeEqual(actual, expected)
}

/** A hash to verify against when the user does not exist, so timing does not reveal user names. */
export const DUMMY_HASH_PROMISE = hashPassword(randomBytes(16).toString('hex'))

export function randomPassword(): string {
  // 18 bytes → 24 url-safe characters, ~144 bits.
  return randomBytes(18).toString('base64url')
}

/** 400 weak_password: a new password fails the rules below; `fields` names where it was given. */
export class WeakPasswordError extends GatewayError {
  readonly status = 400
  readonly code = 'weak_password'
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`, [{ field, message: problem }])
  }
}

/**
 * The passwords attackers try first (config/common-passwords.txt, shipped with the gateway so an
 * operator may add their own): NIST SP 800-63B asks a verifier to refuse passwords from breach
 * corpuses, dictionary words, repeated or sequential characters and context-specific words.
 */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  readFileSync(join(projectRoot, 'config', 'common-passwords.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim().toLowerCase())
    .filter((l) => l !== '' && !l.startsWith('#')),
)
/** Digits and symbols people append to a word to pass a rule ("Password2026!"). */
const TRAILING_DIGITS_AND_SYMBOLS = /[0-9!@#$%^&*()_+\-=.,;:?~`'"<>/\\|[\]{}\s]+$/

/**
 * The rules for a new password: 8–256 characters (long enough to resist online guessing behind
 * the lockout), not a common password (also with digits or symbols after it), not one character
 * repeated, and not the user name or containing it (case-insensitive; names of 3+ characters).
 */
export function passwordProblem(password: string, username?: string): string | null {
  if (password.length < 8) return 'must be at least 8 characters'
  if (password.length > 256) return 'must be at most 256 characters'
  const lower = password.toLowerCase()
  if (/^(.)\1*$/su.test(password)) return 'must not be one character repeated'
  const base = lower.replace(TRAILING_DIGITS_AND_SYMBOLS, '')
  if (COMMON_PASSWORDS.has(lower) || (base.length >= 4 && COMMON_PASSWORDS.has(base))) return 'is a commonly used password; choose another'
  const name = username?.toLowerCase()
  if (name && (lower === name || (name.length >= 3 && lower.includes(name)))) return 'must not be or contain the user name'
  return null
}
