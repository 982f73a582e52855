import { parse } from 'csv-parse/sync'
import type { FieldProblem } from '../../core/errors.js'
import { CAMERA_KINDS, CODECS, type Camera, type CameraClass, type CameraInput, type CameraKind, type Codec } from './model.js'

/**
 * CSV for technicians: one camera a row, the unit named by its code. Credentials may be given
 * (username, password) but are never exported; an empty password cell keeps the stored one, so an
 * exported file can be edited and re-imported without wiping credentials.
 */
export const CSV_COLUMNS = [
  'name', 'unit_code', 'class', 'kind', 'lat', 'lon', 'address', 'onvif_url', 'manufacturer', 'model', 'serial', 'firmware',
  'main_uri', 'main_codec', 'main_width', 'main_height', 'main_fps', 'sub_uri', 'sub_codec', 'sub_width', 'sub_height', 'sub_fps',
  'snapshot_uri', 'ptz', 'events', 'tags', 'enabled', 'shared_upward', 'username', 'password',
] as const
export type CsvColumn = (typeof CSV_COLUMNS)[number]
const REQUIRED: CsvColumn[] = ['name', 'unit_code', 'class', 'kind']
const EXPORTED = CSV_COLUMNS.filter((c) => c !== 'username' && c !== 'password')

/** API field → CSV column, so errors found by shared validation name the column the user sees. */
const API_TO_COLUMN: Record<string, CsvColumn> = {
  name: 'name', unitId: 'unit_code', class: 'class', kind: 'kind', 'location.lat': 'lat', 'location.lon': 'lon',
  'location.address': 'address', onvifUrl: 'onvif_url', 'device.manufacturer': 'manufacturer', 'device.model': 'model',
  'device.serial': 'serial', 'device.firmware': 'firmware', 'streams.main.uri': 'main_uri', 'streams.sub.uri': 'sub_uri',
  snapshotUri: 'snapshot_uri', 'capabilities.ptz': 'ptz', 'capabilities.events': 'events', tags: 'tags', enabled: 'enabled',
  sharedUpward: 'shared_upward', credentials: 'password',
}
export const columnOfApiField = (apiField: string): string => API_TO_COLUMN[apiField] ?? apiField

// Chinese spellings technicians use in their own spreadsheets.
const CLASS_ALIASES: Record<string, CameraClass> = { '1': 1, '2': 2, '3': 3, 一类: 1, 二类: 2, 三类: 3 }
const KIND_ALIASES: Record<string, CameraKind> = { 枪机: 'fixed', 固定: 'fixed', 球机: 'ptz', 云台: 'ptz', 半球: 'dome', 门禁: 'door_access', 视频门禁: 'door_access', 卡口: 'checkpoint' }
const TRUE = new Set(['1', 'true', 'yes', 'y', '是'])
const FALSE = new Set(['0', 'false', 'no', 'n', '否'])

/** Decodes an uploaded file: UTF-8 (with or without BOM), else GB18030, which Chinese Excel writes. */
export function decodeCsv(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    return new TextDecoder('gb18030').decode(bytes)
  }
}

export interface CsvRow {
  line: number
  /** cells by column; a column absent from the header is absent here */
  cells: Partial<Record<CsvColumn, string>>
}

const CSV_SYNTAX: Record<string, string> = {
  CSV_INVALID_OPENING_QUOTE: 'a quote inside a cell that does not start with one (quote the whole cell and double inner quotes)',
  CSV_INVALID_CLOSING_QUOTE: 'text after the closing quote of a cell',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'text after the closing quote of a cell',
  CSV_QUOTE_NOT_CLOSED: 'a quoted cell is never closed',
  CSV_MAX_RECORD_SIZE: 'a row is too long',
}

export function parseCsv(text: string, maxRows: number): { rows: CsvRow[]; problems: FieldProblem[] } {
  let records: { record: string[]; info: { lines: number } }[]
  try {
    records = parse(text, { bom: true, info: true, skip_empty_lines: true, relax_column_count: true, trim: false }) as unknown as typeof records
  } catch (err) {
    // csv-parse quotes the offending cell in its message, and that cell may be a password: name the
    // kind of problem and the line, never the text.
    const e = err as { lines?: number; code?: string }
    return { rows: [], problems: [{ field: 'file', line: e.lines, message: `not readable as CSV: ${CSV_SYNTAX[e.code ?? ''] ?? 'malformed'}` }] }
  }
  const [header, ...body] = records
  if (!header) return { rows: [], problems: [{ field: 'file', line: 1, message: 'is empty; the first line must name the columns' }] }
  const problems: FieldProblem[] = []
  const columns = header.record.map((h) => h.trim().toLowerCase())
  columns.forEach((c) => {
    if (!(CSV_COLUMNS as readonly string[]).includes(c)) problems.push({ field: c || '(empty)', line: 1, message: `is not a known column (known: ${CSV_COLUMNS.join(', ')})` })
  })
  for (const r of REQUIRED) if (!columns.includes(r)) problems.push({ field: r, line: 1, message: 'column is required' })
  if (new Set(columns).size !== columns.length) problems.push({ field: 'file', line: 1, message: 'a column is named twice' })
  if (body.length > maxRows) problems.push({ field: 'file', message: `has ${body.length} rows; at most ${maxRows} per import` })
  if (problems.length) return { rows: [], problems }

  const rows = body.map(({ record, info }) => {
    const cells: Partial<Record<CsvColumn, string>> = {}
    if (record.length > columns.length) problems.push({ field: 'file', line: info.lines, message: `has ${record.length} cells but the header names ${columns.length}` })
    columns.forEach((c, i) => {
      const v = (record[i] ?? '').trim()
      // Credentials are never exported, so never quoted: a password may begin with a quote.
      cells[c as CsvColumn] = c === 'username' || c === 'password' ? v : unescapeFormula(v)
    })
    return { line: info.lines, cells }
  })
  return { rows, problems }
}

/** Turns one row into API-shaped input; `unitCode` is resolved by the caller. */
export function rowToInput(row: CsvRow): { input: CameraInput; unitCode: string | undefined; problems: FieldProblem[] } {
  const c = row.cells
  const problems: FieldProblem[] = []
  const bad = (field: CsvColumn, message: string) => problems.push({ field, line: row.line, message })
  const has = (k: CsvColumn) => k in c
  const text = (k: CsvColumn) => (c[k] ? c[k]! : null)
  const num = (k: CsvColumn, min: number, max: number, integer = false): number | null => {
    const v = c[k]
    if (!v) return null
    const n = Number(v)
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      bad(k, `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`)
      return null
    }
    return n
  }
  const bool = (k: CsvColumn): boolean | undefined => {
    const v = (c[k] ?? '').toLowerCase()
    if (v === '') return undefined
    if (TRUE.has(v)) return true
    if (FALSE.has(v)) return false
    bad(k, 'must be 1/0, true/false or 是/否')
    return undefined
  }
  const codec = (k: CsvColumn): Codec | null => {
    const v = (c[k] ?? '').toLowerCase().replace('.', '').replace('hevc', 'h265').replace('avc', 'h264')
    if (!v) return null
    if ((CODECS as readonly string[]).includes(v)) return v as Codec
    bad(k, `must be one of ${CODECS.join(', ')}`)
    return null
  }

  const input: CameraInput = {}
  input.name = c.name ?? ''
  const cls = CLASS_ALIASES[(c.class ?? '').trim()]
  if (cls === undefined) bad('class', 'must be 1, 2 or 3')
  else input.class = cls
  const kindText = (c.kind ?? '').trim()
  const kind = (CAMERA_KINDS as readonly string[]).includes(kindText) ? (kindText as CameraKind) : KIND_ALIASES[kindText]
  if (!kind) bad('kind', `must be one of ${CAMERA_KINDS.join(', ')}`)
  else input.kind = kind
  if (has('lat') || has('lon') || has('address')) {
    input.location = {}
    if (has('lat')) input.location.lat = num('lat', -90, 90)
    if (has('lon')) input.location.lon = num('lon', -180, 180)
    if (has('address')) input.location.address = text('address')
  }
  if (has('onvif_url')) input.onvifUrl = text('onvif_url')
  const device: NonNullable<CameraInput['device']> = {}
  for (const k of ['manufacturer', 'model', 'serial', 'firmware'] as const) if (has(k)) device[k] = text(k)
  if (Object.keys(device).length) input.device = device
  for (const which of ['main', 'sub'] as const) {
    if (!has(`${which}_uri`)) continue
    const uri = text(`${which}_uri`)
    input.streams ??= {}
    input.streams[which] = uri === null ? null : {
      uri,
      codec: codec(`${which}_codec`),
      width: num(`${which}_width`, 16, 16384, true),
      height: num(`${which}_height`, 16, 16384, true),
      fps: num(`${which}_fps`, 0.1, 240),
    }
  }
  if (has('snapshot_uri')) input.snapshotUri = text('snapshot_uri')
  const ptz = bool('ptz')
  const events = bool('events')
  if (ptz !== undefined || events !== undefined) input.capabilities = { ptz, events }
  if (has('tags')) input.tags = (c.tags ?? '').split(/[;|，；]/).map((t) => t.trim()).filter(Boolean)
  const enabled = bool('enabled')
  if (enabled !== undefined) input.enabled = enabled
  const shared = bool('shared_upward')
  if (shared !== undefined) input.sharedUpward = shared
  const username = c.username ?? ''
  const password = c.password ?? ''
  if (password !== '') {
    if (username === '') bad('username', 'is required when a password is given')
    else input.credentials = { username, password }
  } else if (username !== '') bad('password', 'is required when a username is given (leave both empty to keep the stored credentials)')
  return { input, unitCode: c.unit_code, problems }
}

/** A text cell beginning with one of these is run as a formula by spreadsheets (OWASP, CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/

/**
 * One exported cell, per OWASP's CSV injection guidance: text beginning with = + - @ TAB or CR is
 * prefixed with a single quote, whatever follows (`-1+cmd|…` is a formula too); a cell holding a
 * comma, quote, CR or LF is quoted, inner quotes doubled. Numbers the gateway itself wrote
 * (a negative latitude) are data, not text, and stay as they are.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'number') return String(v)
  const s = String(v)
  const safe = FORMULA_START.test(s) ? `'${s}` : s
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

/** Undoes csvCell's quote on import, so an exported file re-imports unchanged. */
const unescapeFormula = (s: string) => (s.startsWith("'") && FORMULA_START.test(s.slice(1)) ? s.slice(1) : s)

export const CSV_HEADER = EXPORTED.join(',') + '\r\n'

export function cameraToCsvLine(camera: Camera, unitCode: string): string {
  const m = camera.streams.main
  const s = camera.streams.sub
  const values: Record<(typeof EXPORTED)[number], unknown> = {
    name: camera.name, unit_code: unitCode, class: camera.class, kind: camera.kind, lat: camera.location.lat, lon: camera.location.lon,
    address: camera.location.address, onvif_url: camera.onvifUrl, manufacturer: camera.device.manufacturer, model: camera.device.model,
    serial: camera.device.serial, firmware: camera.device.firmware, main_uri: m?.uri, main_codec: m?.codec, main_width: m?.width,
    main_height: m?.height, main_fps: m?.fps, sub_uri: s?.uri, sub_codec: s?.codec, sub_width: s?.width, sub_height: s?.height,
    sub_fps: s?.fps, snapshot_uri: camera.snapshotUri, ptz: camera.capabilities.ptz ? 1 : 0, events: camera.capabilities.events ? 1 : 0,
    tags: camera.tags.join(';'), enabled: camera.enabled ? 1 : 0, shared_upward: camera.sharedUpward ? 1 : 0,
  }
  return EXPORTED.map((k) => csvCell(values[k])).join(',') + '\r\n'
}
