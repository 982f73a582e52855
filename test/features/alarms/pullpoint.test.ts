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
