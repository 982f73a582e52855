import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, requireRole, type Guard } from '../../core/http/guard.js'
import { scopeOf } from '../../core/scope.js'
import type { OrgService } from '../org/index.js'
import { SESSION_COOKIE, tokenOf } from './guard.js'
import type { AuthService } from './service.js'
import {
  changePasswordSchema,
  createUserSchema,
  deleteUserSchema,
  getUserSchema,
  listUsersSchema,
  loginSchema,
  logoutSchema,
  meSchema,
  updateUserSchema,
} from './schemas.js'

export function authRoutes(deps: { auth: AuthService; org: OrgService; guard: Guard; sessionTtlMinutes: number }): FastifyPluginAsync {
  const { auth, org, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    r.post('/auth/login', { schema: loginSchema }, async (request, reply) => {
      const result = await auth.login(request.body.username, request.body.password, request.ip)
      const secure = request.protocol === 'https' ? '; Secure' : ''
      reply.header('set-cookie', `${SESSION_COOKIE}=${encodeURIComponent(result.token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${deps.sessionTtlMinutes * 60}${secure}`)
      return result
    })

    r.post('/auth/logout', { schema: logoutSchema, preHandler: guard() }, async (request, reply) => {
      auth.logout(principalOf(request), tokenOf(request)!, request.ip)
      reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`)
      return reply.status(204).send(null)
    })

    r.get('/auth/me', { schema: meSchema, preHandler: guard() }, async (request) => {
      const principal = principalOf(request)
      const user = auth.get(scopeOf(principal), principal.userId)
      const unit = principal.unitId === null ? null : org.get(scopeOf(principal), principal.unitId)
      return { user, unit: unit && { id: unit.id, code: unit.code, name: unit.name, tier: unit.tier, path: unit.path } }
    })

    r.post('/auth/password', { schema: changePasswordSchema, preHandler: guard() }, async (request, reply) => {
      await auth.changeOwnPassword(principalOf(request), request.body.currentPassword, request.body.newPassword, request.ip)
      return reply.status(204).send(null)
    })

    r.get('/users', { schema: listUsersSchema, preHandler: guard('admin') }, async (request) => ({
      items: auth.list(scopeOf(principalOf(request)), { unitId: request.query.unit, role: request.query.role }),
    }))
    // One user: found in scope first (404 outside the subtree), then the role (403).
    const inScopeAsAdmin = (request: { params: { id: number } } & Parameters<typeof principalOf>[0]) => {
      const principal = principalOf(request)
      const user = auth.get(scopeOf(principal), request.params.id)
      requireRole(principal, 'admin')
      return { principal, user }
    }
    r.get('/users/:id', { schema: getUserSchema, preHandler: guard() }, async (request) => inScopeAsAdmin(request).user)
    r.post('/users', { schema: createUserSchema, preHandler: guard('admin') }, async (request, reply) =>
      reply.status(201).send(await auth.create(principalOf(request), request.body, request.ip)),
    )
    r.patch('/users/:id', { schema: updateUserSchema, preHandler: guard() }, async (request) =>
      auth.update(inScopeAsAdmin(request).principal, request.params.id, request.body, request.ip),
    )
    r.delete('/users/:id', { schema: deleteUserSchema, preHandler: guard() }, async (request, reply) => {
      auth.delete(inScopeAsAdmin(request).principal, request.params.id, request.ip)
      return reply.status(204).send(null)
    })
  }
}
