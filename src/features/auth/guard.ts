import type { FastifyRequest } from 'fastify'
import { ForbiddenError, UnauthenticatedError } from '../../core/errors.js'
import type { Guard, SessionWatch } from '../../core/http/guard.js'
import { hasRole, type Role } from '../../core/scope.js'
import type { AuthService } from './service.js'

export const SESSION_COOKIE = 'gw_session'

/** The bearer token, or the session cookie (browsers: EventSource, <video>, WHEP from the web app). */
export function tokenOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    return match ? match[1]! : null
  }
  const cookies = request.headers.cookie
  if (!cookies) return null
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return null
}

export function createGuard(auth: AuthService): Guard {
  return (...roles: Role[]) =>
    async (request) => {
      const token = tokenOf(request)
      const principal = token ? auth.authenticate(token) : null
      if (!principal) throw new UnauthenticatedError(token ? 'session expired or revoked; sign in again' : 'sign in first')
      if (roles.length && !hasRole(principal, ...roles)) throw new ForbiddenError(`needs role ${roles.join(' or ')}`)
      request.principal = principal
    }
}

/** The SessionWatch of long-lived answers: the request's own session and principal (set by the guard). */
export function createSessionWatch(auth: AuthService): SessionWatch {
  return (request, end) => {
    const token = tokenOf(request)
    if (!token || !request.principal) {
      end('not signed in')
      return () => {}
    }
    return auth.watchSession(token, request.principal, end)
  }
}
