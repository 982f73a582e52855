/**
 * Safe XML reading for device replies: size cap, DTD/entity refusal, well-formedness check, then a
 * namespace-resolved element tree. Payload lookups go by local name because vendors put elements in
 * wrong or outdated namespaces (see the simulator's `wrong-namespaces` mode); the envelope and QName
 * values (fault codes, discovery types, event topics) are resolved properly.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { OnvifProtocolError } from './errors.js'
import { canonicalPrefix } from './ns.js'

export interface XmlElement {
  /** namespace URI, '' when none (or the prefix was never declared) */
  readonly ns: string
  /** local name */
  readonly name: string
  readonly prefix: string
  /** attributes by local name; namespace declarations are not included */
  readonly attrs: Readonly<Record<string, string>>
  readonly children: readonly XmlElement[]
  /** direct character data, trimmed */
  readonly text: string
  /** in-scope prefix → URI ('' is the default namespace) */
  readonly scope: ReadonlyMap<string, string>
}

export const DEFAULT_MAX_XML_BYTES = 1024 * 1024

export interface ParseXmlOptions {
  maxBytes?: number
  /** used in error messages */
  endpoint?: string
}

const DTD_RE = /<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i
const ENTITY_RE = /&([^;&\s]{0,12});/g
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // entities are decoded by decodeEntities below: only the five predefined ones and character references
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '#cdata',
  commentPropName: false,
  maxNestedTags: 64,
})

function decodeEntities(s: string, endpoint: string | undefined): string {
  if (!s.includes('&')) return s
  return s.replace(ENTITY_RE, (_m, ent: string) => {
    const known = PREDEFINED[ent]
    if (known !== undefined) return known
    let code: number | undefined
    if (/^#x[0-9a-f]{1,6}$/i.test(ent)) code = parseInt(ent.slice(2), 16)
    else if (/^#[0-9]{1,7}$/.test(ent)) code = parseInt(ent.slice(1), 10)
    if (code !== undefined && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) && code !== 0) {
      return String.fromCodePoint(code)
    }
    throw new OnvifProtocolError(`reply uses an undeclared or invalid entity &${ent.slice(0, 12)};`, {
      problem: 'dtd-or-entity',
      endpoint,
    })
  })
}

type RawNode = Record<string, unknown>

function splitName(qname: string): [string, string] {
  const i = qname.indexOf(':')
  return i < 0 ? ['', qname] : [qname.slice(0, i), qname.slice(i + 1)]
}

function build(node: RawNode, parentScope: ReadonlyMap<string, string>, endpoint: string | undefined): XmlElement | undefined {
  const tag = Object.keys(node).find((k) => k !== ':@')
  if (tag === undefined || tag === '#text' || tag === '#cdata') return undefined
  const rawAttrs = (node[':@'] ?? {}) as Record<string, string>
  let scope = parentScope
  const attrs: Record<string, string> = {}
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) {
      if (scope === parentScope) scope = new Map(parentScope)
      ;(scope as Map<string, string>).set(k === 'xmlns' ? '' : k.slice(6), decodeEntities(String(v), endpoint))
    }
  }
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) continue
    attrs[splitName(k)[1]] = decodeEntities(String(v), endpoint)
  }
  const [prefix, name] = splitName(tag)
  const ns = scope.get(prefix) ?? ''
  const children: XmlElement[] = []
  let text = ''
  const kids = node[tag]
  if (Array.isArray(kids)) {
    for (const kid of kids as RawNode[]) {
      if ('#text' in kid) text += decodeEntities(String(kid['#text']), endpoint)
      else if ('#cdata' in kid) {
        for (const c of (kid['#cdata'] as RawNode[]) ?? []) if ('#text' in c) text += String(c['#text'])
      } else {
        const el = build(kid, scope, endpoint)
        if (el) children.push(el)
      }
    }
  }
  return { ns, name, prefix, attrs, children, text: text.trim(), scope }
}

/** Parse a device reply. Throws OnvifProtocolError for oversized, DTD/entity-bearing or malformed input. */
export function parseXml(xml: string, opts: ParseXmlOptions = {}): XmlElement {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_XML_BYTES
  const endpoint = opts.endpoint
  if (xml.length > maxBytes || Buffer.byteLength(xml, 'utf8') > maxBytes) {
    throw new OnvifProtocolError(`reply larger than ${maxBytes} bytes`, { problem: 'too-large', endpoint })
  }
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml
  if (DTD_RE.test(text)) {
    throw new OnvifProtocolError('reply contains a DTD or entity declaration; refused', {
      problem: 'dtd-or-entity',
      endpoint,
    })
  }
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false })
  if (valid !== true) {
    throw new OnvifProtocolError(`reply is not well-formed XML (${valid.err.code} at line ${valid.err.line})`, {
      problem: 'malformed-xml',
      endpoint,
    })
  }
  let raw: unknown
  try {
    raw = parser.parse(text)
  } catch (e) {
    throw new OnvifProtocolError('reply is not well-formed XML', { problem: 'malformed-xml', endpoint, cause: e })
  }
  const roots = (Array.isArray(raw) ? (raw as RawNode[]) : [])
    .map((n) => build(n, new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]), endpoint))
    .filter((e): e is XmlElement => e !== undefined)
  if (roots.length !== 1) {
    throw new OnvifProtocolError('reply has no single root element', { problem: 'malformed-xml', endpoint })
  }
  return roots[0]!
}

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name)
}

export function children(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : []
}

/** Follow a path of local names, first match at each level. */
export function at(el: XmlElement | undefined, ...path: string[]): XmlElement | undefined {
  let cur = el
  for (const p of path) cur = child(cur, p)
  return cur
}

export function textAt(el: XmlElement | undefined, ...path: string[]): string | undefined {
  return at(el, ...path)?.text
}

/** First descendant (depth-first, self excluded) with this local name. */
export function descendant(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!el) return undefined
  for (const c of el.children) {
    if (c.name === name) return c
    const d = descendant(c, name)
    if (d) return d
  }
  return undefined
}

export function descendants(el: XmlElement | undefined, name: string, out: XmlElement[] = []): XmlElement[] {
  if (!el) return out
  for (const c of el.children) {
    if (c.name === name) out.push(c)
    descendants(c, name, out)
  }
  return out
}

export interface ResolvedQName {
  ns: string
  local: string
  prefix: string
}

/** Resolve a QName written in text content (`ter:NotAuthorized`) with the element's in-scope namespaces. */
export function resolveQName(el: XmlElement, qname: string): ResolvedQName {
  const [prefix, local] = splitName(qname.trim())
  return { ns: el.scope.get(prefix) ?? '', local, prefix }
}

/** `ter:NotAuthorized` whatever prefix the device bound the ONVIF error namespace to. */
export function canonicalQName(el: XmlElement, qname: string): string {
  const q = resolveQName(el, qname)
  const p = canonicalPrefix(q.ns)
  if (p) return `${p}:${q.local}`
  if (q.ns) return `{${q.ns}}${q.local}`
  return q.prefix ? `${q.prefix}:${q.local}` : q.local
}

export function parseBool(s: string | undefined): boolean | undefined {
  if (s === undefined) return undefined
  const t = s.trim().toLowerCase()
  if (t === 'true' || t === '1') return true
  if (t === 'false' || t === '0') return false
  return undefined
}

export function parseNum(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined
  const n = Number(s.trim())
  return Number.isFinite(n) ? n : undefined
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;',
  )
}

/**
 * Re-serialise an element (used to echo WS-Addressing ReferenceParameters back to the device).
 * Every element declares its own namespace so the fragment stands alone.
 */
export function serializeXml(el: XmlElement, extraAttrs = ''): string {
  const tag = el.ns ? `${el.prefix || 'r'}:${el.name}` : el.name
  const decl = el.ns ? ` xmlns:${el.prefix || 'r'}="${xmlEscape(el.ns)}"` : ''
  const attrs = Object.entries(el.attrs)
    .map(([k, v]) => ` ${k}="${xmlEscape(v)}"`)
    .join('')
  const inner = el.children.map((c) => serializeXml(c)).join('') + xmlEscape(el.text)
  return `<${tag}${decl}${attrs}${extraAttrs}>${inner}</${tag}>`
}
