import { Type } from 'typebox'
import { problemResponses, StringEnum } from '../../core/http/schemas.js'
import { PLAN_TYPES } from './image.js'

const UnitIdParams = Type.Object({ unitId: Type.Integer({ minimum: 1, description: 'the unit the plan belongs to' }) }, { additionalProperties: false })
const Lat = Type.Number({ minimum: -90, maximum: 90 })
const Lon = Type.Number({ minimum: -180, maximum: 180 })
const Point = Type.Object({ lat: Lat, lon: Lon })

/** The four corners as PUT's query string and PATCH's body name them; the same ranges for both. */
const CornersInput = Type.Object(
  {
    nwLat: Type.Number({ minimum: -90, maximum: 90, description: 'latitude of the top-left corner' }),
    nwLon: Type.Number({ minimum: -180, maximum: 180, description: 'longitude of the top-left corner' }),
    seLat: Type.Number({ minimum: -90, maximum: 90, description: 'latitude of the bottom-right corner' }),
    seLon: Type.Number({ minimum: -180, maximum: 180, description: 'longitude of the bottom-right corner' }),
  },
  { additionalProperties: false },
)

export const PlanSchema = Type.Object({
  unitId: Type.Integer(),
  contentType: StringEnum(PLAN_TYPES),
  width: Type.Integer({ description: 'pixels' }),
  height: Type.Integer({ description: 'pixels' }),
  size: Type.Integer({ description: 'bytes' }),
  sha256: Type.String(),
  corners: Type.Object({ nw: Point, se: Point }, { description: 'latitude/longitude of the image’s north-west (top-left) and south-east (bottom-right) corners' }),
  uploadedBy: Type.String(),
  updatedAt: Type.String(),
  imageUrl: Type.String({ description: 'the image; its query changes whenever the image does' }),
})

const withMedia = { ...problemResponses, 415: Type.Ref('Problem') }

export const listPlansSchema = {
  tags: ['plans'],
  summary: 'Map plans (site or district plan images) of your subtree',
  querystring: Type.Object({ unit: Type.Optional(Type.Integer({ minimum: 1, description: 'only plans of this unit and its subtree' })) }, { additionalProperties: false }),
  response: { 200: Type.Object({ items: Type.Array(PlanSchema) }), ...problemResponses },
}

export const getPlanSchema = {
  tags: ['plans'],
  summary: 'A unit’s map plan: image size and georeferenced corners',
  params: UnitIdParams,
  response: { 200: PlanSchema, ...problemResponses },
}

export const planImageSchema = {
  tags: ['plans'],
  summary: 'The plan image itself (PNG, JPEG or WebP), with an ETag; answers 304 to If-None-Match',
  params: UnitIdParams,
  querystring: Type.Object({ v: Type.Optional(Type.String({ maxLength: 64, description: 'cache buster, as in imageUrl' })) }, { additionalProperties: false }),
  response: {
    200: { description: 'the image', content: Object.fromEntries(PLAN_TYPES.map((type) => [type, { schema: Type.String({ format: 'binary' }) }])) },
    304: Type.Null({ description: 'not modified' }),
    ...problemResponses,
  },
}

export const putPlanSchema = {
  tags: ['plans'],
  summary: 'Upload or replace a unit’s map plan (admins and technicians of the unit or above)',
  description:
    'The body is the image (PNG, JPEG or WebP, recognised by its bytes; at most http.planBodyLimitBytes, 10 MB by default) sent with its ' +
    'image/* Content-Type; the query string gives the latitude and longitude of its north-west (top-left) and south-east (bottom-right) ' +
    'corners, north up. Another type is 415, a damaged image 422, too large 413, corners out of range or not north-west of south-east 400.',
  params: UnitIdParams,
  querystring: CornersInput,
  // Raw bytes: read and checked by the handler (size, magic bytes) after the scope and role checks.
  body: Type.Unsafe<unknown>({ description: 'the image bytes (image/png, image/jpeg or image/webp)' }),
  response: { 200: PlanSchema, 201: PlanSchema, ...withMedia },
}

export const deletePlanSchema = {
  tags: ['plans'],
  summary: 'Remove a unit’s map plan (admins and technicians of the unit or above)',
  params: UnitIdParams,
  response: { 204: Type.Null(), ...problemResponses },
}

export const patchPlanSchema = {
  tags: ['plans'],
  summary: 'Correct a unit’s plan corners without re-uploading the image (admins and technicians of the unit or above)',
  description:
    'The body is JSON with all four corners, as the upload’s query string names them; the image, its hash and imageUrl stay the same. ' +
    'Corners out of range or not north-west of south-east are 400 naming the field, no plan 404, a body that is not JSON 415.',
  params: UnitIdParams,
  body: CornersInput,
  response: { 200: PlanSchema, ...withMedia },
}
