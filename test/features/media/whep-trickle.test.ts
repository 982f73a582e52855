import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { launchBrowser } from './browser.js'

/**
 * Trickle ICE PATCH answered at once, whatever ICE is doing (issue 26: 7 of 13 PATCHes answered
 * after ~10 s while the tiles were live in 1.7 s). Browsers name their host candidates by mDNS
 * (`<uuid>.local`); werift looks such a name up and waits 10 s when nobody answers, as for a browser
 * on another link. Chromium here announces IP addresses (test/support/chromium.ts), so the page
 * adds the candidate such a browser would send, with a name nobody answers, to its own real ones,
 * in the web application's fragment format (web/src/lib/whep.ts).
 *
 * Checked by order, not time: when the PATCH's 204 reaches the page, the gateway is still applying
 * the mDNS candidate (gateway_media_trickle_candidates_pending ≥ 1) and the page's ICE is not
 * connected (it applies the answer only after). A PATCH that waited for the candidate would arrive
 * with nothing pending.
 */
t.test('a WHEP PATCH is answered before its candidates are applied, and the tile goes live', async (t) => {
  const gw = await startTestGateway(t, { overrides: { media: { idleTimeoutSeconds: 1 } } })
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(gw.app.server.address() as { port: number }).port}`
  const token = await gw.login('street.patrol')
  const cam = (await gw.as(token).get('/api/cameras?limit=1')).json.items[0] as { id: number }

  const browser = await launchBrowser(t)
  const page = await browser.newPage()
  await page.goto(base + '/healthz').catch(() => undefined)

  const patched = await page.evaluate(
    async ({ path, token }) => {
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' })
      ;(window as unknown as { pc: RTCPeerConnection }).pc = pc
      pc.addTransceiver('video', { direction: 'recvonly' })
      const candidates: RTCIceCandidate[] = []
      const gathered = new Promise<void>((resolve) => {
        pc.onicecandidate = (ev) => (ev.candidate?.candidate ? candidates.push(ev.candidate) : resolve())
      })
      await pc.setLocalDescription(await pc.createOffer())
      const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer ' + token }, body: pc.localDescription!.sdp })
      const answer = await res.text()
      const location = res.headers.get('location')!
      await gathered
      const sdp = pc.localDescription!.sdp
      const lines = [`a=ice-ufrag:${/a=ice-ufrag:(\S+)/.exec(sdp)![1]}`, `a=ice-pwd:${/a=ice-pwd:(\S+)/.exec(sdp)![1]}`]
      lines.push('a=mid:0', `a=candidate:3911208420 1 udp 2122260223 ${crypto.randomUUID()}.local 54321 typ host generation 0 network-cost 999`)
      for (const c of candidates) lines.push(`a=mid:${c.sdpMid ?? '0'}`, `a=${c.candidate}`)
      const patch = await fetch(location, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', authorization: 'Bearer ' + token }, body: lines.join('\r\n') + '\r\n' })
      ;(window as unknown as { answer: string }).answer = answer
      return { post: res.status, patch: patch.status, candidates: 1 + candidates.length, iceAtPatch: pc.iceConnectionState, location }
    },
    { path: `/api/cameras/${cam.id}/whep?stream=sub`, token },
  )
  t.equal(patched.post, 201, 'offer answered')
  t.equal(patched.patch, 204, `PATCH with ${patched.candidates} candidate lines answered 204`)
  t.not(['connected', 'completed'].includes(patched.iceAtPatch), true, `the page's ICE was not connected when the PATCH was answered (${patched.iceAtPatch})`)
  const metrics = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body
  const pending = Number(/^gateway_media_trickle_candidates_pending (\d+)$/m.exec(metrics)?.[1] ?? NaN)
  t.ok(pending >= 1, `the PATCH was answered while the gateway was still applying its mDNS candidate (pending ${pending})`)

  // The tile goes live while that name is still unresolved: the page's own candidates and checks
  // are enough.
  await page.evaluate(async () => {
    const w = window as unknown as { pc: RTCPeerConnection; answer: string }
    await w.pc.setRemoteDescription({ type: 'answer', sdp: w.answer })
  })
  const deadline = Date.now() + 20_000
  let frames = 0
  while (frames < 3 && Date.now() < deadline) {
    frames = await page.evaluate(async () => {
      let n = 0
      ;(await (window as unknown as { pc: RTCPeerConnection }).pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') n = Number(s.framesDecoded ?? 0)
      })
      return n
    })
    if (frames < 3) await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(frames >= 3, `the tile decodes (${frames} frames)`)

  // Malformed candidate lines are still refused with a 400 naming the body; a foreign ufrag is a 422.
  const bad = await gw.as(token).request('PATCH', patched.location, 'a=mid:0\r\na=candidate:1 1 udp\r\n', { 'content-type': 'application/trickle-ice-sdpfrag' })
  t.equal(bad.statusCode, 400, 'a broken candidate line: 400')
  t.equal(bad.json.errors?.[0]?.field, 'body')
  const restart = await gw.as(token).request('PATCH', patched.location, 'a=ice-ufrag:other\r\na=ice-pwd:otherotherotherotherother\r\n', { 'content-type': 'application/trickle-ice-sdpfrag' })
  t.equal(restart.statusCode, 422, 'an ICE restart: 422')
  await page.close()
})
