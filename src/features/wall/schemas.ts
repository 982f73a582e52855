import { Type } from 'typebox'
import { IdParams, problemResponses } from '../../core/http/schemas.js'

const CameraId = Type.Integer({ minimum: 1 })
const WallSizeSchema = Type.Union([Type.Literal(1), Type.Literal(4), Type.Literal(9), Type.Literal(16)])

export const WallLayoutSchema = Type.Object({
  size: WallSizeSchema,
  tiles: Type.Array(Type.Union([CameraId, Type.Null()]), { maxItems: 16, description: 'one camera id (or null) per tile, row by row' }),
  updatedAt: Type.Union([Type.String(), Type.Null()], { description: 'null until the user first saves a wall' }),
})

export const TourSchema = Type.Object({
  id: Type.Integer(),
  unitId: Type.Integer(),
  name: Type.String(),
  intervalSeconds: Type.Integer(),
  cameraIds: Type.Array(Type.Integer(), { description: 'in patrol order; cameras the reader cannot see are left out' }),
  createdBy: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

const TourName = Type.String({ minLength: 1, maxLength: 100 })
const Interval = Type.Integer({ minimum: 3, maximum: 3600, description: 'seconds each step stays on the wall' })
const TourCameras = Type.Array(CameraId, { minItems: 1, maxItems: 256, uniqueItems: true })

export const getLayoutSchema = {
  tags: ['wall'],
  summary: 'Your saved video wall (a wall of 4 with empty tiles until you save one)',
  response: { 200: WallLayoutSchema, ...problemResponses },
}

export const putLayoutSchema = {
  tags: ['wall'],
  summary: 'Save your video wall: its size and the camera in each tile',
  body: Type.Object(
    { size: WallSizeSchema, tiles: Type.Array(Type.Union([CameraId, Type.Null()]), { maxItems: 16 }) },
    { additionalProperties: false },
  ),
  response: { 200: WallLayoutSchema, ...problemResponses },
}

export const listToursSchema = {
  tags: ['wall'],
  summary: 'Patrol tours (轮巡) of your subtree',
  querystring: Type.Object({ unit: Type.Optional(Type.Integer({ minimum: 1, description: 'only tours of this unit and its subtree' })) }, { additionalProperties: false }),
  response: { 200: Type.Object({ items: Type.Array(TourSchema) }), ...problemResponses },
}

export const getTourSchema = { tags: ['wall'], params: IdParams, response: { 200: TourSchema, ...problemResponses } }

export const createTourSchema = {
  tags: ['wall'],
  summary: 'Create a patrol tour from cameras you can see (owned by your unit unless unitId names one in your subtree)',
  body: Type.Object(
    { unitId: Type.Optional(Type.Integer({ minimum: 1 })), name: TourName, intervalSeconds: Type.Optional(Interval), cameraIds: TourCameras },
    { additionalProperties: false },
  ),
  response: { 201: TourSchema, ...problemResponses },
}

export const updateTourSchema = {
  tags: ['wall'],
  summary: 'Rename a tour, change its interval, cameras or owning unit',
  params: IdParams,
  body: Type.Object(
    { unitId: Type.Optional(Type.Integer({ minimum: 1 })), name: Type.Optional(TourName), intervalSeconds: Type.Optional(Interval), cameraIds: Type.Optional(TourCameras) },
    { additionalProperties: false, minProperties: 1 },
  ),
  response: { 200: TourSchema, ...problemResponses },
}

export const deleteTourSchema = { tags: ['wall'], params: IdParams, response: { 204: Type.Null(), ...problemResponses } }
