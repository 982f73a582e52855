import type { Db } from '../../core/db.js'
import type { EventBus } from '../../core/events.js'
import { redact } from '../../core/redact.js'
import type { Principal, Scope } from '../../core/scope.js'
import { AuditStore, type AuditQuery, type ChainVerdict, type AuditEntry } from './store.js'

export type AuditActor = Principal | { system: string } | { anonymous: string }

export interface AuditRecord {
  actor: AuditActor
  /** dotted verb, e.g. `auth.login`, `camera.update`, `camera.credentials_change`, `video.view` */
  action: string
  target?: { type: string; id: string | number }
  /** the org subtree the event belongs to; defaults to the actor's unit */
  unitPath?: string
  client?: string | null
  detail?: Record<string, unknown>
}

/**
 * Append-only, hash-chained record of who did what. Writes go through SQLite with
 * synchronous=FULL, so an acknowledged action has its audit row on disk.
 */
export class AuditLog {
  readonly #store: AuditStore
  readonly #bus: EventBus
  constructor(db: Db, bus: EventBus) {
    this.#store = new AuditStore(db)
    this.#bus = bus
  }

  record(entry: AuditRecord): number {
    const actor = entry.actor
    const actorName = 'username' in actor ? actor.username : 'system' in actor ? `system:${actor.system}` : actor.anonymous
    const actorId = 'userId' in actor && actor.userId > 0 ? actor.userId : null
    const unitPath = entry.unitPath ?? ('unitPath' in actor ? actor.unitPath : '/')
    // Detail is free-form: redact anything URL- or password-shaped before it is frozen forever.
    const detail = redact(JSON.stringify(entry.detail ?? {}))
    const id = this.#store.append({
      at: new Date().toISOString(),
      actorId,
      actor: actorName,
      action: entry.action,
      targetType: entry.target?.type ?? null,
      targetId: entry.target ? String(entry.target.id) : null,
      unitPath,
      client: entry.client ?? null,
      detail,
    })
    this.#bus.emit('audit.appended', { id, action: entry.action })
    return id
  }

  list(scope: Scope, query: AuditQuery): AuditEntry[] {
    return this.#store.list(scope, query)
  }

  verify(): ChainVerdict {
    return this.#store.verify()
  }
}
