/**
 * Fixed-window counter per key (a client address). In memory on purpose: it protects this process
 * from floods; the per-account lockout, which must survive restarts, lives in the users table.
 */
export class WindowRateLimiter {
  readonly #limit: number
  readonly #windowMs: number
  readonly #hits = new Map<string, { start: number; count: number }>()
  constructor(limit: number, windowMs: number) {
    this.#limit = limit
    this.#windowMs = windowMs
  }

  /** Counts a hit; returns 0 when allowed, else the seconds until the window resets. */
  hit(key: string, now = Date.now()): number {
    let entry = this.#hits.get(key)
    if (!entry || now - entry.start >= this.#windowMs) {
      entry = { start: now, count: 0 }
      this.#hits.set(key, entry)
      if (this.#hits.size > 10_000) this.#sweep(now)
    }
    entry.count++
    if (entry.count <= this.#limit) return 0
    return Math.max(1, Math.ceil((entry.start + this.#windowMs - now) / 1000))
  }

  #sweep(now: number): void {
    for (const [k, v] of this.#hits) if (now - v.start >= this.#windowMs) this.#hits.delete(k)
  }
}

/**
 * Failed logins on user names that do not exist, counted and locked exactly as the users table does
 * for real accounts. Without it, a name that answers 429 "locked" after a few wrong passwords is a
 * name that exists, while an unknown one kept answering 401. In memory: it hides nothing worth
 * keeping across a restart, and it is bounded (the oldest names go first).
 */
export class UnknownNameLockouts {
  static readonly MAX_NAMES = 10_000
  readonly #names = new Map<string, { failures: number; lockedUntil: number }>()

  /** Seconds until the name's lockout ends, or 0 when it is not locked. */
  lockedFor(name: string, now = Date.now()): number {
    const entry = this.#names.get(name.toLowerCase())
    return entry && entry.lockedUntil > now ? Math.ceil((entry.lockedUntil - now) / 1000) : 0
  }

  /** Counts a failure; an ended lockout starts a new count, as for real accounts. Returns whether the name is now locked. */
  recordFailure(name: string, maxFailures: number, lockoutMs: number, now = Date.now()): boolean {
    const key = name.toLowerCase()
    let entry = this.#names.get(key)
    if (!entry || (entry.lockedUntil !== 0 && entry.lockedUntil <= now)) entry = { failures: 0, lockedUntil: 0 }
    entry.failures++
    if (entry.failures >= maxFailures) entry.lockedUntil = now + lockoutMs
    this.#names.delete(key) // re-inserted last: Map order is then least recently failed first
    this.#names.set(key, entry)
    while (this.#names.size > UnknownNameLockouts.MAX_NAMES) this.#names.delete(this.#names.keys().next().value!)
    return entry.lockedUntil > now
  }

  get size(): number {
    return this.#names.size
  }
}
