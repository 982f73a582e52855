import type { Db } from '../../core/db.js'
import { subtreeRange, type Scope } from '../../core/scope.js'
import { GENESIS_HASH, rowHash, type ChainedContent } from './chain.js'

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

export class AuditStore {
  readonly #db: Db
  readonly #last
  readonly #hashAt
  readonly #insert
  constructor(db: Db) {
    this.#db = db
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
    this.#insert.run({ ...full, prevHash, hash: rowHash(prevHash, full) })
    return id
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

  /** Walks the whole chain; reports the first row whose link or content does not hold. */
  verify(): ChainVerdict {
    let prevHash = GENESIS_HASH
    let expectedId = 1
    let rows = 0
    for (const r of this.#db.prepare('SELECT * FROM audit_log ORDER BY id').iterate() as IterableIterator<AuditRowDb>) {
      rows++
      if (r.id !== expectedId) return { ok: false, rows, firstBrokenId: r.id, reason: `row ${expectedId} is missing (deleted?)` }
      if (r.prev_hash !== prevHash) return { ok: false, rows, firstBrokenId: r.id, reason: 'prev_hash does not match the previous row' }
      if (rowHash(prevHash, toContent(r)) !== r.hash) return { ok: false, rows, firstBrokenId: r.id, reason: 'content does not match its hash (altered?)' }
      prevHash = r.hash
      expectedId++
    }
    return { ok: true, rows, lastHash: prevHash }
  }
}
