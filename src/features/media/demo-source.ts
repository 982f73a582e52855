import { AnnexBParser, SupervisedProcess, demoSourceArgs } from '../../lib/ffmpeg/index.js'
import { H264ParameterSets } from '../../lib/h264/index.js'
import type { FrameSource, FrameSourceHandlers, FrameSourceInfo } from './frame-source.js'
import { nalBytes } from './frame-source.js'

export interface DemoParams {
  width: number
  height: number
  fps: number
  label: string
  slices?: number
  bitrateKbps?: number
}

/** demo://testsrc2?size=1280x720&fps=25&label=name[&slices=4][&bitrate=2000] */
export function parseDemoUri(uri: string): DemoParams {
  const url = new URL(uri)
  if (url.protocol !== 'demo:') throw new Error(`not a demo URI: ${uri}`)
  const q = url.searchParams
  const size = /^(\d{2,4})x(\d{2,4})$/.exec(q.get('size') ?? '1280x720')
  const width = size ? Number(size[1]) : 1280
  const height = size ? Number(size[2]) : 720
  const fps = Math.min(60, Math.max(1, Number(q.get('fps') ?? 25) || 25))
  const slices = q.get('slices') ? Math.min(16, Math.max(1, Number(q.get('slices')) || 1)) : undefined
  const bitrate = q.get('bitrate') ? Math.min(50_000, Math.max(50, Number(q.get('bitrate')) || 0)) : undefined
  // Default rate like a camera's (≈2 Mbit/s at 720p25), not x264's CRF rate for a synthetic pattern.
  const bitrateKbps = bitrate ?? Math.max(100, Math.round((width * height * fps * 0.08) / 1000))
  return { width: width - (width % 2), height: height - (height % 2), fps, label: q.get('label') ?? '', bitrateKbps, ...(slices ? { slices } : {}) }
}

/** The demo camera: ffmpeg's testsrc2 with a running clock, H.264 Annex B on a pipe. */
export class DemoFrameSource implements FrameSource {
  readonly kind = 'demo' as const
  readonly #params: DemoParams
  readonly #handlers: FrameSourceHandlers
  readonly #ffmpeg: string
  readonly #fontFile: string | undefined
  #proc: SupervisedProcess | undefined
  #closed = false
  #frameIndex = 0
  #params264 = new H264ParameterSets()

  constructor(uri: string, handlers: FrameSourceHandlers, opts: { ffmpegPath: string; fontFile?: string }) {
    this.#params = parseDemoUri(uri)
    this.#handlers = handlers
    this.#ffmpeg = opts.ffmpegPath
    this.#fontFile = opts.fontFile
  }

  start(): Promise<FrameSourceInfo> {
    const p = this.#params
    const args = demoSourceArgs({ width: p.width, height: p.height, fps: p.fps, label: p.label, ...(p.slices ? { slices: p.slices } : {}), ...(p.bitrateKbps ? { bitrateKbps: p.bitrateKbps } : {}), ...(this.#fontFile ? { fontFile: this.#fontFile } : {}) })
    const proc = new SupervisedProcess({ command: this.#ffmpeg, args })
    this.#proc = proc
    const parser = new AnnexBParser('h264')
    const ticks = 90000 / p.fps
    return new Promise<FrameSourceInfo>((resolve, reject) => {
      let started = false
      proc.stdout.on('data', (chunk: Buffer) => {
        if (this.#closed) return
        let aus
        try {
          aus = parser.push(chunk)
        } catch (err) {
          void proc.close()
          return
        }
        for (const au of aus) {
          const nalus = this.#params264.process(au.nalus.filter((n) => (n[0]! & 0x1f) !== 12))
          const frame = { codec: 'h264' as const, nalus, timestamp: Math.round(this.#frameIndex++ * ticks) >>> 0, keyframe: au.keyframe, bytes: nalBytes(nalus), receivedAt: Date.now() }
          if (!started) {
            started = true
            const sps = this.#params264.spsInfo
            resolve({ codec: 'h264', width: sps?.width ?? p.width, height: sps?.height ?? p.height, ...(sps ? { profileLevelId: sps.codec.slice(5) } : {}) })
          }
          this.#handlers.onFrame(frame)
        }
      })
      proc.once('exit', (exit) => {
        if (this.#closed) return
        const err = new Error(`demo source ffmpeg exited (${exit.code ?? exit.signal})${exit.stderr ? ': ' + exit.stderr.slice(-300) : ''}`)
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
    await this.#proc?.close()
  }
}
