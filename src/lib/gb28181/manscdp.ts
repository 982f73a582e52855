import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { decodeBody, encodeBody, type BodyEncoding } from './encoding.js'
import { gbIdKind, type GbIdKind } from './ids.js'

/**
 * MANSCDP (GB/T 28181 Annex A): the XML bodies of MESSAGE and NOTIFY. Read leniently — element
 * names in any case, whitespace anywhere, unknown elements ignored, numbers and times as vendors
 * write them — into our own closed types; nothing of the XML leaves this module. Written the way
 * the standard's examples are, in the encoding the peer uses.
 */

export class ManscdpError extends Error {
  override readonly name = 'ManscdpError'
}

export const MAX_MANSCDP_BYTES = 256 * 1024

export type ManscdpRoot = 'Query' | 'Control' | 'Notify' | 'Response'

type Node = { [name: string]: Value }
type Value = string | Node | Value[]

export interface ManscdpMessage {
  root: ManscdpRoot
  /** as the device wrote it (compared case-insensitively) */
  cmdType: string
  sn: number
  deviceId: string
  /** the encoding the body came in: answer in it */
  encoding: BodyEncoding
  /** the root's children, names lower-cased */
  body: Node
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => name.toLowerCase() === 'item',
})

const DTD_RE = /<!\s*(?:DOCTYPE|ENTITY)/i

/** Lower-cases element names all the way down (devices write DeviceId, deviceID, SumNum, Sumnum...). */
function lower(v: unknown): Value {
  if (Array.isArray(v)) return v.map(lower)
  if (v && typeof v === 'object') {
    const out: Node = {}
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      const key = k.toLowerCase()
      const lv = lower(val)
      const prev = out[key]
      if (prev === undefined) out[key] = lv
      else out[key] = Array.isArray(prev) ? [...prev, ...(Array.isArray(lv) ? lv : [lv])] : [prev, ...(Array.isArray(lv) ? lv : [lv])]
    }
    return out
  }
  return v === undefined || v === null ? '' : String(v)
}

function str(n: Node | undefined, key: string): string | undefined {
  const v = n?.[key]
  if (v === undefined) return undefined
  if (typeof v === 'string') return v.trim() || undefined
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0].trim() || undefined
  return undefined
}

function num(n: Node | undefined, key: string): number | undefined {
  const s = str(n, key)
  if (s === undefined) return undefined
  const x = Number(s)
  return Number.isFinite(x) ? x : undefined
}

function child(n: Node | undefined, key: string): Node | undefined {
  const v = n?.[key]
  if (v && typeof v === 'object' && !Array.isArray(v)) return v
  if (Array.isArray(v) && v[0] && typeof v[0] === 'object' && !Array.isArray(v[0])) return v[0] as Node
  return undefined
}

function items(n: Node | undefined, listKey: string): Node[] {
  const list = n?.[listKey]
  const container = Array.isArray(list) ? list.find((x) => typeof x === 'object') : list
  if (!container || typeof container !== 'object' || Array.isArray(container)) return []
  const it = (container as Node)['item']
  const arr = Array.isArray(it) ? it : it ? [it] : []
  return arr.filter((x): x is Node => typeof x === 'object' && !Array.isArray(x))
}

const ROOTS: Record<string, ManscdpRoot> = { query: 'Query', control: 'Control', notify: 'Notify', response: 'Response' }

/** Reads a MANSCDP body. Throws ManscdpError for anything that is not one. */
export function parseManscdp(raw: Buffer): ManscdpMessage {
  if (raw.length > MAX_MANSCDP_BYTES) throw new ManscdpError(`body too large: ${raw.length} bytes`)
  const { text, encoding } = decodeBody(raw)
  if (DTD_RE.test(text)) throw new ManscdpError('DTDs and entity declarations are refused')
  const valid = XMLValidator.validate(text)
  if (valid !== true) throw new ManscdpError(`not well-formed XML: ${valid.err.msg}`)
  const doc = lower(parser.parse(text)) as Node
  const rootKey = Object.keys(doc).find((k) => ROOTS[k])
  if (!rootKey) throw new ManscdpError(`no Query, Control, Notify or Response root (found ${Object.keys(doc).join(', ').slice(0, 60) || 'nothing'})`)
  const body = (typeof doc[rootKey] === 'object' && !Array.isArray(doc[rootKey]) ? doc[rootKey] : {}) as Node
  const cmdType = str(body, 'cmdtype')
  if (!cmdType) throw new ManscdpError('missing CmdType')
  return { root: ROOTS[rootKey]!, cmdType, sn: num(body, 'sn') ?? 0, deviceId: str(body, 'deviceid') ?? '', encoding, body }
}

export const isCmd = (m: ManscdpMessage, root: ManscdpRoot, cmdType: string) => m.root === root && m.cmdType.toLowerCase() === cmdType.toLowerCase()

// --- what devices tell us -------------------------------------------------------------------------

export interface Keepalive {
  deviceId: string
  ok: boolean
  /** devices list channels in fault here */
  faultyChannels: string[]
}

export function readKeepalive(m: ManscdpMessage): Keepalive {
  const status = (str(m.body, 'status') ?? 'OK').toUpperCase()
  return { deviceId: m.deviceId, ok: status === 'OK' || status === 'ON' || status === 'ONLINE', faultyChannels: items(m.body, 'info').map((i) => str(i, 'deviceid') ?? '').filter(Boolean) }
}

export type ChannelStatus = 'on' | 'off' | 'unknown'
export type CatalogEvent = 'add' | 'del' | 'update' | 'on' | 'off' | 'vlost' | 'defect'

export interface CatalogItem {
  deviceId: string
  /** what its 20-digit id says it is */
  kind: GbIdKind
  name: string
  manufacturer?: string
  model?: string
  owner?: string
  civilCode?: string
  address?: string
  /** has children (an NVR channel group, a business group) */
  parental: boolean
  parentId?: string
  /** the business group (Type 215) it is placed under, 2016 edition */
  businessGroupId?: string
  secrecy: boolean
  ipAddress?: string
  port?: number
  status: ChannelStatus
  longitude?: number
  latitude?: number
  /** Info/PTZType: 1 dome, 2 half-dome, 3 fixed box, 4 remote-controlled */
  ptzType?: 'dome' | 'half-dome' | 'fixed' | 'remote'
  /** in a catalog Notify: what happened to it */
  event?: CatalogEvent
}

export interface CatalogPage {
  deviceId: string
  sn: number
  /** channels in the whole catalog, across pages */
  sumNum: number
  items: CatalogItem[]
}

const PTZ_TYPES = { '1': 'dome', '2': 'half-dome', '3': 'fixed', '4': 'remote' } as const

function channelStatus(s: string | undefined): ChannelStatus {
  const v = (s ?? '').toUpperCase()
  if (v === 'ON' || v === 'ONLINE' || v === 'OK') return 'on'
  if (v === 'OFF' || v === 'OFFLINE') return 'off'
  return 'unknown'
}

function coordinate(n: Node, key: string, max: number): number | undefined {
  const v = num(n, key)
  // 0 is what devices write when they know no position
  return v !== undefined && v !== 0 && Math.abs(v) <= max ? v : undefined
}

function readItem(i: Node): CatalogItem | undefined {
  const deviceId = str(i, 'deviceid')
  if (!deviceId) return undefined
  const info = child(i, 'info')
  const ptz = str(info, 'ptztype') as keyof typeof PTZ_TYPES | undefined
  const event = str(i, 'event')?.toLowerCase() as CatalogEvent | undefined
  const item: CatalogItem = {
    deviceId,
    kind: gbIdKind(deviceId),
    name: str(i, 'name') ?? deviceId,
    parental: str(i, 'parental') === '1',
    secrecy: str(i, 'secrecy') === '1',
    status: channelStatus(str(i, 'status')),
  }
  const opt = { manufacturer: str(i, 'manufacturer'), model: str(i, 'model'), owner: str(i, 'owner'), civilCode: str(i, 'civilcode'), address: str(i, 'address'), parentId: str(i, 'parentid'), businessGroupId: str(i, 'businessgroupid'), ipAddress: str(i, 'ipaddress'), port: num(i, 'port'), longitude: coordinate(i, 'longitude', 180), latitude: coordinate(i, 'latitude', 90), ptzType: ptz ? PTZ_TYPES[ptz] : undefined, event: event && ['add', 'del', 'update', 'on', 'off', 'vlost', 'defect'].includes(event) ? event : undefined }
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) (item as unknown as Record<string, unknown>)[k] = v
  return item
}

/** A Catalog Response page or a catalog Notify (ADD/DEL/UPDATE/ON/OFF). Items without an id are skipped. */
export function readCatalog(m: ManscdpMessage): CatalogPage {
  const list = items(m.body, 'devicelist')
  return { deviceId: m.deviceId, sn: m.sn, sumNum: num(m.body, 'sumnum') ?? list.length, items: list.map(readItem).filter((x): x is CatalogItem => x !== undefined) }
}

export interface DeviceInfo {
  deviceId: string
  ok: boolean
  name?: string
  manufacturer?: string
  model?: string
  firmware?: string
  channels?: number
}

export function readDeviceInfo(m: ManscdpMessage): DeviceInfo {
  const out: DeviceInfo = { deviceId: m.deviceId, ok: (str(m.body, 'result') ?? 'OK').toUpperCase() === 'OK' }
  const opt = { name: str(m.body, 'devicename'), manufacturer: str(m.body, 'manufacturer'), model: str(m.body, 'model'), firmware: str(m.body, 'firmware'), channels: num(m.body, 'channel') }
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v
  return out
}

export interface DeviceStatus {
  deviceId: string
  online: boolean
  /** the device's own self-check */
  ok: boolean
  recording: boolean
  /** device time as it wrote it (its local time, no zone) */
  deviceTime?: string
}

export function readDeviceStatus(m: ManscdpMessage): DeviceStatus {
  const out: DeviceStatus = {
    deviceId: m.deviceId,
    online: ['ONLINE', 'ON'].includes((str(m.body, 'online') ?? '').toUpperCase()),
    ok: (str(m.body, 'status') ?? 'OK').toUpperCase() === 'OK',
    recording: (str(m.body, 'record') ?? '').toUpperCase() === 'ON',
  }
  const t = str(m.body, 'devicetime')
  if (t) out.deviceTime = t
  return out
}

/** AlarmMethod (A.2.4.x): what raised it. */
export type GbAlarmMethod = 'phone' | 'device' | 'sms' | 'gps' | 'video' | 'device-fault' | 'other'
const METHODS: Record<string, GbAlarmMethod> = { '1': 'phone', '2': 'device', '3': 'sms', '4': 'gps', '5': 'video', '6': 'device-fault', '7': 'other' }

export interface GbAlarm {
  deviceId: string
  sn: number
  /** 1 (first-level, most urgent) … 4 */
  priority: number
  method: GbAlarmMethod
  /** AlarmType within the method (2016: e.g. video 1 manual, 2 motion, 3 left object, 6 tripwire, 7 intrusion...) */
  type?: number
  /** device local time as written, YYYY-MM-DDTHH:mm:ss */
  time?: string
  description?: string
  longitude?: number
  latitude?: number
}

export function readAlarm(m: ManscdpMessage): GbAlarm {
  const info = child(m.body, 'info')
  const method = METHODS[str(m.body, 'alarmmethod') ?? ''] ?? 'other'
  const out: GbAlarm = { deviceId: m.deviceId, sn: m.sn, priority: Math.min(4, Math.max(1, num(m.body, 'alarmpriority') ?? 4)), method }
  const opt = { type: num(info, 'alarmtype') ?? num(m.body, 'alarmtype'), time: str(m.body, 'alarmtime'), description: str(m.body, 'alarmdescription'), longitude: coordinate(m.body, 'longitude', 180), latitude: coordinate(m.body, 'latitude', 90) }
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v
  return out
}

export interface RecordItem {
  deviceId: string
  name?: string
  filePath?: string
  startTime: string
  endTime: string
  type?: string
  fileSize?: number
}

export interface RecordInfoPage {
  deviceId: string
  sn: number
  sumNum: number
  items: RecordItem[]
}

export function readRecordInfo(m: ManscdpMessage): RecordInfoPage {
  const list = items(m.body, 'recordlist')
  const out: RecordItem[] = []
  for (const i of list) {
    const startTime = str(i, 'starttime')
    const endTime = str(i, 'endtime')
    if (!startTime || !endTime) continue
    const r: RecordItem = { deviceId: str(i, 'deviceid') ?? m.deviceId, startTime, endTime }
    const opt = { name: str(i, 'name'), filePath: str(i, 'filepath'), type: str(i, 'type'), fileSize: num(i, 'filesize') }
    for (const [k, v] of Object.entries(opt)) if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v
    out.push(r)
  }
  return { deviceId: m.deviceId, sn: m.sn, sumNum: num(m.body, 'sumnum') ?? out.length, items: out }
}

// --- what we send ---------------------------------------------------------------------------------

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)

export type XmlFields = Array<[string, string | number | XmlFields]>

function fieldsXml(fields: XmlFields): string {
  return fields.map(([k, v]) => (Array.isArray(v) ? `<${k}>\r\n${fieldsXml(v)}</${k}>\r\n` : `<${k}>${escapeXml(String(v))}</${k}>\r\n`)).join('')
}

/** A MANSCDP body: root, CmdType, SN, DeviceID, then the given fields, in the peer's encoding. */
export function buildManscdp(root: ManscdpRoot, cmdType: string, sn: number, deviceId: string, fields: XmlFields = [], encoding: BodyEncoding = 'GB2312'): Buffer {
  const xml = `<?xml version="1.0" encoding="GB2312"?>\r\n<${root}>\r\n${fieldsXml([['CmdType', cmdType], ['SN', sn], ['DeviceID', deviceId], ...fields])}</${root}>\r\n`
  return encodeBody(xml, encoding)
}

export const catalogQuery = (deviceId: string, sn: number) => buildManscdp('Query', 'Catalog', sn, deviceId)
export const deviceInfoQuery = (deviceId: string, sn: number) => buildManscdp('Query', 'DeviceInfo', sn, deviceId)
export const deviceStatusQuery = (deviceId: string, sn: number) => buildManscdp('Query', 'DeviceStatus', sn, deviceId)
export const presetQuery = (deviceId: string, sn: number) => buildManscdp('Query', 'PresetQuery', sn, deviceId)

/** GB time: local wall-clock time without a zone, as devices expect it. */
export function gbTime(ms: number, utcOffsetMinutes = 480): string {
  return new Date(ms + utcOffsetMinutes * 60_000).toISOString().slice(0, 19)
}

export const recordInfoQuery = (deviceId: string, sn: number, fromMs: number, toMs: number, utcOffsetMinutes = 480) =>
  buildManscdp('Query', 'RecordInfo', sn, deviceId, [
    ['StartTime', gbTime(fromMs, utcOffsetMinutes)],
    ['EndTime', gbTime(toMs, utcOffsetMinutes)],
    ['Secrecy', 0],
    ['Type', 'all'],
  ])

/** DeviceControl with a PTZCmd (see ptz.ts), or an I-frame request (the standard's spelling: IFameCmd). */
export const ptzControl = (deviceId: string, sn: number, ptzCmd: string) => buildManscdp('Control', 'DeviceControl', sn, deviceId, [['PTZCmd', ptzCmd], ['Info', [['ControlPriority', 5]]]])
export const keyframeControl = (deviceId: string, sn: number) => buildManscdp('Control', 'DeviceControl', sn, deviceId, [['IFameCmd', 'Send']])

/** The answer a device expects to its alarm Notify. */
export const alarmResponse = (m: ManscdpMessage) => buildManscdp('Response', 'Alarm', m.sn, m.deviceId, [['Result', 'OK']], m.encoding)
