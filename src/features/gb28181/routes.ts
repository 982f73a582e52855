import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { principalOf, type Guard } from '../../core/http/guard.js'
import type { Gb28181Service } from './service.js'
import { adoptChannelSchema, deleteDeviceSchema, liveSessionsSchema, endpointSchema, getDeviceSchema, listDevicesSchema, refreshCatalogSchema, setPasswordSchema } from './schemas.js'

export function gb28181Routes(deps: { gb: Gb28181Service; guard: Guard }): FastifyPluginAsync {
  const { gb, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    const maintainers = guard('admin', 'technician')
    r.get('/gb28181/endpoint', { schema: endpointSchema, preHandler: maintainers }, async () => gb.endpointInfo())
    r.get('/gb28181/devices', { schema: listDevicesSchema, preHandler: maintainers }, async () => ({ items: gb.listDevices() }))
    r.get('/gb28181/devices/:deviceId', { schema: getDeviceSchema, preHandler: maintainers }, async (request) => gb.getDevice(request.params.deviceId))
    r.put('/gb28181/devices/:deviceId/password', { schema: setPasswordSchema, preHandler: maintainers }, async (request, reply) => {
      gb.setPassword(principalOf(request), request.params.deviceId, request.body.password, request.ip)
      return reply.status(204).send(null)
    })
    r.post('/gb28181/devices/:deviceId/catalog', { schema: refreshCatalogSchema, preHandler: maintainers }, async (request) => gb.refreshCatalog(request.params.deviceId))
    r.post('/gb28181/devices/:deviceId/channels/:channelId/adopt', { schema: adoptChannelSchema, preHandler: maintainers }, async (request, reply) => {
      const { deviceId, channelId } = request.params
      const camera = gb.adoptChannel(principalOf(request), deviceId, channelId, request.body, request.ip)
      return reply.status(201).send({ id: camera.id, name: camera.name, unitId: camera.unitId })
    })
    r.get('/gb28181/sessions', { schema: liveSessionsSchema, preHandler: maintainers }, async () => ({ items: gb.liveSessions() }))
    r.delete('/gb28181/devices/:deviceId', { schema: deleteDeviceSchema, preHandler: maintainers }, async (request, reply) => {
      gb.deleteDevice(principalOf(request), request.params.deviceId, request.ip)
      return reply.status(204).send(null)
    })
  }
}
