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
