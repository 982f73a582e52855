/**
 * Tells a break in a stream's 90 kHz timeline from the ordinary jitter of a live stream.
 *
 * A camera's RTP timestamps are only meaningful relative to each other while the stream runs
 * unbroken. They jump when the camera's clock is stepped (NTP, an operator), the camera or its
 * encoder restarts, the camera or the gateway's host is paused (a VM migration, a long stop) and
 * frames resume, or a camera drops from its normal rate to nothing and back. Footage timed across
 * such a jump is wrong — one night shift indexed a segment with its end 2,270 s before its start
 * after a 41.5 s host pause — so the recorder ends its segment at a break and the live relay
 * re-bases its output timeline there.
 *
 * A 32-bit wrap of the timestamp is not a break: differences are taken modulo 2^32, as RFC 3550
 * intends.
 */

export interface TimelinePoint {
  /** 32-bit 90 kHz stream timestamp */
  timestamp: number
  /** wall-clock arrival, ms */
  receivedAt: number
}

export interface TimelineBreakLimits {
  /**
   * Stream time may step back this far between consecutive frames (B-frames arrive in decode
   * order, so their presentation timestamps go back by a few frame intervals).
   */
  maxBackwardMs: number
  /**
   * The stream's own time between two frames may differ from their arrival interval by this much
   * (network and scheduling jitter, a busy event loop). Beyond it the stream's clock and ours
   * disagree: a clock step, or a pause on one side only.
   */
  maxDriftMs: number
  /**
   * A hole in the stream this long (frames missing while both clocks agree: a paused source, a
   * lost GOP, a camera that stopped sending) is a break too, since the segmenter times the file
   * by its frames and could not show the hole.
   */
  maxGapMs: number
}

export const DEFAULT_TIMELINE_BREAK_LIMITS: TimelineBreakLimits = { maxBackwardMs: 1000, maxDriftMs: 5000, maxGapMs: 2000 }

export type TimelineBreak =
  /** stream time went back (clock step back, encoder restart, a paused host's resumed source) */
  | 'backward'
  /** stream time and arrival time disagree (clock step forward, one side paused) */
  | 'drift'
  /** a hole in the stream: frames missing for longer than maxGapMs */
  | 'gap'

/** Signed difference b − a of two 32-bit timestamps, in ms (modulo 2^32: wraps are continuous). */
export function timestampDeltaMs(a: number, b: number): number {
  return ((b - a) | 0) / 90
}

/**
 * The kind of break between two consecutive frames, or undefined when the second one continues
 * the first. `frameIntervalMs` (the stream's nominal frame interval, when known) raises the gap
 * limit for slow streams, so a 0.5 fps camera is not cut at every frame.
 */
export function timelineBreak(
  prev: TimelinePoint,
  next: TimelinePoint,
  limits: TimelineBreakLimits = DEFAULT_TIMELINE_BREAK_LIMITS,
  frameIntervalMs = 0,
): TimelineBreak | undefined {
  const streamMs = timestampDeltaMs(prev.timestamp, next.timestamp)
  const arrivalMs = next.receivedAt - prev.receivedAt
  if (streamMs < -limits.maxBackwardMs) return 'backward'
  if (Math.abs(streamMs - arrivalMs) > limits.maxDriftMs) return 'drift'
  if (streamMs > Math.max(limits.maxGapMs, 4 * frameIntervalMs)) return 'gap'
  return undefined
}
