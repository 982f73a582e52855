import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type Database from 'better-sqlite3'
import { migrate, openDatabase } from '../../../src/core/db.js'
import { EventBus } from '../../../src/core/events.js'
import { AuditLog, anchorPathFor, auditMigrations, readAnchor, type AuditAnchor } from '../../../src/features/audit/index.js'
import { GENESIS_HASH, rowHash } from '../../../src/features/audit/chain.js'
import { makeCamera, openRawDb, unit } from '../../support/fixtures.js'
import { DEMO_PASSWORD, startTestGateway } from '../../support/gateway.js'

const gw = await startTestGateway(t)
const admin = gw.as(await gw.login('admin'))
const streetAdmin = gw.as(await gw.login('street.admin'))
const communityAdmin = gw.as(await gw.login('community.admin'))
const tech = gw.as(await gw.login('community.technician'))

const rows = async (query: string) => {
  const res = await admin.get(`/api/audit?limit=500&${query}`)
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json.items as any[]
}

t.test('logins, failed logins, user changes and camera changes are recorded', async (t) => {
  await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'street.patrol', password: 'wrong-password-1' }, remoteAddress: '10.8.8.8' })
  await gw.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'ghost.user', password: 'wrong-password-2' } })
  const login = (await rows('action=auth.login&actor=community.technician'))[0]
  t.match(login, { actor: 'community.technician', targetType: 'user', unitPath: unit(gw, 'JD01-SQ01').path, client: '127.0.0.1' })
  const failed = await rows('action=auth.login_failed')
  t.match(failed.find((r) => r.actor === 'street.patrol'), { client: '10.8.8.8', unitPath: unit(gw, 'JD01').path, detail: { reason: 'wrong password', failedLogins: 1 } })
  t.match(failed.find((r) => r.actor === 'ghost.user'), { unitPath: '/', detail: { reason: 'unknown user' } })
  t.notMatch(JSON.stringify(failed), /wrong-password/, 'the guessed password is not recorded')

  const created = await streetAdmin.post('/api/users', { username: 'audit.subject', unitId: unit(gw, 'JD01-SQ01').id, roles: ['patrol'], password: DEMO_PASSWORD })
  await streetAdmin.patch(`/api/users/${created.json.id}`, { roles: ['patrol', 'researcher'], password: 'another-pass-77' })
  await streetAdmin.delete(`/api/users/${created.json.id}`)
  const userRows = await rows(`targetType=user&targetId=${created.json.id}`)
  t.same(userRows.map((r) => r.action), ['user.delete', 'user.update', 'user.create'])
  t.match(userRows[1].detail, { changes: { roles: ['patrol', 'researcher'] }, passwordChanged: true, before: { roles: ['patrol'] } })
  t.notMatch(JSON.stringify(userRows), /another-pass-77|demo-pass/, 'password changes are recorded without the password')
  t.ok(userRows.every((r) => r.actor === 'street.admin' && r.actorId !== null))

  const cam = await tech.post('/api/cameras', { unitId: unit(gw, 'JD01-SQ01').id, name: '审计 摄像机', class: 2, kind: 'fixed', credentials: { username: 'admin', password: 'Audit-Cam-Pw' } })
  await tech.patch(`/api/cameras/${cam.json.id}`, { name: '审计 摄像机 改', credentials: { username: 'admin', password: 'Audit-Cam-Pw2' } })
  await tech.delete(`/api/cameras/${cam.json.id}`)
  const camRows = await rows(`targetType=camera&targetId=${cam.json.id}`)
  t.same(camRows.map((r) => r.action), ['camera.delete', 'camera.credentials_change', 'camera.update', 'camera.create'])
  t.same(camRows[2].detail, { changed: ['name'] })
  t.notMatch(JSON.stringify(camRows), /Audit-Cam-Pw/)
  t.ok(camRows.every((r) => r.actor === 'community.technician' && r.unitPath === unit(gw, 'JD01-SQ01').path))

  await tech.post('/api/auth/logout')
  t.equal((await rows('action=auth.logout&actor=community.technician')).length, 1)
})

t.test('GET /api/audit is scoped, filterable, newest first, paged', async (t) => {
  const sq02cam = makeCamera(gw, 'JD01-SQ02')
  const mine = (await communityAdmin.get('/api/audit?limit=500')).json.items as any[]
  const sq01 = unit(gw, 'JD01-SQ01').path
  t.ok(mine.length > 5)
  t.ok(mine.every((r) => r.unitPath.startsWith(sq01)), 'a community admin reads only rows of the community’s subtree')
  const sq02row = (gw.services.db.prepare("SELECT max(id) AS id FROM audit_log WHERE action = 'camera.create' AND target_id = ?").get(String(sq02cam.id)) as { id: number }).id
  t.notOk(mine.some((r) => r.id === sq02row), 'not the creation of another community’s camera')
  t.notOk(mine.some((r) => r.unitPath === '/'), 'not gateway-wide rows (unknown-user logins, first run)')
  t.ok((await streetAdmin.get('/api/audit?limit=500')).json.items.some((r: any) => r.id === sq02row), 'the street does see it')
  t.equal((await gw.as(await gw.login('community.patrol')).get('/api/audit')).statusCode, 403, 'reading the audit log is for admins')

  const all = await rows('')
  t.ok(all.every((r, i) => i === 0 || r.id < all[i - 1].id), 'newest first')
  t.same((await rows('action=camera.create')).map((r) => r.action), Array(all.filter((r) => r.action === 'camera.create').length).fill('camera.create'))
  const from = all[Math.floor(all.length / 2)].at
  t.ok((await rows(`from=${encodeURIComponent(from)}`)).every((r) => r.at >= from))
  t.ok((await rows(`to=${encodeURIComponent(from)}`)).every((r) => r.at < from))

  const seen: number[] = []
  let cursor: string | null = null
  do {
    const page: { json: any } = await admin.get(`/api/audit?limit=17${cursor ? `&cursor=${cursor}` : ''}`)
    seen.push(...page.json.items.map((r: any) => r.id))
    cursor = page.json.nextCursor
  } while (cursor)
  t.same(seen, all.map((r) => r.id).filter((id) => id <= seen[0]!), 'pages walk every row once')
  t.same((await admin.get('/api/audit?cursor=nonsense')).json.errors.map((e: any) => e.field), ['query.cursor'])
  t.same((await admin.get('/api/audit?from=yesterday')).json.errors.map((e: any) => e.field), ['query.from'])
})

t.test('every row carries the keyed hash (HMAC under the audit key) of its predecessor and of its own content', async (t) => {
  const raw = openRawDb(gw.dataDir)
  const all = raw.prepare('SELECT * FROM audit_log ORDER BY id').all() as any[]
  raw.close()
  const key = Buffer.from(readFileSync(join(gw.dataDir, 'keys', 'audit.key'), 'utf8').trim(), 'base64')
  t.equal(all[0].prev_hash, GENESIS_HASH)
  let prev = GENESIS_HASH
  for (const r of all) {
    t.equal(r.prev_hash, prev)
    t.equal(r.hash, rowHash(prev, { id: r.id, at: r.at, actorId: r.actor_id, actor: r.actor, action: r.action, targetType: r.target_type, targetId: r.target_id, unitPath: r.unit_path, client: r.client, detail: r.detail }, key))
    prev = r.hash
  }
  const verdict = await admin.get('/api/audit/verify')
  t.equal(verdict.statusCode, 200)
  t.match(verdict.json, { ok: true, rows: all.length, lastHash: prev, anchor: 'ok' })
  t.notOk('warning' in verdict.json)
  t.equal((await tech.get('/api/audit/verify')).statusCode, 401, 'logged out above')
  t.equal((await gw.as(await gw.login('site.researcher')).get('/api/audit/verify')).statusCode, 403)
})

t.test('only a gateway administrator (scope: the whole tree) verifies the chain; other admins get 403 naming why', async (t) => {
  t.equal((await admin.get('/api/audit/verify')).statusCode, 200, 'the gateway administrator, above every street')
  const siteAdmin = gw.as(await gw.login('site.admin'))
  for (const [who, api, path] of [
    ['street admin', streetAdmin, unit(gw, 'JD01').path],
    ['community admin', communityAdmin, unit(gw, 'JD01-SQ01').path],
    ['site admin', siteAdmin, null],
  ] as const) {
    const res = await api.get('/api/audit/verify')
    t.equal(res.statusCode, 403, who)
    t.match(res.headers['content-type'], /application\/problem\+json/)
    t.match(res.json, { code: 'forbidden', requiredScope: '/', detail: /only a gateway administrator/ }, who)
    if (path) t.match(res.json.detail, path, `${who}: the detail names the caller's own subtree`)
    t.notMatch(res.body, /"rows"|lastHash/, `${who}: learns nothing of the chain`)
    t.equal((await api.get('/api/audit?limit=1')).statusCode, 200, `${who}: still reads the rows of its subtree`)
  }
  t.equal(gw.services.audit.verify().ok, true, 'system callers (the CLI, jobs) verify without a principal')
})

t.test('the append-only triggers refuse UPDATE and DELETE, even from another connection', async (t) => {
  const raw = openRawDb(gw.dataDir)
  t.teardown(() => raw.close())
  t.throws(() => raw.prepare("UPDATE audit_log SET detail = '{}' WHERE id = 3").run(), { message: /append-only/ })
  t.throws(() => raw.prepare('DELETE FROM audit_log WHERE id = 3').run(), { message: /append-only/ })
})

t.test('a row altered directly in SQLite is found: ok:false, firstBrokenId = that row', async (t) => {
  const raw = openRawDb(gw.dataDir)
  t.teardown(() => raw.close())
  const victim = raw.prepare("SELECT id, detail FROM audit_log WHERE action = 'user.update' ORDER BY id DESC LIMIT 1").get() as { id: number; detail: string }
  raw.exec('DROP TRIGGER audit_log_no_update')
  raw.prepare('UPDATE audit_log SET detail = ? WHERE id = ?').run(victim.detail.replace('"passwordChanged":true', '"passwordChanged":false'), victim.id)
  const res = await admin.get('/api/audit/verify')
  t.equal(res.statusCode, 200)
  t.match(res.json, { ok: false, firstBrokenId: victim.id, reason: /altered/ })
  t.equal(res.json.rows, victim.id, 'it stopped at the broken row')

  raw.prepare('UPDATE audit_log SET detail = ? WHERE id = ?').run(victim.detail, victim.id)
  t.match((await admin.get('/api/audit/verify')).json, { ok: true }, 'restoring the content restores the chain')

  // a forger recomputes the altered row's own hash without the audit key: it is not the keyed hash
  const row = raw.prepare('SELECT * FROM audit_log WHERE id = ?').get(victim.id) as any
  const forged = { id: row.id, at: row.at, actorId: row.actor_id, actor: 'someone.else', action: row.action, targetType: row.target_type, targetId: row.target_id, unitPath: row.unit_path, client: row.client, detail: row.detail }
  raw.prepare('UPDATE audit_log SET actor = ?, hash = ? WHERE id = ?').run('someone.else', rowHash(row.prev_hash, forged), victim.id)
  t.match((await admin.get('/api/audit/verify')).json, { ok: false, firstBrokenId: victim.id, reason: /keyed hash/ })
  // with the key it could make the row's own hash, and the next row's link would still break
  const key = Buffer.from(readFileSync(join(gw.dataDir, 'keys', 'audit.key'), 'utf8').trim(), 'base64')
  raw.prepare('UPDATE audit_log SET hash = ? WHERE id = ?').run(rowHash(row.prev_hash, forged, key), victim.id)
  t.match((await admin.get('/api/audit/verify')).json, { ok: false, firstBrokenId: victim.id + 1, reason: /prev_hash/ })
  raw.prepare('UPDATE audit_log SET actor = ?, hash = ? WHERE id = ?').run(row.actor, row.hash, victim.id)
  t.match((await admin.get('/api/audit/verify')).json, { ok: true })
  raw.exec("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")
})

t.test('a row deleted directly in SQLite is found too', async (t) => {
  const raw = openRawDb(gw.dataDir)
  t.teardown(() => raw.close())
  const victim = raw.prepare("SELECT id FROM audit_log WHERE action = 'camera.credentials_change' ORDER BY id DESC LIMIT 1").get() as { id: number }
  raw.exec('DROP TRIGGER audit_log_no_delete')
  raw.prepare('DELETE FROM audit_log WHERE id = ?').run(victim.id)
  const res = await admin.get('/api/audit/verify')
  t.match(res.json, { ok: false, firstBrokenId: victim.id + 1 })
  t.match(res.json.reason, `row ${victim.id} is missing`)

  // the gateway keeps appending after the gap; the verdict still points at the first break
  await admin.post('/api/units', { tier: 'site', parentId: unit(gw, 'JD01-SQ08').id, code: 'JD01-WY77', name: '审计之后' })
  t.match((await admin.get('/api/audit/verify')).json, { ok: false, firstBrokenId: victim.id + 1 })
})

t.test('the chain survives a restart and keeps growing from its last hash', async (t) => {
  const t2 = await startTestGateway(t, { demo: false })
  const before = t2.services.audit.verify()
  t.equal(before.ok, true)
  const again = await t2.restart()
  t.teardown(() => again.close())
  const api = again.as(await again.login('admin'))
  const after = await api.get('/api/audit/verify')
  t.equal(after.json.ok, true)
  t.ok(after.json.rows > (before as { rows: number }).rows, 'the login after the restart was appended')
  const raw = openRawDb(again.dataDir)
  const first = raw.prepare('SELECT prev_hash FROM audit_log WHERE id = ?').get((before as { rows: number }).rows + 1) as { prev_hash: string }
  raw.close()
  t.equal(first.prev_hash, (before as { lastHash: string }).lastHash, 'the first row after the restart links to the last one before it')
})

// --- the head anchor outside the database ---------------------------------------------------------

const anchorOf = (dataDir: string): AuditAnchor => {
  const read = readAnchor(anchorPathFor(dataDir))
  if (read.state !== 'present') throw new Error(`anchor ${read.state}`)
  return read.anchor
}
const headOf = (db: Database.Database) => db.prepare('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1').get() as { id: number; hash: string }
/** the head as the data file holds it, read over a connection of its own */
const fileHeadOf = (dataDir: string) => {
  const raw = openRawDb(dataDir)
  try {
    return headOf(raw)
  } finally {
    raw.close()
  }
}
const appendMany = (g: { services: { audit: AuditLog } }, n: number) => {
  for (let i = 0; i < n; i++) g.services.audit.record({ actor: { system: 'test' }, action: 'test.append', detail: { i } })
}

t.test('the anchor is written on close, read back at the next start, and throttled in between', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-anchor-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // a long interval: after the first write, nothing is rewritten until close
  const first = await startTestGateway(t, { demo: false, dataDir, overrides: { audit: { anchorIntervalMs: 3_600_000 } } })
  await first.login('admin')
  const writesBefore = first.services.audit.anchorWrites
  t.ok(writesBefore <= 1, 'at most the start-up write so far')
  for (let round = 0; round < 20; round++) {
    appendMany(first, 25)
    await new Promise((resolve) => setImmediate(resolve)) // let any due timer run between bursts
  }
  t.ok(first.services.audit.anchorWrites - writesBefore <= 1, `500 appends in 20 bursts cost at most one anchor write (${first.services.audit.anchorWrites - writesBefore})`)
  const head = headOf(first.services.db)
  t.ok(!existsSync(anchorPathFor(dataDir)) || anchorOf(dataDir).lastId < head.id, 'the file lags the head until the throttle or close')
  await first.close()
  await first.close() // idempotent
  t.match(anchorOf(dataDir), { version: 2, lastId: head.id, lastHash: head.hash }, 'close wrote the head')
  t.same(readdirSync(dataDir).filter((f) => f.includes('.tmp')), [], 'no temporary file is left behind')

  const second = await startTestGateway(t, { demo: false, dataDir })
  const verdict = second.services.audit.verify()
  t.match(verdict, { ok: true, anchor: 'ok', anchorLastId: head.id, anchorAt: anchorOf(dataDir).at }, 'the next start verifies against it')
  const api = second.as(await second.login('admin'))
  t.match((await api.get('/api/audit/verify')).json, { ok: true, anchor: 'ok' })
  await second.close()
  t.equal(anchorOf(dataDir).lastId, fileHeadOf(dataDir).id, 'and moves on with the chain')
})

t.test('rows deleted from the end are found: truncated, with the anchor’s row and the chain’s end', async (t) => {
  const gw1 = await startTestGateway(t, { demo: false })
  await gw1.login('admin')
  appendMany(gw1, 10)
  const again = await gw1.restart() // close: the anchor names the head
  const anchor = anchorOf(again.dataDir)
  await again.close()
  t.equal(anchor.lastId, fileHeadOf(again.dataDir).id)

  const raw = openRawDb(again.dataDir)
  raw.exec('DROP TRIGGER audit_log_no_delete')
  raw.prepare('DELETE FROM audit_log WHERE id > ?').run(anchor.lastId - 4)
  raw.close()

  const third = await startTestGateway(t, { demo: false, dataDir: again.dataDir })
  const verdict = third.services.audit.verify()
  t.match(verdict, { ok: false, rows: anchor.lastId - 4, firstBrokenId: anchor.lastId - 3, anchor: 'truncated', anchorLastId: anchor.lastId })
  t.equal((verdict as { reason: string }).reason, `truncated: the anchor (written ${anchor.at}) names row ${anchor.lastId}, the chain ends at row ${anchor.lastId - 4}`)

  // the gateway appends past the gap again (ids are reused): the anchor is kept as evidence
  appendMany(third, 8)
  third.services.audit.flush()
  t.same(anchorOf(third.dataDir), anchor, 'the anchor is not overwritten by a chain that does not extend it')
  const api = third.as(await third.login('admin'))
  const res = await api.get('/api/audit/verify')
  t.match(res.json, { ok: false, firstBrokenId: anchor.lastId, anchor: 'rewritten', reason: new RegExp(`^rewritten: the anchor \\(written ${anchor.at.replace(/[.]/g, '\\.')}\\) names row ${anchor.lastId} with hash ${anchor.lastHash.slice(0, 16)}`) })
  await third.close()
  t.same(anchorOf(third.dataDir), anchor, 'nor on close')

  // an operator who has investigated moves the anchor aside: a fresh one is written
  rmSync(anchorPathFor(third.dataDir))
  const fourth = await startTestGateway(t, { demo: false, dataDir: third.dataDir })
  fourth.services.audit.flush()
  t.match(fourth.services.audit.verify(), { ok: true, anchor: 'ok', anchorLastId: headOf(fourth.services.db).id })
})

t.test('a missing anchor is a warning on a log with rows, nothing on an empty log; an unusable one is a warning', async (t) => {
  const gw1 = await startTestGateway(t, { demo: false })
  const api = gw1.as(await gw1.login('admin'))
  gw1.services.audit.flush()
  t.ok(existsSync(anchorPathFor(gw1.dataDir)))
  rmSync(anchorPathFor(gw1.dataDir)) // as on the first start after an upgrade
  const res = await api.get('/api/audit/verify')
  t.equal(res.statusCode, 200)
  t.match(res.json, { ok: true, anchor: 'missing', warning: /anchor file .* is missing/ })
  t.notOk('anchorLastId' in res.json)

  writeFileSync(anchorPathFor(gw1.dataDir), '{"lastId": "many"}')
  t.match((await api.get('/api/audit/verify')).json, { ok: true, anchor: 'invalid', warning: /unusable/ })

  const dir = mkdtempSync(join(tmpdir(), 'gw-anchor-empty-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = openDatabase(join(dir, 'gateway.db'))
  t.teardown(() => db.close())
  migrate(db, auditMigrations)
  const empty = new AuditLog(db, new EventBus(), { anchorPath: anchorPathFor(dir), writeAnchor: false, key: randomBytes(32) })
  t.same(empty.verify(), { ok: true, rows: 0, lastHash: GENESIS_HASH }, 'an empty log without an anchor is fine')
})

t.test('the head is logged at start, every headLogRows rows and on close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-anchor-log-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = openDatabase(join(dir, 'gateway.db'))
  t.teardown(() => db.close())
  migrate(db, auditMigrations)
  const lines: { obj: any; msg: string }[] = []
  const log = { info: (obj: object, msg: string) => lines.push({ obj, msg }), error: (obj: object, msg: string) => lines.push({ obj, msg }) }
  const audit = new AuditLog(db, new EventBus(), { anchorPath: anchorPathFor(dir), anchorIntervalMs: 3_600_000, headLogRows: 5, headLogMinutes: 10, log, key: randomBytes(32) })
  for (let i = 0; i < 12; i++) {
    audit.record({ actor: { system: 'test' }, action: 'test.append' })
    audit.flush()
  }
  audit.close()
  audit.close()
  const heads = lines.filter((l) => l.msg === 'audit head')
  t.same(heads.map((l) => [l.obj.trigger, l.obj.auditHead.lastId]), [['rows', 5], ['rows', 10], ['close', 12]])
  const row12 = db.prepare('SELECT hash FROM audit_log WHERE id = 12').pluck().get()
  t.equal(heads.at(-1)!.obj.auditHead.lastHash, row12)
  t.equal(anchorOf(dir).lastId, 12)
})

t.test('the throttled anchor write is written and fsynced off the event loop, and never replaces a newer anchor', async (t) => {
  // Issue 26: the throttle's write (a temporary file, its fsync, a rename, the directory's fsync)
  // ran on the main thread once a second; with footage on the same disk an fsync takes long.
  const dir = mkdtempSync(join(tmpdir(), 'gw-anchor-bg-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = openDatabase(join(dir, 'gateway.db'))
  t.teardown(() => db.close())
  migrate(db, auditMigrations)
  const path = anchorPathFor(dir)
  const afterDueTimers = () => new Promise((resolve) => setTimeout(resolve, 0))

  const key = randomBytes(32)
  const audit = new AuditLog(db, new EventBus(), { anchorPath: path, anchorIntervalMs: 0, key })
  audit.record({ actor: { system: 'test' }, action: 'test.append' }) // the throttle's flush is due at once
  await afterDueTimers() // runs right after the throttle's timer, in the same turn of the loop
  t.equal(readAnchor(path).state, 'missing', 'when the throttle has run, the anchor is not written yet: its file is written and fsynced on the thread pool')
  const deadline = Date.now() + 10_000
  while (readAnchor(path).state === 'missing' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  t.match(anchorOf(dir), { lastId: 1 }, 'then it is in place')
  await audit.close()
  t.equal(audit.anchorWrites, 1)

  // A synchronous flush (or close) overtakes a background write in flight: the older one is dropped.
  const second = new AuditLog(db, new EventBus(), { anchorPath: path, anchorIntervalMs: 0, key })
  second.record({ actor: { system: 'test' }, action: 'test.append' }) // row 2: a background write starts
  await afterDueTimers()
  second.record({ actor: { system: 'test' }, action: 'test.append' }) // row 3
  second.flush() // written in place at once
  t.equal(anchorOf(dir).lastId, 3, 'flush() writes at once')
  await second.close() // waits for the background write of row 2
  t.equal(anchorOf(dir).lastId, 3, 'the older background write did not replace the newer anchor')
  t.same(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'its temporary file is gone')
  t.match(second.verify(), { ok: true, anchor: 'ok', anchorLastId: 3 })
})
