import { createHash } from 'node:crypto'

/** The hash chain of the audit log: each row commits to the previous row's hash and its own content. */
export const GENESIS_HASH = '0'.repeat(64)

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

export function rowHash(prevHash: string, c: ChainedContent): string {
  // A JSON array fixes field order and escapes separators, so no two contents share an encoding.
  const canonical = JSON.stringify([c.id, c.at, c.actorId, c.actor, c.action, c.targetType, c.targetId, c.unitPath, c.client, c.detail])
  return createHash('sha256').update(prevHash).update('\n').update(canonical).digest('hex')
}
