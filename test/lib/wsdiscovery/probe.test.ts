import { readFileSync } from 'node:fs'
import t from 'tap'
import { buildProbe, parseProbeMatches } from '../../../src/lib/wsdiscovery/index.js'
import { parseXml } from '../../../src/lib/onvif/index.js'
import { child, descendant } from '../../../src/lib/onvif/xml.js'

const fixture = (p: string): string => readFileSync(new URL(`../../fixtures/onvif/${p}`, import.meta.url), 'utf8')

t.test('Probe: both types, fresh MessageID, discovery addressing', async (t) => {
  const a = buildProbe()
  const b = buildProbe()
  t.match(a.messageId, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.not(a.messageId, b.messageId)
  const env = parseXml(a.xml)
  t.equal(env.ns, 'http://www.w3.org/2003/05/soap-envelope')
  const h = child(env, 'Header')!
  t.equal(child(h, 'MessageID')!.text, a.messageId)
  t.equal(child(h, 'Action')!.text, 'http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe')
  t.equal(child(h, 'To')!.text, 'urn:schemas-xmlsoap-org:ws:2005:04:discovery')
  const types = descendant(env, 'Types')!
  t.equal(types.ns, 'http://schemas.xmlsoap.org/ws/2005/04/discovery')
  t.same(types.text.split(' '), ['dn:NetworkVideoTransmitter', 'tds:Device'])
  t.equal(types.scope.get('dn'), 'http://www.onvif.org/ver10/network/wsdl')
  t.equal(types.scope.get('tds'), 'http://www.onvif.org/ver10/device/wsdl')
})

t.test('Hikvision ProbeMatches', async (t) => {
  const r = parseProbeMatches(fixture('hikvision/ProbeMatches.xml'))!
  t.equal(r.relatesTo, 'urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a')
  const m = r.matches[0]!
  t.equal(m.endpointReference, 'urn:uuid:a1b2c3d4-e5a2-11ee-8000-4419b6112233')
  t.same(m.types, ['dn:NetworkVideoTransmitter', 'tds:Device'])
  t.same(m.scopeInfo, {
    name: 'HIKVISION DS-2CD2143G2-I',
    hardware: 'DS-2CD2143G2-I',
    locations: ['city/hangzhou'],
    profiles: ['Streaming', 'G', 'T'],
    types: ['video_encoder'],
    mac: '44:19:b6:11:22:33',
  })
  t.same(m.xaddrs.map((x) => x.url.href), ['http://192.0.2.64/onvif/device_service', 'http://[2001:db8::4619:b6ff:fe11:2233]/onvif/device_service'])
  t.equal(m.metadataVersion, 10)
})

t.test('Dahua ProbeMatches (uuid: without urn:, a: prefix)', async (t) => {
  const m = parseProbeMatches(fixture('dahua/ProbeMatches.xml'))!.matches[0]!
  t.equal(m.endpointReference, 'uuid:c7d8e9f0-1111-4000-8000-3ce36b0a1b2c')
  t.same(m.scopeInfo.locations, ['country/china'])
  t.equal(m.scopeInfo.name, 'Dahua')
  t.equal(m.scopeInfo.hardware, 'DH-IPC-HFW2431S')
  t.same(m.scopeInfo.types, ['Network_Video_Transmitter'])
})

t.test('Axis ProbeMatches (tdn: prefix, explicit :80, empty location)', async (t) => {
  const m = parseProbeMatches(fixture('axis/ProbeMatches.xml'))!.matches[0]!
  t.same(m.types, ['dn:NetworkVideoTransmitter', 'tds:Device'], 'tdn: resolved by namespace')
  t.equal(m.scopeInfo.name, 'AXIS P3245-LV')
  t.same(m.scopeInfo.locations, [])
  t.equal(m.xaddrs[0]!.url.href, 'http://192.0.2.90/onvif/device_service')
  t.equal(m.xaddrs[0]!.port, 80)
})

t.test('Uniview ProbeMatches: no RelatesTo, ns12 prefix, UTF-8 name', async (t) => {
  const r = parseProbeMatches(fixture('uniview/ProbeMatches.xml'))!
  t.equal(r.relatesTo, undefined)
  const m = r.matches[0]!
  t.same(m.types, ['dn:NetworkVideoTransmitter', 'tds:Device'])
  t.equal(m.scopeInfo.name, 'IPC322LB-SF28-A', 'first name scope wins')
  t.same(m.scopeInfo.locations, ['Country/China', 'City/Hangzhou Binjiang'])
  t.ok(m.scopes.includes('onvif://www.onvif.org/name/%E5%8D%97%E9%97%A8%E5%85%A5%E5%8F%A3'))
})

t.test('junk on the discovery port is ignored, not thrown', async (t) => {
  t.equal(parseProbeMatches('garbage'), undefined)
  t.equal(parseProbeMatches(buildProbe().xml), undefined, 'our own looped-back probe')
  t.equal(parseProbeMatches(fixture('generic/xxe.xml')), undefined)
  t.equal(parseProbeMatches(`<x>${'a'.repeat(70_000)}</x>`), undefined)
})
