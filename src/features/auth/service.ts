import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { inTransaction, type Db } from '../../core/db.js'
import { ConfigError, ConflictError, ForbiddenError, NotFoundError, TooManyRequestsError, UnauthenticatedError, ValidationError } from '../../core/errors.js'
import { scopeOf, type Principal, type Role, type Scope } from '../../core/scope.js'
import type { AuditLog } from '../audit/index.js'
import type { OrgService } from '../org/index.js'
import { DUMMY_HASH_PROMISE, WeakPasswordError, hashPassword, passwordProblem, randomPassword, verifyPassword } from './passwords.js'
import { UnknownNameLockouts, WindowRateLimiter } from './rate-limit.js'
import { UserStore, type UserRecord } from './store.js'

export interface AuthSettings {
  sessionTtlMinutes: number
  loginMaxFailures: number
  lockoutMinutes: number
  loginAttemptsPerMinutePerAddress: number
}

export interface PublicUser {
  id: number
  username: string
  displayName: string
  unitId: number | null
  roles: Role[]
  disabled: boolean
  locked: boolean
  lastLoginAt: string | null
  createdAt: string
  updatedAt: string
}

export interface NewUser {
  username: string
  displayName?: string
  unitId: number | null
  roles: Role[]
  password: string
}

export interface UserChanges {
  displayName?: string
  unitId?: number | null
  roles?: Role[]
  password?: string
  disabled?: boolean
}

export interface LoginResult {
  token: string
  expiresAt: string
  user: PublicUser
}

const isLocked = (u: UserRecord, now = Date.now()) => u.lockedUntil !== null && Date.parse(u.lockedUntil) > now
const lockedSeconds = (u: UserRecord, now = Date.now()) => Math.max(1, Math.ceil((Date.parse(u.lockedUntil!) - now) / 1000))
/** The gateway administrator ensureFirstAdmin creates (no unit: above every street). */
const FIRST_ADMIN = 'admin'
const LOCKED_MESSAGE = 'account locked after repeated failed attempts; try again later'

/** A long-lived answer (SSE stream, WHEP session) tied to the session that opened it. */
interface SessionWatchEntry {
  token: string
  principal: Principal
  /** when the session expires unless used meanwhile (ms) */
  expiresAt: number
  end(reason: string): void
}

/** Same user, same unit, same place in the tree, same roles: what the answer was authorised under. */
const sameAuthority = (a: Principal, b: Principal) =>
  a.userId === b.userId && a.unitId === b.unitId && a.unitPath === b.unitPath && [...a.roles].sort().join() === [...b.roles].sort().join()

export function publicUser(u: UserRecord): PublicUser {
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    unitId: u.unitId,
    roles: u.roles,
    disabled: u.disabled,
    locked: isLocked(u),
    lastLoginAt: u.lastLoginAt,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
  }
}

/**
 * Local users, sessions and the lockout. A session token is `<id>.<hmac>`: the HMAC (session key,
 * kept outside the database) rejects forged tokens before any lookup; the sessions row allows
 * revocation and expiry.
 */
export class AuthService {
  readonly #db: Db
  readonly #store: UserStore
  readonly #audit: AuditLog
  readonly #org: OrgService
  readonly #settings: AuthSettings
  readonly #sessionKey: Buffer
  readonly #initialPasswordFile: string | undefined
  readonly #addressLimiter: WindowRateLimiter
  readonly #unknownNames = new UnknownNameLockouts()
  readonly #watches = new Set<SessionWatchEntry>()
  #recheckScheduled = false
  #expiryTimer: NodeJS.Timeout | null = null

  /**
   * `initialPasswordFile`: where a generated first-run admin password is written (mode 0600) instead
   * of the console a service manager keeps in its logs; removed when that password is changed.
   */
  constructor(deps: { db: Db; audit: AuditLog; org: OrgService; settings: AuthSettings; sessionKey: Buffer; initialPasswordFile?: string }) {
    this.#db = deps.db
    this.#store = new UserStore(deps.db)
    this.#audit = deps.audit
    this.#org = deps.org
    this.#settings = deps.settings
    this.#sessionKey = deps.sessionKey
    this.#initialPasswordFile = deps.initialPasswordFile
    this.#addressLimiter = new WindowRateLimiter(deps.settings.loginAttemptsPerMinutePerAddress, 60_000)
    deps.org.registerUsage({ what: 'users', count: (unitId) => this.#store.countInUnit(unitId) })
    deps.org.onMoved(() => this.#scheduleRecheck())
  }

  // --- sessions -------------------------------------------------------------------------

  async login(username: string, password: string, client: string): Promise<LoginResult> {
    const wait = this.#addressLimiter.hit(client)
    if (wait) throw new TooManyRequestsError('too many login attempts from this address; try again later', wait)

    const user = this.#store.byUsernameUnscoped(username)
    if (!user) {
      // An unknown name answers as a real account would, lockout included (UnknownNameLockouts).
      const lockedFor = this.#unknownNames.lockedFor(username)
      if (lockedFor) {
        this.#audit.record({ actor: { anonymous: username }, action: 'auth.login_failed', client, detail: { reason: 'unknown user', locked: true } })
        throw new TooManyRequestsError(LOCKED_MESSAGE, lockedFor)
      }
      await verifyPassword(password, await DUMMY_HASH_PROMISE)
      this.#unknownNames.recordFailure(username, this.#settings.loginMaxFailures, this.#settings.lockoutMinutes * 60_000)
      this.#audit.record({ actor: { anonymous: username }, action: 'auth.login_failed', client, detail: { reason: 'unknown user' } })
      throw new UnauthenticatedError('wrong user name or password')
    }
    if (isLocked(user)) {
      this.#audit.record({ actor: { anonymous: username }, action: 'auth.login_failed', unitPath: user.unitPath, client, detail: { reason: 'locked' } })
      throw new TooManyRequestsError(LOCKED_MESSAGE, lockedSeconds(user))
    }
    const ok = await verifyPassword(password, user.passwordHash)
    if (!ok || user.disabled) {
      const { failedLogins, locked } = ok ? { failedLogins: user.failedLogins, locked: false } : this.#recordFailure(user)
      this.#audit.record({
        actor: { anonymous: username },
        action: locked ? 'auth.lockout' : 'auth.login_failed',
        target: { type: 'user', id: user.id },
        unitPath: user.unitPath,
        client,
        detail: { reason: user.disabled ? 'disabled' : 'wrong password', failedLogins },
      })
      throw new UnauthenticatedError('wrong user name or password')
    }

    const sessionId = randomBytes(24).toString('base64url')
    const expiresAt = new Date(Date.now() + this.#settings.sessionTtlMinutes * 60_000).toISOString()
    const principal = this.#principalOf(user)
    if (!principal) throw new UnauthenticatedError('wrong user name or password')
    inTransaction(this.#db, () => {
      this.#store.recordSuccess(user.id)
      this.#store.insertSession({ id: sessionId, userId: user.id, expiresAt, client })
      this.#audit.record({ actor: principal, action: 'auth.login', target: { type: 'user', id: user.id }, client })
    })
    return { token: `${sessionId}.${this.#sign(sessionId)}`, expiresAt, user: publicUser(this.#store.byIdUnscoped(user.id)!) }
  }

  /** Resolves a token to its principal, sliding the expiry; null when not valid. */
  authenticate(token: string): Principal | null {
    const state = this.#sessionState(token)
    if ('ended' in state) return null
    // Slide the expiry at most once a minute: each write is an fsync under synchronous=FULL.
    const fresh = Date.now() + this.#settings.sessionTtlMinutes * 60_000
    if (fresh - state.expiresAt > 60_000) this.#store.extendSession(state.sessionId, new Date(fresh).toISOString())
    return state.principal
  }

  /** What a token stands for now, without sliding its expiry; or why it no longer stands for anything. */
  #sessionState(token: string): { sessionId: string; principal: Principal; expiresAt: number } | { ended: string } {
    const dot = token.indexOf('.')
    if (dot <= 0) return { ended: 'invalid token' }
    const sessionId = token.slice(0, dot)
    const given = Buffer.from(token.slice(dot + 1))
    const expected = Buffer.from(this.#sign(sessionId))
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ended: 'invalid token' }
    const session = this.#store.session(sessionId)
    if (!session || session.revokedAt) return { ended: 'session ended' }
    const expiresAt = Date.parse(session.expiresAt)
    if (expiresAt <= Date.now()) return { ended: 'session expired' }
    const user = this.#store.byIdUnscoped(session.userId)
    if (!user) return { ended: 'user deleted' }
    if (user.disabled) return { ended: 'user disabled' }
    const principal = this.#principalOf(user)
    if (!principal) return { ended: 'unit deleted' }
    return { sessionId, principal, expiresAt }
  }

  logout(principal: Principal, token: string, client: string): void {
    const sessionId = token.slice(0, token.indexOf('.'))
    this.#store.revokeSession(sessionId)
    this.#audit.record({ actor: principal, action: 'auth.logout', client })
    this.#scheduleRecheck()
  }

  // --- long-lived answers tied to a session --------------------------------------------------

  /**
   * Ties a long-lived answer (SSE stream, WHEP session) to the session behind `token`, which
   * authorised it as `principal`: `end` is called once, soon after the session is logged out,
   * revoked or expires, or its user is disabled, deleted, moved or given other roles (or their
   * unit moves). Every change that can do so rechecks the watches at once (after its commit); a
   * timer catches expiry. Returns the function that stops watching.
   */
  watchSession(token: string, principal: Principal, end: (reason: string) => void): () => void {
    const state = this.#sessionState(token)
    const entry: SessionWatchEntry = { token, principal, expiresAt: 'ended' in state ? 0 : state.expiresAt, end }
    this.#watches.add(entry)
    if ('ended' in state || !sameAuthority(state.principal, principal)) this.#scheduleRecheck()
    else this.#armExpiry()
    return () => {
      this.#watches.delete(entry)
      if (!this.#watches.size) this.#disarmExpiry()
    }
  }

  /** Forgets every watch and its timer (shutdown: each feature closes its own answers). */
  closeWatches(): void {
    this.#disarmExpiry()
    this.#watches.clear()
  }

  #scheduleRecheck(): void {
    if (this.#recheckScheduled || !this.#watches.size) return
    this.#recheckScheduled = true
    // after the current synchronous work: the change that asked for it has committed
    setImmediate(() => {
      this.#recheckScheduled = false
      this.#recheck()
    })
  }

  #recheck(): void {
    for (const entry of [...this.#watches]) {
      let reason: string | null
      try {
        const state = this.#sessionState(entry.token)
        if ('ended' in state) reason = state.ended
        else if (!sameAuthority(state.principal, entry.principal)) reason = 'user changed'
        else {
          reason = null
          entry.expiresAt = state.expiresAt
        }
      } catch {
        // the database is closing: the gateway ends its answers itself
        continue
      }
      if (reason === null) continue
      this.#watches.delete(entry)
      try {
        entry.end(reason)
      } catch {
        /* one answer failing to end must not keep the others open */
      }
    }
    this.#armExpiry()
  }

  #armExpiry(): void {
    this.#disarmExpiry()
    if (!this.#watches.size) return
    let next = Infinity
    for (const e of this.#watches) next = Math.min(next, e.expiresAt)
    // a session used meanwhile has slid: the recheck reads its new expiry and re-arms
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = null
      this.#recheck()
    }, Math.min(Math.max(0, next - Date.now()) + 50, 2 ** 31 - 1))
    this.#expiryTimer.unref()
  }

  #disarmExpiry(): void {
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer)
    this.#expiryTimer = null
  }

  /**
   * A wrong current password counts against the same lockout as a failed login: a stolen session
   * must not be a way to guess the password without limit.
   */
  async changeOwnPassword(principal: Principal, current: string, next: string, client: string): Promise<void> {
    const user = this.#store.byIdUnscoped(principal.userId)
    if (!user) throw new UnauthenticatedError('the session\'s user no longer exists')
    if (isLocked(user)) throw new TooManyRequestsError(LOCKED_MESSAGE, lockedSeconds(user))
    if (!(await verifyPassword(current, user.passwordHash))) {
      const { failedLogins, locked } = this.#recordFailure(user)
      this.#audit.record({
        actor: principal,
        action: locked ? 'auth.lockout' : 'user.password_change_failed',
        target: { type: 'user', id: user.id },
        client,
        detail: { reason: 'wrong current password', failedLogins },
      })
      throw new ValidationError('current password is wrong', [{ field: 'body.currentPassword', message: 'is wrong' }])
    }
    const problem = passwordProblem(next, user.username)
    if (problem) throw new WeakPasswordError('body.newPassword', problem)
    const hash = await hashPassword(next)
    inTransaction(this.#db, () => {
      this.#store.update(user.id, { passwordHash: hash })
      this.#store.revokeUserSessions(user.id)
      this.#audit.record({ actor: principal, action: 'user.password_change', target: { type: 'user', id: user.id }, client })
    })
    this.#scheduleRecheck()
    this.#forgetInitialPassword(user)
  }

  /** The first administrator's generated password is no longer valid: its file goes. */
  #forgetInitialPassword(user: { username: string; unitId: number | null }): void {
    if (this.#initialPasswordFile && user.username === FIRST_ADMIN && user.unitId === null) rmSync(this.#initialPasswordFile, { force: true })
  }

  #recordFailure(user: UserRecord): { failedLogins: number; locked: boolean } {
    const now = Date.now()
    const lockUntil = new Date(now + this.#settings.lockoutMinutes * 60_000).toISOString()
    return this.#store.recordFailure(user.id, this.#settings.loginMaxFailures, lockUntil, new Date(now).toISOString())
  }

  purgeSessions(): number {
    return this.#store.purgeExpiredSessions()
  }

  // --- users ------------------------------------------------------------------------------

  list(scope: Scope, filter: { unitId?: number; role?: Role } = {}): PublicUser[] {
    return this.#store.list(scope, filter).map(publicUser)
  }

  get(scope: Scope, id: number): PublicUser {
    const u = this.#store.get(scope, id)
    if (!u) throw new NotFoundError('user', id)
    return publicUser(u)
  }

  async create(actor: Principal, input: NewUser, client?: string): Promise<PublicUser> {
    const problem = passwordProblem(input.password, input.username)
    if (problem) throw new WeakPasswordError('body.password', problem)
    this.#assertUnitAssignable(actor, input.unitId, 'body.unitId')
    const hash = await hashPassword(input.password)
    return inTransaction(this.#db, () => {
      if (this.#store.byUsernameUnscoped(input.username)) {
        throw new ConflictError(`user name ${input.username} is taken`, [{ field: 'body.username', message: 'is taken' }])
      }
      const id = this.#store.insert({ username: input.username, displayName: input.displayName ?? input.username, unitId: input.unitId, roles: dedupeRoles(input.roles), passwordHash: hash })
      const user = this.#store.byIdUnscoped(id)!
      this.#audit.record({ actor, action: 'user.create', target: { type: 'user', id }, unitPath: user.unitPath, client, detail: { username: user.username, roles: user.roles, unitId: user.unitId } })
      return publicUser(user)
    })
  }

  async update(actor: Principal, id: number, changes: UserChanges, client?: string): Promise<PublicUser> {
    const scope = scopeOf(actor)
    const before = this.#store.get(scope, id)
    if (!before) throw new NotFoundError('user', id)
    const rolesChanged = changes.roles !== undefined && dedupeRoles(changes.roles).sort().join() !== [...before.roles].sort().join()
    if (id === actor.userId) {
      if (changes.disabled) throw new ConflictError('you cannot disable yourself')
      // another administrator decides what an administrator may do, never the administrator
      if (rolesChanged) throw new OwnRolesError()
      if (changes.unitId !== undefined && changes.unitId !== before.unitId) throw new ConflictError('you cannot move yourself to another unit')
    }
    if (changes.unitId !== undefined) this.#assertUnitAssignable(actor, changes.unitId, 'body.unitId')
    let passwordHash: string | undefined
    if (changes.password !== undefined) {
      const problem = passwordProblem(changes.password, before.username)
      if (problem) throw new WeakPasswordError('body.password', problem)
      passwordHash = await hashPassword(changes.password)
    }
    this.#scheduleRecheck()
    const updated = inTransaction(this.#db, () => {
      this.#store.update(id, { displayName: changes.displayName, unitId: changes.unitId, roles: changes.roles && dedupeRoles(changes.roles), disabled: changes.disabled, passwordHash })
      if (passwordHash || changes.disabled || changes.unitId !== undefined || rolesChanged) this.#store.revokeUserSessions(id)
      const after = this.#store.byIdUnscoped(id)!
      const { password: _omit, ...visible } = changes
      this.#audit.record({
        actor,
        action: 'user.update',
        target: { type: 'user', id },
        unitPath: after.unitPath,
        client,
        detail: { changes: visible, passwordChanged: passwordHash !== undefined, before: { roles: before.roles, unitId: before.unitId, disabled: before.disabled } },
      })
      return publicUser(after)
    })
    if (passwordHash) this.#forgetInitialPassword(updated)
    return updated
  }

  delete(actor: Principal, id: number, client?: string): void {
    const user = this.#store.get(scopeOf(actor), id)
    if (!user) throw new NotFoundError('user', id)
    if (id === actor.userId) throw new ConflictError('you cannot delete yourself')
    inTransaction(this.#db, () => {
      this.#store.delete(id)
      this.#audit.record({ actor, action: 'user.delete', target: { type: 'user', id }, unitPath: user.unitPath, client, detail: { username: user.username } })
    })
    this.#scheduleRecheck()
  }

  /** First run: a gateway administrator, with the given password or a random one to print once. */
  async ensureFirstAdmin(password: string | undefined): Promise<{ username: string; password: string | null; passwordFile: string | null } | null> {
    if (this.#store.count() > 0) return null
    let chosen = password ?? randomPassword()
    // A random password of 24 characters breaks a rule (contains "admin") about once in 10^8 starts.
    while (password === undefined && passwordProblem(chosen, 'admin')) chosen = randomPassword()
    const problem = passwordProblem(chosen, 'admin')
    if (problem) throw new ConfigError('GW_ADMIN_PASSWORD', `the first administrator's password ${problem}`)
    const hash = await hashPassword(chosen)
    inTransaction(this.#db, () => {
      const id = this.#store.insert({ username: FIRST_ADMIN, displayName: 'Gateway administrator', unitId: null, roles: ['admin'], passwordHash: hash })
      this.#audit.record({ actor: { system: 'first-run' }, action: 'user.create', target: { type: 'user', id }, detail: { username: FIRST_ADMIN, roles: ['admin'] } })
    })
    if (password !== undefined) return { username: FIRST_ADMIN, password: null, passwordFile: null }
    let passwordFile: string | null = null
    if (this.#initialPasswordFile) {
      // Written once, readable by the gateway's account only; the console says where, not what.
      rmSync(this.#initialPasswordFile, { force: true })
      writeFileSync(this.#initialPasswordFile, chosen + '\n', { mode: 0o600, flag: 'wx' })
      passwordFile = this.#initialPasswordFile
    }
    return { username: FIRST_ADMIN, password: chosen, passwordFile }
  }

  /** For seeding (demo data, tests): creates users without an acting principal. */
  async seedUser(input: NewUser): Promise<number> {
    const hash = await hashPassword(input.password)
    return inTransaction(this.#db, () => {
      const id = this.#store.insert({ username: input.username, displayName: input.displayName ?? input.username, unitId: input.unitId, roles: dedupeRoles(input.roles), passwordHash: hash })
      this.#audit.record({ actor: { system: 'seed' }, action: 'user.create', target: { type: 'user', id }, detail: { username: input.username, roles: input.roles, unitId: input.unitId } })
      return id
    })
  }

  #assertUnitAssignable(actor: Principal, unitId: number | null, field: string): void {
    if (unitId === null) {
      if (actor.unitPath !== '/') throw new ForbiddenError('only gateway administrators create users above every street')
      return
    }
    // Out of scope is indistinguishable from absent.
    this.#org.get(scopeOf(actor), unitId)
    void field
  }

  /** null when the user's unit has vanished: never fall back to the whole tree. */
  #principalOf(user: UserRecord): Principal | null {
    const unit = user.unitId === null ? undefined : this.#org.getUnscoped(user.unitId)
    if (user.unitId !== null && !unit) return null
    return {
      userId: user.id,
      username: user.username,
      displayName: user.displayName,
      unitId: user.unitId,
      unitPath: unit?.path ?? '/',
      unitTier: unit?.tier ?? null,
      roles: user.roles,
    }
  }

  #sign(sessionId: string): string {
    return createHmac('sha256', this.#sessionKey).update(sessionId).digest('base64url')
  }
}

/**
 * 409 `own_roles`: nobody changes their own roles (granting oneself more, or dropping admin), like
 * the other changes to oneself that are refused (disable, move, delete).
 */
export class OwnRolesError extends ConflictError {
  override readonly code: string = 'own_roles'
  constructor() {
    super('you cannot change your own roles; another administrator must', [{ field: 'body.roles', message: 'cannot be changed on your own account' }])
  }
}

function dedupeRoles(roles: Role[]): Role[] {
  return [...new Set(roles)]
}
