import { AnnexBParser, SupervisedProcess, transcodeToH264Args } from '../../lib/ffmpeg/index.js'
import { H264ParameterSets, joinAnnexB } from '../../lib/h264/index.js'
import type { FrameSource, FrameSourceHandlers, FrameSourceInfo } from './frame-source.js'
import { nalBytes } from './frame-source.js'
import type { LiveStream } from './live-stream.js'

/**
 * H.265 → H.264 for a viewer that cannot decode H.265 when the camera has no H.264 sub stream:
 * frames of the camera's own LiveStream (so the camera still sees one session) are piped into
 * ffmpeg (libx264 ultrafast zerolatency) and read back as H.264 access units.
 */
export class TranscodeFrameSource implements FrameSource {
  readonly kind = 'transcode' as const
  readonly #upstream: LiveStream
  readonly #handlers: FrameSourceHandlers
  readonly #opts: { ffmpegPath: string; fps: number }
  #proc: SupervisedProcess | undefined
  #unsubscribe: (() => void) | undefined
  #closed = false

  constructor(upstream: LiveStream, handlers: FrameSourceHandlers, opts: { ffmpegPath: string; fps: number }) {
    this.#upstream = upstream
    this.#handlers = handlers
    this.#opts = opts
  }

  start(): Promise<FrameSourceInfo> {
    const fps = this.#opts.fps
    const proc = new SupervisedProcess({ command: this.#opts.ffmpegPath, args: transcodeToH264Args({ inputFormat: 'hevc', fps }), stdin: true })
    this.#proc = proc
    const parser = new AnnexBParser('h264')
    const ps = new H264ParameterSets()
    const ticks = 90000 / fps
    let n = 0
    let keyed = false
    this.#unsubscribe = this.#upstream.subscribe({
      onFrame: (f) => {
        if (this.#closed || !proc.stdin || proc.stdin.destroyed) return
        if (!keyed && !f.keyframe) return
        keyed = true
        // A viewer slower than the encoder must not grow memory without bound.
        if (proc.stdin.writableLength > 8 * 1024 * 1024) return
        proc.stdin.write(joinAnnexB(f.nalus))
      },
      onDiscontinuity: () => {
        keyed = false
      },
    })
    return new Promise<FrameSourceInfo>((resolve, reject) => {
      let started = false
      proc.stdout.on('data', (chunk: Buffer) => {
        if (this.#closed) return
        for (const au of parser.push(chunk)) {
          const nalus = ps.process(au.nalus)
          if (!started) {
            started = true
            const sps = ps.spsInfo
            resolve({ codec: 'h264', ...(sps ? { width: sps.width, height: sps.height, profileLevelId: sps.codec.slice(5) } : {}) })
          }
          this.#handlers.onFrame({ codec: 'h264', nalus, timestamp: Math.round(n++ * ticks) >>> 0, keyframe: au.keyframe, bytes: nalBytes(nalus), receivedAt: Date.now() })
        }
      })
      proc.once('exit', (exit) => {
        this.#unsubscribe?.()
        if (this.#closed) return
        const err = new Error(`transcoder exited (${exit.code ?? exit.signal})${exit.stderr ? ': ' + exit.stderr.slice(-300) : ''}`)
        if (!started) reject(err)
        else this.#handlers.onEnd(err)
      })
    })
  }

  requestKeyframe(): boolean {
    return false
  }

  stats() {
    return { packetsLost: 0 }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    await this.#proc?.close()
  }
}
