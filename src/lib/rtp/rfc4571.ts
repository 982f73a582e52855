/**
 * RTP over a TCP connection, RFC 4571: each packet is preceded by its length as 16 bits, big
 * endian. GB/T 28181 uses it for TCP media, in both directions (the device connects to us,
 * "passive", or we connect to the device, "active").
 */

/** Prefixes one packet with its length. */
export function frameRfc4571(packet: Buffer): Buffer {
  const out = Buffer.allocUnsafe(packet.length + 2)
  out.writeUInt16BE(packet.length, 0)
  packet.copy(out, 2)
  return out
}

/** Cuts a TCP byte stream back into packets. A zero length is skipped (some senders pad with it). */
export class Rfc4571Reader {
  #buf: Buffer = Buffer.alloc(0)
  /** zero-length frames seen */
  empty = 0

  push(chunk: Buffer): Buffer[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk
    const out: Buffer[] = []
    let pos = 0
    while (pos + 2 <= this.#buf.length) {
      const len = this.#buf.readUInt16BE(pos)
      if (len === 0) {
        this.empty++
        pos += 2
        continue
      }
      if (pos + 2 + len > this.#buf.length) break
      out.push(this.#buf.subarray(pos + 2, pos + 2 + len))
      pos += 2 + len
    }
    this.#buf = pos >= this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(pos))
    return out
  }

  /** bytes held for a packet not yet complete */
  get pending(): number {
    return this.#buf.length
  }
}
