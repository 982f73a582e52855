import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { ForbiddenError, UnauthenticatedError } from '../errors.js'
import type { Principal, Role } from '../scope.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** set by the auth feature's guard; null on public routes */
    principal: Principal | null
  }
}

/**
 * A route's access rule: `guard()` needs any signed-in user, `guard('admin', 'technician')` one of
 * those roles. Owned here so features can protect routes without importing the auth feature.
 */
export type Guard = (...roles: Role[]) => preHandlerAsyncHookHandler

/**
 * Ties a long-lived answer (an SSE stream, a WHEP session) to the session that opened it: `end` is
 * called once, within about a second, when that session is logged out or expires, or its user is
 * disabled, deleted, moved to another unit or given other roles. Returns a function that stops
 * watching (call it when the answer ends on its own). Owned here so features need not import auth.
 */
export type SessionWatch = (request: FastifyRequest, end: (reason: string) => void) => () => void

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthenticatedError('sign in first')
  return request.principal
}

/**
 * The role check for a route that addresses one object (`/cameras/:id`): call it after the object
 * was found in the caller's scope. Outside the subtree is then 404 whatever the role; 403 only
 * says "you may see this, not change it", which reveals nothing the caller cannot already read.
 */
export function requireRole(principal: Principal, ...roles: Role[]): void {
  if (!roles.some((r) => principal.roles.includes(r))) throw new ForbiddenError(`needs role ${roles.join(' or ')}`)
}
