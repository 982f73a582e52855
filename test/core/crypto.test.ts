import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SecretBox } from '../../src/core/crypto.js'
import { ConfigError } from '../../src/core/errors.js'
import { loadSymmetricKey } from '../../src/core/secrets.js'

t.test('SecretBox seals with AES-256-GCM and opens only with the same key and purpose', async (t) => {
  const box = new SecretBox(randomBytes(32))
  const sealed = box.seal('{"username":"admin","password":"Hik12345"}', 'camera-credentials')
  t.match(sealed, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/)
  t.notMatch(sealed, /Hik12345|admin/, 'no plaintext in the sealed form')
  t.equal(box.open(sealed, 'camera-credentials'), '{"username":"admin","password":"Hik12345"}')
  t.not(box.seal('same', 'p'), box.seal('same', 'p'), 'a fresh IV every time')
  t.throws(() => box.open(sealed, 'another-purpose'), 'the associated data binds it to its purpose')
  t.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'camera-credentials'), 'another key cannot open it')
  const [v, iv, tag, body] = sealed.split('.')
  const flipped = Buffer.from(body!, 'base64url')
  flipped[0] = flipped[0]! ^ 1
  t.throws(() => box.open([v, iv, tag, flipped.toString('base64url')].join('.'), 'camera-credentials'), 'a tampered ciphertext fails authentication')
  t.throws(() => box.open('v0.a.b.c', 'camera-credentials'), { message: /unrecognised/ })
  t.throws(() => new SecretBox(randomBytes(16)), { message: /32-byte/ })
  t.equal(box.open(box.seal('', 'x'), 'x'), '', 'empty secrets round-trip')
  t.equal(box.open(box.seal('口令', 'x'), 'x'), '口令', 'non-ASCII round-trips')
})

t.test('key files: created 0600 on first run, reused afterwards, loose modes tightened', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const warnings: string[] = []
  const warn = (m: string) => warnings.push(m)
  const k1 = loadSymmetricKey(dir, 'credential', 'GW_CREDENTIAL_KEY', {}, warn)
  t.equal(k1.length, 32)
  const file = join(dir, 'keys', 'credential.key')
  t.equal(statSync(file).mode & 0o777, 0o600)
  t.equal(statSync(join(dir, 'keys')).mode & 0o077, 0, 'the keys folder is private too')
  t.same(loadSymmetricKey(dir, 'credential', 'GW_CREDENTIAL_KEY', {}, warn), k1, 'the same key on the next start')
  t.notSame(loadSymmetricKey(dir, 'session', 'GW_SESSION_KEY', {}, warn), k1, 'each purpose has its own key')
  t.same(warnings, [])

  chmodSync(file, 0o644)
  t.same(loadSymmetricKey(dir, 'credential', 'GW_CREDENTIAL_KEY', {}, warn), k1)
  t.equal(statSync(file).mode & 0o777, 0o600, 'tightened')
  t.match(warnings[0], /tightened to 600/)
})

t.test('keys from the environment, hex or base64; a bad one names the variable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const raw = randomBytes(32)
  t.same(loadSymmetricKey(dir, 'credential', 'GW_CREDENTIAL_KEY', { GW_CREDENTIAL_KEY: raw.toString('hex') }, () => {}), raw)
  t.same(loadSymmetricKey(dir, 'credential', 'GW_CREDENTIAL_KEY', { GW_CREDENTIAL_KEY: raw.toString('base64') }, () => {}), raw)
  t.throws(() => loadSymmetricKey(dir, 'credential', 'GW_CREDENTIAL_KEY', { GW_CREDENTIAL_KEY: 'too-short' }, () => {}), { name: 'ConfigError', key: 'GW_CREDENTIAL_KEY' })
  t.throws(() => loadSymmetricKey(dir, 'credential', 'GW_CREDENTIAL_KEY', { GW_CREDENTIAL_KEY: 'too-short' }, () => {}), ConfigError)
  t.throws(() => readFileSync(join(dir, 'keys', 'credential.key')), 'no key file is written when the key comes from the environment')
})
