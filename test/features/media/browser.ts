import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../../support/chromium.js'
import type { Test } from 'tap'

/** Headless Chromium driven by playwright-core, doing WHEP against the gateway (test helper). */

export interface WhepStats {
  framesDecoded: number
  framesReceived: number
  frameWidth: number
  frameHeight: number
  packetsLost: number
  connectionState: string
}

export interface WhepPage {
  page: Page
  /** Starts a WHEP session; returns its index in the page, the Location and X-Gateway-Video. */
  /** `trickle`: POST the offer at once, PATCH candidates as they come (statuses collected). */
  watch(path: string, token: string, opts?: { trickle?: boolean }): Promise<{ index: number; status: number; location: string | null; mode: string | null; body: string }>
  /** Status codes of the PATCH requests a trickling session sent. */
  patchStatuses(index: number): Promise<number[]>
  stats(index: number): Promise<WhepStats>
  /** Resolves when framesDecoded exceeds `min`; returns stats and ms since the request. */
  /** ms since the request: offer gathered, answer received, peer connected. */
  timing(index: number): Promise<{ gathered: number; answered: number; connected: number }>
  waitFrames(index: number, min: number, timeoutMs?: number): Promise<WhepStats & { ms: number }>
  close(index: number): Promise<void>
}

export async function launchBrowser(t: Test): Promise<Browser> {
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  return browser
}

export async function openWhepPage(browser: Browser, baseUrl: string): Promise<WhepPage> {
  const page = await browser.newPage()
  // Same origin as the API, so fetch needs no CORS.
  await page.goto(baseUrl + '/healthz').catch(() => undefined)
  await page.evaluate(() => {
    const w = window as unknown as { sessions: { pc: RTCPeerConnection; t0: number; location: string | null }[] }
    w.sessions = []
  })
  const api: WhepPage = {
    page,
    async watch(path, token, opts = {}) {
      const trickle = opts.trickle ?? false
      return page.evaluate(
        async ({ path, token, trickle }) => {
          const w = window as unknown as { sessions: { pc: RTCPeerConnection; t0: number; location: string | null; video: HTMLVideoElement }[] }
          const pc = new RTCPeerConnection()
          pc.addTransceiver('video', { direction: 'recvonly' })
          const video = document.createElement('video')
          video.muted = true
          video.autoplay = true
          video.playsInline = true
          document.body.appendChild(video)
          pc.ontrack = (ev) => {
            video.srcObject = ev.streams[0] ?? new MediaStream([ev.track])
            void video.play().catch(() => undefined)
          }
          const t0 = performance.now()
          const patches: number[] = []
          const pending: string[] = []
          let location: string | null = null
          const sendPatch = (cand: string) => {
            const sdp = pc.localDescription!.sdp
            const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)?.[1]
            const pwd = /a=ice-pwd:(\S+)/.exec(sdp)?.[1]
            const frag = `a=ice-ufrag:${ufrag}\r\na=ice-pwd:${pwd}\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=${cand}\r\n`
            void fetch(location!, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', authorization: 'Bearer ' + token }, body: frag }).then((r) => patches.push(r.status))
          }
          if (trickle) {
            pc.onicecandidate = (ev) => {
              if (!ev.candidate || !ev.candidate.candidate) return
              if (location) sendPatch(ev.candidate.candidate)
              else pending.push(ev.candidate.candidate)
            }
          }
          await pc.setLocalDescription(await pc.createOffer())
          if (!trickle) await new Promise<void>((resolve) => {
            if (pc.iceGatheringState === 'complete') return resolve()
            const timer = setTimeout(resolve, 2000)
            pc.onicegatheringstatechange = () => {
              if (pc.iceGatheringState === 'complete') {
                clearTimeout(timer)
                resolve()
              }
            }
          })
          const tGathered = performance.now()
          const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer ' + token }, body: pc.localDescription!.sdp })
          const body = await res.text()
          if (res.status !== 201) {
            pc.close()
            return { index: -1, status: res.status, location: null, mode: null, body }
          }
          const tAnswered = performance.now()
          location = res.headers.get('location')
          for (const c of pending.splice(0)) sendPatch(c)
          const entry = { pc, t0, location, patches, video, timing: { gathered: tGathered - t0, answered: tAnswered - t0, connected: 0 } }
          pc.addEventListener('connectionstatechange', () => {
            if (pc.connectionState === 'connected') entry.timing.connected = performance.now() - t0
          })
          await pc.setRemoteDescription({ type: 'answer', sdp: body })
          w.sessions.push(entry)
          return { index: w.sessions.length - 1, status: res.status, location: res.headers.get('location'), mode: res.headers.get('x-gateway-video'), body }
        },
        { path, token, trickle },
      )
    },
    async patchStatuses(index) {
      return page.evaluate((i) => [...(window as unknown as { sessions: { patches: number[] }[] }).sessions[i]!.patches], index)
    },
    async stats(index) {
      return page.evaluate(async (index) => {
        const w = window as unknown as { sessions: { pc: RTCPeerConnection }[] }
        const pc = w.sessions[index]!.pc
        const out = { framesDecoded: 0, framesReceived: 0, frameWidth: 0, frameHeight: 0, packetsLost: 0, connectionState: pc.connectionState }
        const report = await pc.getStats()
        report.forEach((s: Record<string, unknown>) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') {
            out.framesDecoded = Number(s.framesDecoded ?? 0)
            out.framesReceived = Number(s.framesReceived ?? 0)
            out.frameWidth = Number(s.frameWidth ?? 0)
            out.frameHeight = Number(s.frameHeight ?? 0)
            out.packetsLost = Number(s.packetsLost ?? 0)
          }
        })
        return out
      }, index)
    },
    async timing(index) {
      return page.evaluate((i) => (window as unknown as { sessions: { timing: { gathered: number; answered: number; connected: number } }[] }).sessions[i]!.timing, index)
    },
    async waitFrames(index, min, timeoutMs = 15_000) {
      const start = Date.now()
      for (;;) {
        const s = await api.stats(index)
        if (s.framesDecoded > min) {
          const ms = await page.evaluate((i) => performance.now() - (window as unknown as { sessions: { t0: number }[] }).sessions[i]!.t0, index)
          return { ...s, ms }
        }
        if (Date.now() - start > timeoutMs) throw new Error(`viewer ${index}: framesDecoded ${s.framesDecoded} ≤ ${min} after ${timeoutMs} ms (state ${s.connectionState})`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    async close(index) {
      await page.evaluate((i) => (window as unknown as { sessions: { pc: RTCPeerConnection }[] }).sessions[i]!.pc.close(), index)
    },
  }
  return api
}

/** An address of this host other than loopback (werift and Chromium both skip loopback). */
export async function hostAddress(): Promise<string> {
  const os = await import('node:os')
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

/** Command lines of every process descended from this one (tests assert none is left). */
export async function childProcesses(): Promise<string[]> {
  const { execFileSync } = await import('node:child_process')
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }))
  const mine = new Set([process.pid])
  let grew = true
  while (grew) {
    grew = false
    for (const r of rows) if (!mine.has(r.pid) && mine.has(r.ppid)) {
      mine.add(r.pid)
      grew = true
    }
  }
  return rows.filter((r) => r.pid !== process.pid && mine.has(r.pid) && !/^ps /.test(r.args)).map((r) => r.args)
}
