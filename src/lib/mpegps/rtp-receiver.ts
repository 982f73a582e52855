import { isH264Keyframe, splitAnnexB } from '../h264/index.js'
import { isH265Keyframe } from '../h265/index.js'
import { seqDiff, type RtpPacket } from '../rtp/index.js'
import { ProgramStreamDemuxer, type PsCodec, type PsDemuxerOptions } from './demuxer.js'

/**
 * A GB/T 28181 media stream: MPEG-PS carried in RTP (payload type 96 `PS/90000`), over UDP or
 * over TCP with RFC 4571 framing. Puts packets back in order within a small window, reports a
 * loss to the demuxer (which drops the broken frame and resumes at the next pack header), and
 * turns the demuxed elementary streams into video frames (NAL units, keyframe flag, 90 kHz
 * timestamp) and audio frames. After a loss, and at the start, video frames are held back until
 * a keyframe, so no viewer or recording is handed a picture that cannot decode.
 *
 * SSRC: the one the platform asked for in its INVITE (`y=`) is expected, but devices are known to
 * send another; such packets are counted and accepted rather than shown as a black screen. A
 * change of SSRC mid-stream (a device restarting its sender) starts over.
 */

export interface PsVideoFrame {
  codec: 'h264' | 'h265'
  /** NAL units without start codes */
  nalus: Buffer[]
  /** 90 kHz: the PES PTS (low 32 bits) when given, else the RTP timestamp */
  timestamp: number
  keyframe: boolean
}

export interface PsAudioFrame {
  codec: PsCodec
  data: Buffer
  timestamp: number
}

export interface PsRtpReceiverOptions extends PsDemuxerOptions {
  /** packets held waiting for a missing one before it is declared lost */
  reorderWindow?: number
  /** the SSRC asked for in the INVITE; others are counted and accepted */
  expectedSsrc?: number
}

export interface PsRtpReceiverStats {
  packets: number
  /** packets never received (sequence gaps given up on) */
  lost: number
  /** packets that arrived out of order and were put back in place */
  reordered: number
  /** late or repeated packets dropped */
  duplicates: number
  /** packets whose SSRC differs from the expected one */
  ssrcMismatches: number
  /** times the sender's SSRC changed mid-stream */
  ssrcChanges: number
  /** video frames held back while waiting for a keyframe */
  framesAwaitingKeyframe: number
  /** video frames of a codec we do not relay (MPEG-4, SVAC) */
  unsupportedFrames: number
}

export interface PsRtpOutput {
  video: PsVideoFrame[]
  audio: PsAudioFrame[]
}

export class PsRtpReceiver {
  readonly stats: PsRtpReceiverStats = { packets: 0, lost: 0, reordered: 0, duplicates: 0, ssrcMismatches: 0, ssrcChanges: 0, framesAwaitingKeyframe: 0, unsupportedFrames: 0 }
  readonly #opts: PsRtpReceiverOptions
  #demuxer: ProgramStreamDemuxer
  #ssrc: number | undefined
  #expectedSeq: number | undefined
  readonly #held = new Map<number, RtpPacket>()
  #needKeyframe = true

  constructor(opts: PsRtpReceiverOptions = {}) {
    this.#opts = opts
    this.#demuxer = new ProgramStreamDemuxer(opts)
  }

  get demuxer(): ProgramStreamDemuxer {
    return this.#demuxer
  }

  push(packet: RtpPacket): PsRtpOutput {
    const out: PsRtpOutput = { video: [], audio: [] }
    this.stats.packets++
    if (this.#opts.expectedSsrc !== undefined && packet.ssrc !== this.#opts.expectedSsrc) this.stats.ssrcMismatches++
    if (this.#ssrc !== undefined && packet.ssrc !== this.#ssrc) {
      this.stats.ssrcChanges++
      this.#restart()
    }
    this.#ssrc = packet.ssrc
    if (this.#expectedSeq === undefined) this.#expectedSeq = packet.sequenceNumber
    const d = seqDiff(this.#expectedSeq, packet.sequenceNumber)
    if (d < 0 || this.#held.has(packet.sequenceNumber)) {
      this.stats.duplicates++
      return out
    }
    if (d > 0) {
      this.stats.reordered++
      this.#held.set(packet.sequenceNumber, packet)
      if (this.#held.size <= (this.#opts.reorderWindow ?? 32)) return out
      // the missing packets are not coming: resume at the oldest one held
      let oldest = packet.sequenceNumber
      for (const seq of this.#held.keys()) if (seqDiff(oldest, seq) < 0) oldest = seq
      this.stats.lost += seqDiff(this.#expectedSeq, oldest)
      this.stats.reordered -= 1
      this.#lost()
      this.#expectedSeq = oldest
    } else {
      this.#deliver(packet, out)
    }
    // whatever was waiting behind it
    for (let next = this.#held.get(this.#expectedSeq); next; next = this.#held.get(this.#expectedSeq)) {
      this.#held.delete(this.#expectedSeq)
      this.#deliver(next, out)
    }
    return out
  }

  /** The stream ended: what is pending. */
  flush(): PsRtpOutput {
    const out: PsRtpOutput = { video: [], audio: [] }
    this.#emit(this.#demuxer.flush(), undefined, out)
    return out
  }

  #restart(): void {
    this.#demuxer = new ProgramStreamDemuxer(this.#opts)
    this.#held.clear()
    this.#expectedSeq = undefined
    this.#needKeyframe = true
  }

  #lost(): void {
    this.#demuxer.discontinuity()
    this.#needKeyframe = true
  }

  #deliver(packet: RtpPacket, out: PsRtpOutput): void {
    this.#expectedSeq = (packet.sequenceNumber + 1) & 0xffff
    this.#emit(this.#demuxer.push(packet.payload), packet.timestamp, out)
    if (packet.marker) this.#emit(this.#demuxer.endOfFrame(), packet.timestamp, out)
  }

  #emit(units: ReturnType<ProgramStreamDemuxer['push']>, rtpTimestamp: number | undefined, out: PsRtpOutput): void {
    for (const u of units) {
      const timestamp = u.pts !== undefined ? u.pts % 2 ** 32 : (rtpTimestamp ?? 0)
      if (u.kind === 'audio') {
        out.audio.push({ codec: u.codec, data: u.data, timestamp })
        continue
      }
      if (u.codec !== 'h264' && u.codec !== 'h265') {
        this.stats.unsupportedFrames++
        continue
      }
      const nalus = splitAnnexB(u.data)
      if (!nalus.length) continue
      const keyframe = u.codec === 'h264' ? isH264Keyframe(nalus) : isH265Keyframe(nalus)
      if (this.#needKeyframe) {
        if (!keyframe) {
          this.stats.framesAwaitingKeyframe++
          continue
        }
        this.#needKeyframe = false
      }
      out.video.push({ codec: u.codec, nalus, timestamp, keyframe })
    }
  }
}
