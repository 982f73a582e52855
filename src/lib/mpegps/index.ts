export {
  ProgramStreamDemuxer,
  probeVideoCodec,
  type PsAccessUnit,
  type PsCodec,
  type PsDemuxerOptions,
  type PsDemuxerStats,
} from './demuxer.js'
export { PsRtpReceiver, type PsAudioFrame, type PsRtpOutput, type PsRtpReceiverOptions, type PsRtpReceiverStats, type PsVideoFrame } from './rtp-receiver.js'
