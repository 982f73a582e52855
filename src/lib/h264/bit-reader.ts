/** Thrown when a bitstream (SPS, PPS, slice header) ends early or holds impossible values. */
export class BitstreamError extends Error {
  override readonly name = 'BitstreamError'
}

/**
 * Removes emulation-prevention bytes (the 0x03 in 00 00 03) from a NAL unit's RBSP, which the
 * encoder inserted so the payload never contains a start code. Exp-Golomb parsing without this
 * step misreads any SPS that happens to contain two zero bytes.
 */
export function removeEmulationPrevention(nal: Buffer): Buffer {
  let zeros = 0
  let needed = false
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]!
    if (zeros >= 2 && b === 3) {
      needed = true
      break
    }
    zeros = b === 0 ? zeros + 1 : 0
  }
  if (!needed) return nal
  const out = Buffer.allocUnsafe(nal.length)
  let o = 0
  zeros = 0
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]!
    if (zeros >= 2 && b === 3) {
      zeros = 0
      continue
    }
    out[o++] = b
    zeros = b === 0 ? zeros + 1 : 0
  }
  return out.subarray(0, o)
}

/** MSB-first bit reader with the Exp-Golomb codes of H.264/H.265 (ue(v), se(v)). */
export class BitReader {
  #pos = 0
  constructor(private readonly buf: Buffer) {}

  get bitsLeft(): number {
    return this.buf.length * 8 - this.#pos
  }

  readBit(): number {
    if (this.#pos >= this.buf.length * 8) throw new BitstreamError('read past end of bitstream')
    const bit = (this.buf[this.#pos >> 3]! >> (7 - (this.#pos & 7))) & 1
    this.#pos++
    return bit
  }

  readBool(): boolean {
    return this.readBit() === 1
  }

  /** Reads up to 32 bits as an unsigned number. */
  readBits(n: number): number {
    if (n > 32) throw new RangeError('readBits reads at most 32 bits')
    let v = 0
    for (let i = 0; i < n; i++) v = v * 2 + this.readBit()
    return v
  }

  skipBits(n: number): void {
    if (this.#pos + n > this.buf.length * 8) throw new BitstreamError('skip past end of bitstream')
    this.#pos += n
  }

  readUE(): number {
    let zeros = 0
    while (this.readBit() === 0) {
      if (++zeros > 31) throw new BitstreamError('Exp-Golomb code longer than 32 bits')
    }
    return 2 ** zeros - 1 + this.readBits(zeros)
  }

  readSE(): number {
    const k = this.readUE()
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2)
  }
}
