/**
 * A WHEP viewer (WebRTC-HTTP egress): POST an SDP offer to /api/cameras/:id/whep, get 201 with the
 * answer and a Location for the session; DELETE that Location to stop. Trickle ICE: the offer goes
 * at once and the browser's candidates follow by PATCH (RFC 8840 fragments), because waiting for
 * gathering to complete costs Chromium 100–150 ms even with host candidates only, a third of the
 * time to first frame.
 */
export class WhepError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

export interface WhepSession {
  pc: RTCPeerConnection
  stream: MediaStream
  location: string | null
  /** how the gateway delivered the stream (passthrough / transcode), if it says */
  mode: string | null
  close(): void
}

/** The RFC 8840 fragment for some of our candidates (ICE credentials from the local offer). */
function candidateFragment(localSdp: string, candidates: RTCIceCandidate[]): string {
  const ufrag = /^a=ice-ufrag:(.*)$/m.exec(localSdp)?.[1]?.trim() ?? ''
  const pwd = /^a=ice-pwd:(.*)$/m.exec(localSdp)?.[1]?.trim() ?? ''
  const lines = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`]
  for (const c of candidates) lines.push(`a=mid:${c.sdpMid ?? '0'}`, `a=${c.candidate}`)
  return lines.join('\r\n') + '\r\n'
}

/** Sessions still open; a closing page ends them all so the gateway can release the upstreams. */
const open = new Set<() => void>()
addEventListener('pagehide', () => {
  for (const close of [...open]) close()
})

export async function startWhep(cameraId: number, stream: 'main' | 'sub', signal: AbortSignal): Promise<WhepSession> {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' })
  const media = new MediaStream()
  pc.addTransceiver('video', { direction: 'recvonly' })
  pc.ontrack = (ev) => media.addTrack(ev.track)
  let location: string | null = null
  // Candidates found before the session has a Location wait here, then go in one PATCH.
  const pending: RTCIceCandidate[] = []
  const trickle = () => {
    if (!location || pending.length === 0 || !pc.localDescription) return
    const body = candidateFragment(pc.localDescription.sdp, pending.splice(0))
    // A lost PATCH is not fatal: the gateway also learns the browser's address from its ICE checks.
    fetch(location, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body, credentials: 'same-origin' }).catch(() => {})
  }
  pc.onicecandidate = (ev) => {
    if (!ev.candidate?.candidate) return
    pending.push(ev.candidate)
    trickle()
  }
  const close = () => {
    open.delete(close)
    pc.ontrack = null
    pc.onicecandidate = null
    pc.close()
    if (location) fetch(location, { method: 'DELETE', credentials: 'same-origin', keepalive: true }).catch(() => {})
    location = null
  }
  open.add(close)
  try {
    await pc.setLocalDescription(await pc.createOffer())
    const res = await fetch(`/api/cameras/${cameraId}/whep?stream=${stream}`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', accept: 'application/sdp' },
      body: pc.localDescription!.sdp,
      credentials: 'same-origin',
      signal,
    })
    if (res.status !== 201 && res.status !== 200) {
      let detail = res.statusText
      try {
        const problem = (await res.json()) as { detail?: string; title?: string }
        detail = problem.detail ?? problem.title ?? detail
      } catch {
        /* not JSON */
      }
      throw new WhepError(res.status, detail)
    }
    const loc = res.headers.get('location')
    location = loc ? new URL(loc, window.location.href).toString() : null
    const answer = await res.text()
    if (signal.aborted) throw new DOMException('aborted', 'AbortError')
    await pc.setRemoteDescription({ type: 'answer', sdp: answer })
    trickle()
    const mode = res.headers.get('x-gateway-video')
    return { pc, stream: media, get location() { return location }, mode, close }
  } catch (err) {
    close()
    throw err
  }
}

export interface TileStats {
  framesDecoded: number
  fps: number
  bitrateKbps: number
  /** jitter-buffer delay, ms: what the browser adds before showing a frame */
  delayMs: number
  width: number
  height: number
  packetsLost: number
}

/** Reads the inbound video stats; bitrate is computed against the previous reading. */
export async function readStats(pc: RTCPeerConnection, prev: { bytes: number; at: number } | null): Promise<{ stats: TileStats; mark: { bytes: number; at: number } } | null> {
  const report = await pc.getStats()
  let found: TileStats | null = null
  let bytes = 0
  let at = 0
  report.forEach((s: Record<string, unknown>) => {
    if (s.type !== 'inbound-rtp' || s.kind !== 'video') return
    bytes = Number(s.bytesReceived ?? 0)
    at = Number(s.timestamp ?? performance.now())
    const emitted = Number(s.jitterBufferEmittedCount ?? 0)
    found = {
      framesDecoded: Number(s.framesDecoded ?? 0),
      fps: Number(s.framesPerSecond ?? 0),
      bitrateKbps: prev && at > prev.at ? ((bytes - prev.bytes) * 8) / (at - prev.at) : 0,
      delayMs: emitted > 0 ? (Number(s.jitterBufferDelay ?? 0) / emitted) * 1000 : 0,
      width: Number(s.frameWidth ?? 0),
      height: Number(s.frameHeight ?? 0),
      packetsLost: Number(s.packetsLost ?? 0),
    }
  })
  return found ? { stats: found, mark: { bytes, at } } : null
}
