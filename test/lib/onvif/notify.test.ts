import { readFileSync } from 'node:fs'
import http from 'node:http'
import { once } from 'node:events'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import {
  DEFAULT_MAX_NOTIFY_BYTES,
  OnvifClient,
  OnvifNotSupportedError,
  OnvifProtocolError,
  OnvifSubscriptionGoneError,
  parseNotify,
  parseSubscribe,
  parseXml,
} from '../../../src/lib/onvif/index.js'
import { startOnvifSimulator } from '../../support/onvif-sim/index.js'

// This file owns 127.27.0.0/16.
const fixture = (vendor: string, name: string) => readFileSync(join(import.meta.dirname, '../../fixtures/onvif', vendor, name), 'utf8')

t.test('parseNotify: a Hikvision-style Notify with two messages', async (t) => {
  const n = parseNotify(fixture('hikvision', 'Notify.xml'))
  t.equal(n.events.length, 2)
  t.equal(n.skipped, 0)
  t.match(n.events[0], { topic: 'tns1:RuleEngine/CellMotionDetector/Motion', propertyOperation: 'Changed', data: { IsMotion: 'true' }, source: { Rule: 'MyMotionDetectorRule' } })
  t.match(n.events[1], { topic: 'tns1:VideoSource/MotionAlarm', data: { State: 'true' } })
  t.same(n.subscriptions, ['http://192.168.1.64/onvif/Events/SubManager_2026-11-21T06:00:00Z_3'])
})

t.test('parseNotify: SOAP 1.1 envelope and a bare Notify root', async (t) => {
  const msg =
    '<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/TamperDetector/Tamper</wsnt:Topic>' +
    '<wsnt:Message><tt:Message UtcTime="2026-11-21T06:00:05Z"><tt:Source/><tt:Data><tt:SimpleItem Name="IsTamper" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>'
  const ns = 'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"'
  const soap11 = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ${ns}><s:Body><wsnt:Notify>${msg}</wsnt:Notify></s:Body></s:Envelope>`
  t.match(parseNotify(soap11).events, [{ topic: 'tns1:RuleEngine/TamperDetector/Tamper', data: { IsTamper: 'true' } }])
  t.equal(parseNotify(`<wsnt:Notify ${ns}>${msg}</wsnt:Notify>`).events.length, 1)
  // a message without a topic is skipped, not fatal
  t.match(parseNotify(`<wsnt:Notify ${ns}><wsnt:NotificationMessage/>${msg}</wsnt:Notify>`), { skipped: 1, events: [{}] })
})

t.test('parseNotify: the XML safety gate', async (t) => {
  const good = fixture('hikvision', 'Notify.xml')
  const problem = (xml: string, opts?: { maxBytes?: number }) => {
    try {
      parseNotify(xml, opts)
      return 'parsed'
    } catch (e) {
      return e instanceof OnvifProtocolError ? e.problem : `other: ${(e as Error).message}`
    }
  }
  t.equal(problem(good, { maxBytes: 1000 }), 'too-large')
  t.equal(problem(good.replace('</wsnt:Notify>', `<!-- ${'x'.repeat(DEFAULT_MAX_NOTIFY_BYTES)} --></wsnt:Notify>`)), 'too-large', 'default limit')
  const lol = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;">]>'
  t.equal(problem(good.replace('<?xml version="1.0" encoding="UTF-8"?>', `<?xml version="1.0"?>${lol}`)), 'dtd-or-entity', 'billion laughs refused')
  t.equal(problem(good.replace('VideoSource_1', '&xxe;')), 'dtd-or-entity', 'undeclared entity refused')
  t.equal(problem('<a><b></a>'), 'malformed-xml')
  t.equal(problem(good.replace(/wsnt:Notify/g, 'wsnt:Renew')), 'not-soap', 'not a Notify')
  t.equal(problem('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>'), 'not-soap', 'empty body')
  t.equal(problem('<html><body>hello</body></html>'), 'not-soap')
})

t.test('parseSubscribe: Axis keeps the subscription id in ReferenceParameters', async (t) => {
  const env = parseXml(fixture('axis', 'SubscribeResponse.xml'))
  const body = env.children.find((c) => c.name === 'Body')!
  const r = parseSubscribe(body.children[0]!)
  t.equal(r.address.href, 'http://192.168.0.90/onvif/services')
  t.equal(r.referenceParameters[0]?.name, 'SubscriptionId')
  t.equal(r.terminationTime?.toISOString(), '2026-11-21T06:01:00.000Z')
})

/** A consumer endpoint: records Notify bodies. */
async function consumer(t: Test, address: string) {
  const bodies: { path: string; body: string; contentType: string }[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      bodies.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), contentType: String(req.headers['content-type']) })
      res.writeHead(202).end()
    })
  })
  server.listen(0, address)
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const port = (server.address() as { port: number }).port
  return { bodies, url: `http://${address}:${port}` }
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

for (const [i, vendor] of (['hikvision', 'axis', 'dahua'] as const).entries()) {
  t.test(`${vendor}: push-only device: Subscribe → Notify → Renew → Unsubscribe; reboot forgets`, async (t) => {
    const d = await startOnvifSimulator({ address: `127.27.0.${i + 1}`, vendor, password: 'nt-pass', events: 'push' })
    const c = new OnvifClient({ xaddr: d.xaddr, username: 'admin', password: 'nt-pass', timeoutMs: 2000 })
    t.teardown(async () => {
      c.close()
      await d.close()
    })
    const sink = await consumer(t, `127.27.1.${i + 1}`)

    await t.rejects(c.createPullPointSubscription(), OnvifNotSupportedError, 'no PullPoint on this device')
    const sub = await c.subscribe({ consumerUrl: `${sink.url}/api/onvif/notify/tok${i}`, initialTerminationSec: 30, topicFilter: 'tns1:RuleEngine//.' })
    t.equal(d.pushSubscriptions, 1)
    t.ok(Math.abs((sub.expiresInMs ?? 0) - 30_000) <= 1000, `termination ${sub.expiresInMs}`)
    const call = d.calls.find((x) => x.action === 'Subscribe')!
    t.match(call.addressing, { action: 'http://docs.oasis-open.org/wsn/bw-2/NotificationProducer/SubscribeRequest', messageId: /^urn:uuid:/ }, 'WS-Addressing with a MessageID')
    t.match(call.params, { ConsumerReference: { Address: `${sink.url}/api/onvif/notify/tok${i}` }, InitialTerminationTime: 'PT30S' })

    d.emitMotion(true)
    const got = await until('a Notify', () => sink.bodies[0])
    t.equal(got.path, `/api/onvif/notify/tok${i}`)
    t.match(got.contentType, /^application\/soap\+xml/)
    const n = parseNotify(got.body)
    t.match(n.events, [{ topic: 'tns1:RuleEngine/CellMotionDetector/Motion', data: { IsMotion: 'true' } }])
    t.equal(n.subscriptions.length, 1)

    const r = await sub.renew(60)
    t.ok(r.terminationTime && r.currentTime && r.terminationTime.getTime() - r.currentTime.getTime() === 60_000, 'renewed to 60 s')

    await sub.unsubscribe()
    t.equal(d.pushSubscriptions, 0)
    d.emitMotion(false)
    await sleep(100)
    t.equal(sink.bodies.length, 1, 'nothing pushed after Unsubscribe')

    const sub2 = await c.subscribe({ consumerUrl: `${sink.url}/x`, initialTerminationSec: 30 })
    d.reboot()
    await t.rejects(sub2.renew(30), OnvifSubscriptionGoneError, 'a reboot drops push subscriptions')
  })
}

t.test('subscribe: rejects a non-http consumer URL before sending anything', async (t) => {
  const d = await startOnvifSimulator({ address: '127.27.0.9', password: 'nt-pass', events: 'push' })
  const c = new OnvifClient({ xaddr: d.xaddr, username: 'admin', password: 'nt-pass', timeoutMs: 2000 })
  t.teardown(async () => {
    c.close()
    await d.close()
  })
  await t.rejects(c.subscribe({ consumerUrl: 'file:///etc/passwd' }), TypeError)
  await t.rejects(c.subscribe({ consumerUrl: 'not a url' }), TypeError)
  t.equal(d.calls.filter((x) => x.action === 'Subscribe').length, 0)
})
