import type { CameraCredentials } from '../registry/index.js'

/**
 * What the live relay consumes: complete access units of one video stream with a 90 kHz
 * timestamp. Owned by the media feature; implementations wrap a camera's RTSP stream, the
 * ffmpeg demo pattern, or an ffmpeg transcode.
 */
export type VideoCodec = 'h264' | 'h265'

export interface VideoFrame {
  codec: VideoCodec
  /** NAL units without start codes; keyframes carry their parameter sets in-band. */
  nalus: Buffer[]
  /** 90 kHz. */
  timestamp: number
  keyframe: boolean
  /** Sum of NAL sizes. */
  bytes: number
  /** Date.now() at arrival. */
  receivedAt: number
}

export interface FrameSourceInfo {
  codec: VideoCodec
  width?: number
  height?: number
  /** H.264 profile-level-id (6 hex digits) from the SPS, when known. */
  profileLevelId?: string
}

export interface FrameSourceHandlers {
  onFrame(frame: VideoFrame): void
  /** The source ended by itself (camera gone, process died). Not called after close(). */
  onEnd(error: Error): void
}

export interface FrameSourceStats {
  /** Packets lost on the way from the camera (RTP sequence gaps). */
  packetsLost: number
}

export interface FrameSource {
  readonly kind: 'demo' | 'rtsp' | 'transcode' | 'gb28181'
  /** Connects and starts; resolves with what is known about the stream. Rejects on failure. */
  start(): Promise<FrameSourceInfo>
  /** Asks for a keyframe where the source supports it; false otherwise. */
  requestKeyframe(): boolean
  stats(): FrameSourceStats
  /** Idempotent; releases every process and socket. */
  close(): Promise<void>
}

/**
 * Live sources another feature provides for a URI scheme of its own (gb28181:// channels, whose
 * devices register to the gateway and are asked for video by INVITE). Owned here: media only needs this.
 */
export interface ExternalFrameSources {
  readonly scheme: string
  create(uri: string, cameraId: number, handlers: FrameSourceHandlers): FrameSource
}

export interface SourceSpec {
  uri: string
  credentials: CameraCredentials | null
  /** Codec the registry states for this stream (a hint; the source finds out). */
  codecHint: VideoCodec | null
}

export const nalBytes = (nalus: readonly Buffer[]): number => nalus.reduce((n, b) => n + b.length, 0)
