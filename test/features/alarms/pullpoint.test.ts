import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { systemPrincipal } from '../../../src/core/scope.js'
import { startOnvifSimulator } from '../../support/onvif-sim/index.js'
import { startTestGateway } from '../../support/gateway.js'
import { fakeSnapshots, unitId } from './support.js'

// This file owns 127.26.0.0/16.
async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

t.test('PullPoint against the ONVIF simulator: motion opens one case, pulses update it, renew, reboot re-subscribes', async (t) => {
  const sims = await Promise.all(
    (['hikvision', 'dahua'] as const).map((vendor, i) => startOnvifSimulator({ address: `127.26.0.${i + 1}`, vendor, password: 'pp-pass', maxPullWaitMs: 2000 })),
  )
  const [hik, dahua] = sims as [Awaited<ReturnType<typeof startOnvifSimulator>>, Awaited<ReturnType<typeof startOnvifSimulator>>]
  // a camera that never answers must not hold up the others
  const dead = await startOnvifSimulator({ address: '127.26.0.9', vendor: 'axis', password: 'pp-pass' })
  dead.setFault({ kind: 'hang' })
  t.teardown(async () => {
    for (const s of [...sims, dead]) await s.close()
  })
  const gw = await startTestGateway(t, { overrides: { alarms: { pullPoint: true, pullPointTerminationSeconds: 10 } } })
  gw.services.cases.setSnapshotSource(fakeSnapshots())
  const actor = systemPrincipal('test')
  const add = (sim: typeof hik, name: string) =>
    gw.services.registry.create(actor, { unitId: unitId(gw, 'JD01-SQ01'), name, class: 2, kind: 'fixed', onvifUrl: sim.xaddr, credentials: { username: 'admin', password: 'pp-pass' }, capabilities: { ptz: false, events: true } })
  const camDead = add(dead, 'dead camera')
  const camHik = add(hik, 'hik gate')
  const camDahua = add(dahua, 'dahua lobby')
  t.ok(camDead)

  await until('subscriptions', () => hik.activeSubscriptions === 1 && dahua.activeSubscriptions === 1)
  const creates = hik.calls.filter((c) => c.action === 'CreatePullPointSubscription')
  t.ok(creates.length >= 1)
  t.ok(creates.every((c) => c.addressing.messageId && /^urn:uuid:/.test(c.addressing.messageId)), 'a WS-Addressing MessageID on Subscribe')

  const motionCases = () => gw.services.db.prepare("SELECT id, occurrences FROM cases WHERE kind = 'motion' AND camera_id = ?").all(camHik.id) as { id: number; occurrences: number }[]
  hik.emitMotion(true)
  const [c] = await until('a motion case', () => (motionCases().length ? motionCases() : undefined))
  hik.emitMotion(false)
  await sleep(200)
  hik.emitMotion(true)
  hik.emitMotion(false)
  hik.emitMotion(true, 'alarm') // VideoSource/MotionAlarm: the same kind
  await until('occurrences', () => motionCases()[0]!.occurrences >= 3)
  t.equal(motionCases().length, 1, 'one case')
  await gw.services.cases.settle()
  const detail = gw.services.cases.getUnscoped(c!.id)!
  t.match(detail, { kind: 'motion', unit: { code: 'JD01-SQ01' }, cameras: [{ id: camHik.id }] })
  t.ok(detail.attachments.some((a) => a.kind === 'snapshot'), 'snapshot attached')
  const alarm = gw.services.db.prepare('SELECT origin, topic, payload FROM alarms WHERE case_id = ? ORDER BY id LIMIT 1').get(c!.id) as { origin: string; topic: string; payload: string }
  t.match(alarm, { origin: 'onvif', topic: 'tns1:RuleEngine/CellMotionDetector/Motion' })
  t.match(JSON.parse(alarm.payload), { data: { IsMotion: 'true' }, source: { Rule: 'MyMotionDetectorRule' } })

  // the Dahua camera's tamper (image too dark) is a tamper case of its own
  dahua.emitTamper('dark', true)
  await until('a tamper case', () => gw.services.db.prepare("SELECT id FROM cases WHERE kind = 'tamper' AND camera_id = ?").get(camDahua.id))

  // Renew before the camera's termination (10 s → at about 6.7 s), with a MessageID
  const renew = await until('a Renew', () => hik.calls.find((x) => x.action === 'Renew'), 12_000)
  t.ok(renew.addressing.messageId, 'a WS-Addressing MessageID on Renew')

  // a reboot drops the subscription: the supervisor subscribes again and events flow
  const before = hik.calls.filter((x) => x.action === 'CreatePullPointSubscription').length
  hik.reboot({ downMs: 300 })
  await until('a new subscription', () => hik.activeSubscriptions === 1 && hik.calls.filter((x) => x.action === 'CreatePullPointSubscription').length > before)
  hik.emitTamper('blurry', true)
  await until('a tamper case after the reboot', () => gw.services.db.prepare("SELECT id FROM cases WHERE kind = 'tamper' AND camera_id = ?").get(camHik.id))

  // close: pulls are aborted and subscriptions released, quickly
  const t0 = Date.now()
  await gw.close()
  t.ok(Date.now() - t0 < 5000, `closed in ${Date.now() - t0} ms`)
  await until('unsubscribed', () => hik.activeSubscriptions === 0 && dahua.activeSubscriptions === 0, 3000)
})

t.test('a camera clock that wanders (1 s resolution) keeps the subscription; a held motion is one alarm, also across a re-subscription', async (t) => {
  const sim = await startOnvifSimulator({ address: '127.26.1.1', vendor: 'dahua', authFailureStatus: 400, password: 'pp-pass', maxPullWaitMs: 1000, clockResolutionMs: 1000 })
  t.teardown(() => sim.close())
  const gw = await startTestGateway(t, { overrides: { alarms: { pullPoint: true, pullPointTerminationSeconds: 60 } } })
  gw.services.cases.setSnapshotSource(fakeSnapshots())
  const actor = systemPrincipal('test')
  const cam = gw.services.registry.create(actor, { unitId: unitId(gw, 'JD01-SQ01'), name: 'wandering clock', class: 2, kind: 'fixed', onvifUrl: sim.xaddr, credentials: { username: 'admin', password: 'pp-pass' }, capabilities: { ptz: false, events: true } })
  await until('a subscription', () => sim.activeSubscriptions === 1)
  const motionAlarms = () => gw.services.db.prepare("SELECT COUNT(*) FROM alarms WHERE kind = 'motion' AND camera_id = ?").pluck().get(cam.id) as number
  sim.emitMotion(true) // held on for the whole test
  await until('the motion alarm', () => motionAlarms() === 1)

  // health measures the offset again and again; each resync (timer, or any camera edit) compares settings
  for (let i = 1; i <= 4; i++) {
    sim.setClockSkew(i % 2 ? 3 : 0)
    await gw.services.health.sweep()
    const offset = gw.services.registry.getEnabledForSystem(cam.id)!.camera.clockOffsetMs!
    t.ok(i % 2 ? offset > 1500 : offset < 1500, `offset ${offset} ms stored`)
    gw.services.registry.update(actor, cam.id, { name: `wandering clock ${i}` })
    // the next pulls are signed on the new offset and accepted
    const mark = sim.calls.length
    await until('an accepted pull after the offset moved', () => sim.calls.slice(mark).some((c) => c.action === 'PullMessages' && c.authenticated))
  }
  t.equal(sim.subscriptionsCreated, 1, 'one subscription for the whole time')
  t.notOk(sim.calls.some((c) => c.action === 'Unsubscribe'), 'never torn down')
  t.notOk(sim.calls.some((c) => !c.authenticated && c.action !== 'GetSystemDateAndTime' && c.action !== 'GetServices' && c.action !== 'GetCapabilities'), 'no request refused')

  // a reboot forces a new subscription: its Initialized "motion on" is a state already known
  const subscriptions = sim.subscriptionsCreated
  sim.reboot({ downMs: 200 })
  await until('a new subscription', () => sim.subscriptionsCreated > subscriptions && sim.activeSubscriptions === 1)
  const mark = sim.calls.length
  await until('the Initialized messages pulled', () => sim.calls.slice(mark).filter((c) => c.action === 'PullMessages').length >= 2)
  gw.services.ingest.flushNow()
  t.equal(motionAlarms(), 1, 'still one alarm')
  t.equal((gw.services.db.prepare("SELECT occurrences FROM cases WHERE kind = 'motion' AND camera_id = ?").pluck().get(cam.id) as number), 1, 'one occurrence')
  // a motion that ends and starts again is a new alarm
  sim.emitMotion(false)
  sim.emitMotion(true)
  await until('the second motion', () => motionAlarms() === 2)
})
