export { GopCache } from './gop-cache.js'
export {
  H264FrameSource,
  type H264FrameSourceOptions,
  type H264FrameSourceEvents,
  type H264StreamInfo,
  type VideoFrame,
} from './h264-frame-source.js'
export { Pacer, type PacerClock, type PacerOptions } from './pacer.js'
export {
  DEFAULT_TIMELINE_BREAK_LIMITS,
  timelineBreak,
  timestampDeltaMs,
  type TimelineBreak,
  type TimelineBreakLimits,
  type TimelinePoint,
} from './timeline.js'
