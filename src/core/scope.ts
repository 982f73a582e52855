/**
 * Who is asking, and what part of the org tree they may see. Built by the auth feature from a
 * session; every store query that returns org-owned rows takes a Scope, so scoping is enforced in
 * SQL, not only in route handlers.
 */
export const TIERS = ['street', 'police_station', 'community', 'site'] as const
export type Tier = (typeof TIERS)[number]

export const ROLES = ['admin', 'technician', 'patrol', 'researcher'] as const
export type Role = (typeof ROLES)[number]

export interface Principal {
  userId: number
  username: string
  displayName: string
  /** null for a gateway administrator, who sits above every street */
  unitId: number | null
  /** materialized path of the user's unit, e.g. `/1/4/17/`; `/` for a gateway administrator */
  unitPath: string
  unitTier: Tier | null
  roles: Role[]
}

export interface Scope {
  unitId: number | null
  unitPath: string
  /**
   * Site cameras that are not "shared upward" (内保外用) stay private to their site. Maintainers
   * (admins, technicians) of an ancestor unit still see them in the registry, because they
   * register and repair them; patrol and research roles of ancestors do not.
   */
  seesPrivateSiteCameras: boolean
}

export function scopeOf(principal: Principal): Scope {
  return {
    unitId: principal.unitId,
    unitPath: principal.unitPath,
    seesPrivateSiteCameras: principal.roles.includes('admin') || principal.roles.includes('technician'),
  }
}

export function hasRole(principal: Principal, ...roles: Role[]): boolean {
  return roles.some((r) => principal.roles.includes(r))
}

/**
 * SQL range that selects a subtree by materialized path and can use an index:
 * every path under `/1/4/` sorts in [`/1/4/`, `/1/40`), because '0' follows '/' in ASCII.
 */
export function subtreeRange(path: string): { lo: string; hi: string } {
  return { lo: path, hi: path.slice(0, -1) + '0' }
}

/**
 * The registry's camera visibility rule as an SQL condition, for stores that list rows naming a
 * camera (alarms, case attachments, stream events, evidence locks): the camera's unit lies in the
 * caller's subtree, and a site camera not shared upward (内保外用) stays with its own site unless the
 * caller maintains cameras (Scope.seesPrivateSiteCameras). `c` is the cameras alias, `u` the alias
 * of the camera's unit; the parameters come from cameraVisibilityParams.
 */
export function cameraVisibleSql(c: string, u: string): string {
  return `(${u}.path >= @camLo AND ${u}.path < @camHi AND (${u}.tier <> 'site' OR ${c}.shared_upward = 1 OR ${c}.unit_id = @camOwnUnit OR @camSeesPrivate = 1))`
}

export function cameraVisibilityParams(scope: Scope): { camLo: string; camHi: string; camOwnUnit: number; camSeesPrivate: 0 | 1 } {
  const { lo, hi } = subtreeRange(scope.unitPath)
  return { camLo: lo, camHi: hi, camOwnUnit: scope.unitId ?? -1, camSeesPrivate: scope.seesPrivateSiteCameras ? 1 : 0 }
}

/** The whole tree: for system jobs (health sweeps, migrations, demo seeding), never for a request. */
export const SYSTEM_SCOPE: Scope = { unitId: 0, unitPath: '/', seesPrivateSiteCameras: true }

/** Acts for the gateway itself (first run, demo seeding); audit rows name it `system:<job>`. */
export function systemPrincipal(job: string): Principal {
  return { userId: 0, username: `system:${job}`, displayName: job, unitId: null, unitPath: '/', unitTier: null, roles: ['admin'] }
}
