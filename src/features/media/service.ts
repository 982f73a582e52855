import { randomUUID } from 'node:crypto'
import type { Registry } from 'prom-client'
import type { GatewayConfig } from '../../core/config.js'
import type { EventBus } from '../../core/events.js'
import { ConflictError, NotFoundError, TooManyRequestsError, UnprocessableError, UpstreamError, ValidationError } from '../../core/errors.js'
import { scopeOf, SYSTEM_SCOPE, type Principal } from '../../core/scope.js'
import { defaultFontFile, runToBuffer, snapshotFromAnnexBArgs } from '../../lib/ffmpeg/index.js'
import { joinAnnexB } from '../../lib/h264/index.js'
import { chooseVideoCodec, OfferError, validateOffer, WebRtcSendPeer, type NegotiatedVideo, type WebRtcIceOptions } from '../../lib/webrtc/werift-peer.js'
import { nativeInterleavedReaderStatus } from '../../lib/rtsp/index.js'
import { nativeSrtpStatus } from '../../lib/srtp/index.js'
import type { ConnectGuard } from '../../lib/net/index.js'
import type { AuditLog } from '../audit/index.js'
import type { OrgService } from '../org/index.js'
import type { Camera, CameraCredentials, RegistryService } from '../registry/index.js'
import { DemoFrameSource } from './demo-source.js'
import type { ExternalFrameSources, FrameSource, FrameSourceHandlers, VideoCodec } from './frame-source.js'
import { LiveStream, type LiveStreamSettings, type StreamSubscriber } from './live-stream.js'
import { MediaMetrics, type VideoMode } from './metrics.js'
import { RtspFrameSource } from './rtsp-source.js'
import { TranscodeFrameSource } from './transcode-source.js'
import { Viewer } from './viewer.js'

export type StreamName = 'main' | 'sub'
export type MediaSettings = GatewayConfig['media']

/** 429 `whep_sessions_per_user`: the user already holds media.maxSessionsPerUser WHEP sessions. */
export class WhepSessionLimitError extends TooManyRequestsError {
  override readonly code: string = 'whep_sessions_per_user'
}

/** `a=fingerprint:<hash function> <hex pairs>` (RFC 8122). */
const FINGERPRINT = /^a=fingerprint:(sha-1|sha-224|sha-256|sha-384|sha-512) [0-9A-F]{2}(:[0-9A-F]{2})+\s*$/im

/**
 * Every video section of the offer has a DTLS fingerprint (its own or the session's): without one
 * the DTLS handshake is tied to nothing the offerer said, and anyone on the path could answer it.
 */
export function offerHasFingerprint(sdp: string): boolean {
  const [session = '', ...media] = sdp.split(/\r?\n(?=m=)/)
  if (FINGERPRINT.test(session)) return true
  const video = media.filter((m) => m.startsWith('m=video'))
  return video.length > 0 && video.every((m) => FINGERPRINT.test(m))
}

/** How long a camera whose UDP media did not arrive is played over TCP before UDP is tried again. */
const UDP_BLOCKED_MEMORY_MS = 10 * 60_000

interface Logger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

export interface WhepResult {
  sessionId: string
  answerSdp: string
  mode: VideoMode
  stream: StreamName
}

interface SessionRecord {
  viewer: Viewer
  principal: Principal
  cameraId: number
  stream: StreamName
  mode: VideoMode
  client: string | null
  unitPath: string
  /** stops watching the sign-in behind the session */
  unwatch: () => void
}

/**
 * Live video: one LiveStream per camera stream (shared by its viewers), WHEP sessions that attach
 * WebRTC peers to them, snapshots. Every camera lookup goes through registry.getForUse with the
 * caller's scope, so a camera outside the caller's subtree is a 404 here as everywhere.
 */
export class MediaService {
  readonly #registry: RegistryService
  /** live sources other features provide, by URI scheme */
  readonly #external = new Map<string, ExternalFrameSources>()
  readonly #audit: AuditLog
  readonly #org: OrgService
  readonly #settings: MediaSettings
  readonly #log: Logger
  readonly #streams = new Map<string, LiveStream>()
  readonly #sessions = new Map<string, SessionRecord>()
  /** WHEP offers of each user being answered now: they count against the per-user limit too */
  readonly #starting = new Map<number, number>()
  readonly #metrics: MediaMetrics
  readonly #streamSettings: LiveStreamSettings
  readonly #fontFile: string | undefined
  readonly #connectGuard: ConnectGuard | undefined
  #closed = false
  /** Cameras whose UDP media did not get through: played over TCP until the time stored. */
  readonly #udpBlockedUntil = new Map<number, number>()

  readonly #unsubscribe: (() => void)[] = []

  /** @param deps.connectGuard the camera address policy, checked at every connect to a camera */
  constructor(deps: { registry: RegistryService; audit: AuditLog; org: OrgService; settings: MediaSettings; metrics: Registry; log: Logger; bus?: EventBus; connectGuard?: ConnectGuard; externalSources?: ExternalFrameSources[] }) {
    this.#registry = deps.registry
    for (const x of deps.externalSources ?? []) this.#external.set(x.scheme.toLowerCase(), x)
    this.#connectGuard = deps.connectGuard
    this.#audit = deps.audit
    this.#org = deps.org
    this.#settings = deps.settings
    this.#log = deps.log
    const s = deps.settings
    this.#streamSettings = {
      idleTimeoutMs: s.idleTimeoutSeconds * 1000,
      stallTimeoutMs: s.stallTimeoutSeconds * 1000,
      backoffMinMs: s.backoffMinMs,
      backoffMaxMs: Math.max(s.backoffMinMs, s.backoffMaxMs),
      gopCacheBytes: s.gopCacheBytes,
      keyframeRequestMinIntervalMs: s.keyframeRequestMinIntervalMs,
    }
    this.#fontFile = s.demoFontFile || defaultFontFile()
    if (deps.bus) {
      this.#unsubscribe.push(
        deps.bus.on('camera.updated', (e) => {
          if (e.changed.some((f) => f.startsWith('streams') || f === 'credentials' || f === 'enabled')) void this.#cameraChanged(e.cameraId, 'camera settings changed')
        }),
        deps.bus.on('camera.deleted', (e) => void this.#cameraChanged(e.cameraId, 'camera deleted')),
      )
    }
    const sessions = this.#sessions
    this.#metrics = new MediaMetrics(deps.metrics, () => this.#streams.values(), (ls) => {
      let n = 0
      for (const r of this.#sessions.values()) if (r.viewer.stream === ls) n += Math.max(0, r.viewer.peer.stats.packetsLost)
      return n
    }, (ls) => this.#viewersOf(ls), function* srtpPaths(this: void) {
      for (const r of sessions.values()) if (r.viewer) yield r.viewer.peer.srtpPath
    }, () => {
      let n = 0
      for (const r of sessions.values()) if (r.viewer) n += r.viewer.peer.pendingRemoteCandidates
      return n
    })
  }

  /** Starts the preloaded streams from config. */
  start(): void {
    const srtp = nativeSrtpStatus()
    if (srtp.available) this.#log.info({ module: srtp.reason }, 'native SRTP: viewers get packets protected and sent natively')
    else this.#log.warn({ reason: srtp.reason }, 'native SRTP unavailable: viewers use JavaScript SRTP (more CPU per viewer)')
    const reads = nativeInterleavedReaderStatus()
    if (reads.available) this.#log.info({ module: reads.reason }, 'native RTSP reads: camera connections (TCP) are read natively, one JavaScript call per frame')
    else this.#log.warn({ reason: reads.reason }, 'native RTSP reads unavailable: camera connections are read through Node sockets (more CPU per camera)')
    for (const entry of this.#settings.preload) {
      const [id, stream] = entry.split(':') as [string, StreamName | undefined]
      try {
        this.pinSystem(Number(id), stream ?? 'main', true)
      } catch (err) {
        this.#log.warn({ camera: id, err: (err as Error).message }, 'preload: camera not usable')
      }
    }
  }

  get iceOptions(): WebRtcIceOptions {
    const ice = this.#settings.ice
    const servers = [
      ...ice.stunUrls.map((u) => ({ urls: u })),
      ...ice.turnUrls.map((u) => ({ urls: u, ...(ice.turnUsername ? { username: ice.turnUsername } : {}), ...(ice.turnCredential ? { credential: ice.turnCredential } : {}) })),
    ]
    return {
      announcedAddresses: ice.announcedAddresses,
      ...(ice.bindAddress ? { bindAddress: ice.bindAddress } : {}),
      iceServers: servers,
      ...(ice.portMin > 0 && ice.portMax > ice.portMin ? { portRange: [ice.portMin, ice.portMax] as [number, number] } : {}),
    }
  }

  // --- WHEP -------------------------------------------------------------------------------------

  /**
   * `watch` ties the session to the caller's sign-in: the session is closed when the watch ends it
   * (logout, expiry, the user disabled, moved or given other roles).
   */
  async startWhep(principal: Principal, cameraId: number, requested: StreamName, offerSdp: string, client: string | null, watch?: (end: (reason: string) => void) => () => void): Promise<WhepResult> {
    if (this.#closed) throw new UpstreamError('shutting down')
    const { camera, credentials } = this.#registry.getForUse(scopeOf(principal), cameraId)
    // before the general checks, which accept any a=fingerprint line, even an empty one
    if (offerSdp.trim().startsWith('v=0') && !offerHasFingerprint(offerSdp)) {
      throw ValidationError.field('body.fingerprint', 'the SDP offer has no valid DTLS fingerprint (a=fingerprint:<hash function> <hex>) for its video')
    }
    try {
      validateOffer(offerSdp)
    } catch (err) {
      throw ValidationError.field('body', (err as Error).message)
    }
    const limit = this.#settings.maxSessionsPerUser
    const held = this.#sessionsOf(principal.userId) + (this.#starting.get(principal.userId) ?? 0)
    if (held >= limit) throw new WhepSessionLimitError(`you already hold ${held} live video sessions (at most ${limit}); close one first`, 5)
    const requestedAt = Date.now()
    const plan = this.#plan(camera, credentials, requested, offerSdp)
    let peer: WebRtcSendPeer
    this.#starting.set(principal.userId, (this.#starting.get(principal.userId) ?? 0) + 1)
    try {
      peer = await WebRtcSendPeer.answer({ offerSdp, video: plan.video, ice: this.iceOptions })
    } catch (err) {
      if (err instanceof OfferError) throw ValidationError.field('body', err.message)
      throw err
    } finally {
      const n = (this.#starting.get(principal.userId) ?? 1) - 1
      if (n > 0) this.#starting.set(principal.userId, n)
      else this.#starting.delete(principal.userId)
    }
    if (this.#closed) {
      await peer.close()
      throw new UpstreamError('shutting down')
    }
    const sessionId = randomUUID()
    const unitPath = this.#unitPath(camera.unitId)
    const record: SessionRecord = { viewer: undefined as unknown as Viewer, principal, cameraId, stream: plan.stream, mode: plan.mode, client, unitPath, unwatch: () => {} }
    const viewer = new Viewer({
      id: sessionId,
      peer,
      stream: plan.live,
      requestedAt,
      hooks: {
        firstFrame: (ms) => this.#metrics.ttff.observe({ stream: plan.stream }, ms / 1000),
        ended: (reason) => this.#ended(sessionId, reason),
      },
    })
    record.viewer = viewer
    this.#sessions.set(sessionId, record)
    if (watch) record.unwatch = watch((reason) => void viewer.close(reason))
    this.#metrics.sessions.inc({ camera: String(cameraId), stream: plan.stream, mode: plan.mode })
    this.#audit.record({
      actor: principal,
      action: 'video.view',
      target: { type: 'camera', id: cameraId },
      unitPath,
      client,
      detail: { session: sessionId, stream: plan.stream, requested, mode: plan.mode, codec: plan.video.codec },
    })
    return { sessionId, answerSdp: peer.answerSdp, mode: plan.mode, stream: plan.stream }
  }

  /** Ends a session; only its owner (or an admin) may. Unknown or foreign id: 404. */
  async endWhep(principal: Principal, sessionId: string): Promise<void> {
    const rec = this.#sessions.get(sessionId)
    if (!rec || (rec.principal.userId !== principal.userId && !principal.roles.includes('admin'))) throw new NotFoundError('WHEP session', sessionId)
    await rec.viewer.close('DELETE')
  }

  /** WHEP PATCH: trickled candidates of the viewer, checked and handed to ICE; answered at once. */
  trickle(principal: Principal, sessionId: string, sdpFrag: string): void {
    const rec = this.#sessions.get(sessionId)
    if (!rec || (rec.principal.userId !== principal.userId && !principal.roles.includes('admin'))) throw new NotFoundError('WHEP session', sessionId)
    try {
      rec.viewer.peer.addRemoteCandidates(sdpFrag)
    } catch (err) {
      if (err instanceof OfferError) throw new UnprocessableError(err.message)
      throw ValidationError.field('body', `not a trickle-ice-sdpfrag: ${(err as Error).message}`)
    }
  }

  sessionCount(): number {
    return this.#sessions.size
  }

  #sessionsOf(userId: number): number {
    let n = 0
    for (const r of this.#sessions.values()) if (r.principal.userId === userId) n++
    return n
  }

  /**
   * The live streams and WHEP sessions of the cameras the caller may read in the registry (subtree,
   * 内保外用): the status endpoint names no camera the caller could not open.
   */
  streamsFor(principal: Principal): { items: ReturnType<MediaService['streams']>; sessions: number } {
    const sees = this.#registry.visibleFilter(principal)
    let sessions = 0
    for (const r of this.#sessions.values()) if (sees(r.cameraId)) sessions++
    return { items: this.streams().filter((s) => sees(s.cameraId)), sessions }
  }

  /** Live streams, for the status endpoint and tests. */
  streams(): { key: string; cameraId: number; stream: string; state: string; viewers: number; pinned: boolean; frames: number; restarts: number; codec: VideoCodec | null; width: number | null; height: number | null; lastError: string }[] {
    return [...this.#streams.values()].map((s) => ({
      key: s.key,
      cameraId: s.cameraId,
      stream: s.streamName,
      state: s.state,
      viewers: this.#viewersOf(s),
      pinned: s.pinned,
      frames: s.counters.frames,
      restarts: s.counters.restarts,
      codec: s.info?.codec ?? null,
      width: s.info?.width ?? null,
      height: s.info?.height ?? null,
      lastError: s.counters.lastError,
    }))
  }

  // --- pinning (preload) -----------------------------------------------------------------------

  pin(principal: Principal, cameraId: number, stream: StreamName, pinned: boolean, client: string | null): void {
    const { camera, credentials } = this.#registry.getForUse(scopeOf(principal), cameraId)
    this.#liveFor(camera, credentials, stream, 'direct').setPinned(pinned)
    this.#audit.record({ actor: principal, action: pinned ? 'video.pin' : 'video.unpin', target: { type: 'camera', id: cameraId }, unitPath: this.#unitPath(camera.unitId), client, detail: { stream } })
  }

  pinSystem(cameraId: number, stream: StreamName, pinned: boolean): void {
    const { camera, credentials } = this.#registry.getForUse(SYSTEM_SCOPE, cameraId)
    this.#liveFor(camera, credentials, stream, 'direct').setPinned(pinned)
  }

  /**
   * For system consumers (recording): attaches to the camera's one shared upstream, keeping it
   * running while attached (like a pin). Returns the detach function. No scope check: callers
   * check the user's scope themselves.
   */
  subscribeSystem(cameraId: number, stream: StreamName, subscriber: StreamSubscriber): () => void {
    const { camera, credentials } = this.#registry.getForUse(SYSTEM_SCOPE, cameraId)
    return this.#liveFor(camera, credentials, stream, 'direct').subscribe(subscriber)
  }

  // --- snapshots ---------------------------------------------------------------------------------

  /** A picture of the camera now: JPEG (or PNG, from a snapshot URI that serves PNG). */
  async snapshot(principal: Principal, cameraId: number, stream: StreamName, client: string | null): Promise<Buffer> {
    const { camera, credentials } = this.#registry.getForUse(scopeOf(principal), cameraId)
    const timeoutMs = this.#settings.snapshotTimeoutSeconds * 1000
    let jpeg: Buffer
    if (camera.snapshotUri && /^https?:/i.test(camera.snapshotUri)) {
      const { fetchSnapshot } = await import('./http-snapshot.js')
      jpeg = (await fetchSnapshot(camera.snapshotUri, credentials, { timeoutMs, maxBytes: this.#settings.snapshotMaxBytes, connectGuard: this.#connectGuard })).body
    } else {
      const live = this.#liveFor(camera, credentials, stream, 'direct')
      let key
      try {
        key = await live.nextKeyframe(timeoutMs)
      } catch (err) {
        throw new UpstreamError(`camera ${cameraId}: no picture (${(err as Error).message})`)
      }
      try {
        jpeg = await runToBuffer(this.#settings.ffmpegPath, snapshotFromAnnexBArgs(key.codec === 'h265' ? 'hevc' : 'h264'), joinAnnexB(key.nalus), timeoutMs)
      } catch (err) {
        throw new UpstreamError(`camera ${cameraId}: snapshot failed (${(err as Error).message})`)
      }
    }
    this.#audit.record({ actor: principal, action: 'video.snapshot', target: { type: 'camera', id: cameraId }, unitPath: this.#unitPath(camera.unitId), client, detail: { stream } })
    return jpeg
  }

  // --- shutdown ----------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const u of this.#unsubscribe) u()
    await Promise.all([...this.#sessions.values()].map((r) => r.viewer.close('shutdown')))
    await Promise.all([...this.#streams.values()].map((s) => s.close()))
    this.#streams.clear()
  }

  // --- internals ---------------------------------------------------------------------------------

  /** WebRTC viewers of a stream (its subscribers may also be recorders or a transcoder). */
  #viewersOf(ls: LiveStream): number {
    let n = 0
    for (const r of this.#sessions.values()) if (r.viewer.stream === ls) n++
    return n
  }

  /** A camera's URI, credentials or enabled flag changed, or it was deleted: apply to live streams. */
  /** media.rtspTransport, except TCP for a camera whose UDP recently did not get through. */
  #rtspTransportFor(cameraId: number): 'tcp' | 'udp' {
    if (this.#settings.rtspTransport !== 'udp') return 'tcp'
    const until = this.#udpBlockedUntil.get(cameraId)
    if (until === undefined) return 'udp'
    if (Date.now() < until) return 'tcp'
    this.#udpBlockedUntil.delete(cameraId)
    return 'udp'
  }

  async #cameraChanged(cameraId: number, reason: string): Promise<void> {
    this.#udpBlockedUntil.delete(cameraId)
    let usable = true
    try {
      usable = this.#registry.getForUse(SYSTEM_SCOPE, cameraId).camera.enabled
    } catch {
      usable = false
    }
    const streams = [...this.#streams.values()].filter((s) => s.cameraId === cameraId)
    if (usable) {
      for (const s of streams) s.restart(reason)
      return
    }
    await Promise.all([...this.#sessions.values()].filter((r) => r.cameraId === cameraId).map((r) => r.viewer.close(reason)))
    await Promise.all(streams.map((s) => s.close()))
  }

  #ended(sessionId: string, reason: string): void {
    const rec = this.#sessions.get(sessionId)
    if (!rec) return
    this.#sessions.delete(sessionId)
    rec.unwatch()
    const durationSeconds = Math.round((Date.now() - rec.viewer.startedAt) / 100) / 10
    try {
      this.#audit.record({
        actor: rec.principal,
        action: 'video.view_end',
        target: { type: 'camera', id: rec.cameraId },
        unitPath: rec.unitPath,
        client: rec.client,
        detail: { session: sessionId, stream: rec.stream, mode: rec.mode, startedAt: new Date(rec.viewer.startedAt).toISOString(), durationSeconds, reason, framesSent: rec.viewer.framesSent, packetsLost: rec.viewer.peer.stats.packetsLost, retransmitted: rec.viewer.peer.stats.retransmitted, srtp: rec.viewer.peer.srtpPath },
      })
    } catch (err) {
      // the database may already be closed during shutdown
      this.#log.warn({ err: (err as Error).message }, 'video.view_end not recorded')
    }
  }

  #unitPath(unitId: number): string {
    try {
      return this.#org.get(SYSTEM_SCOPE, unitId).path
    } catch {
      return '/'
    }
  }

  #sourceKind(uri: string, cameraId: number): 'demo' | 'rtsp' | ExternalFrameSources {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase()
    if (scheme === 'demo') return 'demo'
    if (scheme === 'rtsp') return 'rtsp'
    const external = scheme ? this.#external.get(scheme) : undefined
    if (external) return external
    throw new ConflictError(`camera ${cameraId}: stream URI scheme ${scheme ?? '(none)'}: is not supported for live video (${['rtsp', 'demo', ...this.#external.keys()].join(', ')})`)
  }

  #profile(camera: Camera, stream: StreamName) {
    if (!camera.enabled) throw new ConflictError(`camera ${camera.id} is disabled`)
    const profile = camera.streams[stream]
    if (!profile) throw new ConflictError(`camera ${camera.id} has no ${stream} stream`)
    return profile
  }

  /**
   * The H.265 rule: pass H.265 through if the viewer's offer supports it; else the camera's H.264
   * sub stream if it has one; else transcode to H.264. H.264 is never transcoded.
   */
  #plan(camera: Camera, credentials: CameraCredentials | null, requested: StreamName, offerSdp: string): { live: LiveStream; video: NegotiatedVideo; mode: VideoMode; stream: StreamName } {
    const profile = this.#profile(camera, requested)
    const existing = this.#streams.get(streamKey(camera.id, requested, 'direct'))
    const codec: VideoCodec = existing?.info?.codec ?? (profile.codec === 'h265' ? 'h265' : 'h264')
    const noH264 = () => ValidationError.field('body', 'the SDP offer has no H.264 (packetization-mode=1) video the gateway can send')
    if (codec === 'h264') {
      const live = this.#liveFor(camera, credentials, requested, 'direct')
      const video = chooseVideoCodec(offerSdp, ['h264'], live.info?.profileLevelId)
      if (!video) throw noH264()
      return { live, video, mode: 'passthrough-h264', stream: requested }
    }
    const h265 = chooseVideoCodec(offerSdp, ['h265'])
    if (h265) return { live: this.#liveFor(camera, credentials, requested, 'direct'), video: h265, mode: 'passthrough-h265', stream: requested }
    const sub = camera.streams.sub
    if (requested === 'main' && sub && sub.codec === 'h264') {
      const live = this.#liveFor(camera, credentials, 'sub', 'direct')
      const video = chooseVideoCodec(offerSdp, ['h264'], live.info?.profileLevelId)
      if (!video) throw noH264()
      return { live, video, mode: 'h264-substream', stream: 'sub' }
    }
    const live = this.#liveFor(camera, credentials, requested, 'transcode')
    const video = chooseVideoCodec(offerSdp, ['h264'], '42e01f')
    if (!video) throw noH264()
    return { live, video, mode: 'transcoded-h264', stream: requested }
  }

  #liveFor(camera: Camera, credentials: CameraCredentials | null, stream: StreamName, variant: 'direct' | 'transcode'): LiveStream {
    const key = streamKey(camera.id, stream, variant)
    const existing = this.#streams.get(key)
    if (existing && existing.state !== 'closed') return existing
    // Checked now so a request for an unusable stream fails at once …
    this.#sourceKind(this.#profile(camera, stream).uri, camera.id)
    const s = this.#settings
    // … and re-read from the registry at every (re)start, so a technician's fix of a URI or of
    // credentials reaches a stream that is retrying.
    const factory = (h: FrameSourceHandlers): FrameSource => {
      const fresh = this.#registry.getForUse(SYSTEM_SCOPE, camera.id)
      const profile = this.#profile(fresh.camera, stream)
      if (variant === 'transcode') {
        // Fed by the camera's own stream, so the camera still sees a single session.
        return new TranscodeFrameSource(this.#liveFor(fresh.camera, fresh.credentials, stream, 'direct'), h, { ffmpegPath: s.ffmpegPath, fps: profile.fps ?? 25 })
      }
      const kind = this.#sourceKind(profile.uri, camera.id)
      if (kind !== 'demo' && kind !== 'rtsp') return kind.create(profile.uri, camera.id, h)
      if (kind === 'demo') return new DemoFrameSource(profile.uri, h, { ffmpegPath: s.ffmpegPath, ...(this.#fontFile ? { fontFile: this.#fontFile } : {}) })
      return new RtspFrameSource(profile.uri, fresh.credentials, h, {
        noDataTimeoutMs: s.stallTimeoutSeconds * 1000,
        requestTimeoutMs: s.rtspTimeoutSeconds * 1000,
        transport: this.#rtspTransportFor(camera.id),
        ...(this.#connectGuard ? { connectGuard: this.#connectGuard } : {}),
        ...(s.rtspUdpPortMin > 0 && s.rtspUdpPortMax > s.rtspUdpPortMin ? { udpPortRange: [s.rtspUdpPortMin, s.rtspUdpPortMax] as [number, number] } : {}),
        udpFirstDataTimeoutMs: s.rtspUdpTimeoutSeconds * 1000,
        onUdpUnavailable: (err) => {
          if (err.reason === 'no-data') this.#udpBlockedUntil.set(camera.id, Date.now() + UDP_BLOCKED_MEMORY_MS)
          this.#log.warn({ camera: camera.id, stream, err: err.message }, 'RTSP over UDP unusable; using TCP interleaved')
        },
      })
    }
    const labels = { camera: String(camera.id), stream }
    const live = new LiveStream({
      key,
      cameraId: camera.id,
      streamName: variant === 'transcode' ? `${stream}-transcoded` : stream,
      factory,
      settings: this.#streamSettings,
      events: {
        started: (info) => this.#log.info({ camera: camera.id, stream, codec: info.codec, width: info.width, height: info.height }, 'live upstream started'),
        restart: (reason) => {
          this.#metrics.restarts.inc(labels)
          this.#log.warn({ camera: camera.id, stream, reason }, 'live upstream lost; retrying')
        },
        error: (err) => this.#log.warn({ camera: camera.id, stream, err: err.message }, 'live upstream failed'),
        idle: () => void live.close(),
        closed: () => {
          if (this.#streams.get(key) === live) this.#streams.delete(key)
        },
      },
    })
    this.#streams.set(key, live)
    return live
  }
}


function streamKey(cameraId: number, stream: StreamName, variant: 'direct' | 'transcode'): string {
  return `${cameraId}:${stream}${variant === 'transcode' ? ':transcode' : ''}`
}
