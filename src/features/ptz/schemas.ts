import { Type } from 'typebox'
import { IdParams } from '../../core/http/schemas.js'
import { cameraProblems } from '../discovery/index.js'

const Speed = Type.Number({ minimum: -1, maximum: 1 })
const Ok = Type.Object({ ok: Type.Boolean() })

export const moveSchema = {
  tags: ['ptz'],
  summary: 'Continuous move (velocities -1..1) for timeoutMs (default 60000): the camera is asked to stop then, and the gateway sends Stop itself',
  params: IdParams,
  body: Type.Object({ pan: Type.Optional(Speed), tilt: Type.Optional(Speed), zoom: Type.Optional(Speed), timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000 })) }, { additionalProperties: false }),
  response: { 200: Ok, ...cameraProblems },
}
export const stopSchema = { tags: ['ptz'], summary: 'Stop pan, tilt and zoom', params: IdParams, response: { 200: Ok, ...cameraProblems } }
export const zoomSchema = {
  tags: ['ptz'],
  summary: 'Relative zoom (-1..1)',
  params: IdParams,
  body: Type.Object({ delta: Speed }, { additionalProperties: false }),
  response: { 200: Ok, ...cameraProblems },
}
const Preset = Type.Object({ token: Type.String(), name: Type.String() })
export const presetsSchema = { tags: ['ptz'], summary: 'Presets of the camera', params: IdParams, response: { 200: Type.Object({ items: Type.Array(Preset) }), ...cameraProblems } }
export const gotoSchema = {
  tags: ['ptz'],
  summary: 'Go to a preset',
  params: Type.Object({ id: Type.Integer({ minimum: 1 }), token: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  response: { 200: Ok, ...cameraProblems },
}
export const setPresetSchema = {
  tags: ['ptz'],
  summary: 'Save the current position as a preset (technician/admin; audited)',
  params: IdParams,
  body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  response: { 201: Type.Object({ token: Type.String() }), ...cameraProblems },
}
