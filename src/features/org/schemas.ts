import { Type } from 'typebox'
import { IdParams, problemResponses, StringEnum } from '../../core/http/schemas.js'
import { TIERS } from '../../core/scope.js'

export const TierSchema = StringEnum(TIERS)
const Lat = Type.Union([Type.Number({ minimum: -90, maximum: 90 }), Type.Null()])
const Lon = Type.Union([Type.Number({ minimum: -180, maximum: 180 }), Type.Null()])
const Code = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'stable short code, used by CSV import (e.g. JD01-PCS2-SQ05)' })
const Name = Type.String({ minLength: 1, maxLength: 200 })

export const UnitSchema = Type.Object({
  id: Type.Integer(),
  parentId: Type.Union([Type.Integer(), Type.Null()]),
  tier: TierSchema,
  code: Type.String(),
  name: Type.String(),
  path: Type.String(),
  address: Type.Union([Type.String(), Type.Null()]),
  lat: Type.Union([Type.Number(), Type.Null()]),
  lon: Type.Union([Type.Number(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

export const listUnitsSchema = {
  tags: ['org'],
  summary: 'Units of your subtree, in tree order',
  querystring: Type.Object(
    {
      tier: Type.Optional(TierSchema),
      parent: Type.Optional(Type.Integer({ minimum: 1 })),
      under: Type.Optional(Type.Integer({ minimum: 1, description: 'only this unit and its subtree' })),
    },
    { additionalProperties: false },
  ),
  response: { 200: Type.Object({ items: Type.Array(UnitSchema) }), ...problemResponses },
}

export const createUnitSchema = {
  tags: ['org'],
  summary: 'Create a unit under a parent of the tier directly above',
  body: Type.Object(
    {
      parentId: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
      tier: TierSchema,
      code: Code,
      name: Name,
      address: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
      lat: Type.Optional(Lat),
      lon: Type.Optional(Lon),
    },
    { additionalProperties: false },
  ),
  response: { 201: UnitSchema, ...problemResponses },
}

export const getUnitSchema = {
  tags: ['org'],
  params: IdParams,
  response: { 200: UnitSchema, ...problemResponses },
}

export const updateUnitSchema = {
  tags: ['org'],
  summary: 'Rename, re-code or move a unit (a move keeps the tier rule)',
  params: IdParams,
  body: Type.Object(
    {
      parentId: Type.Optional(Type.Integer({ minimum: 1 })),
      code: Type.Optional(Code),
      name: Type.Optional(Name),
      address: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
      lat: Type.Optional(Lat),
      lon: Type.Optional(Lon),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
  response: { 200: UnitSchema, ...problemResponses },
}

export const deleteUnitSchema = {
  tags: ['org'],
  summary: 'Delete an empty unit; 409 names what is still in it',
  params: IdParams,
  response: { 204: Type.Null(), ...problemResponses },
}
