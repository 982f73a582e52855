import { Type } from 'typebox'
import { IdParams, problemResponses, StringEnum } from '../../core/http/schemas.js'
import { CAMERA_KINDS, CAMERA_STATUSES, CODECS } from './model.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
export const CameraKindSchema = StringEnum(CAMERA_KINDS)
export const CameraClassSchema = Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3)])
export const CameraStatusSchema = StringEnum(CAMERA_STATUSES)
const CodecSchema = StringEnum(CODECS)
const Uri = Type.String({ minLength: 1, maxLength: 2048 })

const StreamOut = Type.Object({
  uri: Type.String(),
  codec: Nullable(CodecSchema),
  width: Nullable(Type.Integer()),
  height: Nullable(Type.Integer()),
  fps: Nullable(Type.Number()),
  profileToken: Nullable(Type.String()),
})

const PtzModes = Type.Object({ continuous: Type.Boolean(), relative: Type.Boolean(), absolute: Type.Boolean() })

export const CameraSchema = Type.Object({
  id: Type.Integer(),
  unitId: Type.Integer(),
  name: Type.String(),
  class: CameraClassSchema,
  kind: CameraKindSchema,
  location: Type.Object({ lat: Nullable(Type.Number()), lon: Nullable(Type.Number()), address: Nullable(Type.String()) }),
  onvifUrl: Nullable(Type.String()),
  endpointRef: Nullable(Type.String()),
  device: Type.Object({
    manufacturer: Nullable(Type.String()),
    model: Nullable(Type.String()),
    serial: Nullable(Type.String()),
    firmware: Nullable(Type.String()),
  }),
  streams: Type.Object({ main: Nullable(StreamOut), sub: Nullable(StreamOut) }),
  snapshotUri: Nullable(Type.String()),
  capabilities: Type.Object({
    ptz: Type.Boolean(),
    events: Type.Boolean(),
    ptzFeatures: Nullable(
      Type.Object(
        { panTilt: PtzModes, zoom: PtzModes, presets: Type.Boolean() },
        { description: "what the PTZ head can do, read from the camera's PTZ node at adoption/refresh; null: not known (every move is tried)" },
      ),
    ),
  }),
  tags: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  sharedUpward: Type.Boolean({ description: '内保外用: a site camera visible to the units above the site' }),
  hasCredentials: Type.Boolean({ description: 'credentials are write-only; this says whether some are stored' }),
  credentialsUpdatedAt: Nullable(Type.String()),
  clockOffsetMs: Nullable(Type.Integer()),
  status: CameraStatusSchema,
  statusReasons: Type.Array(Type.String()),
  statusChangedAt: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

const StreamIn = Type.Object(
  {
    uri: Uri,
    codec: Type.Optional(Nullable(CodecSchema)),
    width: Type.Optional(Nullable(Type.Integer({ minimum: 16, maximum: 16384 }))),
    height: Type.Optional(Nullable(Type.Integer({ minimum: 16, maximum: 16384 }))),
    fps: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 240 }))),
    profileToken: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  },
  { additionalProperties: false },
)
const Text = (max: number) => Type.Optional(Nullable(Type.String({ maxLength: max })))

const CameraFields = {
  unitId: Type.Integer({ minimum: 1 }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  class: CameraClassSchema,
  kind: CameraKindSchema,
  location: Type.Optional(
    Type.Object(
      {
        lat: Type.Optional(Nullable(Type.Number({ minimum: -90, maximum: 90 }))),
        lon: Type.Optional(Nullable(Type.Number({ minimum: -180, maximum: 180 }))),
        address: Text(500),
      },
      { additionalProperties: false },
    ),
  ),
  onvifUrl: Type.Optional(Nullable(Uri)),
  endpointRef: Text(200),
  device: Type.Optional(
    Type.Object({ manufacturer: Text(100), model: Text(100), serial: Text(100), firmware: Text(100) }, { additionalProperties: false }),
  ),
  streams: Type.Optional(Type.Object({ main: Type.Optional(Nullable(StreamIn)), sub: Type.Optional(Nullable(StreamIn)) }, { additionalProperties: false })),
  snapshotUri: Type.Optional(Nullable(Uri)),
  capabilities: Type.Optional(Type.Object({ ptz: Type.Optional(Type.Boolean()), events: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
  tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 50 })),
  enabled: Type.Optional(Type.Boolean()),
  sharedUpward: Type.Optional(Type.Boolean()),
  credentials: Type.Optional(
    Nullable(
      Type.Object(
        { username: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ maxLength: 256 }) },
        { additionalProperties: false, description: 'write-only: never returned' },
      ),
    ),
  ),
}

export const CameraCreateBody = Type.Object(CameraFields, { additionalProperties: false })
export const CameraUpdateBody = Type.Partial(Type.Object(CameraFields), { additionalProperties: false, minProperties: 1 })

export const CameraListQuery = Type.Object(
  {
    unit: Type.Optional(Type.Integer({ minimum: 1, description: 'only this unit and its subtree' })),
    class: Type.Optional(CameraClassSchema),
    kind: Type.Optional(CameraKindSchema),
    status: Type.Optional(CameraStatusSchema),
    enabled: Type.Optional(Type.Boolean()),
    tag: Type.Optional(Type.String({ maxLength: 50 })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'text search in name, tags, serial and address' })),
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  },
  { additionalProperties: false },
)

export const listCamerasSchema = {
  tags: ['cameras'],
  summary: 'Cameras you may see, filtered, by pages',
  querystring: CameraListQuery,
  response: { 200: Type.Object({ items: Type.Array(CameraSchema), nextCursor: Nullable(Type.String()) }), ...problemResponses },
}
export const getCameraSchema = { tags: ['cameras'], params: IdParams, response: { 200: CameraSchema, ...problemResponses } }
export const createCameraSchema = { tags: ['cameras'], summary: 'Register a camera', body: CameraCreateBody, response: { 201: CameraSchema, ...problemResponses } }
export const updateCameraSchema = {
  tags: ['cameras'],
  summary: 'Change a camera; absent fields keep their value, null clears',
  params: IdParams,
  body: CameraUpdateBody,
  response: {
    200: Type.Object({
      ...CameraSchema.properties,
      credentialsDropped: Type.Optional(
        Type.Array(Type.String(), {
          description: 'URIs that moved to another host or port without credentials in this request: the stored credentials were dropped (they belong to the host they were entered for); enter them again',
        }),
      ),
    }),
    ...problemResponses,
  },
}
export const deleteCameraSchema = { tags: ['cameras'], params: IdParams, response: { 204: Type.Null(), ...problemResponses } }

const ImportReportSchema = Type.Object({
  dryRun: Type.Boolean(),
  rows: Type.Integer(),
  created: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  errors: Type.Array(Type.Object({ field: Type.String(), message: Type.String(), line: Type.Optional(Type.Integer()) })),
})

export const importCamerasSchema = {
  tags: ['cameras'],
  summary: 'Import cameras from CSV (text/csv body); all rows or none',
  description:
    'Columns: name, unit_code, class, kind (required) and lat, lon, address, onvif_url, manufacturer, model, serial, firmware, main_uri, main_codec, main_width, main_height, main_fps, sub_uri, sub_codec, sub_width, sub_height, sub_fps, snapshot_uri, ptz, events, tags (; separated), enabled, shared_upward, username, password. UTF-8 or GB18030. A bad row makes the whole import a 422 listing every bad row by line and column.',
  querystring: Type.Object({ dryRun: Type.Boolean({ default: false }) }, { additionalProperties: false }),
  response: { 200: ImportReportSchema, ...problemResponses },
}

export const exportCamerasSchema = {
  tags: ['cameras'],
  summary: 'Export cameras as CSV (no credentials)',
  querystring: Type.Object({ unit: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
  response: { 200: Type.String({ description: 'text/csv' }), ...problemResponses },
}
