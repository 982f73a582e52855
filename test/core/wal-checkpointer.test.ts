import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test as Tap } from 'tap'
import { openDatabase } from '../../src/core/db.js'
import { WalCheckpointer, walBytes } from '../../src/core/wal-checkpointer.js'

/**
 * Issue 26: WAL checkpoints (up to 1000 pages copied into the database file, and its fsync) ran
 * inside a commit on the main thread. With a WalCheckpointer the main connection never checkpoints;
 * a worker thread does, on its own connection, and commits stay fsynced (synchronous=FULL).
 */
function store(t: Tap) {
  const dir = mkdtempSync(join(tmpdir(), 'gw-wal-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'gateway.db')
  const db = openDatabase(file)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)')
  const pageSize = db.pragma('page_size', { simple: true }) as number
  /** Commits until the WAL has been written `pages` pages (one commit of a few pages at a time). */
  const commitPages = (pages: number) => {
    const body = 'x'.repeat(pageSize * 2)
    for (let i = 0; i < pages / 3; i++) db.transaction(() => insert.run(body))()
  }
  return { db, file, pageSize, commitPages }
}

t.test('the main connection no longer checkpoints; the worker does, and commits stay durable', async (t) => {
  const { db, file, pageSize, commitPages } = store(t)
  // A worker that only checkpoints when asked: what the main connection does on its own shows.
  const cp = WalCheckpointer.start(db, file, { intervalMs: 3_600_000 })
  t.teardown(() => cp.close())
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'commits are still fsynced (FULL)')
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, 'no auto-checkpoint on the main connection')
  commitPages(2400)
  // SQLite's auto-checkpoint would have copied the WAL at 1000 pages and reused it from the start,
  // keeping the file near 1000 pages; here it holds every page committed.
  t.ok(walBytes(file) > 2000 * pageSize, `the WAL grew past 2000 pages (${Math.round(walBytes(file) / pageSize)}): no checkpoint in a main-thread commit`)
  const r = await cp.checkpointNow()
  t.ok(r.logFrames > 2000 && r.checkpointedFrames === r.logFrames, `the worker checkpointed all ${r.logFrames} frames in ${r.ms.toFixed(1)} ms`)
  t.equal(cp.stats.checkpoints, 1)
  t.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 800, 'the main connection reads every row')
})

t.test('the worker checkpoints by itself once the WAL passes its threshold', async (t) => {
  const { db, file, commitPages } = store(t)
  const cp = WalCheckpointer.start(db, file, { intervalMs: 20, minPages: 300 })
  t.teardown(() => cp.close())
  commitPages(600)
  const deadline = Date.now() + 20_000
  while (cp.stats.checkpoints === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.ok(cp.stats.checkpoints >= 1 && cp.stats.lastCheckpointedFrames >= 300, `${cp.stats.checkpoints} checkpoint(s), the last copied ${cp.stats.lastCheckpointedFrames} frames`)
  t.ok(cp.stats.checkpoints <= 600 / 300 + 1, 'each checkpoint waited for its threshold of new frames')
  // Once checkpointed to its end, the WAL is reused from its start instead of growing.
  const done = await cp.checkpointNow()
  t.equal(done.checkpointedFrames, done.logFrames, 'all frames checkpointed')
  const size = walBytes(file)
  commitPages(150)
  t.ok(walBytes(file) <= size, 'the next commits reuse the checkpointed WAL')
})

t.test('close is idempotent, gives checkpointing back to the connection, and the store closes clean', async (t) => {
  const { db, file, commitPages } = store(t)
  const cp = WalCheckpointer.start(db, file, { intervalMs: 3_600_000 })
  commitPages(30)
  await Promise.all([cp.close(), cp.close()])
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'the connection checkpoints itself again')
  await t.rejects(cp.checkpointNow(), /closed/)
  db.close()
  t.notOk(existsSync(`${file}-wal`), 'the last connection to close checkpointed and removed the WAL')
})
