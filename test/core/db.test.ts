import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { migrate, neverReuseIds, openDatabase, type Db } from '../../src/core/db.js'

/** A parent table whose ids a child table, an index and a trigger depend on, as the features' tables do. */
function shopDb(): Db {
  const db = openDatabase(':memory:')
  migrate(db, [
    {
      id: 'shop-001',
      up: `
        CREATE TABLE shelves (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES shelves(id), name TEXT NOT NULL UNIQUE);
        CREATE INDEX shelves_parent ON shelves (parent_id);
        CREATE TABLE items (id INTEGER PRIMARY KEY, shelf_id INTEGER NOT NULL REFERENCES shelves(id) ON DELETE CASCADE);
        CREATE TABLE shelf_log (shelf_id INTEGER, what TEXT);
        CREATE TRIGGER shelves_logged AFTER INSERT ON shelves BEGIN INSERT INTO shelf_log VALUES (new.id, 'created'); END;
      `,
    },
  ])
  return db
}

const insertShelf = (db: Db, name: string, parent: number | null = null) => Number(db.prepare('INSERT INTO shelves (parent_id, name) VALUES (?, ?)').run(parent, name).lastInsertRowid)

t.test('without AUTOINCREMENT SQLite gives a deleted highest id again: the reason for neverReuseIds', async (t) => {
  const db = shopDb()
  insertShelf(db, 'a')
  const b = insertShelf(db, 'b')
  db.prepare('DELETE FROM shelves WHERE id = ?').run(b)
  t.equal(insertShelf(db, 'c'), b, 'the id of the deleted row')
  db.close()
})

t.test('a rebuilding migration: ids never reused, rows, indexes, triggers and foreign keys kept', async (t) => {
  const db = shopDb()
  const a = insertShelf(db, 'a')
  const b = insertShelf(db, 'b', a)
  db.prepare('INSERT INTO items (shelf_id) VALUES (?), (?)').run(a, b)
  const gone = insertShelf(db, 'gone')
  db.prepare('DELETE FROM shelves WHERE id = ?').run(gone)

  t.same(migrate(db, [{ id: 'shop-002', rebuildsTables: true, up: (db) => neverReuseIds(db, 'shelves', 7) }]), ['shop-002'])
  t.match(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'shelves'").pluck().get(), /id INTEGER PRIMARY KEY AUTOINCREMENT/)
  t.same(db.prepare('SELECT id, parent_id, name FROM shelves ORDER BY id').all(), [{ id: a, parent_id: null, name: 'a' }, { id: b, parent_id: a, name: 'b' }], 'the rows, as they were')
  t.same(db.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'shelves' AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY name").pluck().all(), ['shelves_logged', 'shelves_parent'])

  const next = insertShelf(db, 'new')
  t.equal(next, 8, 'ids go on above the highest ever used (7, known to the caller)')
  t.same(db.prepare('SELECT what FROM shelf_log WHERE shelf_id = ?').pluck().all(next), ['created'], 'the trigger fires')
  t.throws(() => insertShelf(db, 'a'), /UNIQUE/, 'constraints kept')
  db.prepare('DELETE FROM shelves WHERE id = ?').run(next)
  t.equal(insertShelf(db, 'newer'), 9, 'a deleted id is not given again')

  t.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys enforced again after the migration')
  t.throws(() => db.prepare('INSERT INTO items (shelf_id) VALUES (?)').run(999), /FOREIGN KEY/, 'the child table still refers to the rebuilt one')
  db.prepare('DELETE FROM shelves WHERE id = ?').run(b)
  t.equal(db.prepare('SELECT count(*) FROM items WHERE shelf_id = ?').pluck().get(b), 0, 'ON DELETE CASCADE still works')

  neverReuseIds(db, 'shelves', 1000)
  t.equal(insertShelf(db, 'again'), 10, 'a second call does nothing: the table has AUTOINCREMENT already')
  db.close()
})

t.test('a rebuilding migration that would break a foreign key is rolled back, and keys are enforced again', async (t) => {
  const db = shopDb()
  const a = insertShelf(db, 'a')
  db.prepare('INSERT INTO items (shelf_id) VALUES (?)').run(a)
  t.throws(
    () => migrate(db, [{ id: 'shop-002', rebuildsTables: true, up: (db) => db.exec(`DELETE FROM shelves`) }]),
    /migration shop-002 would leave 1 broken foreign keys/,
  )
  t.equal(db.prepare('SELECT count(*) FROM shelves').pluck().get(), 1, 'rolled back')
  t.equal(db.prepare("SELECT count(*) FROM schema_migrations WHERE id = 'shop-002'").pluck().get(), 0, 'not recorded')
  t.equal(db.pragma('foreign_keys', { simple: true }), 1)
  db.close()
})

t.test('neverReuseIds refuses what it cannot rebuild', async (t) => {
  const db = shopDb()
  db.exec('CREATE TABLE keyed_by_text (id TEXT PRIMARY KEY)')
  t.throws(() => neverReuseIds(db, 'keyed_by_text'), /has no "id INTEGER PRIMARY KEY" column/)
  t.throws(() => neverReuseIds(db, 'missing'), /no table missing/)
  t.throws(() => neverReuseIds(db, 'shelves; DROP TABLE items'), /not a table name/)
  db.close()
})

t.test('the data folder is 0700 and the database, its WAL and shared memory 0600, also when an older gateway left them readable', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gw-modes-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const modeOf = (p: string) => statSync(p).mode & 0o777
  // a fresh data folder, made with the ordinary umask (022): no mode but ours
  const fresh = join(root, 'fresh', 'data')
  const db = openDatabase(join(fresh, 'gateway.db'))
  db.exec('CREATE TABLE x (a); INSERT INTO x VALUES (1)')
  t.equal(modeOf(fresh), 0o700, 'data folder')
  for (const f of ['gateway.db', 'gateway.db-wal', 'gateway.db-shm']) t.equal(modeOf(join(fresh, f)), 0o600, f)
  db.close()

  // a store from before: folder 0755, files 0644
  const old = join(root, 'old')
  mkdirSync(old, { mode: 0o755 })
  chmodSync(old, 0o755)
  for (const f of ['gateway.db-wal', 'gateway.db-shm']) writeFileSync(join(old, f), '')
  const first = openDatabase(join(old, 'gateway.db'))
  first.close()
  for (const f of ['gateway.db', 'gateway.db-wal', 'gateway.db-shm']) if (statSync(join(old, f), { throwIfNoEntry: false })) chmodSync(join(old, f), 0o644)
  chmodSync(old, 0o755)
  const again = openDatabase(join(old, 'gateway.db'))
  t.equal(modeOf(old), 0o700, 'tightened folder')
  t.equal(modeOf(join(old, 'gateway.db')), 0o600, 'tightened database')
  again.close()
})
