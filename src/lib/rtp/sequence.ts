/**
 * 16-bit RTP sequence numbers and 32-bit timestamps wrap around; comparisons must use
 * serial-number arithmetic (RFC 1982) rather than `<`.
 */

/** Signed distance from `a` to `b` in sequence space: seqDiff(65535, 0) === 1. */
export function seqDiff(a: number, b: number): number {
  const d = (b - a) & 0xffff
  return d >= 0x8000 ? d - 0x10000 : d
}

/** True when `a` comes before `b`, allowing for wrap-around. */
export function seqLessThan(a: number, b: number): boolean {
  return seqDiff(a, b) > 0
}

export function seqNext(seq: number, step = 1): number {
  return (seq + step) & 0xffff
}

/** Signed distance from timestamp `a` to `b` in 32-bit RTP timestamp space. */
export function timestampDiff(a: number, b: number): number {
  return ((b - a) | 0)
}

/**
 * Turns wrapping 16-bit sequence numbers into a monotonic extended sequence (RFC 3550 A.1 style),
 * so gaps and reordering can be measured across wrap-around.
 */
export class SequenceUnwrapper {
  #last: number | undefined

  /** Returns the extended sequence number of `seq`. */
  unwrap(seq: number): number {
    if (this.#last === undefined) {
      this.#last = seq & 0xffff
      return this.#last
    }
    const next = this.#last + seqDiff(this.#last % 0x10000, seq & 0xffff)
    if (next > this.#last) this.#last = next
    return next
  }

  reset(): void {
    this.#last = undefined
  }
}
