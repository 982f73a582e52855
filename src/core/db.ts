import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export type Db = Database.Database

/** One schema change, owned by a feature. Ids are `<feature>-<nnn>` and never change once shipped. */
export interface Migration {
  id: string
  up: string | ((db: Db) => void)
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
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  return db
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
    db.transaction(() => {
      if (typeof m.up === 'string') db.exec(m.up)
      else m.up(db)
      record.run(m.id)
    })()
    applied.push(m.id)
  }
  return applied
}

/**
 * Runs `fn` in a transaction: committed when it returns, rolled back when it throws. Nested calls
 * become savepoints (better-sqlite3 semantics), so services can compose.
 */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn)()
}

export const nowIso = () => new Date().toISOString()
