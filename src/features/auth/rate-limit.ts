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
