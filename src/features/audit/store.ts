import type { Db } from '../../core/db.js'
import { subtreeRange, type Scope } from '../../core/scope.js'
import { GENESIS_HASH, rowHash, sameHex, upgradeSeal, type ChainedContent } from './chain.js'

interface AuditRowDb {
  id: number
  at: string
  actor_id: number | null
  actor: string
  action: string
  target_type: string | null
  target_id: string | null
  unit_path: string
  client: string | null
  detail: string
  prev_hash: string
  hash: string
}

export interface AuditEntry {
  id: number
  at: string
  actorId: number | null
  actor: string
  action: string
  targetType: string | null
  targetId: string | null
  unitPath: string
  client: string | null
  detail: Record<string, unknown>
  hash: string
}

export interface AuditQuery {
  afterId?: number
  limit: number
  action?: string
  actor?: string
  targetType?: string
  targetId?: string
  from?: string
  to?: string
}

export type ChainVerdict =
  | { ok: true; rows: number; lastHash: string }
  | { ok: false; rows: number; firstBrokenId: number; reason: string }
  /** keyed rows exist but no audit key was given: the rows before them verified, the rest cannot be */
  | { ok: false; rows: number; unverifiable: true; verifiedRows: number; reason: string }

/**
 * Where the chain switched to keyed hashes (audit-002): `unkeyed` for a store from before that
 * migration (every row plain SHA-256); `lost` when the migration is recorded but its row is gone.
 */
export type ChainRecord = { state: 'unkeyed' } | { state: 'keyed'; keyedFromId: number; seal: string | null } | { state: 'lost' }

/** A keyed row was to be appended without the audit key (a tool or test opened the log without it). */
export class AuditKeyMissingError extends Error {
  constructor() {
    super('the audit log is keyed: appending needs the audit key (GW_AUDIT_KEY or <dataDir>/keys/audit.key)')
    this.name = 'AuditKeyMissingError'
  }
}

const toContent = (r: AuditRowDb): ChainedContent => ({
  id: r.id,
  at: r.at,
  actorId: r.actor_id,
  actor: r.actor,
  action: r.action,
  targetType: r.target_type,
  targetId: r.target_id,
  unitPath: r.unit_path,
  client: r.client,
  detail: r.detail,
})

/**
 * The highest numeric id the audit log names for targets of `targetType` ('camera', 'unit', ...):
 * rows deleted long ago included, so a migration can keep their ids from being given out again.
 */
export function highestAuditedId(db: Db, targetType: string): number {
  // A store with no audit log (a feature's tables migrated on their own) has audited nothing.
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").get() === undefined) return 0
  const id = db.prepare("SELECT max(CAST(target_id AS INTEGER)) FROM audit_log WHERE target_type = ? AND target_id GLOB '[0-9]*'").pluck().get(targetType) as number | null
  return id ?? 0
}

/** The audit log was sealed with an audit key (audit-002 and a first keyed start): that key is needed from now on. */
export function auditLogIsSealed(db: Db): boolean {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_chain'").get() === undefined) return false
  return db.prepare('SELECT 1 FROM audit_chain WHERE seal IS NOT NULL').get() !== undefined
}

export class AuditStore {
  readonly #db: Db
  readonly #last
  readonly #hashAt
  readonly #insert
  readonly #key: Buffer | undefined
  #record: ChainRecord | null = null
  constructor(db: Db, key?: Buffer) {
    this.#db = db
    this.#key = key
    this.#last = db.prepare('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1')
    this.#hashAt = db.prepare('SELECT hash FROM audit_log WHERE id = ?').pluck()
    this.#insert = db.prepare(`INSERT INTO audit_log
      (id, at, actor_id, actor, action, target_type, target_id, unit_path, client, detail, prev_hash, hash)
      VALUES (@id, @at, @actorId, @actor, @action, @targetType, @targetId, @unitPath, @client, @detail, @prevHash, @hash)`)
  }

  /** Appends one row, chained to the last. Runs inside the caller's transaction when there is one. */
  append(content: Omit<ChainedContent, 'id'>): number {
    const last = this.#last.get() as { id: number; hash: string } | undefined
    const id = (last?.id ?? 0) + 1
    const prevHash = last?.hash ?? GENESIS_HASH
    const full = { ...content, id }
    const record = this.chainRecord()
    const keyed = record.state === 'lost' || (record.state === 'keyed' && id >= record.keyedFromId)
    if (keyed && !this.#key) throw new AuditKeyMissingError()
    this.#insert.run({ ...full, prevHash, hash: rowHash(prevHash, full, keyed ? this.#key : undefined) })
    return id
  }

  /** Where the chain became keyed; read once (a store from before audit-002 is read again each time). */
  chainRecord(): ChainRecord {
    if (this.#record) return this.#record
    const tableExists = (name: string) => this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined
    const migrated = tableExists('schema_migrations') && this.#db.prepare("SELECT 1 FROM schema_migrations WHERE id = 'audit-002'").get() !== undefined
    const row = tableExists('audit_chain') ? (this.#db.prepare('SELECT keyed_from_id, seal FROM audit_chain WHERE id = 1').get() as { keyed_from_id: number; seal: string | null } | undefined) : undefined
    if (!row) return migrated || tableExists('audit_chain') ? (this.#record = { state: 'lost' }) : { state: 'unkeyed' }
    return (this.#record = { state: 'keyed', keyedFromId: row.keyed_from_id, seal: row.seal })
  }

  /**
   * Seals the upgrade point with the key when it is not sealed yet and no keyed row exists (the
   * first start after audit-002). Returns what it found; never seals over keyed rows.
   */
  sealUpgrade(key: Buffer): 'sealed' | 'already' | 'unkeyed' | 'lost' | 'keyed_rows_unsealed' | 'wrong_key' {
    const record = this.chainRecord()
    if (record.state !== 'keyed') return record.state
    const boundary = record.keyedFromId === 1 ? GENESIS_HASH : this.hashAt(record.keyedFromId - 1)
    if (record.seal !== null) return boundary !== undefined && sameHex(upgradeSeal(key, record.keyedFromId, boundary), record.seal) ? 'already' : 'wrong_key'
    const head = this.head()
    if ((head?.id ?? 0) >= record.keyedFromId) return 'keyed_rows_unsealed'
    if (boundary === undefined) return 'keyed_rows_unsealed' // rows before the upgrade point are gone: leave it to verify()
    const seal = upgradeSeal(key, record.keyedFromId, boundary)
    this.#db.prepare('UPDATE audit_chain SET seal = ? WHERE id = 1 AND seal IS NULL').run(seal)
    this.#record = { ...record, seal }
    return 'sealed'
  }

  /** The newest row's id and hash, or undefined on an empty log. */
  head(): { id: number; hash: string } | undefined {
    return this.#last.get() as { id: number; hash: string } | undefined
  }

  /** The stored hash of row `id`, or undefined when there is no such row. */
  hashAt(id: number): string | undefined {
    return this.#hashAt.get(id) as string | undefined
  }

  list(scope: Scope, q: AuditQuery): AuditEntry[] {
    const where = ['unit_path >= @lo AND unit_path < @hi']
    const { lo, hi } = subtreeRange(scope.unitPath)
    const params: Record<string, unknown> = { lo, hi, limit: q.limit }
    if (q.afterId !== undefined) {
      where.push('id < @afterId')
      params.afterId = q.afterId
    }
    for (const [key, column] of [
      ['action', 'action'],
      ['actor', 'actor'],
      ['targetType', 'target_type'],
      ['targetId', 'target_id'],
    ] as const) {
      if (q[key] !== undefined) {
        where.push(`${column} = @${key}`)
        params[key] = q[key]
      }
    }
    if (q.from) {
      where.push('at >= @from')
      params.from = q.from
    }
    if (q.to) {
      where.push('at < @to')
      params.to = q.to
    }
    // Newest first: an auditor reads what just happened.
    const rows = this.#db.prepare(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`).all(params) as AuditRowDb[]
    return rows.map((r) => ({ ...toContent(r), detail: JSON.parse(r.detail) as Record<string, unknown>, hash: r.hash }))
  }

  /**
   * Walks the whole chain; reports the first row whose link or content does not hold. Rows from the
   * upgrade point on are checked with the key (this store's, as given to the constructor), after the
   * upgrade seal; without the key they are reported as unverifiable, never as intact.
   */
  verify(): ChainVerdict {
    // Re-read: verify must see the database as it is now, not as it was when this store opened.
    this.#record = null
    const record = this.chainRecord()
    if (record.state === 'lost') {
      return { ok: false, rows: 0, firstBrokenId: 1, reason: 'the record of the switch to keyed hashes (table audit_chain, migration audit-002) is missing: altered?' }
    }
    const keyedFromId = record.state === 'keyed' ? record.keyedFromId : Number.POSITIVE_INFINITY
    let prevHash = GENESIS_HASH
    let expectedId = 1
    let rows = 0
    for (const r of this.#db.prepare('SELECT * FROM audit_log ORDER BY id').iterate() as IterableIterator<AuditRowDb>) {
      rows++
      if (r.id !== expectedId) return { ok: false, rows, firstBrokenId: r.id, reason: `row ${expectedId} is missing (deleted?)` }
      if (r.prev_hash !== prevHash) return { ok: false, rows, firstBrokenId: r.id, reason: 'prev_hash does not match the previous row' }
      if (r.id === keyedFromId && record.state === 'keyed') {
        if (!this.#key) {
          const total = (this.#db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number) ?? rows
          return {
            ok: false,
            rows: total,
            unverifiable: true,
            verifiedRows: r.id - 1,
            reason: `cannot verify rows ${r.id}–${total}: they are keyed (HMAC-SHA256) and the audit key is not available (GW_AUDIT_KEY or <dataDir>/keys/audit.key); rows 1–${r.id - 1} hold`,
          }
        }
        if (record.seal === null) return { ok: false, rows, firstBrokenId: r.id, reason: `the upgrade to keyed hashes at row ${r.id} is not sealed (the record was altered?)` }
        if (!sameHex(upgradeSeal(this.#key, r.id, prevHash), record.seal)) {
          return {
            ok: false,
            rows,
            firstBrokenId: r.id,
            reason: `the seal of the upgrade to keyed hashes at row ${r.id} does not hold: the rows before it were rewritten, the upgrade point was moved, or this is not the audit key that sealed it`,
          }
        }
      }
      const key = r.id >= keyedFromId ? this.#key : undefined
      if (rowHash(prevHash, toContent(r), key) !== r.hash) return { ok: false, rows, firstBrokenId: r.id, reason: `content does not match its ${key ? 'keyed ' : ''}hash (altered?)` }
      prevHash = r.hash
      expectedId++
    }
    // No keyed row yet: the seal still pins the unkeyed rows it was made over.
    if (record.state === 'keyed' && rows === keyedFromId - 1 && this.#key && record.seal !== null && !sameHex(upgradeSeal(this.#key, keyedFromId, prevHash), record.seal)) {
      return { ok: false, rows, firstBrokenId: Math.max(1, rows), reason: `the seal of the upgrade to keyed hashes at row ${keyedFromId} does not hold: the rows before it were rewritten, or this is not the audit key that sealed it` }
    }
    return { ok: true, rows, lastHash: prevHash }
  }
}
