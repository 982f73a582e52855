import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { UnauthenticatedError } from '../errors.js'
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

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthenticatedError('sign in first')
  return request.principal
}
