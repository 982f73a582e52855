/**
 * WHEP offers the gateway refuses: one with no DTLS fingerprint (400 naming it), and one more
 * session than media.maxSessionsPerUser for the same user (429 whep_sessions_per_user). Real
 * werift receivers post real offers to a listening gateway.
 */
import t from 'tap'
import { makeCamera } from '../../support/fixtures.js'
import { startTestGateway } from '../../support/gateway.js'
import { h264Offer, postWhep } from './whep-client.js'

t.test('WHEP: a fingerprint is required, and sessions per user are capped', async (t) => {
  const gw = await startTestGateway(t, { overrides: { media: { maxSessionsPerUser: 2 } } })
  const base = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  // a refused upstream: the sessions exist (they would resume with the camera) without ffmpeg or a camera
  const camera = makeCamera(gw, 'JD01-SQ01', { streams: { main: { uri: 'rtsp://127.0.0.1:9/none', codec: 'h264' } } })
  const patrol = await gw.login('community.patrol')
  const offer = async () => {
    const o = await h264Offer()
    t.teardown(() => o.pc.close())
    return o.sdp
  }

  t.test('an offer without a DTLS fingerprint is 400 naming it', async (t) => {
    const sdp = await offer()
    t.match(sdp, /^a=fingerprint:/m, 'werift offers one')
    const stripped = sdp.replace(/^a=fingerprint:.*\r?\n/gm, '')
    const res = await postWhep(base, patrol, camera.id, stripped)
    t.equal(res.status, 400)
    const body = (await res.json()) as { code: string; errors: { field: string }[] }
    t.equal(body.code, 'validation')
    t.same(body.errors.map((e) => e.field), ['body.fingerprint'])
    for (const [what, bad] of [
      ['empty', sdp.replace(/^a=fingerprint:.*$/gm, 'a=fingerprint:')],
      ['not hex', sdp.replace(/^a=fingerprint:(\S+) .*$/gm, 'a=fingerprint:$1 not-hex')],
      ['no hash function', sdp.replace(/^a=fingerprint:\S+ (.*)$/gm, 'a=fingerprint:$1')],
    ]) {
      const r = await postWhep(base, patrol, camera.id, bad!)
      t.equal(r.status, 400, `nor one that is not a fingerprint: ${what}`)
      t.same(((await r.json()) as { errors: { field: string }[] }).errors.map((e) => e.field), ['body.fingerprint'])
    }
    t.equal(gw.services.media.sessionCount(), 0, 'no session was made')
  })

  t.test('one session more than media.maxSessionsPerUser is 429 whep_sessions_per_user', async (t) => {
    const locations: string[] = []
    for (let i = 0; i < 2; i++) {
      const res = await postWhep(base, patrol, camera.id, await offer())
      t.equal(res.status, 201, `session ${i + 1}`)
      locations.push(res.headers.get('location')!)
    }
    const over = await postWhep(base, patrol, camera.id, await offer())
    t.equal(over.status, 429)
    t.equal(((await over.json()) as { code: string }).code, 'whep_sessions_per_user', 'a stable code')
    t.ok(Number(over.headers.get('retry-after')) > 0, 'with Retry-After')
    t.equal(gw.services.media.sessionCount(), 2)

    const other = await gw.login('station.patrol')
    t.equal((await postWhep(base, other, camera.id, await offer())).status, 201, 'another user is not limited by it')

    // offers posted at once still count one by one
    const burst = await Promise.all([offer(), offer()].map(async (o) => postWhep(base, other, camera.id, await o)))
    t.same(burst.map((r) => r.status).sort(), [201, 429], 'concurrent offers: the second over the limit is refused')

    const del = await fetch(`${base}${locations[0]}`, { method: 'DELETE', headers: { authorization: `Bearer ${patrol}` } })
    t.equal(del.status, 204)
    t.equal((await postWhep(base, patrol, camera.id, await offer())).status, 201, 'once one ends, the user may open another')
  })
})
