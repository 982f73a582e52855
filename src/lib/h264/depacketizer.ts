import { ByteArena } from '../bytes/index.js'
import type { RtpPacket } from '../rtp/packet.js'
import { seqDiff } from '../rtp/sequence.js'
import type { AccessUnit } from './access-unit.js'
import { H264NalType, h264StartsPicture, isH264Keyframe } from './nal.js'

export interface DepacketizerStats {
  packets: number
  /** Packets missing from the sequence-number series. */
  lostPackets: number
  /** Duplicate or late (out-of-order) packets, ignored. */
  latePackets: number
  /** Packets of payload formats we do not handle (STAP-B, MTAP, FU-B). */
  unsupportedPackets: number
  frames: number
  /** Frames dropped because they were incomplete or followed a loss before the next keyframe. */
  droppedFrames: number
}

export interface DepacketizerOptions {
  /**
   * Drop everything until the first keyframe, and after any loss until the next one: a decoder
   * fed a P-frame whose reference is missing shows smeared garbage until the next IDR anyway.
   * Default true.
   */
  waitForKeyframe?: boolean
}

/** Result of decoding one RTP payload: NAL units completed by it, or a reason to discard. */
export type PayloadResult = { nalus: Buffer[] } | { broken: true } | { unsupported: true }

interface Pending {
  timestamp: number
  nalus: Buffer[]
  broken: boolean
}

/** Reassembled (fragmented) NAL units are cut from slabs of this size; see ByteArena. */
const REASSEMBLY_SLAB_BYTES = 64 * 1024

/**
 * Codec-independent part of RTP video depacketization: sequence tracking, loss handling and
 * access-unit boundaries (marker bit, or timestamp change for senders whose marker packet got lost).
 *
 * NAL units of single-NAL and aggregation packets are views of the packet's payload, not copies:
 * a caller must not reuse a payload's memory after pushing it (RtspClient never does: its packets
 * are cut from slabs of their own, or are whole datagrams). Fragmented NAL units are reassembled
 * into a ByteArena, not a Buffer each.
 */
export abstract class VideoDepacketizer {
  readonly stats: DepacketizerStats = {
    packets: 0,
    lostPackets: 0,
    latePackets: 0,
    unsupportedPackets: 0,
    frames: 0,
    droppedFrames: 0,
  }
  readonly #waitForKeyframe: boolean
  #lastSeq: number | undefined
  #pending: Pending | undefined
  #waiting: boolean

  constructor(opts: DepacketizerOptions = {}) {
    this.#waitForKeyframe = opts.waitForKeyframe ?? true
    this.#waiting = this.#waitForKeyframe
  }

  protected abstract decodePayload(payload: Buffer): PayloadResult
  protected abstract isKeyframe(nalus: readonly Buffer[]): boolean
  /** Whether the access unit holds its picture's first slice (see h264StartsPicture). */
  protected abstract startsPicture(nalus: readonly Buffer[]): boolean

  /** Pieces of a fragmented NAL unit (H.264 FU-A, H.265 FU) being reassembled. */
  #fragments: Buffer[] | undefined
  readonly #reassembly = new ByteArena(REASSEMBLY_SLAB_BYTES)

  /** Called when a packet is lost so a fragmented NAL in progress is abandoned. */
  protected resetFragment(): void {
    this.#fragments = undefined
  }

  protected fragmentInProgress(): boolean {
    return this.#fragments !== undefined
  }

  /** A whole NAL (single or aggregated) arrived: a fragment still open means one was lost. */
  protected interruptsFragment(): PayloadResult | null {
    if (!this.#fragments) return null
    this.#fragments = undefined
    return { broken: true }
  }

  /** One fragmentation unit: `header` is the rebuilt NAL header, read only on the start piece. */
  protected fragment(start: boolean, end: boolean, header: () => Buffer, body: Buffer): PayloadResult {
    if (start) {
      const interrupted = this.interruptsFragment()
      if (interrupted) return interrupted
      this.#fragments = [header(), body]
    } else {
      if (!this.#fragments) return { broken: true }
      this.#fragments.push(body)
    }
    if (!end) return { nalus: [] }
    const nal = this.#reassembly.concat(this.#fragments)
    this.#fragments = undefined
    return { nalus: [nal] }
  }

  /** Feeds one RTP packet; returns the access units it completed (usually zero or one). */
  push(packet: RtpPacket): AccessUnit[] {
    this.stats.packets++
    const out: AccessUnit[] = []
    if (this.#lastSeq !== undefined) {
      const d = seqDiff(this.#lastSeq, packet.sequenceNumber)
      if (d <= 0) {
        this.stats.latePackets++
        return out
      }
      if (d > 1) {
        this.stats.lostPackets += d - 1
        this.#onLoss()
      }
    }
    this.#lastSeq = packet.sequenceNumber

    if (this.#pending && this.#pending.timestamp !== packet.timestamp) {
      // The previous frame's marker packet never came (lost, or a sender that does not set it).
      if (this.fragmentInProgress()) {
        this.#pending.broken = true
        this.resetFragment()
      }
      this.#finish(out)
    }
    const pending = (this.#pending ??= { timestamp: packet.timestamp, nalus: [], broken: false })
    if (packet.payload.length === 0) {
      pending.broken = true
    } else {
      const res = this.decodePayload(packet.payload)
      if ('nalus' in res) pending.nalus.push(...res.nalus)
      else if ('broken' in res) pending.broken = true
      else this.stats.unsupportedPackets++
    }
    if (packet.marker) {
      if (this.fragmentInProgress()) {
        pending.broken = true
        this.resetFragment()
      }
      this.#finish(out)
    }
    return out
  }

  /** Forgets all state, e.g. after the source restarted with a new SSRC. */
  reset(): void {
    this.#lastSeq = undefined
    this.#pending = undefined
    this.resetFragment()
    this.#waiting = this.#waitForKeyframe
  }

  #onLoss(): void {
    this.resetFragment()
    if (this.#pending) this.#pending.broken = true
    if (this.#waitForKeyframe) this.#waiting = true
  }

  #finish(out: AccessUnit[]): void {
    const p = this.#pending
    this.#pending = undefined
    if (!p) return
    if (p.broken || p.nalus.length === 0) {
      if (p.nalus.length > 0 || p.broken) this.stats.droppedFrames++
      if (this.#waitForKeyframe) this.#waiting = true
      return
    }
    const keyframe = this.isKeyframe(p.nalus)
    // Waiting (at the start, after a loss) for a keyframe that is whole: one whose first packets
    // came before ours (a stream joined mid-frame) would show a picture missing its top slices.
    if (this.#waiting && !(keyframe && this.startsPicture(p.nalus))) {
      this.stats.droppedFrames++
      return
    }
    this.#waiting = false
    this.stats.frames++
    out.push({ nalus: p.nalus, timestamp: p.timestamp, keyframe })
  }
}

/** RFC 6184 depacketizer: single NAL unit, STAP-A and FU-A packets (packetization-mode 0 and 1). */
export class H264Depacketizer extends VideoDepacketizer {
  protected decodePayload(payload: Buffer): PayloadResult {
    const type = payload[0]! & 0x1f
    if (type >= 1 && type <= 23) {
      const interrupted = this.interruptsFragment()
      if (interrupted) return interrupted
      return { nalus: [payload] }
    }
    if (type === H264NalType.STAP_A) {
      const interrupted = this.interruptsFragment()
      if (interrupted) return interrupted
      const nalus: Buffer[] = []
      let o = 1
      while (o + 2 <= payload.length) {
        const size = payload.readUInt16BE(o)
        o += 2
        if (size === 0 || o + size > payload.length) return { broken: true }
        nalus.push(payload.subarray(o, o + size))
        o += size
      }
      return { nalus }
    }
    if (type === H264NalType.FU_A) {
      if (payload.length < 3) return { broken: true }
      const fuHeader = payload[1]!
      return this.fragment((fuHeader & 0x80) !== 0, (fuHeader & 0x40) !== 0, () => Buffer.of((payload[0]! & 0xe0) | (fuHeader & 0x1f)), payload.subarray(2))
    }
    return { unsupported: true }
  }

  protected isKeyframe(nalus: readonly Buffer[]): boolean {
    return isH264Keyframe(nalus)
  }

  protected startsPicture(nalus: readonly Buffer[]): boolean {
    return h264StartsPicture(nalus)
  }
}
