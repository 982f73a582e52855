import { createSocket, type Socket } from 'node:dgram'
import { buildGbOffer, gbSsrc, keyframeControl, parseGbAnswer } from '../../lib/gb28181/index.js'
import { PsRtpReceiver } from '../../lib/mpegps/index.js'
import { parseRtpPacket } from '../../lib/rtp/index.js'
import { header, newCallId, type SipEndpoint, type SipPeer, type SipResponse } from '../../lib/sip/index.js'
import type { FrameSource, FrameSourceHandlers, FrameSourceInfo, FrameSourceStats } from '../media/index.js'

/**
 * One channel's live video by INVITE (s=Play, PS over RTP on UDP): the media feature's
 * FrameSource for gb28181:// URIs, so one INVITE per channel feeds every viewer, the recorder and
 * snapshots through the camera's one LiveStream. start() resolves at the first keyframe (its codec
 * known), or fails after `firstFrameTimeoutMs` (the stream-receive timeout users of other
 * platforms know: usually NAT or a blocked media port); close() sends BYE and frees the port.
 */

export interface GbLiveDevice {
  deviceId: string
  channelId: string
  /** the way back to the device (its registration) */
  destination: SipPeer
  /** why no INVITE can be sent now (device not registered, GB off): start() fails with it, and the live stream retries later */
  unavailable?: string
}

export interface GbLiveContext {
  endpoint: SipEndpoint
  sipId: string
  realm: string
  /** the address the device is to send media to */
  mediaAddress: string
  /** media port range ([0, 0]: any free port) */
  mediaPorts: [number, number]
  firstFrameTimeoutMs: number
  nextSequence(): number
  nextSn(): number
  onSession(s: GbLiveSession | undefined, source: GbLiveSource): void
  log: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void }
}

/** What ops and tests can see of a running INVITE. */
export interface GbLiveSession {
  deviceId: string
  channelId: string
  callId: string
  ssrc: string
  mediaPort: number
  transport: 'udp'
  startedAt: string
}

export class GbStreamError extends Error {
  override readonly name = 'GbStreamError'
}

export class GbLiveSource implements FrameSource {
  readonly kind = 'gb28181' as const
  readonly #device: GbLiveDevice
  readonly #ctx: GbLiveContext
  readonly #handlers: FrameSourceHandlers
  readonly #receiver: PsRtpReceiver
  #socket: Socket | undefined
  #dialog: { callId: string; fromTag: string; toHeader: string; uri: string } | undefined
  #cseq = 1
  #closed = false
  #closing: Promise<void> | undefined
  session: GbLiveSession | undefined

  constructor(device: GbLiveDevice, ctx: GbLiveContext, handlers: FrameSourceHandlers) {
    this.#device = device
    this.#ctx = ctx
    this.#handlers = handlers
    this.#receiver = new PsRtpReceiver({ reorderWindow: 64 })
  }

  async start(): Promise<FrameSourceInfo> {
    if (this.#device.unavailable) throw new GbStreamError(this.#device.unavailable)
    const socket = await this.#bind()
    this.#socket = socket
    const port = socket.address().port
    const ssrc = gbSsrc('live', this.#ctx.realm, this.#ctx.nextSequence())
    let firstKeyframe: ((info: FrameSourceInfo) => void) | undefined
    const gotKeyframe = new Promise<FrameSourceInfo>((resolve) => (firstKeyframe = resolve))
    socket.on('message', (buf) => {
      if (this.#closed) return
      let packet
      try {
        packet = parseRtpPacket(buf)
      } catch {
        return // not RTP (a stray datagram, RTCP on the same port from some devices)
      }
      const out = this.#receiver.push(packet)
      for (const f of out.video) {
        if (f.keyframe) firstKeyframe?.({ codec: f.codec })
        this.#handlers.onFrame({ codec: f.codec, nalus: f.nalus, timestamp: f.timestamp, keyframe: f.keyframe, bytes: f.nalus.reduce((n, b) => n + b.length, 0), receivedAt: Date.now() })
      }
    })
    const { deviceId, channelId, destination } = this.#device
    const callId = newCallId()
    const fromTag = newCallId().slice(0, 10)
    const uri = `sip:${channelId}@${destination.address}:${destination.port}`
    const inviteHeaders = {
      From: `<sip:${this.#ctx.sipId}@${this.#ctx.realm}>;tag=${fromTag}`,
      To: `<sip:${channelId}@${this.#ctx.realm}>`,
      'Call-ID': callId,
      CSeq: `${this.#cseq++} INVITE`,
      Contact: `<sip:${this.#ctx.sipId}@${this.#ctx.endpoint.publicAddress}:${destination.transport === 'TCP' ? this.#ctx.endpoint.tcpPort : this.#ctx.endpoint.udpPort}>`,
      Subject: `${channelId}:${ssrc},${this.#ctx.sipId}:0`,
      'Content-Type': 'application/sdp',
    }
    const offer = buildGbOffer({ sipId: this.#ctx.sipId, address: this.#ctx.mediaAddress, port, transport: 'udp', ssrc, session: 'Play' })
    let res: SipResponse
    try {
      res = await this.#ctx.endpoint.request({ method: 'INVITE', uri, destination, headers: inviteHeaders, body: Buffer.from(offer) })
    } catch (err) {
      await this.close()
      throw new GbStreamError(`INVITE to ${channelId} failed: ${(err as Error).message}`)
    }
    if (res.status >= 300) {
      await this.close()
      throw new GbStreamError(`device ${deviceId} refused INVITE for ${channelId}: ${res.status} ${res.reason}`)
    }
    this.#ctx.endpoint.ack({ uri, headers: {} }, res, destination)
    this.#dialog = { callId, fromTag, toHeader: header(res, 'to') ?? inviteHeaders.To, uri }
    const answer = parseGbAnswer(res.body.toString('latin1'))
    if (answer.ssrc && answer.ssrc !== ssrc) this.#ctx.log.warn({ deviceId, channelId, asked: ssrc, answered: answer.ssrc }, 'gb28181: device answered another SSRC; accepted')
    this.session = { deviceId, channelId, callId, ssrc, mediaPort: port, transport: 'udp', startedAt: new Date().toISOString() }
    this.#ctx.onSession(this.session, this)
    if (this.#closed) throw new GbStreamError('closed while starting')
    const timeout = new Promise<never>((_r, reject) => {
      const t = setTimeout(() => reject(new GbStreamError(`no video from ${channelId} within ${this.#ctx.firstFrameTimeoutMs / 1000} s of the INVITE (media port ${port}: blocked, or NAT on the way)`)), this.#ctx.firstFrameTimeoutMs)
      t.unref()
      void gotKeyframe.finally(() => clearTimeout(t))
    })
    try {
      return await Promise.race([gotKeyframe, timeout])
    } catch (err) {
      await this.close()
      throw err
    }
  }

  #bind(): Promise<Socket> {
    const [min, max] = this.#ctx.mediaPorts
    const tryPort = (port: number): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = createSocket('udp4')
        s.once('error', (err) => {
          s.close()
          reject(err)
        })
        s.bind(port, () => {
          s.removeAllListeners('error')
          s.on('error', () => undefined)
          // a 2 Mbit/s PS stream arrives in bursts at keyframes: a roomy receive buffer
          try {
            s.setRecvBufferSize(4 * 1024 * 1024)
          } catch {
            // the kernel's limit applies
          }
          resolve(s)
        })
      })
    if (!min || !max) return tryPort(0)
    return (async () => {
      const span = max - min + 1
      const start = Math.floor(Math.random() * span)
      for (let i = 0; i < span; i++) {
        try {
          return await tryPort(min + ((start + i) % span))
        } catch {
          // taken: the next one
        }
      }
      throw new GbStreamError(`no free media port in ${min}-${max}`)
    })()
  }

  requestKeyframe(): boolean {
    if (this.#closed || !this.#dialog) return false
    const { deviceId, channelId, destination } = this.#device
    void this.#ctx.endpoint
      .request({
        method: 'MESSAGE',
        uri: `sip:${channelId}@${destination.address}:${destination.port}`,
        destination,
        headers: { From: `<sip:${this.#ctx.sipId}@${this.#ctx.realm}>;tag=${newCallId().slice(0, 10)}`, To: `<sip:${channelId}@${this.#ctx.realm}>`, 'Call-ID': newCallId(), CSeq: '1 MESSAGE', 'Content-Type': 'Application/MANSCDP+xml' },
        body: keyframeControl(channelId, this.#ctx.nextSn()),
      })
      .catch((err: Error) => this.#ctx.log.warn({ deviceId, channelId, err }, 'gb28181: keyframe request not answered'))
    return true
  }

  stats(): FrameSourceStats {
    return { packetsLost: this.#receiver.stats.lost }
  }

  /** Idempotent: BYE for an established call, the media port freed. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true
      const dialog = this.#dialog
      this.#dialog = undefined
      if (this.session) this.#ctx.onSession(undefined, this)
      this.#socket?.close()
      this.#socket = undefined
      if (dialog) {
        const { destination } = this.#device
        await this.#ctx.endpoint
          .request({ method: 'BYE', uri: dialog.uri, destination, headers: { From: `<sip:${this.#ctx.sipId}@${this.#ctx.realm}>;tag=${dialog.fromTag}`, To: dialog.toHeader, 'Call-ID': dialog.callId, CSeq: `${this.#cseq++} BYE` } })
          .catch((err: Error) => this.#ctx.log.warn({ deviceId: this.#device.deviceId, err }, 'gb28181: BYE not answered'))
      }
    })()
    return this.#closing
  }
}
