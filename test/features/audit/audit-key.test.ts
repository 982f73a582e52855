import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type Database from 'better-sqlite3'
import { migrate, openDatabase } from '../../../src/core/db.js'
import { EventBus } from '../../../src/core/events.js'
import { AuditKeyMissingError, AuditLog, anchorPathFor, auditMigrations, readAnchor } from '../../../src/features/audit/index.js'
import { writeAnchor } from '../../../src/features/audit/anchor.js'
import { GENESIS_HASH, rowHash } from '../../../src/features/audit/chain.js'
import { openRawDb } from '../../support/fixtures.js'
import { startTestGateway } from '../../support/gateway.js'

/**
 * The audit chain is keyed (HMAC-SHA256 under <dataDir>/keys/audit.key or GW_AUDIT_KEY) from the
 * upgrade point on: someone who can write the database and the anchor but not the key can no
 * longer rewrite a row, recompute the chain and the anchor, and pass audit-verify.
 */

const contentOf = (r: any) => ({ id: r.id, at: r.at, actorId: r.actor_id, actor: r.actor, action: r.action, targetType: r.target_type, targetId: r.target_id, unitPath: r.unit_path, client: r.client, detail: r.detail })

/** What a forger without the key does: rehash every row from `fromId` on the unkeyed way (plain SHA-256). */
function rechainUnkeyed(raw: Database.Database, fromId: number): { lastId: number; lastHash: string } {
  raw.exec('DROP TRIGGER IF EXISTS audit_log_no_update')
  let prev = fromId === 1 ? GENESIS_HASH : (raw.prepare('SELECT hash FROM audit_log WHERE id = ?').pluck().get(fromId - 1) as string)
  let lastId = fromId - 1
  for (const r of raw.prepare('SELECT * FROM audit_log WHERE id >= ? ORDER BY id').all(fromId) as any[]) {
    const hash = rowHash(prev, contentOf(r))
    raw.prepare('UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?').run(prev, hash, r.id)
    prev = hash
    lastId = r.id
  }
  return { lastId, lastHash: prev }
}

/** Runs `sharp-eyes-gateway audit-verify` on a data dir, as an operator would. */
function cliVerify(dataDir: string, env: Record<string, string> = {}): Promise<{ code: number; verdict: any }> {
  return new Promise((resolve, reject) => {
    execFile('npx', ['tsx', 'src/cli.ts', 'audit-verify'], { env: { ...process.env, GW_DATA_DIR: dataDir, ...env } }, (err, stdout) => {
      if (err && typeof err.code !== 'number') return reject(err)
      try {
        resolve({ code: err ? (err.code as number) : 0, verdict: JSON.parse(stdout) })
      } catch (parseErr) {
        reject(parseErr)
      }
    })
  })
}

t.test('a row forged, the chain recomputed the unkeyed way and the anchor rewritten: API and CLI report the forgery', async (t) => {
  const gw = await startTestGateway(t)
  const api = gw.as(await gw.login('admin'))
  gw.services.audit.flush()
  t.match((await api.get('/api/audit/verify')).json, { ok: true, anchor: 'ok' }, 'intact before')
  t.equal(readAnchor(anchorPathFor(gw.dataDir)).state, 'present')
  t.match(readFileSync(join(gw.dataDir, 'keys', 'audit.key'), 'utf8'), /^[A-Za-z0-9+/=]{44}\n$/, 'the key lives with the other keys, outside the database')

  const raw = openRawDb(gw.dataDir)
  t.teardown(() => raw.close())
  const victim = raw.prepare("SELECT * FROM audit_log WHERE action = 'auth.login' ORDER BY id DESC LIMIT 1").get() as any
  raw.exec('DROP TRIGGER audit_log_no_update')
  raw.prepare('UPDATE audit_log SET client = ? WHERE id = ?').run('10.66.66.66', victim.id)
  const head = rechainUnkeyed(raw, victim.id)
  // The forger rewrites the anchor too, in either format it has seen.
  writeAnchor(anchorPathFor(gw.dataDir), { version: 1, lastId: head.lastId, lastHash: head.lastHash, at: new Date().toISOString() })

  const verdict = (await api.get('/api/audit/verify')).json
  t.match(verdict, { ok: false, firstBrokenId: victim.id, reason: /keyed hash/ }, 'the forged row is named')
  const cli = await cliVerify(gw.dataDir)
  t.equal(cli.code, 1, 'audit-verify exits 1')
  t.match(cli.verdict, { ok: false, firstBrokenId: victim.id })

  writeAnchor(anchorPathFor(gw.dataDir), { version: 2, lastId: head.lastId, lastHash: head.lastHash, at: new Date().toISOString(), mac: 'ab'.repeat(32) })
  t.match((await api.get('/api/audit/verify')).json, { ok: false, firstBrokenId: victim.id })

  // Without the key the CLI does not pass the log: it says it cannot verify the keyed rows.
  renameSync(join(gw.dataDir, 'keys', 'audit.key'), join(gw.dataDir, 'keys', 'audit.key.away'))
  const blind = await cliVerify(gw.dataDir)
  t.equal(blind.code, 2, 'exit 2: cannot verify')
  t.match(blind.verdict, { ok: false, unverifiable: true, verifiedRows: 0, reason: /cannot verify rows 1–\d+: .*audit key is not available/ })
  t.notOk('firstBrokenId' in blind.verdict)
  renameSync(join(gw.dataDir, 'keys', 'audit.key.away'), join(gw.dataDir, 'keys', 'audit.key'))
})

t.test('an anchor rewritten to name a truncated keyed chain is forged: its MAC does not hold', async (t) => {
  const gw = await startTestGateway(t, { demo: false })
  const api = gw.as(await gw.login('admin'))
  for (let i = 0; i < 5; i++) gw.services.audit.record({ actor: { system: 'test' }, action: 'test.append', detail: { i } })
  gw.services.audit.flush()
  const anchor = readAnchor(anchorPathFor(gw.dataDir))
  t.match(anchor, { state: 'present', anchor: { version: 2, mac: /^[0-9a-f]{64}$/ } }, 'the gateway writes MACed anchors')

  const raw = openRawDb(gw.dataDir)
  t.teardown(() => raw.close())
  const head = raw.prepare('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1').get() as { id: number; hash: string }
  raw.exec('DROP TRIGGER audit_log_no_delete')
  raw.prepare('DELETE FROM audit_log WHERE id > ?').run(head.id - 2)
  const shorter = raw.prepare('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1').get() as { id: number; hash: string }
  for (const version of [1, 2] as const) {
    writeAnchor(anchorPathFor(gw.dataDir), { version, lastId: shorter.id, lastHash: shorter.hash, at: new Date().toISOString(), ...(version === 2 ? { mac: 'cd'.repeat(32) } : {}) })
    t.match((await api.get('/api/audit/verify')).json, { ok: false, anchor: 'forged', reason: /^forged anchor/ }, `a version ${version} anchor`)
  }
})

t.test('an old unkeyed store upgrades: its rows verify up to the upgrade point, keyed from then on, the upgrade sealed', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-audit-upgrade-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // A store as the gateway wrote it before audit-002: plain SHA-256 rows and a version 1 anchor.
  const db = openDatabase(join(dataDir, 'gateway.db'))
  migrate(db, auditMigrations.filter((m) => m.id === 'audit-001'))
  const old = new AuditLog(db, new EventBus(), { anchorPath: anchorPathFor(dataDir) })
  for (let i = 0; i < 6; i++) old.record({ actor: { system: 'old' }, action: 'test.before_upgrade', detail: { i } })
  old.close()
  db.close()
  t.match(readAnchor(anchorPathFor(dataDir)), { state: 'present', anchor: { version: 1, lastId: 6 } })

  const gw = await startTestGateway(t, { demo: false, dataDir })
  const raw = openRawDb(dataDir)
  t.teardown(() => raw.close())
  t.match(raw.prepare('SELECT scheme, keyed_from_id, seal FROM audit_chain').get(), { scheme: 'hmac-sha256', keyed_from_id: 7, seal: /^[0-9a-f]{64}$/ }, 'the upgrade point is recorded and sealed')
  t.ok(raw.prepare("SELECT 1 FROM schema_migrations WHERE id = 'audit-002'").get(), 'the migration is recorded')
  const api = gw.as(await gw.login('admin'))
  gw.services.audit.flush()
  t.match((await api.get('/api/audit/verify')).json, { ok: true, anchor: 'ok' })
  const rows = raw.prepare('SELECT * FROM audit_log ORDER BY id').all() as any[]
  t.ok(rows.length > 7)
  t.equal(rows[5].hash, rowHash(rows[5].prev_hash, contentOf(rows[5])), 'old rows keep their plain hashes')
  t.not(rows[6].hash, rowHash(rows[6].prev_hash, contentOf(rows[6])), 'new rows are not plain SHA-256')
  t.throws(() => raw.prepare('UPDATE audit_chain SET keyed_from_id = 100').run(), /permanent/, 'the sealed record cannot be moved through SQLite')

  // Without the key the old rows still verify, the new ones are reported as unverifiable.
  const keyless = new AuditLog(raw, new EventBus(), { anchorPath: anchorPathFor(dataDir), writeAnchor: false })
  t.match(keyless.verify(), { ok: false, unverifiable: true, verifiedRows: 6 })
  t.throws(() => keyless.record({ actor: { system: 'x' }, action: 'test.keyless' }), AuditKeyMissingError, 'and nothing can be appended without the key')

  // A forger rewrites an old (unkeyed) row and rechains only the unkeyed part: the seal breaks.
  raw.exec('DROP TRIGGER audit_log_no_update')
  raw.prepare("UPDATE audit_log SET detail = '{\"i\":99}' WHERE id = 3").run()
  rechainUnkeyed(raw, 3)
  const verdict = (await api.get('/api/audit/verify')).json
  t.equal(verdict.ok, false)
  t.ok(verdict.firstBrokenId <= 7 && verdict.firstBrokenId >= 3, `the break is found at or before the upgrade point (${verdict.firstBrokenId}: ${verdict.reason})`)

  // … and moving the upgrade point past the end (to verify everything the unkeyed way) breaks the seal too.
  raw.exec('DROP TRIGGER audit_chain_sealed_once')
  const head = raw.prepare('SELECT max(id) FROM audit_log').pluck().get() as number
  raw.prepare('UPDATE audit_chain SET keyed_from_id = ?').run(head + 1)
  const moved = (await api.get('/api/audit/verify')).json
  t.match(moved, { ok: false }, `a moved upgrade point does not pass (${moved.reason})`)
})

t.test('a wrong audit key is reported, never passed', async (t) => {
  const gw = await startTestGateway(t, { demo: false })
  await gw.login('admin')
  gw.services.audit.flush()
  const other = Buffer.alloc(32, 7).toString('hex')
  const cli = await cliVerify(gw.dataDir, { GW_AUDIT_KEY: other })
  t.equal(cli.code, 1)
  t.match(cli.verdict, { ok: false, firstBrokenId: 1, reason: /seal .* does not hold/ })
})

t.test('a lost audit key stops the next start instead of a new key silently failing every keyed row', async (t) => {
  const gw = await startTestGateway(t, { demo: false })
  await gw.close()
  const keyFile = join(gw.dataDir, 'keys', 'audit.key')
  renameSync(keyFile, `${keyFile}.away`)
  await t.rejects(startTestGateway(t, { demo: false, dataDir: gw.dataDir }), { name: 'ConfigError', key: 'GW_AUDIT_KEY', message: /audit\.key is missing .* sealed with it/ })
  renameSync(`${keyFile}.away`, keyFile)
  const again = await startTestGateway(t, { demo: false, dataDir: gw.dataDir })
  t.match(again.services.audit.verify(), { ok: true }, 'the restored key verifies the log')
})
