/**
 * The simulator's own XML handling, deliberately independent of src/lib/onvif so that a bug there
 * cannot hide behind the same bug here.
 */
import { XMLParser } from 'fast-xml-parser'

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: false,
  trimValues: true,
})

export type Node = Record<string, unknown>

export function parseRequest(xml: string): Node | undefined {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return undefined
  try {
    const r = parser.parse(xml) as Node
    return r && typeof r === 'object' ? r : undefined
  } catch {
    return undefined
  }
}

export function get(n: unknown, ...path: string[]): unknown {
  let cur = n
  for (const p of path) {
    if (Array.isArray(cur)) cur = cur[0]
    if (!cur || typeof cur !== 'object') return undefined
    cur = (cur as Node)[p]
  }
  return Array.isArray(cur) ? cur[0] : cur
}

export function text(n: unknown): string | undefined {
  if (n === undefined || n === null) return undefined
  if (typeof n === 'string' || typeof n === 'number' || typeof n === 'boolean') return String(n)
  if (typeof n === 'object' && '#text' in (n as Node)) return String((n as Node)['#text'])
  if (typeof n === 'object') return ''
  return undefined
}

export function attr(n: unknown, name: string): string | undefined {
  if (!n || typeof n !== 'object') return undefined
  const v = (n as Node)[`@_${name}`]
  return v === undefined ? undefined : String(v)
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** xs:duration (PTnS, PTnM, PnDTnHnMnS) or absolute xs:dateTime → ms from `nowMs`. */
export function durationOrTime(s: string | undefined, nowMs: number): number | undefined {
  if (!s) return undefined
  const t = s.trim()
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(t)
  if (m && t !== 'P' && t !== 'PT') {
    return ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0)) * 1000
  }
  const d = Date.parse(t)
  return Number.isNaN(d) ? undefined : d - nowMs
}
