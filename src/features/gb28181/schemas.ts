import { Type } from 'typebox'
import { problemResponses, StringEnum } from '../../core/http/schemas.js'
import { CameraKindSchema } from '../registry/index.js'

const tags = ['gb28181']
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const DeviceIdParams = Type.Object({ deviceId: Type.String({ pattern: '^[0-9]{20}$', description: 'the 20-digit GB/T 28181 device id' }) }, { additionalProperties: false })

const DeviceSchema = Type.Object({
  deviceId: Type.String(),
  name: Nullable(Type.String()),
  manufacturer: Nullable(Type.String()),
  model: Nullable(Type.String()),
  firmware: Nullable(Type.String()),
  online: Type.Boolean(),
  offlineReason: Nullable(Type.String({ description: 'unregistered | registration_expired | keepalive_timeout' })),
  transport: Nullable(StringEnum(['UDP', 'TCP'] as const)),
  address: Nullable(Type.String({ description: 'where its last REGISTER came from (after NAT)' })),
  port: Nullable(Type.Integer()),
  registeredAt: Nullable(Type.String()),
  expiresAt: Nullable(Type.String()),
  lastKeepaliveAt: Nullable(Type.String()),
  hasOwnPassword: Type.Boolean({ description: 'false: it registers with the default password' }),
  catalogSum: Nullable(Type.Integer()),
  catalogAt: Nullable(Type.String()),
  channelCount: Type.Integer(),
})

const ChannelSchema = Type.Object({
  channelId: Type.String(),
  kind: Type.String({ description: 'what its id says: ipc, camera, nvr, alarm-input, business-group, virtual-org, civil-code, ...' }),
  name: Type.String(),
  status: StringEnum(['on', 'off', 'unknown'] as const),
  parentId: Nullable(Type.String()),
  civilCode: Nullable(Type.String()),
  address: Nullable(Type.String()),
  manufacturer: Nullable(Type.String()),
  model: Nullable(Type.String()),
  ptzType: Nullable(Type.String()),
  longitude: Nullable(Type.Number()),
  latitude: Nullable(Type.Number()),
})

export const endpointSchema = {
  tags,
  summary: 'Where GB/T 28181 devices register: the gateway SIP id, domain, address and ports (admin, technician)',
  response: { 200: Type.Object({ enabled: Type.Boolean(), sipId: Type.String(), realm: Type.String(), address: Type.String(), udpPort: Type.Integer(), tcpPort: Nullable(Type.Integer()) }), ...problemResponses },
}

export const listDevicesSchema = {
  tags,
  summary: 'GB/T 28181 devices: registration, online status, catalog size (admin, technician)',
  response: { 200: Type.Object({ items: Type.Array(DeviceSchema) }), ...problemResponses },
}

export const getDeviceSchema = {
  tags,
  summary: 'One GB/T 28181 device with its catalog channels (admin, technician)',
  params: DeviceIdParams,
  response: { 200: Type.Intersect([DeviceSchema, Type.Object({ channels: Type.Array(ChannelSchema) })]), ...problemResponses },
}

export const setPasswordSchema = {
  tags,
  summary: "Set a device's own Digest password (creates the device if it has not registered yet); audited (admin, technician)",
  params: DeviceIdParams,
  body: Type.Object({ password: Type.String({ minLength: 8, maxLength: 64, description: 'write-only' }) }, { additionalProperties: false }),
  response: { 204: Type.Null(), ...problemResponses },
}

export const refreshCatalogSchema = {
  tags,
  summary: 'Ask a registered device for its whole catalog and wait for every page (admin, technician)',
  params: DeviceIdParams,
  response: { 200: Type.Object({ complete: Type.Boolean(), sumNum: Type.Integer(), received: Type.Integer() }), ...problemResponses, 504: Type.Ref('Problem') },
}

export const adoptChannelSchema = {
  tags,
  summary: "Adopt a catalog channel as a camera of a unit (its name, position and make from the catalog unless given); audited as a camera creation (admin, technician)",
  params: Type.Object({ deviceId: DeviceIdParams.properties.deviceId, channelId: Type.String({ pattern: '^[0-9]{20}$' }) }, { additionalProperties: false }),
  body: Type.Object(
    {
      unitId: Type.Integer({ minimum: 1 }),
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      class: Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3)]),
      kind: Type.Optional(CameraKindSchema),
    },
    { additionalProperties: false },
  ),
  response: { 201: Type.Object({ id: Type.Integer(), name: Type.String(), unitId: Type.Integer() }), ...problemResponses },
}

export const liveSessionsSchema = {
  tags,
  summary: 'INVITEs running now: one per channel watched, whatever the number of viewers (admin, technician)',
  response: {
    200: Type.Object({ items: Type.Array(Type.Object({ deviceId: Type.String(), channelId: Type.String(), callId: Type.String(), ssrc: Type.String(), mediaPort: Type.Integer(), transport: Type.String(), startedAt: Type.String() })) }),
    ...problemResponses,
  },
}

export const deleteDeviceSchema = {
  tags,
  summary: 'Forget a device and its channels; audited (admin, technician)',
  params: DeviceIdParams,
  response: { 204: Type.Null(), ...problemResponses },
}
