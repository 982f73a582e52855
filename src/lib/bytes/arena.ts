/**
 * Hands out small byte ranges cut from large shared slabs instead of one ArrayBuffer each.
 *
 * Why: every Buffer of its own is a malloc'd backing store that V8 counts as external memory, and
 * a steady stream of them (a copy per RTP packet or per NAL unit, 25–250 a second per camera) both
 * costs its allocation and drives V8's "external memory pressure" garbage collections, full ones
 * included, on a relay that otherwise allocates almost nothing. A slab lives until the last range
 * cut from it is dropped, so an arena holds at most what its ranges' owners keep (a GOP cache: about
 * two seconds of video) plus one slab.
 */
export class ByteArena {
  readonly slabBytes: number
  /** Ranges above this get a buffer of their own, so one large piece does not strand a slab's tail. */
  readonly #ownAbove: number
  #slab: Buffer | undefined
  #used = 0

  constructor(slabBytes = 64 * 1024) {
    if (!Number.isInteger(slabBytes) || slabBytes < 1024) throw new RangeError('slabBytes must be an integer ≥ 1024')
    this.slabBytes = slabBytes
    this.#ownAbove = slabBytes >>> 2
  }

  /** `length` uninitialised bytes. */
  alloc(length: number): Buffer {
    if (length > this.#ownAbove) return Buffer.allocUnsafeSlow(length)
    let slab = this.#slab
    if (!slab || this.#used + length > slab.length) {
      slab = this.#slab = Buffer.allocUnsafeSlow(this.slabBytes)
      this.#used = 0
    }
    const start = this.#used
    this.#used = start + length
    return slab.subarray(start, start + length)
  }

  /** A copy of the first `length` bytes of `src`. */
  copy(src: Uint8Array, length = src.length): Buffer {
    const out = this.alloc(length)
    out.set(length === src.length ? src : src.subarray(0, length))
    return out
  }

  /** The concatenation of `parts`, copied. */
  concat(parts: readonly Uint8Array[]): Buffer {
    let total = 0
    for (let i = 0; i < parts.length; i++) total += parts[i]!.length
    const out = this.alloc(total)
    let o = 0
    for (let i = 0; i < parts.length; i++) {
      out.set(parts[i]!, o)
      o += parts[i]!.length
    }
    return out
  }
}
