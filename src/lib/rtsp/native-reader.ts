/**
 * Native reads of an RTSP connection (native/ingest/interleaved.c, built by
 * scripts/build-native.sh): JavaScript is called once per frame's worth of interleaved bytes
 * instead of once per read of the socket. See the C file for why and for when bytes are handed over.
 * Optional: `InterleavedReader.open` returns null when the module isn't built, and the RTSP client
 * then reads through the Node socket.
 */
import type { Socket } from 'node:net'
import { loadNativeModule } from '../native/index.js'

type ReaderHandle = { readonly __brand: 'InterleavedReader' }

interface NativeIngestModule {
  open(fd: number, buffer: Buffer, holdMs: number, onData: (length: number) => boolean, onEnd: (errno: number) => void): ReaderHandle
  close(reader: ReaderHandle): void
  assemble(
    reader: ReaderHandle,
    channel: number,
    frameBuffer: Buffer,
    counters: Float64Array,
    clockRate: number,
    onFrame: (slab: Buffer | null, offset: number, length: number, timestamp: number, keyframe: boolean) => Buffer | undefined,
  ): void
  feed(reader: ReaderHandle, unit: Buffer): void
}

/** Where each figure is in H264FrameAssembly.counters (native/ingest/h264_frames.h, same order). */
export const FrameCounter = {
  /** RTP packets parsed */
  packets: 0,
  /** interleaved payload bytes, malformed units included */
  bytes: 1,
  /** units that are not RTP version 2 */
  malformed: 2,
  /** packets missing from the sequence */
  lost: 3,
  /** duplicate or out-of-order packets, ignored */
  late: 4,
  /** STAP-B, MTAP, FU-B and reserved payload types */
  unsupported: 5,
  frames: 6,
  /** broken frames, and frames before a keyframe */
  dropped: 7,
  /** the sender's SSRC, once received > 0 */
  ssrc: 8,
  /** extended sequence numbers of the SSRC's first and highest packets (RFC 3550 A.1) */
  baseSeq: 9,
  maxSeq: 10,
  received: 11,
  /** interarrival jitter (RFC 3550 A.8), RTP timestamp units */
  jitter: 12,
} as const
const FRAME_COUNTERS = Object.keys(FrameCounter).length

/**
 * The largest frame assembled natively: a 4K keyframe at a high bitrate is 1–2 MB. A larger one is
 * dropped as broken. Pages of the buffer are committed only as frames reach them.
 */
export const MAX_NATIVE_FRAME_BYTES = 4 * 1024 * 1024

/**
 * Finished frames are copied (by the reader) into slabs of this size, one after another: a slab
 * lives until the last frame cut from it is dropped (a GOP cache holds about two seconds of video).
 */
const FRAME_SLAB_BYTES = 256 * 1024

/** One video channel's RTP assembled into H.264 frames by the reader (see InterleavedReader.assembleH264). */
export interface H264FrameAssembly {
  /** Figures kept current by the reader, indexed by FrameCounter. */
  readonly counters: Float64Array
  /** A unit of the channel that the JavaScript parser read (while it held a partial RTSP message). */
  feed(unit: Buffer): void
}

const load = () => loadNativeModule<NativeIngestModule>('ingest', 'sharp_eyes_ingest.node')

/** Whether RTSP connections are read natively, and why not. */
export function nativeInterleavedReaderStatus(): { available: boolean; reason: string } {
  const l = load()
  return { available: l.module !== null, reason: l.reason }
}

export interface InterleavedReaderHandlers {
  /**
   * `buffer[0, length)` was read: copy it out before returning (the reader reuses the buffer).
   * Return true when every byte so far has been consumed as whole RTSP items (the next byte starts
   * a new one), false when a partial item is held: the reader then hands over each read at once.
   */
  onData(length: number): boolean
  /** The connection ended: 0 for the peer's close, else -errno. Bytes read before it came first. */
  onEnd(errno: number): void
}

export class InterleavedReader {
  readonly #native: NativeIngestModule
  #handle: ReaderHandle | undefined

  private constructor(native: NativeIngestModule, handle: ReaderHandle) {
    this.#native = native
    this.#handle = handle
  }

  /**
   * Starts reading `socket` (connected, and paused: it must not read itself) into `buffer` (at
   * least 65,540 bytes: one whole interleaved unit). Bytes held back waiting for a frame's end are
   * handed over `holdMs` after the first of them came, at the latest. Null when the module isn't
   * available or the socket has no descriptor.
   */
  static open(socket: Socket, buffer: Buffer, holdMs: number, handlers: InterleavedReaderHandlers): InterleavedReader | null {
    const native = load().module
    const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd
    if (!native || typeof fd !== 'number' || fd < 0) return null
    return new InterleavedReader(native, native.open(fd, buffer, holdMs, (n) => handlers.onData(n), (e) => handlers.onEnd(e)))
  }

  /**
   * From now on the RTP of interleaved `channel` is H.264 (RFC 6184) and is assembled into frames
   * here, with the rules of H264Depacketizer (native/ingest/h264_frames.h): its units no longer
   * reach onData. `onFrame` gets each frame as `slab[offset, offset + length)`, its NAL units each
   * after a 4-byte big-endian length. The bytes are the caller's to keep (slabs are not reused).
   * Once per reader.
   */
  assembleH264(channel: number, clockRate: number, onFrame: (slab: Buffer, offset: number, length: number, timestamp: number, keyframe: boolean) => void): H264FrameAssembly {
    const h = this.#handle
    if (!h) throw new Error('reader is closed')
    const frame = Buffer.allocUnsafeSlow(MAX_NATIVE_FRAME_BYTES)
    const counters = new Float64Array(FRAME_COUNTERS)
    const native = this.#native
    native.assemble(h, channel, frame, counters, clockRate, (slab, offset, length, timestamp, keyframe) => {
      if (slab) {
        onFrame(slab, offset, length, timestamp, keyframe)
        return undefined
      }
      // The frame did not fit in the reader's slab: it is in the frame buffer, and starts a new slab.
      const fresh = Buffer.allocUnsafeSlow(Math.max(FRAME_SLAB_BYTES, length))
      frame.copy(fresh, 0, 0, length)
      onFrame(fresh, 0, length, timestamp, keyframe)
      return fresh
    })
    return {
      counters,
      feed: (unit) => {
        if (this.#handle) native.feed(this.#handle, unit)
      },
    }
  }

  get closed(): boolean {
    return this.#handle === undefined
  }

  /** Stops reading and closes the reader's descriptor (the connection ends once the socket's is closed too). Idempotent. */
  close(): void {
    const h = this.#handle
    this.#handle = undefined
    if (h) this.#native.close(h)
  }
}
