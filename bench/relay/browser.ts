import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../../test/support/chromium.js'

/**
 * Headless Chromium for the decoding checks of bench/relay: time to first decoded frame and the
 * glass-to-glass reading of the source's time stamp (STAMP in scripts/rtsp-test-server.py).
 * Signalling is done by the caller (Node) so the page needs no cross-origin requests; the page
 * only makes offers/answers and watches frames. All times are wall-clock ms (same host clock).
 */
export function launch(): Promise<Browser> {
  return launchChromium()
}

type W = { s: Record<number, any>; n: number }

export class StampPage {
  private constructor(readonly page: Page) {}

  static async open(browser: Browser, url: string): Promise<StampPage> {
    const page = await browser.newPage()
    // tsx (esbuild keepNames) wraps named functions in __name(…) inside evaluated callbacks too.
    await page.addInitScript('window.__name = (f) => f')
    await page.goto(url).catch(() => undefined)
    await page.evaluate(() => {
      const w = window as unknown as W & Record<string, unknown>
      w.s = {}
      w.n = 0
      // Creates a peer + video element; watches for the first decoded frame (getStats, 10 ms).
      w.mk = () => {
        const pc = new RTCPeerConnection()
        const video = document.createElement('video')
        video.muted = true
        video.autoplay = true
        video.playsInline = true
        document.body.appendChild(video)
        pc.ontrack = (ev) => {
          video.srcObject = ev.streams[0] ?? new MediaStream([ev.track])
          void video.play().catch(() => undefined)
        }
        const id = ++w.n
        const entry = { pc, video, firstFrameAt: 0, connectedAt: 0, timer: 0 as unknown as ReturnType<typeof setInterval> }
        pc.addEventListener('connectionstatechange', () => {
          if (pc.connectionState === 'connected' && !entry.connectedAt) entry.connectedAt = Date.now()
        })
        entry.timer = setInterval(async () => {
          const r = await pc.getStats()
          r.forEach((s: Record<string, unknown>) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video' && Number(s.framesDecoded ?? 0) > 0 && !entry.firstFrameAt) entry.firstFrameAt = Date.now()
          })
          if (entry.firstFrameAt) clearInterval(entry.timer)
        }, 10)
        w.s[id] = entry
        return id
      }
    })
    return new StampPage(page)
  }

  /**
   * A WHEP session made by the page itself, as the web application makes it: the offer is POSTed
   * at once, without waiting for ICE gathering, and the page's candidates follow by PATCH
   * (trickle ICE, RFC 8840 fragments) once the session's Location is known.
   */
  async whepTrickle(url: string, token: string): Promise<{ id: number; answeredAt: number; postMs: number; location: string }> {
    return this.page.evaluate(
      async ({ url, token }) => {
        const w = window as unknown as W & { mk(): number }
        const id = w.mk()
        const pc = w.s[id].pc as RTCPeerConnection
        pc.addTransceiver('video', { direction: 'recvonly' })
        const pending: RTCIceCandidate[] = []
        let sessionUrl: string | undefined
        const flush = () => {
          if (!sessionUrl || pending.length === 0) return
          const sdp = pc.localDescription!.sdp
          const ufrag = /^a=ice-ufrag:(.*)$/m.exec(sdp)![1]!.trim()
          const pwd = /^a=ice-pwd:(.*)$/m.exec(sdp)![1]!.trim()
          const lines = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`]
          for (const c of pending.splice(0)) lines.push(`a=mid:${c.sdpMid ?? '0'}`, `a=${c.candidate}`)
          void fetch(sessionUrl, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', authorization: `Bearer ${token}` }, body: lines.join('\r\n') + '\r\n' })
        }
        pc.addEventListener('icecandidate', (ev) => {
          if (!ev.candidate?.candidate) return
          pending.push(ev.candidate)
          flush()
        })
        await pc.setLocalDescription(await pc.createOffer())
        const postAt = Date.now()
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: pc.localDescription!.sdp })
        const answer = await res.text()
        if (res.status !== 201) throw new Error(`WHEP ${res.status} ${answer}`)
        const answeredAt = Date.now()
        sessionUrl = new URL(res.headers.get('location')!, location.href).href
        await pc.setRemoteDescription({ type: 'answer', sdp: answer })
        flush()
        return { id, answeredAt, postMs: answeredAt - postAt, location: sessionUrl }
      },
      { url, token },
    )
  }

  /** Answers a relay's offer (Janus); returns the gathered answer. */
  async answer(offerSdp: string): Promise<{ id: number; sdp: string }> {
    return this.page.evaluate(async (offerSdp) => {
      const w = window as unknown as W & { mk(): number }
      const id = w.mk()
      const pc = w.s[id].pc as RTCPeerConnection
      await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp })
      await pc.setLocalDescription(await pc.createAnswer())
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve()
        const t = setTimeout(resolve, 2000)
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') {
            clearTimeout(t)
            resolve()
          }
        })
      })
      return { id, sdp: pc.localDescription!.sdp }
    }, offerSdp)
  }

  /** Wall-clock ms of the first decoded frame (NaN on timeout) and of ICE+DTLS connected. */
  async firstFrameAt(id: number, timeoutMs = 15_000): Promise<{ frame: number; connected: number }> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const at = await this.page.evaluate((id) => ({ frame: (window as unknown as W).s[id].firstFrameAt as number, connected: (window as unknown as W).s[id].connectedAt as number }), id)
      if (at.frame) return at
      await new Promise((r) => setTimeout(r, 50))
    }
    return { frame: NaN, connected: NaN }
  }

  /**
   * Glass-to-glass: for `ms`, on every presented frame (requestVideoFrameCallback), reads the
   * stamp strip from the frame drawn on a canvas and subtracts it from the frame's expected
   * display time. Returns the latencies (ms) of frames whose sync blocks read correctly.
   */
  async stampLatencies(id: number, ms: number, blockPx: number): Promise<number[]> {
    return this.page.evaluate(
      ({ id, ms, blockPx }) =>
        new Promise<number[]>((resolve) => {
          const w = window as unknown as W
          const video = w.s[id].video as HTMLVideoElement & { requestVideoFrameCallback(cb: (now: number, meta: { expectedDisplayTime: number }) => void): number }
          const BLOCKS = 34
          const canvas = document.createElement('canvas')
          canvas.width = BLOCKS * blockPx
          canvas.height = blockPx
          const ctx = canvas.getContext('2d', { willReadFrequently: true })!
          const out: number[] = []
          const end = Date.now() + ms
          const onFrame = (_now: number, meta: { expectedDisplayTime: number }) => {
            const shownAt = performance.timeOrigin + meta.expectedDisplayTime
            ctx.drawImage(video, 0, 0, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height)
            const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data
            const bit = (i: number) => {
              const o = (Math.floor(blockPx / 2) * canvas.width + i * blockPx + Math.floor(blockPx / 2)) * 4
              return (px[o]! + px[o + 1]! + px[o + 2]!) / 3 > 128 ? 1 : 0
            }
            if (bit(0) === 1 && bit(1) === 0) {
              let v = 0
              for (let i = 2; i < BLOCKS; i++) v = v * 2 + bit(i)
              const shown = shownAt % 4294967296
              let d = shown - v
              if (d < -2147483648) d += 4294967296
              if (d >= 0 && d < 10_000) out.push(d)
            }
            if (Date.now() < end) video.requestVideoFrameCallback(onFrame)
            else resolve(out)
          }
          video.requestVideoFrameCallback(onFrame)
          setTimeout(() => resolve(out), ms + 3000)
        }),
      { id, ms, blockPx },
    )
  }

  async close(id: number): Promise<void> {
    await this.page.evaluate((id) => {
      const e = (window as unknown as W).s[id]
      clearInterval(e.timer)
      e.pc.close()
      e.video.remove()
    }, id)
  }
}
