/** Time and timers of a Pacer; tests pass a manual clock. */
export interface PacerClock {
  now(): number
  setTimer(fn: () => void, ms: number): unknown
  clearTimer(handle: unknown): void
}

const realClock: PacerClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
}

export interface PacerOptions<T> {
  /** Items that may leave back to back (the bucket size). */
  burst: number
  /** Items per millisecond once the burst is spent. */
  ratePerMs: number
  send(item: T): void
  /** Called once whenever the queue has drained completely. */
  drained?(): void
  clock?: PacerClock
}

/**
 * Token-bucket pacer for one receiver: items leave at once while the bucket holds tokens and
 * nothing waits, otherwise they queue in order and leave at `ratePerMs`. Fast start uses it: a
 * cached GOP is hundreds of packets, and sent back to back it overflows a receiver's UDP buffer
 * (212 KB by default on Linux, about 90 packets of 1200 bytes on loopback) before the receiver
 * has read the keyframe.
 */
export class Pacer<T> {
  readonly #send: (item: T) => void
  readonly #drained: (() => void) | undefined
  readonly #clock: PacerClock
  readonly #burst: number
  #rate: number
  #tokens: number
  #last: number
  #queue: T[] = []
  #head = 0
  #timer: unknown
  #closed = false

  constructor(opts: PacerOptions<T>) {
    if (!(opts.burst >= 1) || !(opts.ratePerMs > 0)) throw new RangeError('Pacer needs burst ≥ 1 and ratePerMs > 0')
    this.#send = opts.send
    this.#drained = opts.drained
    this.#clock = opts.clock ?? realClock
    this.#burst = opts.burst
    this.#rate = opts.ratePerMs
    this.#tokens = opts.burst
    this.#last = this.#clock.now()
  }

  /** Items waiting. */
  get queued(): number {
    return this.#queue.length - this.#head
  }

  push(item: T): void {
    if (this.#closed) return
    if (this.queued === 0) {
      this.#refill()
      if (this.#tokens >= 1) {
        this.#tokens -= 1
        this.#send(item)
        return
      }
    }
    this.#queue.push(item)
    this.#schedule()
  }

  /** Drops whatever waits and stops; idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#timer = undefined
    this.#queue = []
    this.#head = 0
  }

  #refill(): void {
    const now = this.#clock.now()
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate)
    this.#last = now
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return
    const wait = Math.max(1, Math.ceil((1 - this.#tokens) / this.#rate))
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined
      this.#drain()
    }, wait)
  }

  #drain(): void {
    if (this.#closed) return
    this.#refill()
    while (this.#head < this.#queue.length && this.#tokens >= 1) {
      const item = this.#queue[this.#head]!
      this.#queue[this.#head] = undefined as T
      this.#head++
      this.#tokens -= 1
      this.#send(item)
      if (this.#closed) return
    }
    if (this.#head >= this.#queue.length) {
      this.#queue = []
      this.#head = 0
      this.#drained?.()
      return
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    this.#schedule()
  }
}
