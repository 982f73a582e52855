/**
 * ffmpeg/ffprobe argument builders for recording and export: pure functions returning argv
 * arrays built only from numbers and paths the gateway chose (never from a request).
 */

export interface SegmenterArgs {
  codec: 'h264' | 'h265'
  /** frames per second the Annex-B input is timed at: a number or a rational "90000/3600" */
  fps: number | string
  segmentSeconds: number
  /** output pattern with one %05d, e.g. /data/recordings/3/2026-11-21/1700000000000-%05d.mp4 */
  pattern: string
}

/**
 * Annex-B access units on stdin → fragmented MP4 segments, stream copy (never transcoded). Each
 * finished segment is announced as a CSV line "file,start,end" on stdout. A fragment per keyframe
 * (frag_keyframe) and flushed packets: a killed ffmpeg leaves a file playable to its last fragment.
 */
export function segmenterArgs(a: SegmenterArgs): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-fflags', '+genpts',
    '-f', a.codec === 'h265' ? 'hevc' : 'h264',
    '-framerate', String(a.fps),
    '-i', 'pipe:0',
    '-map', '0:v:0', '-c', 'copy',
    '-f', 'segment',
    '-segment_time', String(a.segmentSeconds),
    '-segment_format', 'mp4',
    '-segment_format_options', 'movflags=+frag_keyframe+empty_moov+default_base_moof',
    '-segment_list', 'pipe:1', '-segment_list_type', 'csv', '-segment_list_flags', 'live',
    '-flush_packets', '1',
    a.pattern,
  ]
}

export interface ExportArgs {
  /**
   * concat demuxer list (written by us from indexed segments): the first file with an `inpoint`
   * (stream copy then starts at the keyframe at or before it), the last with an `outpoint`
   */
  listFile: string
  /** frame-exact cuts: seconds decoded and dropped from the start, and the output duration */
  exact?: { offsetSeconds: number; durationSeconds: number }
  /** progress key=value lines go to this file (polled); stdout carries the video */
  progressFile: string
}

/**
 * Segments → one MP4 on stdout (fragmented, so it streams straight into the zip: the footage is
 * read once and written once). Stream copy by default; `exact` re-encodes with libx264.
 * (Input -ss on the concat demuxer cannot seek inside fragmented MP4 and would start at the top
 * of the first file: the cut points are inpoint/outpoint in the list instead.)
 */
export function exportArgs(a: ExportArgs): string[] {
  const t = (n: number) => Math.max(0, n).toFixed(3)
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
    '-f', 'concat', '-safe', '0',
    '-i', a.listFile,
    ...(a.exact ? ['-ss', t(a.exact.offsetSeconds), '-t', t(a.exact.durationSeconds)] : []),
    '-map', '0:v:0',
    ...(a.exact ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p'] : ['-c', 'copy']),
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
    '-progress', a.progressFile, '-nostats',
    '-f', 'mp4', 'pipe:1',
  ]
}

/** The concat list: absolute paths of our own files, with optional in and out points (seconds). */
export function concatList(files: { path: string; inpoint?: number; outpoint?: number }[]): string {
  let out = 'ffconcat version 1.0\n'
  for (const f of files) {
    out += `file '${f.path.replace(/'/g, "'\\''")}'\n`
    if (f.inpoint !== undefined && f.inpoint > 0) out += `inpoint ${f.inpoint.toFixed(3)}\n`
    if (f.outpoint !== undefined) out += `outpoint ${f.outpoint.toFixed(3)}\n`
  }
  return out
}

/** ffprobe of a file: format duration and size, first video stream codec, as JSON. */
export function probeArgs(file: string): string[] {
  return ['-v', 'error', '-print_format', 'json', '-show_entries', 'format=duration,size:stream=codec_name,codec_type', file]
}
