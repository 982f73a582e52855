import { existsSync } from 'node:fs'

/**
 * ffmpeg argument builders: pure functions returning argv arrays. Nothing here goes through a
 * shell; values are passed as single arguments, and text drawn into video is sanitised for the
 * filtergraph syntax.
 */

export const DEFAULT_FONT_FILES = [
  '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
]

/** First existing font file (CJK first, so Chinese camera names render), or undefined. */
export function defaultFontFile(candidates: readonly string[] = DEFAULT_FONT_FILES): string | undefined {
  return candidates.find((f) => existsSync(f))
}

/**
 * Keeps letters (any script), digits, spaces and a few punctuation marks; everything that has a
 * meaning in filtergraph or drawtext syntax (: ' \ , ; [ ] % {} =) is dropped.
 */
export function sanitizeDrawText(text: string, maxLength = 64): string {
  return text
    .normalize('NFC')
    .replace(/[^\p{L}\p{N} _\-.#()（）·]/gu, '')
    .slice(0, maxLength)
}

/** Escapes a value for use inside a filter option (level 1) and the filtergraph (level 2). */
function escapeFilterValue(v: string): string {
  return v.replace(/[\\':,;[\]]/g, (c) => '\\' + c)
}

export interface DemoSourceArgs {
  width: number
  height: number
  fps: number
  /** Text drawn under the clock (camera name). */
  label?: string
  /** Seconds between keyframes. Default 2. */
  gopSeconds?: number
  /** kbit/s; default: x264's CRF-based rate (ultrafast). */
  bitrateKbps?: number
  fontFile?: string
  /** x264 slices per frame (exercise multi-slice paths). Default: x264's choice. */
  slices?: number
  /** Stop after this many seconds (tests). */
  durationSeconds?: number
  /** Wall clock at start (ms since epoch) for the clock overlay; default now. */
  clockStartMs?: number
}

/** Seconds since local midnight. */
export function timeOfDaySeconds(epochMs: number): number {
  const d = new Date(epochMs)
  return d.getHours() * 3600 + d.getMinutes() * 60 + d.getSeconds() + d.getMilliseconds() / 1000
}

/**
 * The demo camera: a testsrc2 pattern in real time with the wall clock (milliseconds) and the
 * camera's label drawn on it, encoded by libx264 (ultrafast, zerolatency, no B-frames, AUDs) to
 * raw Annex B H.264 on stdout.
 */
export function demoSourceArgs(o: DemoSourceArgs): string[] {
  const gop = Math.max(1, Math.round(o.fps * (o.gopSeconds ?? 2)))
  const font = o.fontFile ?? defaultFontFile()
  const fontOpt = font ? `fontfile=${escapeFilterValue(font)}:` : ''
  const size = Math.max(12, Math.round(o.height / 18))
  const filters = [
    // Local time of day with milliseconds: the start time plus the frame's pts (-re keeps pts on
    // the wall clock), so a glass-to-glass measurement can read it back in the browser.
    `drawtext=${fontOpt}text='%{pts\\:hms\\:${timeOfDaySeconds(o.clockStartMs ?? Date.now()).toFixed(3)}}':x=${size}:y=${size}:fontsize=${size}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6`,
  ]
  const label = o.label ? sanitizeDrawText(o.label) : ''
  if (label) {
    filters.push(`drawtext=${fontOpt}expansion=none:text='${label}':x=${size}:y=${size * 3}:fontsize=${size}:fontcolor=yellow:box=1:boxcolor=black@0.6:boxborderw=6`)
  }
  const x264params = ['aud=1', 'repeat-headers=1', `keyint=${gop}`, `min-keyint=${gop}`, 'scenecut=0']
  if (o.slices) x264params.push(`slices=${o.slices}`, 'sliced-threads=0')
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`]
  if (o.durationSeconds) args.push('-t', String(o.durationSeconds))
  args.push('-vf', filters.join(','), '-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', String(gop), '-bf', '0')
  if (o.bitrateKbps) args.push('-b:v', `${o.bitrateKbps}k`, '-maxrate', `${o.bitrateKbps}k`, '-bufsize', `${o.bitrateKbps * 2}k`)
  args.push('-x264-params', x264params.join(':'), '-flush_packets', '1', '-f', 'h264', 'pipe:1')
  return args
}

export interface TranscodeArgs {
  /** Input elementary stream format on stdin. */
  inputFormat: 'hevc' | 'h264'
  fps?: number
  gopSeconds?: number
  bitrateKbps?: number
  /** Scale to this height (keeps aspect), e.g. 720. */
  maxHeight?: number
}

/** Annex B (H.265 usually) on stdin → H.264 Annex B with AUDs on stdout (libx264 ultrafast zerolatency). */
export function transcodeToH264Args(o: TranscodeArgs): string[] {
  const fps = o.fps ?? 25
  const gop = Math.max(1, Math.round(fps * (o.gopSeconds ?? 2)))
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32768', '-analyzeduration', '0', '-f', o.inputFormat, '-framerate', String(fps), '-i', 'pipe:0', '-an']
  if (o.maxHeight) args.push('-vf', `scale=-2:'min(${o.maxHeight},ih)'`)
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', String(gop), '-bf', '0')
  if (o.bitrateKbps) args.push('-b:v', `${o.bitrateKbps}k`, '-maxrate', `${o.bitrateKbps}k`, '-bufsize', `${o.bitrateKbps * 2}k`)
  args.push('-x264-params', `aud=1:repeat-headers=1:keyint=${gop}:scenecut=0`, '-flush_packets', '1', '-f', 'h264', 'pipe:1')
  return args
}

/** One keyframe (Annex B with its parameter sets) on stdin → one JPEG on stdout. */
export function snapshotFromAnnexBArgs(inputFormat: 'h264' | 'hevc', quality = 3): string[] {
  return ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', inputFormat, '-i', 'pipe:0', '-frames:v', '1', '-q:v', String(quality), '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1']
}

/** One frame grabbed from an RTSP URL (credentials in the URL are passed as an argument, never logged). */
export function snapshotFromRtspArgs(url: string, transport: 'tcp' | 'udp' = 'tcp', quality = 3): string[] {
  return ['-hide_banner', '-nostdin', '-loglevel', 'error', '-rtsp_transport', transport, '-i', url, '-frames:v', '1', '-q:v', String(quality), '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1']
}
