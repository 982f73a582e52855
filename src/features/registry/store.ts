import type { Statement } from 'better-sqlite3'
import { nowIso, type Db } from '../../core/db.js'
import { subtreeRange, type Scope } from '../../core/scope.js'
import type { Camera, CameraClass, CameraFilter, CameraKind, CameraStatus, Codec, PtzFeatures, StreamProfile } from './model.js'

/** The writable columns of a camera row, flat as stored. */
export interface CameraColumns {
  unit_id: number
  name: string
  class: CameraClass
  kind: CameraKind
  lat: number | null
  lon: number | null
  address: string | null
  onvif_url: string | null
  endpoint_ref: string | null
  manufacturer: string | null
  model: string | null
  serial: string | null
  firmware: string | null
  main_uri: string | null
  main_codec: Codec | null
  main_width: number | null
  main_height: number | null
  main_fps: number | null
  main_profile_token: string | null
  sub_uri: string | null
  sub_codec: Codec | null
  sub_width: number | null
  sub_height: number | null
  sub_fps: number | null
  sub_profile_token: string | null
  snapshot_uri: string | null
  ptz: 0 | 1
  events: 0 | 1
  /** PtzFeatures as JSON, null when not known */
  ptz_features: string | null
  tags: string
  enabled: 0 | 1
  shared_upward: 0 | 1
  credentials: string | null
  credentials_updated_at: string | null
  clock_offset_ms: number | null
}

export const WRITABLE_COLUMNS: (keyof CameraColumns)[] = [
  'unit_id', 'name', 'class', 'kind', 'lat', 'lon', 'address', 'onvif_url', 'endpoint_ref', 'manufacturer', 'model',
  'serial', 'firmware', 'main_uri', 'main_codec', 'main_width', 'main_height', 'main_fps', 'main_profile_token',
  'sub_uri', 'sub_codec', 'sub_width', 'sub_height', 'sub_fps', 'sub_profile_token', 'snapshot_uri', 'ptz', 'events', 'ptz_features',
  'tags', 'enabled', 'shared_upward', 'credentials', 'credentials_updated_at', 'clock_offset_ms',
]

export interface CameraRow extends CameraColumns {
  id: number
  status: CameraStatus
  status_reasons: string
  status_changed_at: string | null
  created_at: string
  updated_at: string
  unit_path: string
  unit_tier: string
}

function stream(r: CameraRow, prefix: 'main' | 'sub'): StreamProfile | null {
  const uri = r[`${prefix}_uri`]
  if (!uri) return null
  return {
    uri,
    codec: r[`${prefix}_codec`],
    width: r[`${prefix}_width`],
    height: r[`${prefix}_height`],
    fps: r[`${prefix}_fps`],
    profileToken: r[`${prefix}_profile_token`],
  }
}

export function toCamera(r: CameraRow): Camera {
  return {
    id: r.id,
    unitId: r.unit_id,
    name: r.name,
    class: r.class,
    kind: r.kind,
    location: { lat: r.lat, lon: r.lon, address: r.address },
    onvifUrl: r.onvif_url,
    endpointRef: r.endpoint_ref,
    device: { manufacturer: r.manufacturer, model: r.model, serial: r.serial, firmware: r.firmware },
    streams: { main: stream(r, 'main'), sub: stream(r, 'sub') },
    snapshotUri: r.snapshot_uri,
    capabilities: { ptz: r.ptz === 1, events: r.events === 1, ptzFeatures: r.ptz_features === null ? null : (JSON.parse(r.ptz_features) as PtzFeatures) },
    tags: JSON.parse(r.tags) as string[],
    enabled: r.enabled === 1,
    sharedUpward: r.shared_upward === 1,
    hasCredentials: r.credentials !== null,
    credentialsUpdatedAt: r.credentials_updated_at,
    clockOffsetMs: r.clock_offset_ms,
    status: r.status,
    statusReasons: JSON.parse(r.status_reasons) as string[],
    statusChangedAt: r.status_changed_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

const SELECT = 'SELECT c.*, u.path AS unit_path, u.tier AS unit_tier FROM cameras c JOIN units u ON u.id = c.unit_id'
/**
 * Same rows, but CROSS JOIN makes SQLite walk cameras in id order and stop at the page limit.
 * Right when the caller sees most of the tree (a street); for a small subtree (a community, a
 * site) walking its units' cameras through cameras_unit and sorting them is faster.
 */
const SELECT_ID_ORDER = 'SELECT c.*, u.path AS unit_path, u.tier AS unit_tier FROM cameras c CROSS JOIN units u ON u.id = c.unit_id'
const WIDE_SCOPE_SHARE = 0.2

/**
 * The visibility rule, in SQL: cameras of units in the caller's subtree, except that a site's
 * cameras not shared upward (内保外用) stay with the site itself, unless the caller maintains the
 * registry (admin, technician).
 */
const VISIBLE = `u.path >= @lo AND u.path < @hi
  AND (u.tier <> 'site' OR c.shared_upward = 1 OR c.unit_id = @ownUnit OR @seesPrivate = 1)`

function scopeParams(scope: Scope): Record<string, unknown> {
  const { lo, hi } = subtreeRange(scope.unitPath)
  return { lo, hi, ownUnit: scope.unitId ?? -1, seesPrivate: scope.seesPrivateSiteCameras ? 1 : 0 }
}

/**
 * Splits free text into one FTS5 trigram query (terms of ≥ 3 characters, all required) and LIKE
 * conditions for shorter terms, which trigrams cannot match.
 */
function textSearch(q: string, params: Record<string, unknown>): { match: string | null; likes: string[] } {
  const terms = q.split(/\s+/).filter(Boolean).slice(0, 8)
  const phrases: string[] = []
  const likes: string[] = []
  terms.forEach((term, i) => {
    if ([...term].length >= 3) {
      // Quoted phrases: FTS operators and SQL in the user's text are just characters.
      phrases.push(`"${term.replace(/"/g, '""')}"`)
    } else {
      params[`like${i}`] = `%${term.replace(/[\\%_]/g, (m) => '\\' + m)}%`
      // tags are stored as JSON: match each tag, not the JSON text (a `"` or `,` would match every tagged camera)
      likes.push(`(c.name LIKE @like${i} ESCAPE '\\' OR c.serial LIKE @like${i} ESCAPE '\\' OR c.address LIKE @like${i} ESCAPE '\\' OR EXISTS (SELECT 1 FROM json_each(c.tags) WHERE json_each.value LIKE @like${i} ESCAPE '\\'))`)
    }
  })
  return { match: phrases.length ? phrases.join(' ') : null, likes }
}

/** Who a camera is and where: what matching and routing need, without the rest of the row. */
export interface CameraIdentity {
  id: number
  name: string
  unitId: number
  unitPath: string
  onvifUrl: string | null
}

const IDENTITY = 'SELECT c.id, c.name, c.unit_id AS unitId, u.path AS unitPath, c.onvif_url AS onvifUrl FROM cameras c JOIN units u ON u.id = c.unit_id'

export class CameraStore {
  readonly #db: Db
  readonly #getScoped
  readonly #getUnscoped
  readonly #insert
  readonly #update
  readonly #bySerial
  readonly #byOnvif
  readonly #countInUnit
  readonly #identityById
  readonly #identityBySerial
  readonly #identityByEndpoint
  readonly #identityByOnvifRange
  readonly #unitsInRange
  readonly #unitsTotal
  #setStatus: Statement | undefined
  #setClockOffset: Statement | undefined
  #enabledIds: Statement | undefined
  constructor(db: Db) {
    this.#db = db
    this.#unitsInRange = db.prepare('SELECT count(*) AS n FROM units WHERE path >= ? AND path < ?').pluck()
    this.#unitsTotal = db.prepare('SELECT count(*) AS n FROM units').pluck()
    this.#getScoped = db.prepare(`${SELECT} WHERE c.id = @id AND ${VISIBLE}`)
    this.#getUnscoped = db.prepare(`${SELECT} WHERE c.id = ?`)
    const cols = WRITABLE_COLUMNS
    this.#insert = db.prepare(
      `INSERT INTO cameras (${cols.join(', ')}, created_at, updated_at) VALUES (${cols.map((c) => '@' + c).join(', ')}, @now, @now)`,
    )
    this.#update = db.prepare(`UPDATE cameras SET ${cols.map((c) => `${c} = @${c}`).join(', ')}, updated_at = @now WHERE id = @id`)
    this.#bySerial = db.prepare(`${SELECT} WHERE c.serial = ?`)
    this.#byOnvif = db.prepare(`${SELECT} WHERE c.onvif_url = ? LIMIT 2`)
    this.#countInUnit = db.prepare('SELECT count(*) AS n FROM cameras WHERE unit_id = ?')
    this.#identityById = db.prepare(`${IDENTITY} WHERE c.id = ?`)
    this.#identityBySerial = db.prepare(`${IDENTITY} WHERE c.serial = ?`)
    this.#identityByEndpoint = db.prepare(`${IDENTITY} WHERE c.endpoint_ref IN (SELECT value FROM json_each(?)) ORDER BY c.id LIMIT 1`)
    this.#identityByOnvifRange = db.prepare(`${IDENTITY} WHERE c.onvif_url >= ? AND c.onvif_url < ? ORDER BY c.id LIMIT 1`)
  }

  get(scope: Scope, id: number): CameraRow | undefined {
    return this.#getScoped.get({ id, ...scopeParams(scope) }) as CameraRow | undefined
  }

  getUnscoped(id: number): CameraRow | undefined {
    return this.#getUnscoped.get(id) as CameraRow | undefined
  }

  /** Import and discovery match on these regardless of the caller's scope, to refuse duplicates. */
  bySerialUnscoped(serial: string): CameraRow | undefined {
    return this.#bySerial.get(serial) as CameraRow | undefined
  }

  byOnvifUrlUnscoped(url: string): CameraRow[] {
    return this.#byOnvif.all(url) as CameraRow[]
  }

  list(scope: Scope, filter: CameraFilter & { underPath?: string }, afterId: number | undefined, limit: number): CameraRow[] {
    const params: Record<string, unknown> = { ...scopeParams(scope), limit }
    const where = [VISIBLE]
    if (filter.underPath) {
      const r = subtreeRange(filter.underPath)
      where.push('u.path >= @ulo AND u.path < @uhi')
      params.ulo = r.lo
      params.uhi = r.hi
    }
    if (afterId !== undefined) {
      where.push('c.id > @afterId')
      params.afterId = afterId
    }
    if (filter.class !== undefined) (where.push('c.class = @class'), (params.class = filter.class))
    if (filter.kind !== undefined) (where.push('c.kind = @kind'), (params.kind = filter.kind))
    if (filter.status !== undefined) (where.push('c.status = @status'), (params.status = filter.status))
    if (filter.enabled !== undefined) (where.push('c.enabled = @enabled'), (params.enabled = filter.enabled ? 1 : 0))
    if (filter.tag !== undefined) {
      where.push('EXISTS (SELECT 1 FROM json_each(c.tags) WHERE json_each.value = @tag)')
      params.tag = filter.tag
    }
    const text = filter.q ? textSearch(filter.q, params) : { match: null, likes: [] }
    where.push(...text.likes)
    if (text.match !== null) {
      // The FTS index drives: it yields matches in rowid order, so the page stops at the limit.
      params.match = text.match
      const from = 'SELECT c.*, u.path AS unit_path, u.tier AS unit_tier FROM cameras_fts f CROSS JOIN cameras c ON c.id = f.rowid CROSS JOIN units u ON u.id = c.unit_id'
      const conditions = ['cameras_fts MATCH @match', ...where.map((w) => w.replace('c.id > @afterId', 'f.rowid > @afterId'))]
      return this.#db.prepare(`${from} WHERE ${conditions.join(' AND ')} ORDER BY f.rowid LIMIT @limit`).all(params) as CameraRow[]
    }
    const range = subtreeRange(filter.underPath ?? scope.unitPath)
    const share = (this.#unitsInRange.get(range.lo, range.hi) as number) / Math.max(1, this.#unitsTotal.get() as number)
    const select = share >= WIDE_SCOPE_SHARE ? SELECT_ID_ORDER : SELECT
    return this.#db.prepare(`${select} WHERE ${where.join(' AND ')} ORDER BY c.id LIMIT @limit`).all(params) as CameraRow[]
  }

  /** Ids of every enabled camera, in id order (system jobs load each camera when they reach it). */
  enabledIds(): number[] {
    this.#enabledIds ??= this.#db.prepare('SELECT id FROM cameras WHERE enabled = 1 ORDER BY id').pluck()
    return this.#enabledIds.all() as number[]
  }

  /** Streams every visible camera, for CSV export, without holding them all in memory. */
  iterate(scope: Scope, underPath?: string): IterableIterator<CameraRow> {
    const params: Record<string, unknown> = scopeParams(scope)
    let extra = ''
    if (underPath) {
      const r = subtreeRange(underPath)
      extra = ' AND u.path >= @ulo AND u.path < @uhi'
      params.ulo = r.lo
      params.uhi = r.hi
    }
    return this.#db.prepare(`${SELECT} WHERE ${VISIBLE}${extra} ORDER BY c.id`).iterate(params) as IterableIterator<CameraRow>
  }

  insert(cols: CameraColumns): number {
    return Number(this.#insert.run({ ...cols, now: nowIso() }).lastInsertRowid)
  }

  update(id: number, cols: CameraColumns): void {
    this.#update.run({ ...cols, id, now: nowIso() })
  }

  delete(id: number): void {
    this.#db.prepare('DELETE FROM cameras WHERE id = ?').run(id)
  }

  setStatus(id: number, status: CameraStatus, reasons: string[], at: string): void {
    // health writes thousands per sweep: the statement is prepared once
    this.#setStatus ??= this.#db.prepare('UPDATE cameras SET status = ?, status_reasons = ?, status_changed_at = ? WHERE id = ?')
    this.#setStatus.run(status, JSON.stringify(reasons), at, id)
  }

  setClockOffset(id: number, offsetMs: number | null): void {
    this.#setClockOffset ??= this.#db.prepare('UPDATE cameras SET clock_offset_ms = ? WHERE id = ?')
    this.#setClockOffset.run(offsetMs, id)
  }

  identityById(id: number): CameraIdentity | undefined {
    return this.#identityById.get(id) as CameraIdentity | undefined
  }

  identityBySerial(serial: string): CameraIdentity | undefined {
    return this.#identityBySerial.get(serial) as CameraIdentity | undefined
  }

  identityByEndpointRef(refs: string[]): CameraIdentity | undefined {
    return this.#identityByEndpoint.get(JSON.stringify(refs)) as CameraIdentity | undefined
  }

  /** The first camera whose ONVIF address starts with `origin` (`http://host:port/`). */
  identityByOnvifOrigin(origin: string): CameraIdentity | undefined {
    return this.#identityByOnvifRange.get(origin, origin.slice(0, -1) + '0') as CameraIdentity | undefined
  }

  countInUnit(unitId: number): number {
    return (this.#countInUnit.get(unitId) as { n: number }).n
  }
}

/** The flat columns of an existing row, as the starting point of an update. */
export function columnsOf(row: CameraRow): CameraColumns {
  const out = {} as Record<string, unknown>
  for (const c of WRITABLE_COLUMNS) out[c] = row[c]
  return out as unknown as CameraColumns
}
