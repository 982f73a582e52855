import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { systemPrincipal } from '../../../src/core/scope.js'
import { startOnvifSimulator, type SimulatedDevice } from '../../support/onvif-sim/index.js'
import { startTestGateway, type TestGateway } from '../../support/gateway.js'
import { fakeSnapshots, unitId } from './support.js'

// This file owns 127.28.0.0/16.
async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

async function freePort(host: string): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, host, r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** A gateway listening on 127.0.0.1 whose notifyBaseUrl points at itself. */
async function listeningGateway(t: Test, alarms: Record<string, unknown> = {}): Promise<TestGateway> {
  const port = await freePort('127.0.0.1')
  const gw = await startTestGateway(t, { overrides: { alarms: { pullPoint: true, pullPointTerminationSeconds: 10, notifyBaseUrl: `http://127.0.0.1:${port}`, ...alarms } } })
  await gw.app.listen({ port, host: '127.0.0.1' })
  gw.services.cases.setSnapshotSource(fakeSnapshots())
  return gw
}

const actor = systemPrincipal('test')
function addCamera(gw: TestGateway, sim: SimulatedDevice, name: string, password: string) {
  return gw.services.registry.create(actor, {
    unitId: unitId(gw, 'JD01-SQ01'),
    name,
    class: 2,
    kind: 'fixed',
    onvifUrl: sim.xaddr,
    credentials: { username: 'admin', password },
    capabilities: { ptz: false, events: true },
  })
}

/** the token of the device's newest push subscription, from its Subscribe request */
function liveToken(sim: SimulatedDevice): string {
  const subs = sim.calls.filter((c) => c.action === 'Subscribe')
  const addr = String((subs[subs.length - 1]!.params as { ConsumerReference: { Address: string } }).ConsumerReference.Address)
  return addr.slice(addr.lastIndexOf('/') + 1)
}

const notifyBody = (inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">` +
  `<env:Body><wsnt:Notify>${inner}</wsnt:Notify></env:Body></env:Envelope>`

t.test('push-only camera: Subscribe, a motion Notify opens one case, Renew, reboot re-subscribes, forged and hostile Notifies refused', async (t) => {
  const sim = await startOnvifSimulator({ address: '127.28.0.1', vendor: 'hikvision', password: 'push-pass', events: 'push' })
  t.teardown(() => sim.close())
  const gw = await listeningGateway(t)
  const cam = addCamera(gw, sim, 'push gate', 'push-pass')

  await until('a push subscription', () => sim.pushSubscriptions === 1)
  t.ok(sim.calls.some((c) => c.action === 'CreatePullPointSubscription'), 'PullPoint was tried first')
  const sub = sim.calls.find((c) => c.action === 'Subscribe')!
  t.match(sub.addressing.messageId, /^urn:uuid:/, 'a WS-Addressing MessageID on Subscribe')
  const token = liveToken(sim)
  t.match(token, /^[A-Za-z0-9_-]{32}$/, 'an unguessable token in the consumer URL')

  const motionCases = () => gw.services.db.prepare("SELECT id, occurrences FROM cases WHERE kind = 'motion' AND camera_id = ?").all(cam.id) as { id: number; occurrences: number }[]
  sim.emitMotion(true)
  const [c] = await until('a motion case', () => (motionCases().length ? motionCases() : undefined))
  t.match(sim.notifications[0], { status: 202 }, 'the Notify was answered 202')
  sim.emitMotion(false)
  sim.emitMotion(true)
  await until('occurrences', () => motionCases()[0]!.occurrences >= 2)
  t.equal(motionCases().length, 1, 'one case')
  const alarm = gw.services.db.prepare('SELECT origin, topic, payload FROM alarms WHERE case_id = ? ORDER BY id LIMIT 1').get(c!.id) as { origin: string; topic: string; payload: string }
  t.match(alarm, { origin: 'onvif', topic: 'tns1:RuleEngine/CellMotionDetector/Motion' })
  t.match(JSON.parse(alarm.payload), { data: { IsMotion: 'true' } })

  // a forged token, a malformed one, and no token
  const post = (tok: string, payload: string, contentType = 'application/soap+xml; charset=utf-8') =>
    gw.app.inject({ method: 'POST', url: `/api/onvif/notify/${tok}`, headers: { 'content-type': contentType }, payload })
  const valid = notifyBody(
    '<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/TamperDetector/Tamper</wsnt:Topic>' +
      '<wsnt:Message><tt:Message UtcTime="2026-11-21T06:00:05Z" PropertyOperation="Changed"><tt:Source/><tt:Data><tt:SimpleItem Name="IsTamper" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>',
  )
  t.equal((await post('A'.repeat(32), valid)).statusCode, 404, 'forged token: 404')
  t.equal((await post(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'), valid)).statusCode, 404, 'one character off: 404')
  t.equal((await post('x', valid)).statusCode, 404)
  // text/xml works as well; the event of a valid Notify is ingested
  const ok = await post(token, valid, 'text/xml; charset=utf-8')
  t.equal(ok.statusCode, 202, 'text/xml accepted')
  await until('a tamper case from the injected Notify', () => gw.services.db.prepare("SELECT id FROM cases WHERE kind = 'tamper' AND camera_id = ?").get(cam.id))
  // hostile bodies
  const dtd = valid.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;">]>')
  const r1 = await post(token, dtd)
  t.equal(r1.statusCode, 400, 'DTD: 400')
  t.match(r1.body, /dtd-or-entity/)
  const big = valid.replace('</wsnt:Notify>', `<!-- ${'x'.repeat(300 * 1024)} --></wsnt:Notify>`)
  const r2 = await post(token, big)
  t.equal(r2.statusCode, 400, 'oversized (above the XML limit): 400')
  t.match(r2.body, /too-large/)
  t.equal((await post(token, valid.replace('</wsnt:Notify>', `<!-- ${'x'.repeat(600 * 1024)} --></wsnt:Notify>`))).statusCode, 413, 'far above: cut off by the transport, 413')
  t.equal((await post(token, '<not-closed>')).statusCode, 400, 'malformed XML: 400')
  t.equal((await post(token, notifyBody('').replace(/wsnt:Notify/g, 'wsnt:Renew'))).statusCode, 400, 'not a Notify: 400')
  t.equal((await gw.app.inject({ method: 'POST', url: `/api/onvif/notify/${token}`, payload: { a: 1 } })).statusCode, 400, 'JSON: 400')

  // Renew before the termination (10 s → at about 6.7 s), with a MessageID
  const renew = await until('a Renew', () => sim.calls.find((x) => x.action === 'Renew'), 12_000)
  t.ok(renew.addressing.messageId, 'a WS-Addressing MessageID on Renew')
  t.equal(sim.pushSubscriptions, 1)

  // a reboot drops the subscription: noticed at the next Renew, then Subscribe again with a new token
  const before = sim.calls.filter((x) => x.action === 'Subscribe').length
  sim.reboot({ downMs: 300 })
  await until('a new subscription', () => sim.pushSubscriptions === 1 && sim.calls.filter((x) => x.action === 'Subscribe').length > before, 15_000)
  const token2 = liveToken(sim)
  t.not(token2, token, 'a new token')
  t.equal((await post(token, valid)).statusCode, 404, 'the old token is dead')
  sim.emitTamper('blurry', true)
  await until('a Notify after the reboot', () => sim.notifications.some((n) => n.url.endsWith(token2) && n.status === 202))

  // close: Unsubscribe
  await gw.close()
  await until('unsubscribed', () => sim.pushSubscriptions === 0, 3000)
})

t.test('push-only camera without notifyBaseUrl: no subscription, a warning naming the key', async (t) => {
  const sim = await startOnvifSimulator({ address: '127.28.0.2', vendor: 'dahua', password: 'push-pass', events: 'push' })
  t.teardown(() => sim.close())
  const gw = await startTestGateway(t, { overrides: { alarms: { pullPoint: true, pullPointTerminationSeconds: 10 } } })
  const lines: string[] = []
  const orig = gw.app.log.warn.bind(gw.app.log)
  ;(gw.app.log as { warn: unknown }).warn = (...a: unknown[]) => {
    lines.push(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '))
    return (orig as (...x: unknown[]) => void)(...a)
  }
  addCamera(gw, sim, 'push lobby', 'push-pass')
  await until('PullPoint tried', () => sim.calls.some((c) => c.action === 'CreatePullPointSubscription'))
  await until('a warning', () => lines.find((l) => l.includes('alarms.notifyBaseUrl')), 5000)
  t.equal(sim.calls.filter((c) => c.action === 'Subscribe').length, 0, 'no Subscribe without a consumer URL')
  t.equal((await gw.app.inject({ method: 'POST', url: `/api/onvif/notify/${'A'.repeat(32)}`, headers: { 'content-type': 'text/xml' }, payload: '<a/>' })).statusCode, 404)
})

t.test('restarts never leave the old PullPoint behind (cameras that keep a pull open after the client has gone)', async (t) => {
  // a camera that caps subscriptions at 5 and never drops a subscription when the client goes away
  const sim = await startOnvifSimulator({ address: '127.28.0.3', vendor: 'hikvision', password: 'pp-pass', maxSubscriptions: 5, maxPullWaitMs: 1000 })
  t.teardown(() => sim.close())
  const gw = await listeningGateway(t, { pullPointTerminationSeconds: 600 })
  const cam = addCamera(gw, sim, 'capped camera', 'pp-pass')
  await until('a subscription', () => sim.activeSubscriptions === 1)

  // 1) restarts of the camera loop (the camera's settings changed: its password rotated): 7 of them, more than the cap
  for (let i = 1; i <= 7; i++) {
    const created = sim.subscriptionsCreated
    const unsubscribes = sim.calls.filter((c) => c.action === 'Unsubscribe' && c.authenticated).length
    gw.services.registry.update(actor, cam.id, { name: `capped camera ${i}`, credentials: { username: 'admin', password: `pp-pass-${i}` } })
    // the old loop releases its subscription with the old password, then the camera takes the new one
    await until(`release ${i}`, () => sim.calls.filter((c) => c.action === 'Unsubscribe' && c.authenticated).length > unsubscribes)
    sim.setPassword(`pp-pass-${i}`)
    await until(`restart ${i}`, () => sim.subscriptionsCreated > created && sim.activeSubscriptions === 1)
  }
  t.equal(sim.peakSubscriptions, 1, 'never more than one live subscription across 7 restarts')
  t.ok(sim.calls.filter((c) => c.action === 'Unsubscribe').length >= 7, 'each old one unsubscribed')

  // 2) failures: every PullMessages dies mid-way (connection dropped); the camera keeps the subscription
  sim.setFault({ kind: 'drop' }, { actions: ['PullMessages'] })
  const created = sim.subscriptionsCreated
  await until('6 re-subscriptions after failures', () => sim.subscriptionsCreated >= created + 6, 20_000)
  t.ok(sim.activeSubscriptions <= 1, `at most one live subscription (${sim.activeSubscriptions})`)
  t.equal(sim.peakSubscriptions, 1, 'never more than one at a time')
  sim.setFault(undefined)
  await until('pulling again', () => sim.activeSubscriptions === 1)

  await gw.close()
  await until('unsubscribed on close', () => sim.activeSubscriptions === 0, 3000)
})
