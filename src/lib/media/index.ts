export { GopCache } from './gop-cache.js'
export {
  H264FrameSource,
  type H264FrameSourceOptions,
  type H264FrameSourceEvents,
  type H264StreamInfo,
  type VideoFrame,
} from './h264-frame-source.js'
export { Pacer, type PacerClock, type PacerOptions } from './pacer.js'
