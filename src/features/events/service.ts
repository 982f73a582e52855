import { type Db } from '../../core/db.js'
import { subtreeRange } from '../../core/scope.js'

/**
 * Types of the push stream and their payloads. Other features add theirs by declaration merging:
 *   declare module '../events/index.js' { interface StreamEventTypes { 'export.progress': {...} } }
 */
export interface StreamEventTypes {
  'alarm.new': Record<string, unknown>
  'case.created': Record<string, unknown>
  'case.updated': Record<string, unknown>
  'case.transition': Record<string, unknown>
  'case.escalated': Record<string, unknown>
  'case.overdue': Record<string, unknown>
}

export interface StreamEvent {
  id: number
  at: string
  type: string
  unitPath: string
  payload: unknown
}

interface Row {
  id: number
  at: string
  type: string
  unit_path: string
  payload: string
  site_private: 0 | 1
  camera_id: number | null
  /** the named camera's unit path now; null when the event names no camera or it is gone */
  cam_path: string | null
  /** the named camera is a site camera not shared upward, now */
  cam_private: 0 | 1 | null
}

const toEvent = (r: Row): StreamEvent => ({ id: r.id, at: r.at, type: r.type, unitPath: r.unit_path, payload: JSON.parse(r.payload) as unknown })

export interface StreamSubscriber {
  /** path of the subscriber's unit: only events whose unit path lies under it are delivered */
  unitPath: string
  /**
   * From the subscriber's scope (scopeOf): admins and technicians also get the site-private
   * events of sites below them; others only those of their own unit. Absent means no.
   */
  seesPrivateSiteCameras?: boolean
  /** last id delivered (replay included); live delivery skips anything at or below it */
  lastId: number
  send(event: StreamEvent): void
}

export interface PublishOptions {
  /** 内保外用: the event concerns a site camera not shared upward (see StreamSubscriber) */
  sitePrivate?: boolean
  /**
   * The camera the event is about (an alarm of it, its status): the event then reaches exactly who
   * may read that camera in the registry at delivery time (replay included), whatever its sharing
   * was when the event was written. `sitePrivate` is the fallback once the camera is deleted.
   */
  cameraId?: number
}

/** The typed publisher other features use; must be called inside the transaction of the change. */
export interface StreamPublisher {
  publish<K extends keyof StreamEventTypes>(type: K, unitPath: string, payload: StreamEventTypes[K], options?: PublishOptions): number
}

/**
 * Whether a subscriber gets an event: under its unit, and one about a camera only if the registry
 * would show the subscriber that camera (its unit in the subtree; a site camera not shared upward
 * only to its own site and to maintainers above it).
 */
function deliverable(r: Pick<Row, 'unit_path' | 'site_private' | 'cam_path' | 'cam_private'>, sub: Pick<StreamSubscriber, 'unitPath' | 'seesPrivateSiteCameras'>): boolean {
  if (!r.unit_path.startsWith(sub.unitPath)) return false
  if (r.cam_path !== null) {
    if (!r.cam_path.startsWith(sub.unitPath)) return false
    return r.cam_private === 0 || sub.seesPrivateSiteCameras === true || r.cam_path === sub.unitPath
  }
  return r.site_private === 0 || sub.seesPrivateSiteCameras === true || r.unit_path === sub.unitPath
}

/** Stream events with the current visibility of the camera they name (registry tables, read only). */
const SELECT_EVENTS = `SELECT e.*, cu.path AS cam_path, (cu.tier = 'site' AND c.shared_upward = 0) AS cam_private
  FROM stream_events e LEFT JOIN cameras c ON c.id = e.camera_id LEFT JOIN units cu ON cu.id = c.unit_id`

/**
 * The scoped live event stream. `publish` appends to stream_events inside the caller's transaction;
 * delivery to live subscribers tails the table after the current synchronous work (so after the
 * commit), which means a rolled-back change is never pushed and the order is the commit order.
 */
export class EventStreamService implements StreamPublisher {
  readonly #db: Db
  readonly #insert
  readonly #tailStmt
  readonly #replayStmt
  readonly #maxIdStmt
  readonly #subscribers = new Set<StreamSubscriber>()
  #cursor: number
  #scheduled = false
  #closed = false

  constructor(db: Db) {
    this.#db = db
    this.#insert = db.prepare('INSERT INTO stream_events (at, type, unit_path, payload, site_private, camera_id) VALUES (?, ?, ?, ?, ?, ?)')
    this.#tailStmt = db.prepare(`${SELECT_EVENTS} WHERE e.id > ? ORDER BY e.id LIMIT 5000`)
    this.#replayStmt = db.prepare(`${SELECT_EVENTS} WHERE e.id > @after AND e.unit_path >= @lo AND e.unit_path < @hi ORDER BY e.id LIMIT @limit`)
    this.#maxIdStmt = db.prepare('SELECT coalesce(max(id), 0) FROM stream_events').pluck()
    this.#cursor = this.#maxIdStmt.get() as number
  }

  publish<K extends keyof StreamEventTypes>(type: K, unitPath: string, payload: StreamEventTypes[K], options: PublishOptions = {}): number {
    const id = Number(this.#insert.run(new Date().toISOString(), type, unitPath, JSON.stringify(payload), options.sitePrivate ? 1 : 0, options.cameraId ?? null).lastInsertRowid)
    this.#schedule()
    return id
  }

  lastId(): number {
    return this.#maxIdStmt.get() as number
  }

  /**
   * Registers a subscriber after replaying what it missed since `afterId` (null: only live).
   * Replay and registration happen in one synchronous step, so nothing falls between them.
   */
  subscribe(sub: Omit<StreamSubscriber, 'lastId'>, afterId: number | null): { subscriber: StreamSubscriber; unsubscribe: () => void } {
    const subscriber: StreamSubscriber = { ...sub, lastId: afterId ?? this.#cursor }
    if (afterId !== null) {
      const { lo, hi } = subtreeRange(sub.unitPath)
      for (;;) {
        const rows = this.#replayStmt.all({ after: subscriber.lastId, lo, hi, limit: 1000 }) as Row[]
        for (const r of rows) {
          if (deliverable(r, sub)) sub.send(toEvent(r))
          subscriber.lastId = r.id
        }
        if (rows.length < 1000) break
      }
    }
    this.#subscribers.add(subscriber)
    return { subscriber, unsubscribe: () => this.#subscribers.delete(subscriber) }
  }

  get subscriberCount(): number {
    return this.#subscribers.size
  }

  /** Deletes events older than the retention and beyond the row cap. */
  prune(retentionDays: number, maxRows: number): number {
    const cutoff = new Date(Date.now() - retentionDays * 86_400_000).toISOString()
    let n = this.#db.prepare('DELETE FROM stream_events WHERE at < ?').run(cutoff).changes
    const max = this.#maxIdStmt.get() as number
    n += this.#db.prepare('DELETE FROM stream_events WHERE id <= ?').run(max - maxRows).changes
    return n
  }

  close(): void {
    this.#closed = true
    this.#subscribers.clear()
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return
    this.#scheduled = true
    // After the current synchronous work: the publishing transaction has committed (or rolled back).
    setImmediate(() => {
      this.#scheduled = false
      this.#deliver()
    })
  }

  #deliver(): void {
    if (this.#closed) return
    if (this.#db.inTransaction) {
      this.#schedule()
      return
    }
    for (;;) {
      const rows = this.#tailStmt.all(this.#cursor) as Row[]
      if (!rows.length) return
      for (const r of rows) {
        this.#cursor = r.id
        let event: StreamEvent | undefined
        for (const sub of this.#subscribers) {
          if (r.id <= sub.lastId) continue
          if (!deliverable(r, sub)) continue
          event ??= toEvent(r)
          sub.lastId = r.id
          try {
            sub.send(event)
          } catch {
            this.#subscribers.delete(sub)
          }
        }
      }
      if (rows.length < 5000) return
    }
  }
}
