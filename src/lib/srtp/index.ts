/**
 * SRTP protection and batched UDP sending of RTP packets, and SRTCP protection of the sender's
 * RTCP reports, in native code (native/srtp/srtp.c, built by scripts/build-native.sh). One OpenSSL
 * context per sender and direction, keyed once: JavaScript SRTP (werift's) creates a new
 * node:crypto cipher per packet and sends each packet through its own chain of promises and
 * syscall. Optional: `nativeSrtp()` is null when the module isn't built, and callers keep their
 * JavaScript path.
 *
 * Profiles (RFC 5764 / RFC 7714 numbers): 0x0001 AES_CM_128_HMAC_SHA1_80, 0x0002
 * AES_CM_128_HMAC_SHA1_32, 0x0007 AEAD_AES_128_GCM. SRTCP (RFC 3711 3.4, RFC 7714 9): a 31-bit index
 * per sender from 0, E=1 (encrypted); the SRTCP tag is 80 bits for both AES_CM profiles (RFC 5764
 * 4.1.2: _32 shortens the SRTP tag only) and 128 bits for GCM.
 */
import type { Socket as DgramSocket } from 'node:dgram'
import { loadNativeModule } from '../native/index.js'

export type SrtpProfile = 0x0001 | 0x0002 | 0x0007
export const SRTP_PROFILES: readonly SrtpProfile[] = [0x0001, 0x0002, 0x0007]

/** A sender's SRTP context (opaque; one per SSRC). */
export type SrtpContextHandle = { readonly __brand: 'SrtpContext' }

interface NativeSrtpModule {
  createContext(profile: number, masterKey: Buffer, masterSalt: Buffer): SrtpContextHandle
  protect(ctx: SrtpContextHandle, rtpPacket: Buffer): Buffer
  socketAddress(ip: string, port: number): Buffer
  sendRtp(ctx: SrtpContextHandle, fd: number, address: Buffer, payloadType: number, ssrc: number, firstSequenceNumber: number, timestamp: number, markerOnLast: boolean, payloads: readonly Buffer[]): number
  protectRtcp(ctx: SrtpContextHandle, rtcpPacket: Buffer): Buffer
  sendRtcp(ctx: SrtpContextHandle, fd: number, address: Buffer, rtcpPacket: Buffer): number
  close(ctx: SrtpContextHandle): void
}

const load = () => loadNativeModule<NativeSrtpModule>('srtp', 'sharp_eyes_srtp.node')

/** Why the native module is or isn't in use (for the startup log and the metrics). */
export function nativeSrtpStatus(): { available: boolean; reason: string } {
  const l = load()
  return { available: l.module !== null, reason: l.reason }
}

/**
 * One RTP sender's SRTP state: the session keys, and the rollover counter that its sequence
 * numbers advance (so every packet of one SSRC must go through the same SrtpSender).
 */
export class SrtpSender {
  readonly profile: SrtpProfile
  /** SRTP authentication tag bytes per RTP packet. */
  readonly tagLength: number
  /** Bytes SRTCP adds to an RTCP packet: the 4-byte E||index word and the tag (10, or 16 for GCM). */
  readonly rtcpOverhead: number
  readonly #native: NativeSrtpModule
  #ctx: SrtpContextHandle | undefined

  private constructor(native: NativeSrtpModule, profile: SrtpProfile, ctx: SrtpContextHandle) {
    this.#native = native
    this.profile = profile
    this.tagLength = profile === 0x0007 ? 16 : profile === 0x0002 ? 4 : 10
    this.rtcpOverhead = 4 + (profile === 0x0007 ? 16 : 10)
    this.#ctx = ctx
  }

  /** Null when the native module isn't available or the profile isn't supported. */
  static create(profile: number, masterKey: Buffer, masterSalt: Buffer): SrtpSender | null {
    const native = load().module
    if (!native || !(SRTP_PROFILES as readonly number[]).includes(profile)) return null
    return new SrtpSender(native, profile as SrtpProfile, native.createContext(profile, masterKey, masterSalt))
  }

  get closed(): boolean {
    return this.#ctx === undefined
  }

  /** One RTP packet (header as given) → SRTP. */
  protect(rtpPacket: Buffer): Buffer {
    return this.#native.protect(this.#live(), rtpPacket)
  }

  /**
   * Builds, protects and sends RTP packets carrying `payloads` with consecutive sequence numbers
   * from `firstSequenceNumber`, one timestamp, the marker on the last if `markerOnLast`; one
   * sendmmsg call per 64 packets on the UDP socket `fd`. Returns the number the kernel took
   * (a full socket buffer drops the rest, as UDP would), or -errno on any other socket error.
   */
  sendRtp(fd: number, address: Buffer, packet: { payloadType: number; ssrc: number; firstSequenceNumber: number; timestamp: number; markerOnLast: boolean }, payloads: readonly Buffer[]): number {
    return this.#native.sendRtp(this.#live(), fd, address, packet.payloadType, packet.ssrc >>> 0, packet.firstSequenceNumber & 0xffff, packet.timestamp >>> 0, packet.markerOnLast, payloads)
  }

  /**
   * One compound RTCP packet (RTCP version 2, 8 to 1400 bytes, whole 32-bit words) → SRTCP,
   * encrypted, with this sender's next SRTCP index. Throws (code ERR_SRTP_ARG) naming what is wrong
   * with a packet that isn't one.
   */
  protectRtcp(rtcpPacket: Buffer): Buffer {
    return this.#native.protectRtcp(this.#live(), rtcpPacket)
  }

  /**
   * Protects one compound RTCP packet (as protectRtcp) and sends it with one sendto on the UDP
   * socket `fd`. Returns the bytes the kernel took, 0 when the socket buffer was full (dropped, as
   * UDP would), or -errno on any other socket error.
   */
  sendRtcp(fd: number, address: Buffer, rtcpPacket: Buffer): number {
    return this.#native.sendRtcp(this.#live(), fd, address, rtcpPacket)
  }

  /** Frees the OpenSSL contexts. Idempotent. */
  close(): void {
    if (!this.#ctx) return
    this.#native.close(this.#ctx)
    this.#ctx = undefined
  }

  #live(): SrtpContextHandle {
    if (!this.#ctx) throw new Error('SrtpSender is closed')
    return this.#ctx
  }
}

/** A socket address for SrtpSender.sendRtp / sendRtcp (sockaddr_in / sockaddr_in6 bytes). Null if native SRTP is unavailable. */
export function socketAddress(ip: string, port: number): Buffer | null {
  return load().module?.socketAddress(ip, port) ?? null
}

/**
 * The file descriptor of a bound dgram socket, for SrtpSender.sendRtp. Node keeps the handle under
 * an internal symbol (`socket._handle` is the same object behind a getter that warns, DEP0112).
 * Undefined when the socket isn't bound or Node's internals differ.
 */
export function udpSocketFd(socket: DgramSocket): number | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((sym) => sym.description === 'state symbol')
  const fd = state ? (socket as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[state]?.handle?.fd : undefined
  return typeof fd === 'number' && fd >= 0 ? fd : undefined
}
