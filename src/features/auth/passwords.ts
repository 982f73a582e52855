import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'

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

/** Minimal strength rule: long enough to resist online guessing behind the lockout. */
export function passwordProblem(password: string): string | null {
  if (password.length < 8) return 'must be at least 8 characters'
  if (password.length > 256) return 'must be at most 256 characters'
  return null
}
