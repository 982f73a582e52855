import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { LiveStream } from './live-stream.js'

export type VideoMode = 'passthrough-h264' | 'passthrough-h265' | 'h264-substream' | 'transcoded-h264'

/** Per-camera live-video metrics in the gateway's prom-client registry. */
export class MediaMetrics {
  readonly sessions: Counter<'camera' | 'stream' | 'mode'>
  readonly ttff: Histogram<'stream'>
  readonly restarts: Counter<'camera' | 'stream'>
  readonly upstreamLost: Counter<'camera' | 'stream'>
  readonly #lostSeen = new WeakMap<LiveStream, number>()

  constructor(registry: Registry, streams: () => Iterable<LiveStream>, viewerLoss: (s: LiveStream) => number, viewersOf: (s: LiveStream) => number, srtpPaths: () => Iterable<string>, pendingCandidates: () => number) {
    const registers = [registry]
    const labelsOf = (s: LiveStream) => ({ camera: String(s.cameraId), stream: s.streamName })
    const self = this
    new Gauge({
      name: 'gateway_media_viewers',
      help: 'WebRTC viewers per camera stream',
      labelNames: ['camera', 'stream'] as const,
      registers,
      collect() {
        this.reset()
        for (const s of streams()) this.set(labelsOf(s), viewersOf(s))
      },
    })
    new Gauge({
      name: 'gateway_media_upstream_up',
      help: '1 when the camera stream is being received',
      labelNames: ['camera', 'stream'] as const,
      registers,
      collect() {
        this.reset()
        for (const s of streams()) this.set(labelsOf(s), s.state === 'running' ? 1 : 0)
      },
    })
    const rateGauge = (name: string, help: string, pick: (s: LiveStream) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['camera', 'stream'] as const,
        registers,
        collect() {
          this.reset()
          for (const s of streams()) if (s.state === 'running') this.set(labelsOf(s), s.msSinceFrame > 2000 ? 0 : pick(s))
        },
      })
    rateGauge('gateway_media_ingest_bitrate_bps', 'Video bits per second received from the camera (last second)', (s) => s.counters.bitrateBps)
    rateGauge('gateway_media_ingest_fps', 'Frames per second received from the camera (last second)', (s) => s.counters.fps)
    new Gauge({
      name: 'gateway_media_keyframe_interval_seconds',
      help: 'Time between the last two keyframes from the camera',
      labelNames: ['camera', 'stream'] as const,
      registers,
      collect() {
        this.reset()
        for (const s of streams()) {
          if (s.counters.keyframeIntervalMs) this.set(labelsOf(s), s.counters.keyframeIntervalMs / 1000)
          const lost = s.counters.packetsLost
          const seen = self.#lostSeen.get(s) ?? 0
          if (lost > seen) self.upstreamLost.inc(labelsOf(s), lost - seen)
          self.#lostSeen.set(s, lost)
        }
      },
    })
    new Gauge({
      name: 'gateway_media_viewer_packets_lost',
      help: 'Packets lost on the way to viewers (sum of their RTCP receiver reports)',
      labelNames: ['camera', 'stream'] as const,
      registers,
      collect() {
        this.reset()
        for (const s of streams()) this.set(labelsOf(s), viewerLoss(s))
      },
    })
    new Gauge({
      name: 'gateway_media_viewers_by_srtp_path',
      help: "WebRTC viewers by how their packets are protected and sent: native (the native SRTP module, sendmmsg on the pair's socket), native-protect (through a TURN relay), javascript (werift's SRTP), pending",
      labelNames: ['path'] as const,
      registers,
      collect() {
        this.reset()
        const counts = new Map<string, number>()
        for (const p of srtpPaths()) counts.set(p, (counts.get(p) ?? 0) + 1)
        for (const [path, n] of counts) this.set({ path }, n)
      },
    })
    new Gauge({
      name: 'gateway_media_trickle_candidates_pending',
      help: "Viewers' trickled ICE candidates still being applied after their PATCH was answered (an mDNS .local name being looked up, up to 10 s when nobody answers)",
      registers,
      collect() {
        this.set(pendingCandidates())
      },
    })
    this.upstreamLost = new Counter({ name: 'gateway_media_upstream_packets_lost_total', help: 'RTP packets lost from the camera', labelNames: ['camera', 'stream'] as const, registers })
    this.restarts = new Counter({ name: 'gateway_media_upstream_restarts_total', help: 'Upstream restarts after a failure or stall', labelNames: ['camera', 'stream'] as const, registers })
    this.sessions = new Counter({ name: 'gateway_media_sessions_total', help: 'WHEP sessions started, by what happened to the codec', labelNames: ['camera', 'stream', 'mode'] as const, registers })
    this.ttff = new Histogram({
      name: 'gateway_media_time_to_first_frame_seconds',
      help: 'WHEP request to the first frame sent to the viewer',
      labelNames: ['stream'] as const,
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10],
      registers,
    })
  }
}
