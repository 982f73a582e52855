import t from 'tap'
import { OnvifProtocolError, parseXml } from '../../../src/lib/onvif/index.js'
import { canonicalQName, child, serializeXml } from '../../../src/lib/onvif/xml.js'

const problem = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (e) {
    return e instanceof OnvifProtocolError ? e.problem : `other:${(e as Error).name}`
  }
  return undefined
}

t.test('namespaces resolve whatever the prefix', async (t) => {
  const a = parseXml('<a:E xmlns:a="urn:x"><a:B>1</a:B></a:E>')
  const b = parseXml('<E xmlns="urn:x"><B>1</B></E>')
  const c = parseXml('<q:E xmlns:q="urn:x"><r:B xmlns:r="urn:y">1</r:B></q:E>')
  t.same([a.ns, a.name, b.ns, b.name], ['urn:x', 'E', 'urn:x', 'E'])
  t.equal(child(b, 'B')!.ns, 'urn:x')
  t.equal(child(c, 'B')!.ns, 'urn:y')
})

t.test('QName text values resolve to canonical prefixes', async (t) => {
  const el = parseXml('<v xmlns:zz="http://www.onvif.org/ver10/error">zz:NotAuthorized</v>')
  t.equal(canonicalQName(el, el.text), 'ter:NotAuthorized')
  const un = parseXml('<v>foo:Bar</v>')
  t.equal(canonicalQName(un, un.text), 'foo:Bar')
})

t.test('predefined entities, character references and CDATA', async (t) => {
  const el = parseXml('<a x="&lt;&#x41;&#66;&quot;">a &amp; b &#20013;<![CDATA[&amp; <raw>]]></a>')
  t.equal(el.attrs.x, '<AB"')
  t.equal(el.text, 'a & b 中&amp; <raw>')
})

t.test('refusals', async (t) => {
  t.equal(problem(() => parseXml('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')), 'dtd-or-entity')
  t.equal(problem(() => parseXml('<!doctype a><a/>')), 'dtd-or-entity')
  t.equal(problem(() => parseXml('<a>&nbsp;</a>')), 'dtd-or-entity', 'undeclared entity')
  t.equal(problem(() => parseXml('<a>&#0;</a>')), 'dtd-or-entity', 'NUL reference')
  t.equal(problem(() => parseXml('<a><b></a>')), 'malformed-xml')
  t.equal(problem(() => parseXml('not xml')), 'malformed-xml')
  t.equal(problem(() => parseXml('<a/><b/>')), 'malformed-xml')
  t.equal(problem(() => parseXml(`<a>${'x'.repeat(2000)}</a>`, { maxBytes: 1000 })), 'too-large')
  t.equal(problem(() => parseXml(`<a>${'中'.repeat(400)}</a>`, { maxBytes: 1000 })), 'too-large', 'limit counts bytes, not chars')
  t.equal(problem(() => parseXml('<a>' + '<b>'.repeat(200) + '</b>'.repeat(200) + '</a>')), 'malformed-xml', 'nesting limit')
  t.equal(problem(() => parseXml('<a><b/></a>')), undefined)
})

t.test('serializeXml round-trips a reference parameter', async (t) => {
  const el = parseXml('<d:SubscriptionId xmlns:d="http://www.axis.com/2009/event">7 &amp; 8</d:SubscriptionId>')
  const again = parseXml(serializeXml(el, ' extra="1"'))
  t.same([again.ns, again.name, again.text, again.attrs.extra], ['http://www.axis.com/2009/event', 'SubscriptionId', '7 & 8', '1'])
})
