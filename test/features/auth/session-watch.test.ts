/**
 * Long-lived answers end with the sign-in that opened them: an open SSE stream (a real connection
 * to a listening gateway) and a WHEP session are closed within a second of the session being
 * logged out or expiring, or of its user being disabled, deleted, moved to another unit or given
 * other roles, or of the user's unit moving in the tree.
 */
import t, { type Test } from 'tap'
import type { Role } from '../../../src/core/scope.js'
import { makeCamera, makeChildUnit, unit } from '../../support/fixtures.js'
import { DEMO_PASSWORD, startTestGateway, type TestGateway } from '../../support/gateway.js'
import { cellMotion } from '../alarms/support.js'
import { openStream, type SseClient } from '../events/support.js'
import { h264Offer, postWhep } from '../media/whep-client.js'

/** The change must close the stream within this long (a second, and a little for the socket). */
const CLOSE_WITHIN_MS = 1000

/** Resolves with how long `closed` took, or rejects once the deadline passed. */
async function closesWithin(what: string, closed: Promise<void>, ms: number): Promise<number> {
  const t0 = performance.now()
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms)
  })
  try {
    await Promise.race([closed, deadline])
    return performance.now() - t0
  } finally {
    clearTimeout(timer)
  }
}

let userSeq = 0
async function signedIn(gw: TestGateway, unitCode: string, roles: Role[] = ['patrol']): Promise<{ id: number; token: string; username: string }> {
  const username = `watch.${++userSeq}`
  const id = await gw.services.auth.seedUser({ username, unitId: unit(gw, unitCode).id, roles, password: DEMO_PASSWORD })
  return { id, username, token: await gw.login(username) }
}

async function listening(t: Test, overrides: Record<string, unknown> = {}): Promise<{ gw: TestGateway; base: string; admin: ReturnType<TestGateway['as']> }> {
  const gw = await startTestGateway(t, { overrides: { auth: { loginAttemptsPerMinutePerAddress: 1000 }, ...overrides } })
  const base = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  return { gw, base, admin: gw.as(await gw.login('admin')) }
}

t.test('an open SSE stream closes within a second of each change to its sign-in', async (t) => {
  const { gw, base, admin } = await listening(t)
  const changes: [string, (user: { id: number; token: string }) => Promise<unknown>][] = [
    ['logout', (u) => gw.as(u.token).post('/api/auth/logout')],
    ['account disabled', (u) => admin.patch(`/api/users/${u.id}`, { disabled: true })],
    ['moved to another unit', (u) => admin.patch(`/api/users/${u.id}`, { unitId: unit(gw, 'JD01-SQ02').id })],
    ['roles changed', (u) => admin.patch(`/api/users/${u.id}`, { roles: ['patrol', 'researcher'] })],
    ['password reset by an admin', (u) => admin.patch(`/api/users/${u.id}`, { password: 'another-pass-2026' })],
    ['user deleted', (u) => admin.delete(`/api/users/${u.id}`)],
  ]
  for (const [what, change] of changes) {
    t.test(what, async (t) => {
      const user = await signedIn(gw, 'JD01-SQ01')
      const stream = await openStream(base, user.token)
      t.equal(stream.status, 200, 'the stream is open')
      const bystander = await openStream(base, await gw.login('community.patrol'))
      const res = (await change(user)) as { statusCode: number }
      t.ok(res.statusCode < 300, `${what}: ${res.statusCode}`)
      const ms = await closesWithin(`the stream after ${what}`, stream.closed, CLOSE_WITHIN_MS)
      t.pass(`closed ${Math.round(ms)} ms after the change`)
      t.equal(gw.services.stream.subscriberCount, 1, 'only the bystander’s stream is left')
      t.equal((await openStream(base, user.token)).status, 401, 'and it cannot be reopened with that session')
      bystander.close()
      await bystander.closed
    })
  }

  t.test('the user’s unit moves in the tree', async (t) => {
    const community = makeChildUnit(gw, 'JD01-PCS1', '迁移社区')
    const user = await signedIn(gw, community.code)
    const stream = await openStream(base, user.token)
    t.equal(stream.status, 200)
    const res = await admin.patch(`/api/units/${community.id}`, { parentId: unit(gw, 'JD01-PCS2').id })
    t.equal(res.statusCode, 200, 'the community moved to another station')
    await closesWithin('the stream after its unit moved', stream.closed, CLOSE_WITHIN_MS)
    const again = await openStream(base, user.token)
    t.equal(again.status, 200, 'the session itself still holds: the user reconnects with the new scope')
    again.close()
  })

  t.test('a change to someone else, or a no-op, leaves the stream open', async (t) => {
    const user = await signedIn(gw, 'JD01-SQ01')
    const other = await signedIn(gw, 'JD01-SQ01')
    const stream = await openStream(base, user.token)
    await admin.patch(`/api/users/${other.id}`, { disabled: true })
    await gw.as(other.token).post('/api/auth/logout')
    await admin.patch(`/api/users/${user.id}`, { displayName: '改个名字' })
    // the stream still delivers: an event published after the changes arrives
    const { caseId } = await gw.services.ingest.ingest({ cameraId: makeCamera(gw, 'JD01-SQ01').id, event: cellMotion(true) })
    await stream.waitFor((e) => e.event === 'case.created' && e.data.case.id === caseId)
    stream.close()
  })
})

t.test('an SSE stream closes within a second of its session expiring', async (t) => {
  const { gw, base } = await listening(t, { auth: { sessionTtlMinutes: 1, loginAttemptsPerMinutePerAddress: 1000 } })
  const user = await signedIn(gw, 'JD01-SQ01')
  // last used 59 s ago: opening the stream does not slide it (sliding happens once a minute)
  const expiresAt = Date.now() + 1000
  gw.services.db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?').run(new Date(expiresAt).toISOString(), user.token.slice(0, user.token.indexOf('.')))
  const stream: SseClient = await openStream(base, user.token)
  t.equal(stream.status, 200)
  await closesWithin('the stream after expiry', stream.closed, expiresAt - Date.now() + CLOSE_WITHIN_MS)
  t.ok(Date.now() >= expiresAt, 'not before the session expired')
  t.equal((await openStream(base, user.token)).status, 401)
})

/** A real WHEP session: a werift receiver's H.264 offer posted to the gateway. */
async function whep(t: Test, base: string, token: string, cameraId: number): Promise<Response> {
  const { pc, sdp } = await h264Offer()
  t.teardown(() => pc.close())
  return postWhep(base, token, cameraId, sdp)
}

/** Waits for the gateway to hold no WHEP session of the user, with a deadline. */
async function sessionsGone(gw: TestGateway, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (gw.services.media.sessionCount() > 0) {
    if (Date.now() > deadline) throw new Error(`${gw.services.media.sessionCount()} WHEP sessions still open after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('WHEP sessions close with the sign-in too', async (t) => {
  const { gw, base, admin } = await listening(t)
  // a camera whose upstream is refused: the session exists (it would resume with the camera) without video
  const camera = makeCamera(gw, 'JD01-SQ01', { streams: { main: { uri: 'rtsp://127.0.0.1:9/none', codec: 'h264' } } })
  for (const [what, change] of [
    ['logout', (u: { id: number; token: string }) => gw.as(u.token).post('/api/auth/logout')],
    ['account disabled', (u: { id: number; token: string }) => admin.patch(`/api/users/${u.id}`, { disabled: true })],
    ['roles changed', (u: { id: number; token: string }) => admin.patch(`/api/users/${u.id}`, { roles: ['researcher'] })],
  ] as const) {
    t.test(what, async (t) => {
      const user = await signedIn(gw, 'JD01-SQ01')
      const stream = await openStream(base, user.token)
      const res = await whep(t, base, user.token, camera.id)
      t.equal(res.status, 201, 'WHEP session created')
      t.equal(gw.services.media.sessionCount(), 1)
      await change(user)
      await Promise.all([sessionsGone(gw, CLOSE_WITHIN_MS), closesWithin('the stream', stream.closed, CLOSE_WITHIN_MS)])
      const ends = gw.services.db.prepare("SELECT detail FROM audit_log WHERE action = 'video.view_end' AND actor_id = ? ORDER BY id DESC LIMIT 1").pluck().get(user.id) as string | undefined
      t.match(JSON.parse(ends ?? '{}'), { reason: /session|user|disabled/ }, 'the view’s end is audited with why')
    })
  }
})
