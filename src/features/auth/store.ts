import { nowIso, type Db } from '../../core/db.js'
import { subtreeRange, type Role, type Scope } from '../../core/scope.js'

export interface UserRecord {
  id: number
  username: string
  displayName: string
  unitId: number | null
  unitPath: string
  roles: Role[]
  passwordHash: string
  disabled: boolean
  failedLogins: number
  lockedUntil: string | null
  lastLoginAt: string | null
  passwordChangedAt: string
  createdAt: string
  updatedAt: string
}

interface UserRow {
  id: number
  username: string
  display_name: string
  unit_id: number | null
  unit_path: string | null
  roles: string
  password_hash: string
  disabled: number
  failed_logins: number
  locked_until: string | null
  last_login_at: string | null
  password_changed_at: string
  created_at: string
  updated_at: string
}

const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  unitId: r.unit_id,
  unitPath: r.unit_path ?? '/',
  roles: r.roles.split(',').filter(Boolean) as Role[],
  passwordHash: r.password_hash,
  disabled: r.disabled === 1,
  failedLogins: r.failed_logins,
  lockedUntil: r.locked_until,
  lastLoginAt: r.last_login_at,
  passwordChangedAt: r.password_changed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

const SELECT = `SELECT users.*, units.path AS unit_path FROM users LEFT JOIN units ON units.id = users.unit_id`
/** In scope: users of units in the subtree; gateway administrators only for gateway administrators. */
const IN_SCOPE = `((units.path >= @lo AND units.path < @hi) OR (users.unit_id IS NULL AND @lo = '/'))`

export interface NewUserRow {
  username: string
  displayName: string
  unitId: number | null
  roles: Role[]
  passwordHash: string
}

export class UserStore {
  readonly #db: Db
  readonly #byName
  readonly #byId
  constructor(db: Db) {
    this.#db = db
    this.#byName = db.prepare(`${SELECT} WHERE users.username = ?`)
    this.#byId = db.prepare(`${SELECT} WHERE users.id = ?`)
  }

  byUsernameUnscoped(username: string): UserRecord | undefined {
    const r = this.#byName.get(username) as UserRow | undefined
    return r && toUser(r)
  }

  byIdUnscoped(id: number): UserRecord | undefined {
    const r = this.#byId.get(id) as UserRow | undefined
    return r && toUser(r)
  }

  get(scope: Scope, id: number): UserRecord | undefined {
    const r = this.#db.prepare(`${SELECT} WHERE users.id = @id AND ${IN_SCOPE}`).get({ id, ...subtreeRange(scope.unitPath) }) as UserRow | undefined
    return r && toUser(r)
  }

  list(scope: Scope, filter: { unitId?: number; role?: Role }): UserRecord[] {
    const where = [IN_SCOPE]
    const params: Record<string, unknown> = { ...subtreeRange(scope.unitPath) }
    if (filter.unitId !== undefined) {
      where.push('users.unit_id = @unitId')
      params.unitId = filter.unitId
    }
    if (filter.role) {
      where.push(`(',' || users.roles || ',') LIKE @role`)
      params.role = `%,${filter.role},%`
    }
    return (this.#db.prepare(`${SELECT} WHERE ${where.join(' AND ')} ORDER BY users.username`).all(params) as UserRow[]).map(toUser)
  }

  insert(u: NewUserRow): number {
    const now = nowIso()
    const res = this.#db
      .prepare(`INSERT INTO users (username, display_name, unit_id, roles, password_hash, password_changed_at, created_at, updated_at)
        VALUES (@username, @displayName, @unitId, @roles, @passwordHash, @now, @now, @now)`)
      .run({ ...u, roles: u.roles.join(','), now })
    return Number(res.lastInsertRowid)
  }

  update(id: number, fields: { displayName?: string; unitId?: number | null; roles?: Role[]; passwordHash?: string; disabled?: boolean }): void {
    const sets: string[] = []
    const now = nowIso()
    const params: Record<string, unknown> = { id, now }
    if (fields.displayName !== undefined) (sets.push('display_name = @displayName'), (params.displayName = fields.displayName))
    if (fields.unitId !== undefined) (sets.push('unit_id = @unitId'), (params.unitId = fields.unitId))
    if (fields.roles !== undefined) (sets.push('roles = @roles'), (params.roles = fields.roles.join(',')))
    if (fields.disabled !== undefined) (sets.push('disabled = @disabled'), (params.disabled = fields.disabled ? 1 : 0))
    if (fields.passwordHash !== undefined) {
      sets.push('password_hash = @passwordHash', 'password_changed_at = @now', 'failed_logins = 0', 'locked_until = NULL')
      params.passwordHash = fields.passwordHash
    }
    if (!sets.length) return
    this.#db.prepare(`UPDATE users SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`).run(params)
  }

  /**
   * One more failed attempt (a login, or a wrong current password). A lockout that has run out
   * starts a new count: after it the user has the full allowance again, not a single try.
   */
  recordFailure(id: number, maxFailures: number, lockUntil: string, now: string): { failedLogins: number; locked: boolean } {
    const row = this.#db
      .prepare(`UPDATE users SET
          failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= @now THEN 1 ELSE failed_logins + 1 END,
          locked_until = CASE
            WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= @now THEN 1 ELSE failed_logins + 1 END) >= @max THEN @lockUntil
            WHEN locked_until IS NOT NULL AND locked_until <= @now THEN NULL
            ELSE locked_until END
        WHERE id = @id RETURNING failed_logins, locked_until`)
      .get({ id, max: maxFailures, lockUntil, now }) as { failed_logins: number; locked_until: string | null }
    return { failedLogins: row.failed_logins, locked: row.failed_logins >= maxFailures }
  }

  recordSuccess(id: number): void {
    this.#db.prepare('UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?').run(nowIso(), id)
  }

  delete(id: number): void {
    this.#db.prepare('DELETE FROM users WHERE id = ?').run(id)
  }

  countInUnit(unitId: number): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM users WHERE unit_id = ?').get(unitId) as { n: number }).n
  }

  count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n
  }

  // sessions

  insertSession(s: { id: string; userId: number; expiresAt: string; client: string | null }): void {
    this.#db.prepare('INSERT INTO sessions (id, user_id, created_at, expires_at, client) VALUES (?, ?, ?, ?, ?)').run(s.id, s.userId, nowIso(), s.expiresAt, s.client)
  }

  session(id: string): { userId: number; expiresAt: string; revokedAt: string | null } | undefined {
    const r = this.#db.prepare('SELECT user_id, expires_at, revoked_at FROM sessions WHERE id = ?').get(id) as
      | { user_id: number; expires_at: string; revoked_at: string | null }
      | undefined
    return r && { userId: r.user_id, expiresAt: r.expires_at, revokedAt: r.revoked_at }
  }

  extendSession(id: string, expiresAt: string): void {
    this.#db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?').run(expiresAt, id)
  }

  revokeSession(id: string): void {
    this.#db.prepare('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(nowIso(), id)
  }

  revokeUserSessions(userId: number): void {
    this.#db.prepare('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL').run(nowIso(), userId)
  }

  purgeExpiredSessions(): number {
    return this.#db.prepare('DELETE FROM sessions WHERE expires_at < ? OR revoked_at IS NOT NULL').run(nowIso()).changes
  }
}
