import Database from 'better-sqlite3'
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

export type Db = Database.Database

/** One schema change, owned by a feature. Ids are `<feature>-<nnn>` and never change once shipped. */
export interface Migration {
  id: string
  up: string | ((db: Db) => void)
  /**
   * The migration rebuilds tables (see neverReuseIds): it runs with foreign-key enforcement off,
   * which SQLite allows only outside a transaction, and every key is checked before it commits.
   */
  rebuildsTables?: boolean
}

/**
 * Opens the embedded store.
 *
 * WAL lets readers (API lists) run while a writer commits. `synchronous=FULL` fsyncs the WAL on
 * every commit: cases, alarms, audit rows and evidence indexes must survive a power cut once the
 * API has acknowledged them. NORMAL would be faster but can lose the last commits on power loss.
 * High-volume writes that could tolerate loss (health samples) are batched into one transaction
 * per sweep instead, which keeps FULL affordable.
 */
export function openDatabase(file: string): Db {
  if (file !== ':memory:') {
    // The data folder holds the store, keys, anchor and footage: the gateway's account only.
    const dir = dirname(file)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    restrictMode(dir, 0o700)
    // SQLite creates a database 0644 and gives its -wal and -shm files the database's mode: create
    // it 0600 first, and tighten files an older gateway left readable.
    closeSync(openSync(file, 'a', 0o600))
    for (const f of [file, `${file}-wal`, `${file}-shm`]) restrictMode(f, 0o600)
  }
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  return db
}

/** Takes away any permission beyond `mode` (a missing file, or one we do not own, is left alone). */
export function restrictMode(path: string, mode: number): void {
  try {
    if ((statSync(path).mode & 0o777 & ~mode) !== 0) chmodSync(path, mode)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'EPERM') throw err
  }
}

/** Applies, in order, every migration not yet recorded. Each runs in its own transaction. */
export function migrate(db: Db, migrations: Migration[]): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    id TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
  )`)
  const seen = new Set<string>()
  for (const m of migrations) {
    if (seen.has(m.id)) throw new Error(`duplicate migration id ${m.id}`)
    seen.add(m.id)
  }
  const done = new Set((db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id))
  const applied: string[] = []
  const record = db.prepare('INSERT INTO schema_migrations (id) VALUES (?)')
  for (const m of migrations) {
    if (done.has(m.id)) continue
    const keysWereOn = m.rebuildsTables === true && db.pragma('foreign_keys', { simple: true }) === 1
    if (m.rebuildsTables) db.pragma('foreign_keys = OFF')
    try {
      db.transaction(() => {
        if (typeof m.up === 'string') db.exec(m.up)
        else m.up(db)
        if (m.rebuildsTables) {
          const broken = db.pragma('foreign_key_check') as unknown[]
          if (broken.length > 0) throw new Error(`migration ${m.id} would leave ${broken.length} broken foreign keys: ${JSON.stringify(broken.slice(0, 3))}`)
        }
        record.run(m.id)
      })()
    } finally {
      if (keysWereOn) db.pragma('foreign_keys = ON')
    }
    applied.push(m.id)
  }
  return applied
}

/**
 * Rebuilds `table` (whose key is `id INTEGER PRIMARY KEY`) with AUTOINCREMENT, so a deleted row's
 * id is never given to a new row: without it SQLite reuses the highest id once that row is deleted,
 * and what still names the old row (footage kept as evidence, audit entries, unit paths) would
 * then name the new one. Ids go on from `highestIdUsed` when that is above every id present (the
 * caller knows of rows deleted before this ran, e.g. from the audit log). Rows, indexes and
 * triggers are kept; other tables' keys referring to it stay valid. For a migration with
 * `rebuildsTables`. Does nothing if the table has AUTOINCREMENT already.
 */
export function neverReuseIds(db: Db, table: string, highestIdUsed = 0): void {
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`)
  const def = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string } | undefined
  if (!def) throw new Error(`no table ${table}`)
  if (/\bAUTOINCREMENT\b/i.test(def.sql)) return
  const key = /\bid\s+INTEGER\s+PRIMARY\s+KEY\b/i
  if (!key.test(def.sql)) throw new Error(`${table} has no "id INTEGER PRIMARY KEY" column`)
  const rebuilt = `${table}__rebuilt`
  const create = def.sql.replace(key, 'id INTEGER PRIMARY KEY AUTOINCREMENT').replace(/^CREATE TABLE\s+"?\w+"?/i, `CREATE TABLE ${rebuilt}`)
  // Indexes and triggers go with the old table: kept to be made again on the new one.
  const attached = db.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL").all(table) as { sql: string }[]
  const columns = (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => `"${c.name}"`).join(', ')
  db.exec(create)
  db.exec(`INSERT INTO ${rebuilt} (${columns}) SELECT ${columns} FROM ${table}`)
  db.exec(`DROP TABLE ${table}`)
  db.exec(`ALTER TABLE ${rebuilt} RENAME TO ${table}`)
  for (const a of attached) db.exec(a.sql)
  const highest = Math.max(highestIdUsed, (db.prepare(`SELECT max(id) AS id FROM ${table}`).get() as { id: number | null }).id ?? 0)
  db.prepare('DELETE FROM sqlite_sequence WHERE name = ?').run(table)
  db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table, highest)
}

/**
 * Runs `fn` in a transaction: committed when it returns, rolled back when it throws. Nested calls
 * become savepoints (better-sqlite3 semantics), so services can compose.
 */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn)()
}

export const nowIso = () => new Date().toISOString()
