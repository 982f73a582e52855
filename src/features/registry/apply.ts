import type { FieldProblem } from '../../core/errors.js'
import type { SecretBox } from '../../core/crypto.js'
import { formatIp, parseIp, type AddressRefusal } from '../../lib/net/index.js'
import type { CameraColumns } from './store.js'
import type { CameraCredentials, CameraInput, StreamProfile } from './model.js'

export const CREDENTIALS_AAD = 'camera-credentials'

const STREAM_SCHEMES = new Set(['rtsp:', 'rtsps:', 'demo:', 'gb28181:'])
/** A GB/T 28181 channel: gb28181://<device id>/<channel id>; the device registers to us, so the URI names no address. */
const GB_CHANNEL_URI = /^gb28181:\/\/(\d{20})\/(\d{20})$/
const HTTP_SCHEMES = new Set(['http:', 'https:'])

interface CheckedUri {
  uri: string
  credentials: CameraCredentials | null
}

/** The camera address policy's write-time check (lib/net AddressPolicy.hostRefusal). */
export interface UriHostPolicy {
  hostRefusal(host: string, port?: number): AddressRefusal | null
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'rtsp:': 554, 'rtsps:': 322 }

/**
 * Host and port a URI connects to, normalised (`0x7f000001` and `127.0.0.1` are one host), or
 * null for URIs that connect nowhere (demo:) or do not parse.
 */
export function endpointOfUri(uri: string | null): { host: string; port: number } | null {
  if (!uri) return null
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return null
  }
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol]
  if (!url.hostname || port === undefined) return null
  const ip = parseIp(url.hostname, { loose: true })
  return { host: ip ? formatIp(ip) : url.hostname.toLowerCase().replace(/\.$/, ''), port }
}

/**
 * Accepts a URI of the allowed schemes, strips any `user:pass@` (cameras' documentation tells
 * technicians to paste such URIs) and hands the credentials back separately, so the stored URI
 * never carries a password.
 */
export function checkUri(value: string, schemes: Set<string>, field: string, problems: FieldProblem[], policy?: UriHostPolicy, addressProblems?: FieldProblem[]): CheckedUri | null {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    problems.push({ field, message: 'is not a valid URI' })
    return null
  }
  if (!schemes.has(url.protocol)) {
    problems.push({ field, message: `must be a ${[...schemes].map((s) => s.slice(0, -1)).join(' or ')} URI` })
    return null
  }
  if (url.protocol === 'gb28181:') {
    if (!GB_CHANNEL_URI.test(value.trim())) {
      problems.push({ field, message: 'must be gb28181://<20-digit device id>/<20-digit channel id>' })
      return null
    }
    return { uri: value.trim(), credentials: null }
  }
  if (url.protocol !== 'demo:' && !url.hostname) {
    problems.push({ field, message: 'has no host' })
    return null
  }
  if (policy && url.protocol !== 'demo:') {
    const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol]
    const refusal = policy.hostRefusal(url.hostname, port)
    if (refusal) {
      ;(addressProblems ?? problems).push({ field, message: `address not allowed: ${refusal.message}` })
      return null
    }
  }
  let credentials: CameraCredentials | null = null
  if (url.username || url.password) {
    credentials = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
    url.username = ''
    url.password = ''
  }
  return { uri: url.toString(), credentials }
}

/**
 * The form in which a URI is stored (parsed, serialised, userinfo removed), so that input can be
 * matched against stored values; the input itself when it does not parse.
 */
export function storedUriForm(value: string): string {
  try {
    const url = new URL(value.trim())
    url.username = ''
    url.password = ''
    return url.toString()
  } catch {
    return value
  }
}

export interface Applied {
  cols: CameraColumns
  /** API field names whose value changed */
  changed: string[]
  problems: FieldProblem[]
  /** URIs refused by the camera address policy (422 address_not_allowed) */
  addressProblems: FieldProblem[]
  /**
   * API fields whose URI moved to another host or port without credentials in the same input:
   * the stored credentials were dropped (they belong to the host they were entered for).
   */
  credentialsDropped: string[]
}

const URI_COLUMNS = [
  ['onvif_url', 'onvifUrl'],
  ['main_uri', 'streams.main.uri'],
  ['sub_uri', 'streams.sub.uri'],
  ['snapshot_uri', 'snapshotUri'],
] as const

/**
 * Credentials are bound to the hosts they were entered for, as a browser binds them to an origin:
 * a URI whose host or port changes, or a new URI on a host none of the camera's URIs had, would
 * otherwise carry the stored password to a listener of anyone's choosing. Returns the API fields
 * that moved.
 */
function movedEndpoints(base: CameraColumns, cols: CameraColumns): string[] {
  const knownHosts = new Set(URI_COLUMNS.map(([c]) => endpointOfUri(base[c])?.host).filter((h): h is string => !!h))
  const moved: string[] = []
  for (const [column, apiField] of URI_COLUMNS) {
    const after = endpointOfUri(cols[column])
    if (!after) continue
    const before = endpointOfUri(base[column])
    if (before ? before.host === after.host && before.port === after.port : knownHosts.has(after.host)) continue
    moved.push(apiField)
  }
  return moved
}

const EMPTY: CameraColumns = {
  unit_id: 0, name: '', class: 3, kind: 'fixed', lat: null, lon: null, address: null, onvif_url: null, endpoint_ref: null,
  manufacturer: null, model: null, serial: null, firmware: null, main_uri: null, main_codec: null, main_width: null,
  main_height: null, main_fps: null, main_profile_token: null, sub_uri: null, sub_codec: null, sub_width: null,
  sub_height: null, sub_fps: null, sub_profile_token: null, snapshot_uri: null, ptz: 0, events: 0, ptz_features: null, tags: '[]',
  enabled: 1, shared_upward: 0, credentials: null, credentials_updated_at: null, clock_offset_ms: null,
}

const trimOrNull = (v: string | null | undefined) => {
  if (v === null || v === undefined) return null
  const t = v.trim()
  return t === '' ? null : t
}

/**
 * Merges client input into a camera's columns (or a new camera's), checking what a schema cannot:
 * URI schemes, embedded credentials, tag hygiene. `fieldPrefix` lets the CSV importer name its own
 * columns. Pure apart from sealing the credentials.
 */
export function applyCameraInput(
  base: CameraColumns | null,
  input: CameraInput,
  box: SecretBox,
  fieldName: (apiField: string) => string = (f) => `body.${f}`,
  policy?: UriHostPolicy,
): Applied {
  const problems: FieldProblem[] = []
  const addressProblems: FieldProblem[] = []
  const cols: CameraColumns = { ...(base ?? EMPTY) }
  const changed = new Set<string>()
  const set = <K extends keyof CameraColumns>(key: K, value: CameraColumns[K], apiField: string) => {
    if (cols[key] !== value) {
      cols[key] = value
      changed.add(apiField)
    }
  }

  if (input.unitId !== undefined) set('unit_id', input.unitId, 'unitId')
  if (input.name !== undefined) {
    const name = input.name.trim()
    if (!name) problems.push({ field: fieldName('name'), message: 'must not be empty' })
    set('name', name, 'name')
  }
  if (input.class !== undefined) set('class', input.class, 'class')
  if (input.kind !== undefined) set('kind', input.kind, 'kind')
  if (input.location) {
    if (input.location.lat !== undefined) set('lat', input.location.lat, 'location.lat')
    if (input.location.lon !== undefined) set('lon', input.location.lon, 'location.lon')
    if (input.location.address !== undefined) set('address', trimOrNull(input.location.address), 'location.address')
    if ((cols.lat === null) !== (cols.lon === null)) problems.push({ field: fieldName(cols.lat === null ? 'location.lat' : 'location.lon'), message: 'latitude and longitude go together' })
  }

  let uriCredentials: CameraCredentials | null = null
  const uriField = (value: string | null | undefined, schemes: Set<string>, apiField: string): string | null | undefined => {
    if (value === undefined) return undefined
    const text = trimOrNull(value)
    if (text === null) return null
    const checked = checkUri(text, schemes, fieldName(apiField), problems, policy, addressProblems)
    if (checked?.credentials) uriCredentials ??= checked.credentials
    return checked?.uri ?? null
  }

  const onvif = uriField(input.onvifUrl, HTTP_SCHEMES, 'onvifUrl')
  if (onvif !== undefined) set('onvif_url', onvif, 'onvifUrl')
  if (input.endpointRef !== undefined) set('endpoint_ref', trimOrNull(input.endpointRef), 'endpointRef')
  if (input.device) {
    for (const key of ['manufacturer', 'model', 'serial', 'firmware'] as const) {
      if (input.device[key] !== undefined) set(key, trimOrNull(input.device[key]), `device.${key}`)
    }
  }
  for (const which of ['main', 'sub'] as const) {
    const profile = input.streams?.[which]
    if (profile === undefined) continue
    const p = (profile ?? null) as (Partial<StreamProfile> & { uri: string }) | null
    const uri = p === null ? null : uriField(p.uri, STREAM_SCHEMES, `streams.${which}.uri`) ?? null
    set(`${which}_uri`, uri, `streams.${which}`)
    set(`${which}_codec`, p?.codec ?? null, `streams.${which}`)
    set(`${which}_width`, p?.width ?? null, `streams.${which}`)
    set(`${which}_height`, p?.height ?? null, `streams.${which}`)
    set(`${which}_fps`, p?.fps ?? null, `streams.${which}`)
    set(`${which}_profile_token`, p?.profileToken ?? null, `streams.${which}`)
  }
  const snapshot = uriField(input.snapshotUri, HTTP_SCHEMES, 'snapshotUri')
  if (snapshot !== undefined) set('snapshot_uri', snapshot, 'snapshotUri')
  if (input.capabilities?.ptz !== undefined) set('ptz', input.capabilities.ptz ? 1 : 0, 'capabilities.ptz')
  if (input.capabilities?.events !== undefined) set('events', input.capabilities.events ? 1 : 0, 'capabilities.events')
  if (input.capabilities?.ptzFeatures !== undefined) set('ptz_features', input.capabilities.ptzFeatures === null ? null : JSON.stringify(input.capabilities.ptzFeatures), 'capabilities.ptzFeatures')
  if (input.tags !== undefined) {
    const tags = [...new Set(input.tags.map((t) => t.trim()).filter(Boolean))]
    if (tags.some((t) => t.length > 50)) problems.push({ field: fieldName('tags'), message: 'a tag is at most 50 characters' })
    set('tags', JSON.stringify(tags), 'tags')
  }
  if (input.enabled !== undefined) set('enabled', input.enabled ? 1 : 0, 'enabled')
  if (input.sharedUpward !== undefined) set('shared_upward', input.sharedUpward ? 1 : 0, 'sharedUpward')
  if (input.clockOffsetMs !== undefined) set('clock_offset_ms', input.clockOffsetMs, 'clockOffsetMs')

  // Explicit credentials win over ones found inside a URI.
  const credentials = input.credentials !== undefined ? input.credentials : uriCredentials ?? undefined
  if (credentials !== undefined) {
    // Credentials that no longer open (the key changed) count as different, so they can be entered again.
    let current: string | null | undefined
    try {
      current = cols.credentials === null ? null : box.open(cols.credentials, CREDENTIALS_AAD)
    } catch {
      current = undefined
    }
    const next = credentials === null ? null : JSON.stringify({ username: credentials.username, password: credentials.password })
    if (current !== next) {
      cols.credentials = next === null ? null : box.seal(next, CREDENTIALS_AAD)
      cols.credentials_updated_at = new Date().toISOString()
      changed.add('credentials')
    }
  }
  let credentialsDropped: string[] = []
  if (credentials === undefined && base && cols.credentials !== null) {
    credentialsDropped = movedEndpoints(base, cols)
    if (credentialsDropped.length) {
      cols.credentials = null
      cols.credentials_updated_at = new Date().toISOString()
      changed.add('credentials')
    }
  }
  if (!cols.name && !problems.some((p) => p.field === fieldName('name'))) problems.push({ field: fieldName('name'), message: 'is required' })
  return { cols, changed: [...changed], problems, addressProblems, credentialsDropped }
}
