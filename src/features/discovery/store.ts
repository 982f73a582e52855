import { nowIso, type Db } from '../../core/db.js'

export const CANDIDATE_STATES = ['new', 'registered', 'moved'] as const
export type CandidateState = (typeof CANDIDATE_STATES)[number]
export type CandidateSource = 'multicast' | 'unicast' | 'direct'

export interface CandidateRow {
  id: number
  endpoint_key: string
  endpoint_ref: string
  address: string
  xaddrs: string
  scopes: string
  name: string | null
  location: string | null
  hardware: string | null
  types: string
  serial: string | null
  source: CandidateSource
  first_seen: string
  last_seen: string
  scan_id: number | null
  state: CandidateState
  camera_id: number | null
  camera_address: string | null
}

export interface CandidateSighting {
  endpointRef: string
  address: string
  xaddrs: string[]
  scopes: string[]
  name: string | null
  location: string | null
  hardware: string | null
  types: string[]
  source: CandidateSource
  scanId: number | null
}

/** The registered camera a candidate matches, found without regard to scope (the caller filters). */
export interface CameraMatch {
  id: number
  onvifUrl: string | null
  unitPath: string
}

/** How discovery asks the registry which camera a device is (the registry implements it). */
export interface RegisteredCameras {
  identityByEndpointRef(...refs: string[]): CameraMatch | undefined
  identityBySerial(serial: string): CameraMatch | undefined
  identityByOnvifOrigin(origin: string): CameraMatch | undefined
}

export const endpointKey = (ref: string) => ref.trim().toLowerCase()

/** `http://h:p/…` → `http://h:p/`: what "the same address" means for a camera. */
export function originOf(url: string | null | undefined): string | null {
  if (!url) return null
  try {
    return new URL(url).origin + '/'
  } catch {
    return null
  }
}

/**
 * Candidates and discovery jobs. Matching asks the registry (unscoped identity lookups); the
 * service decides what a caller may see of a match.
 */
export class DiscoveryStore {
  readonly #db: Db
  readonly #upsert
  readonly #byId
  readonly #setState
  readonly #cameras: RegisteredCameras
  constructor(db: Db, cameras: RegisteredCameras) {
    this.#db = db
    this.#cameras = cameras
    this.#upsert = db.prepare(`INSERT INTO discovery_candidates (endpoint_key, endpoint_ref, address, xaddrs, scopes, name, location, hardware, types, source, first_seen, last_seen, scan_id)
      VALUES (@key, @endpointRef, @address, @xaddrs, @scopes, @name, @location, @hardware, @types, @source, @now, @now, @scanId)
      ON CONFLICT (endpoint_key) DO UPDATE SET endpoint_ref = excluded.endpoint_ref, address = excluded.address, xaddrs = excluded.xaddrs,
        scopes = excluded.scopes, name = excluded.name, location = excluded.location, hardware = excluded.hardware, types = excluded.types,
        source = excluded.source, last_seen = excluded.last_seen, scan_id = excluded.scan_id
      RETURNING id`)
    this.#byId = db.prepare('SELECT * FROM discovery_candidates WHERE id = ?')
    this.#setState = db.prepare('UPDATE discovery_candidates SET state = ?, camera_id = ?, camera_address = ? WHERE id = ?')
  }

  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)()
  }

  upsert(s: CandidateSighting): number {
    const row = this.#upsert.get({
      key: endpointKey(s.endpointRef),
      endpointRef: s.endpointRef.trim(),
      address: s.address,
      xaddrs: JSON.stringify(s.xaddrs),
      scopes: JSON.stringify(s.scopes),
      name: s.name,
      location: s.location,
      hardware: s.hardware,
      types: JSON.stringify(s.types),
      source: s.source,
      now: nowIso(),
      scanId: s.scanId,
    }) as { id: number }
    this.reconcile(this.get(row.id)!)
    return row.id
  }

  setSerial(id: number, serial: string): void {
    this.#db.prepare('UPDATE discovery_candidates SET serial = ? WHERE id = ?').run(serial, id)
  }

  get(id: number): CandidateRow | undefined {
    return this.#byId.get(id) as CandidateRow | undefined
  }

  list(filter: { state?: CandidateState; ids?: number[]; afterId?: number; limit: number }): CandidateRow[] {
    const where: string[] = []
    const params: unknown[] = []
    if (filter.state) {
      where.push('state = ?')
      params.push(filter.state)
    }
    if (filter.ids) {
      if (!filter.ids.length) return []
      where.push(`id IN (${filter.ids.map(() => '?').join(',')})`)
      params.push(...filter.ids)
    }
    if (filter.afterId !== undefined) {
      where.push('id > ?')
      params.push(filter.afterId)
    }
    const sql = `SELECT * FROM discovery_candidates ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`
    return this.#db.prepare(sql).all(...params, filter.limit) as CandidateRow[]
  }

  cameraByEndpoint(ref: string): CameraMatch | undefined {
    return this.#cameras.identityByEndpointRef(ref.trim(), endpointKey(ref))
  }

  cameraBySerial(serial: string): CameraMatch | undefined {
    return this.#cameras.identityBySerial(serial)
  }

  cameraByOrigin(origin: string): CameraMatch | undefined {
    return this.#cameras.identityByOnvifOrigin(origin)
  }

  /**
   * Marks a candidate against the registry: `registered` when a camera has its endpoint reference
   * at the same address, or its address; `moved` when the camera with its endpoint reference
   * (or, once interrogated, its serial) is registered at another address.
   */
  reconcile(row: CandidateRow): { state: CandidateState; camera: CameraMatch | undefined } {
    const serial = row.serial
    const origins = (JSON.parse(row.xaddrs) as string[]).map(originOf).filter((o): o is string => o !== null)
    let state: CandidateState = 'new'
    let camera = this.cameraByEndpoint(row.endpoint_ref) ?? (serial ? this.cameraBySerial(serial) : undefined)
    if (camera) {
      const at = originOf(camera.onvifUrl)
      state = at === null || origins.includes(at) ? 'registered' : 'moved'
    } else {
      for (const o of origins) {
        camera = this.cameraByOrigin(o)
        if (camera) {
          state = 'registered'
          break
        }
      }
    }
    const cameraAddress = state === 'moved' ? originOf(camera?.onvifUrl) : null
    if (row.state !== state || row.camera_id !== (camera?.id ?? null) || row.camera_address !== cameraAddress) {
      this.#setState.run(state, camera?.id ?? null, cameraAddress, row.id)
      row.state = state
      row.camera_id = camera?.id ?? null
      row.camera_address = cameraAddress
    }
    return { state, camera }
  }

  /** Re-marks every candidate (cameras change under them); one transaction. */
  reconcileAll(): void {
    this.#db.transaction(() => {
      for (const row of this.#db.prepare('SELECT * FROM discovery_candidates').all() as CandidateRow[]) this.reconcile(row)
    })()
  }

  // ------------------------------------------------------------------ jobs

  insertJob(kind: 'scan' | 'unit_refresh', actor: string, unitPath: string, request: unknown): number {
    const r = this.#db
      .prepare(`INSERT INTO discovery_jobs (kind, status, actor, unit_path, request, started_at) VALUES (?, 'running', ?, ?, ?, ?)`)
      .run(kind, actor, unitPath, JSON.stringify(request), nowIso())
    return Number(r.lastInsertRowid)
  }

  finishJob(id: number, status: 'done' | 'failed', progress: unknown, results: unknown, error: string | null): void {
    this.#db
      .prepare('UPDATE discovery_jobs SET status = ?, progress = ?, results = ?, error = ?, finished_at = ? WHERE id = ?')
      .run(status, JSON.stringify(progress), JSON.stringify(results), error, nowIso(), id)
  }

  getJob(id: number): JobRow | undefined {
    return this.#db.prepare('SELECT * FROM discovery_jobs WHERE id = ?').get(id) as JobRow | undefined
  }

  recentJobs(limit: number): JobRow[] {
    return this.#db.prepare('SELECT * FROM discovery_jobs ORDER BY id DESC LIMIT ?').all(limit) as JobRow[]
  }

  /** Jobs left `running` by a stopped gateway. */
  failInterrupted(): void {
    this.#db.prepare(`UPDATE discovery_jobs SET status = 'failed', error = 'the gateway stopped while the job ran', finished_at = ? WHERE status = 'running'`).run(nowIso())
  }
}

export interface JobRow {
  id: number
  kind: 'scan' | 'unit_refresh'
  status: 'running' | 'done' | 'failed'
  actor: string
  unit_path: string
  request: string
  progress: string
  results: string
  error: string | null
  started_at: string
  finished_at: string | null
}
