import t, { type Test } from 'tap'
import { classifyEvent, OnvifClient, OnvifSubscriptionGoneError } from '../../../src/lib/onvif/index.js'
import { startOnvifSimulator } from '../../support/onvif-sim/index.js'

// This file owns 127.22.0.0/16.
const creds = { username: 'admin', password: 'ev-pass' }

async function setup(t: Test, address: string, vendor: 'hikvision' | 'dahua' | 'axis' | 'uniview') {
  const d = await startOnvifSimulator({ address, vendor, password: creds.password, maxPullWaitMs: 3000 })
  const c = new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
  t.teardown(async () => {
    c.close()
    await d.close()
  })
  return { d, c }
}

for (const [i, vendor] of (['hikvision', 'axis', 'uniview'] as const).entries()) {
  t.test(`${vendor}: PullPoint create → pull → motion event → renew → unsubscribe`, async (t) => {
    const { d, c } = await setup(t, `127.22.0.${i + 1}`, vendor)
    const sub = await c.createPullPointSubscription({ initialTerminationSec: 30 })
    t.equal(d.activeSubscriptions, 1)
    t.ok(Math.abs((sub.expiresInMs ?? 0) - 30_000) <= 1000, `termination ${sub.expiresInMs}`)
    if (vendor === 'axis') t.equal(sub.address.pathname, '/onvif/services', 'Axis: one URL, id in ReferenceParameters')

    const first = await sub.pull({ timeoutSec: 1 })
    t.same(
      first.events.map((e) => [e.topic, e.propertyOperation, e.data.State ?? e.data.IsMotion]),
      [
        ['tns1:VideoSource/MotionAlarm', 'Initialized', 'false'],
        ['tns1:RuleEngine/CellMotionDetector/Motion', 'Initialized', 'false'],
      ],
      'initial state messages, one per property',
    )

    // Long poll: the device holds PullMessages until the event arrives.
    const t0 = Date.now()
    setTimeout(() => d.emitMotion(true), 150)
    const r = await sub.pull({ timeoutSec: 3 })
    t.ok(Date.now() - t0 < 2500, 'returned on the event, not at the timeout')
    t.equal(r.events.length, 1)
    const ev = r.events[0]!
    t.equal(ev.topic, 'tns1:RuleEngine/CellMotionDetector/Motion')
    t.equal(ev.data.IsMotion, 'true')
    t.equal(ev.source.Rule, 'MyMotionDetectorRule')
    t.equal(ev.propertyOperation, 'Changed')
    t.ok(ev.utcTime instanceof Date && Math.abs(ev.utcTime.getTime() - Date.now()) < 5000)
    t.same(classifyEvent(ev), { kind: 'motion', active: true })

    d.emitTamper('blurry', true)
    d.emitMotion(false, 'alarm')
    const r2 = await sub.pull({ timeoutSec: 1 })
    t.same(r2.events.map(classifyEvent), [
      { kind: 'image-too-blurry', active: true },
      { kind: 'motion', active: false },
    ])

    const before = sub.terminationTime!.getTime()
    const renewed = await sub.renew(120)
    t.ok(renewed.terminationTime!.getTime() > before + 60_000, 'termination moved forward')
    t.ok(Math.abs((sub.expiresInMs ?? 0) - 120_000) <= 1000)

    await sub.unsubscribe()
    t.equal(d.activeSubscriptions, 0)
    const calls = d.calls.map((x) => x.action)
    t.same(
      calls.filter((a) => ['CreatePullPointSubscription', 'PullMessages', 'Renew', 'Unsubscribe'].includes(a)),
      ['CreatePullPointSubscription', 'PullMessages', 'PullMessages', 'PullMessages', 'Renew', 'Unsubscribe'],
    )
  })
}

t.test('a reboot drops the subscription: OnvifSubscriptionGoneError, then a new one works', async (t) => {
  const { d, c } = await setup(t, '127.22.0.10', 'dahua')
  const sub = await c.createPullPointSubscription()
  await sub.pull({ timeoutSec: 0 })
  d.reboot()
  await t.rejects(sub.pull({ timeoutSec: 1 }), OnvifSubscriptionGoneError)
  await t.rejects(sub.renew(60), OnvifSubscriptionGoneError)
  const again = await c.createPullPointSubscription()
  d.emitMotion(true)
  const r = await again.pull({ timeoutSec: 1 })
  t.ok(r.events.some((e) => e.data.IsMotion === 'true'))
})

t.test('an expired subscription is gone too', async (t) => {
  const { c } = await setup(t, '127.22.0.11', 'hikvision')
  const sub = await c.createPullPointSubscription({ initialTerminationSec: 1 })
  await new Promise((r) => setTimeout(r, 1200))
  await t.rejects(sub.pull({ timeoutSec: 0 }), OnvifSubscriptionGoneError)
})

t.test('close() aborts a long poll at once', async (t) => {
  const { c } = await setup(t, '127.22.0.12', 'hikvision')
  const sub = await c.createPullPointSubscription()
  await sub.pull({ timeoutSec: 0 })
  const t0 = Date.now()
  const p = sub.pull({ timeoutSec: 3 }).then(
    () => 'resolved',
    (e: Error) => e.message,
  )
  setTimeout(() => sub.close(), 100)
  t.match(await p, /cancelled/)
  t.ok(Date.now() - t0 < 1000)
  sub.close()
  await t.rejects(sub.pull(), /closed/)
})

t.test('GetEventProperties lists the concrete topics', async (t) => {
  const { c } = await setup(t, '127.22.0.13', 'uniview')
  const topics = await c.getEventProperties()
  t.same(topics.sort(), [
    'tns1:RuleEngine/CellMotionDetector/Motion',
    'tns1:VideoSource/GlobalSceneChange/ImagingService',
    'tns1:VideoSource/ImageTooBlurry/ImagingService',
    'tns1:VideoSource/MotionAlarm',
  ])
})

t.test('event calls carry WS-Addressing Action/To', async (t) => {
  const { d, c } = await setup(t, '127.22.0.14', 'hikvision')
  const sub = await c.createPullPointSubscription()
  await sub.pull({ timeoutSec: 0 })
  const pull = d.calls.find((x) => x.action === 'PullMessages')!
  t.match(pull.path, /^\/onvif\/Events\/PullSubManager_/)
  t.ok(pull.authenticated)
  t.equal(pull.addressing.action, 'http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest')
  t.equal(pull.addressing.to, sub.address.href)
  t.match(pull.addressing.messageId, /^urn:uuid:/)
  const create = d.calls.find((x) => x.action === 'CreatePullPointSubscription')!
  t.equal(create.addressing.action, 'http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest')
  const info = d.calls.find((x) => x.action === 'GetSystemDateAndTime')!
  t.equal(info.addressing.action, undefined, 'plain calls carry no addressing headers')
})
