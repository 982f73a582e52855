import type { Db } from '../../core/db.js'
import { ForbiddenError } from '../../core/errors.js'
import type { EventBus } from '../../core/events.js'
import { redact } from '../../core/redact.js'
import { SYSTEM_SCOPE, type Principal, type Scope } from '../../core/scope.js'
import { readAnchor, stageAnchor, writeAnchor, type AuditAnchor } from './anchor.js'
import { anchorMac, sameHex } from './chain.js'
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

/** What the anchor check found; absent when there is nothing to anchor (an empty log, no anchor). */
export type AnchorStatus = 'ok' | 'missing' | 'invalid' | 'truncated' | 'rewritten' | 'forged'

/** The chain verdict, plus what the anchor outside the database says about the chain's end. */
export type AuditVerdict = ChainVerdict & {
  anchor?: AnchorStatus
  /** the row and time the anchor names */
  anchorLastId?: number
  anchorAt?: string
  /** set with anchor 'missing' or 'invalid': the chain holds, but its end is not witnessed */
  warning?: string
}

/** The subset of pino the audit log uses (the gateway passes its own logger). */
export interface AuditLogger {
  info(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface AuditLogOptions {
  /**
   * The audit key (HMAC-SHA256; GW_AUDIT_KEY or <dataDir>/keys/audit.key): rows from the upgrade
   * point (audit-002) on are hashed and verified with it, and the anchor carries a MAC under it.
   * Without it a keyed log cannot be appended to, and verify() says it cannot verify the keyed rows.
   */
  key?: Buffer
  /** the head anchor file (`anchorPathFor(dataDir)`); without it no anchor is read or written */
  anchorPath?: string
  /** false: verify() reads the anchor but it is never written (the CLI, which may run beside a live gateway) */
  writeAnchor?: boolean
  /** the anchor is rewritten at most this often (and on close) */
  anchorIntervalMs?: number
  /** the head is logged this often when it moved (0: never by time) … */
  headLogMinutes?: number
  /** … and once this many rows were appended since it was last logged (0: never by count) */
  headLogRows?: number
  log?: AuditLogger
}

/**
 * Append-only, hash-chained record of who did what. Writes go through SQLite with
 * synchronous=FULL, so an acknowledged action has its audit row on disk.
 *
 * The chain's head (last id and hash) is also kept outside the database: in the anchor file,
 * rewritten atomically at most once per `anchorIntervalMs` and on close, and in the log every
 * `headLogMinutes` / `headLogRows`, so shipped logs witness it off the box. Both are written from a
 * timer, never from record(): record() may run inside a caller's transaction that later rolls
 * back, and the anchor must only ever name committed rows.
 */
export class AuditLog {
  readonly #db: Db
  readonly #store: AuditStore
  readonly #bus: EventBus
  readonly #anchorPath: string | undefined
  readonly #writesAnchor: boolean
  readonly #intervalMs: number
  readonly #headLogRows: number
  readonly #log: AuditLogger | undefined
  readonly #key: Buffer | undefined
  /** the anchor last read from or written to the file */
  #anchor: AuditAnchor | null = null
  /** the chain no longer holds the anchored row: the anchor is kept as evidence, not overwritten */
  #anchorHeld = false
  #anchorWrites = 0
  #lastFlushAt = 0
  #flushTimer: NodeJS.Timeout | null = null
  #headLogTimer: NodeJS.Timeout | null = null
  #loggedHead: { id: number; hash: string } | null = null
  #closed = false

  constructor(db: Db, bus: EventBus, options: AuditLogOptions = {}) {
    this.#db = db
    this.#store = new AuditStore(db, options.key)
    this.#key = options.key
    this.#bus = bus
    this.#anchorPath = options.anchorPath
    this.#writesAnchor = options.anchorPath !== undefined && options.writeAnchor !== false
    this.#intervalMs = options.anchorIntervalMs ?? 1000
    this.#headLogRows = options.headLogRows ?? 0
    this.#log = options.log
    // The gateway (the writer) seals the upgrade point on its first start after audit-002.
    if (options.key && options.writeAnchor !== false) this.#sealUpgrade(options.key)
    if (this.#anchorPath && this.#writesAnchor) {
      const read = readAnchor(this.#anchorPath)
      if (read.state === 'present') this.#anchor = read.anchor
      // A first start after an upgrade (rows, no anchor yet) is anchored at once.
      this.#schedule()
    }
    const head = this.#store.head()
    if (head && this.#log) this.#logHead(head, 'start')
    const minutes = options.headLogMinutes ?? 0
    if (this.#log && minutes > 0) {
      this.#headLogTimer = setInterval(() => {
        const now = this.#store.head()
        if (now && (now.id !== this.#loggedHead?.id || now.hash !== this.#loggedHead.hash)) this.#logHead(now, 'interval')
      }, minutes * 60_000)
      this.#headLogTimer.unref()
    }
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
    this.#schedule()
    this.#bus.emit('audit.appended', { id, action: entry.action })
    return id
  }

  list(scope: Scope, query: AuditQuery): AuditEntry[] {
    return this.#store.list(scope, query)
  }

  /**
   * Walks the whole chain, then compares its end with the anchor. The chain is one sequence over
   * every unit, so its row count and head hash describe the whole gateway: only a caller whose
   * scope is the whole tree (a gateway administrator, or the system: the default) may verify it.
   */
  verify(scope: Scope = SYSTEM_SCOPE): AuditVerdict {
    if (scope.unitPath !== '/') {
      throw new ForbiddenError(
        `verifying the audit chain reads every row of the gateway, and your scope is the subtree ${scope.unitPath}: only a gateway administrator (above every street) may verify it`,
        [],
        { requiredScope: '/' },
      )
    }
    // The anchor is read before the chain: a gateway writing it meanwhile only moves it forward,
    // so a chain read afterwards can never look shorter than the anchor it is compared with.
    const read = this.#anchorPath ? readAnchor(this.#anchorPath) : null
    const chain = this.#store.verify()
    if (!chain.ok || !read) return chain
    const lastId = chain.rows // rows are numbered 1..rows when the chain holds
    if (read.state === 'missing') {
      if (lastId === 0) return chain
      return { ...chain, anchor: 'missing', warning: `the anchor file ${this.#anchorPath} is missing: the chain holds, but nothing outside the database witnesses its last row (normal once, on the first start after an upgrade)` }
    }
    if (read.state === 'invalid') {
      return { ...chain, anchor: 'invalid', warning: `the anchor file ${this.#anchorPath} is unusable (${read.problem}): the chain holds, but nothing outside the database witnesses its last row` }
    }
    const a = read.anchor
    const named = { anchorLastId: a.lastId, anchorAt: a.at }
    const forged = this.#forgedAnchor(a)
    if (forged) return { ok: false, rows: chain.rows, firstBrokenId: Math.min(a.lastId, lastId + 1), reason: `forged anchor: ${forged}`, anchor: 'forged', ...named }
    if (a.lastId > lastId) {
      const end = lastId === 0 ? 'the chain is empty' : `the chain ends at row ${lastId}`
      return { ok: false, rows: chain.rows, firstBrokenId: lastId + 1, reason: `truncated: the anchor (written ${a.at}) names row ${a.lastId}, ${end}`, anchor: 'truncated', ...named }
    }
    const hash = this.#store.hashAt(a.lastId)
    if (hash !== a.lastHash) {
      return {
        ok: false,
        rows: chain.rows,
        firstBrokenId: a.lastId,
        reason: `rewritten: the anchor (written ${a.at}) names row ${a.lastId} with hash ${a.lastHash.slice(0, 16)}…, the chain's row ${a.lastId} has hash ${(hash ?? '').slice(0, 16)}… (rows deleted and appended again?)`,
        anchor: 'rewritten',
        ...named,
      }
    }
    return { ...chain, anchor: 'ok', ...named }
  }

  /** Why the anchor cannot have been written by the gateway, or null. */
  #forgedAnchor(a: AuditAnchor): string | null {
    if (a.version === 2) {
      // Without the key the chain's keyed rows were already reported as unverifiable.
      if (this.#key && !sameHex(anchorMac(this.#key, a), a.mac ?? '')) return `its MAC (written ${a.at}, naming row ${a.lastId}) does not hold under the audit key`
      return null
    }
    const record = this.#store.chainRecord()
    if (record.state === 'keyed' && a.lastId >= record.keyedFromId) {
      return `a version 1 anchor (no MAC) names row ${a.lastId}, but rows from ${record.keyedFromId} on were written after the upgrade to keyed hashes, when only MAC'd anchors are written`
    }
    return null
  }

  #sealUpgrade(key: Buffer): void {
    const result = this.#store.sealUpgrade(key)
    if (result === 'sealed') this.#log?.info({ scheme: 'hmac-sha256' }, 'audit chain: keyed from the next row on (upgrade sealed)')
    else if (result === 'wrong_key' || result === 'keyed_rows_unsealed' || result === 'lost') {
      this.#log?.error({ problem: result }, 'audit chain: the upgrade to keyed hashes does not hold under this audit key (wrong key, or the record was altered); verify reports it')
    }
  }

  /** Anchor files written by this process (tests assert the throttle with it). */
  get anchorWrites(): number {
    return this.#anchorWrites
  }

  /**
   * Brings the anchor up to the chain's committed head (when it moved) and logs the head when
   * `headLogRows` rows were appended since it was last logged. The throttle timer calls it, and
   * close(); never call it from inside a transaction.
   */
  flush(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer)
    this.#flushTimer = null
    if (this.#db.inTransaction) {
      // The newest rows may yet roll back: try again once the transaction is over.
      if (!this.#closed) this.#flushTimer = setTimeout(() => this.#flushFromTimer(), 0).unref()
      return
    }
    this.#lastFlushAt = Date.now()
    const head = this.#store.head()
    if (!head) return
    if (this.#writesAnchor) this.#advanceAnchor(head)
    if (this.#log && this.#headLogRows > 0 && head.id - (this.#loggedHead?.id ?? 0) >= this.#headLogRows) this.#logHead(head, 'rows')
  }

  /**
   * Writes the anchor a last time (synchronously) and stops the timers; resolves once a background
   * write still in flight has finished (it then finds the newer anchor and discards its own).
   * Idempotent; rows recorded afterwards are still stored.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#writing ?? Promise.resolve()
    this.#closed = true
    if (this.#headLogTimer) clearInterval(this.#headLogTimer)
    this.#headLogTimer = null
    this.flush()
    const head = this.#store.head()
    if (head && this.#log && (head.id !== this.#loggedHead?.id || head.hash !== this.#loggedHead.hash)) this.#logHead(head, 'close')
    return this.#writing ?? Promise.resolve()
  }

  #schedule(): void {
    if (this.#closed || this.#flushTimer) return
    if (!this.#writesAnchor && !(this.#log && this.#headLogRows > 0)) return
    const delay = Math.max(0, this.#lastFlushAt + this.#intervalMs - Date.now())
    this.#flushTimer = setTimeout(() => this.#flushFromTimer(), delay)
    this.#flushTimer.unref()
  }

  /**
   * The throttle's flush: as flush(), but the anchor file is written and fsynced off the event loop
   * (stageAnchor) and only renamed into place here, if no newer anchor went in meanwhile (a
   * synchronous flush() or close()). One write at a time; rows appended meanwhile get the next.
   */
  #flushFromTimer(): void {
    this.#flushTimer = null
    if (this.#writing) {
      this.#writeAgain = true
      return
    }
    try {
      if (this.#db.inTransaction) {
        if (!this.#closed) this.#flushTimer = setTimeout(() => this.#flushFromTimer(), 0).unref()
        return
      }
      this.#lastFlushAt = Date.now()
      const head = this.#store.head()
      if (!head) return
      if (this.#log && this.#headLogRows > 0 && head.id - (this.#loggedHead?.id ?? 0) >= this.#headLogRows) this.#logHead(head, 'rows')
      const next = this.#writesAnchor ? this.#nextAnchor(head) : null
      if (!next) return
      const path = this.#anchorPath!
      this.#writing = stageAnchor(path, next)
        .then(async (staged) => {
          if (this.#anchorHeld || (this.#anchor && this.#anchor.lastId >= next.lastId)) return staged.discard()
          staged.commit()
          this.#anchor = next
          this.#anchorWrites++
          await staged.syncDirectory()
        })
        .catch((err: Error) => this.#log?.error({ err, file: path }, 'audit anchor write failed'))
        .finally(() => {
          this.#writing = undefined
          if (this.#writeAgain && !this.#closed) {
            this.#writeAgain = false
            this.#schedule()
          }
        })
    } catch (err) {
      // e.g. the database closed under a late timer: the anchor stays as it was, which is safe.
      this.#log?.error({ err }, 'audit anchor flush failed')
    }
  }

  /** The background anchor write in flight, if any. */
  #writing: Promise<void> | undefined
  #writeAgain = false

  #advanceAnchor(head: { id: number; hash: string }): void {
    const path = this.#anchorPath!
    const next = this.#nextAnchor(head)
    if (!next) return
    try {
      writeAnchor(path, next)
    } catch (err) {
      this.#log?.error({ err, file: path }, 'audit anchor write failed')
      return
    }
    this.#anchor = next
    this.#anchorWrites++
  }

  /** The anchor to write for `head`; null when it is already written, or the old one is held as evidence. */
  #nextAnchor(head: { id: number; hash: string }): AuditAnchor | null {
    const path = this.#anchorPath!
    if (this.#anchorHeld) {
      // Held as evidence until an operator moves the file aside.
      if (readAnchor(path).state !== 'missing') return null
      this.#anchorHeld = false
      this.#anchor = null
    }
    const prev = this.#anchor
    if (prev && prev.lastId === head.id && prev.lastHash === head.hash) return null
    if (prev && this.#store.hashAt(prev.lastId) !== prev.lastHash) {
      // The newest rows were deleted (and perhaps appended again): overwriting the anchor would
      // erase the only trace. Keep it; verify() reports the break.
      this.#anchorHeld = true
      this.#log?.error(
        { anchor: { lastId: prev.lastId, lastHash: prev.lastHash, at: prev.at }, head: { lastId: head.id, lastHash: head.hash }, file: path },
        'audit chain does not extend its anchor (rows deleted?): the anchor is kept as evidence; move it aside once investigated',
      )
      return null
    }
    const at = new Date().toISOString()
    // keyed chains get a keyed anchor: rewriting the file needs the audit key too
    return this.#key ? { version: 2, lastId: head.id, lastHash: head.hash, at, mac: anchorMac(this.#key, { lastId: head.id, lastHash: head.hash, at }) } : { version: 1, lastId: head.id, lastHash: head.hash, at }
  }

  #logHead(head: { id: number; hash: string }, trigger: 'start' | 'interval' | 'rows' | 'close'): void {
    this.#loggedHead = head
    this.#log?.info({ auditHead: { lastId: head.id, lastHash: head.hash }, trigger }, 'audit head')
  }
}
