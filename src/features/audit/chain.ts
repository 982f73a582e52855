import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

/** The hash chain of the audit log: each row commits to the previous row's hash and its own content. */
export const GENESIS_HASH = '0'.repeat(64)

/**
 * How rows from `audit_chain.keyed_from_id` on are hashed: HMAC-SHA256 under the audit key, which
 * is kept with the other keys (GW_AUDIT_KEY or <dataDir>/keys/audit.key), never in the database
 * or the anchor. Rows before it (written before the upgrade, audit-002) keep their plain SHA-256.
 */
export const KEYED_SCHEME = 'hmac-sha256'

export interface ChainedContent {
  id: number
  at: string
  actorId: number | null
  actor: string
  action: string
  targetType: string | null
  targetId: string | null
  unitPath: string
  client: string | null
  detail: string
}

/**
 * A row's hash: plain SHA-256 without a key (rows before the upgrade), HMAC-SHA256 with one. With a
 * key, whoever rewrites a row cannot compute a hash the verifier accepts, however they recompute
 * the chain around it.
 */
export function rowHash(prevHash: string, c: ChainedContent, key?: Buffer): string {
  // A JSON array fixes field order and escapes separators, so no two contents share an encoding.
  const canonical = JSON.stringify([c.id, c.at, c.actorId, c.actor, c.action, c.targetType, c.targetId, c.unitPath, c.client, c.detail])
  const h = key ? createHmac('sha256', key) : createHash('sha256')
  return h.update(prevHash).update('\n').update(canonical).digest('hex')
}

/**
 * The seal of the upgrade point: binds the first keyed row's id and the hash of the last unkeyed
 * row to the key. Moving the upgrade point (to verify keyed rows the unkeyed way) or rewriting the
 * unkeyed history under it breaks the seal, and only the key holder can make a new one.
 */
export function upgradeSeal(key: Buffer, keyedFromId: number, boundaryHash: string): string {
  return createHmac('sha256', key).update(`sharp-eyes-audit-chain\n${KEYED_SCHEME}\n${keyedFromId}\n${boundaryHash}`).digest('hex')
}

/** The MAC of a version 2 anchor file: its row, hash and time under the audit key. */
export function anchorMac(key: Buffer, a: { lastId: number; lastHash: string; at: string }): string {
  return createHmac('sha256', key).update(`sharp-eyes-audit-anchor\n2\n${a.lastId}\n${a.lastHash}\n${a.at}`).digest('hex')
}

export function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y)
}
