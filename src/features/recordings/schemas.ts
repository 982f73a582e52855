import { Type } from 'typebox'
import { IdParams, problemResponses, StringEnum, Timestamp } from '../../core/http/schemas.js'

const tags = ['recordings']
const exportTags = ['exports']

const CameraList = Type.String({ pattern: '^[1-9][0-9]{0,9}(,[1-9][0-9]{0,9}){0,31}$', description: 'camera id, or several separated by commas' })
const Range = { from: Timestamp, to: Timestamp }

export const SettingsBody = Type.Object(
  {
    mode: StringEnum(['continuous', 'on_alarm', 'off'] as const),
    stream: Type.Optional(StringEnum(['main', 'sub'] as const)),
    preSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300, description: 'on_alarm: seconds kept in memory before the alarm' })),
    postSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'on_alarm: seconds recorded after the last alarm' })),
  },
  { additionalProperties: false },
)

export const getSettingsSchema = { tags, summary: "A camera's recording mode and recorder state", params: IdParams, response: { ...problemResponses } }
export const putSettingsSchema = { tags, summary: "Sets a camera's recording mode (technician, admin)", params: IdParams, body: SettingsBody, response: { ...problemResponses } }

export const timelineSchema = {
  tags,
  summary: 'Footage of one or several cameras in a time range: segments and gaps',
  querystring: Type.Object({ camera: Type.Union([CameraList, Type.Array(CameraList, { maxItems: 32 })]), ...Range }, { additionalProperties: false }),
  response: { ...problemResponses },
}

export const playlistSchema = {
  tags,
  summary: 'HLS playlist (v7, fMP4) of a camera in a time range, seekable by wall clock (EXT-X-PROGRAM-DATE-TIME); playback is audited',
  params: Type.Object({ camera: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  querystring: Type.Object(Range, { additionalProperties: false }),
  response: { ...problemResponses },
}

export const segmentSchema = { tags, summary: 'A segment file by id (fragmented MP4; HTTP Range)', params: IdParams, response: { ...problemResponses } }

export const locksSchema = { tags, summary: 'Active evidence locks in your subtree', querystring: Type.Object({ camera: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }), response: { ...problemResponses } }
export const lockSchema = {
  tags,
  summary: 'Locks footage from retention (evidence); audited',
  body: Type.Object({ cameraId: Type.Integer({ minimum: 1 }), ...Range, reason: Type.String({ minLength: 1, maxLength: 500 }), caseId: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
  response: { 201: Type.Object({ id: Type.Integer() }), ...problemResponses },
}
export const unlockSchema = { tags, summary: 'Releases a manual lock (case locks end with the case); audited', params: IdParams, response: { 204: Type.Null(), ...problemResponses } }

export const retentionGetSchema = { tags, summary: 'Retention: default days and the rules per unit and camera class', response: { ...problemResponses } }
export const retentionPutSchema = {
  tags,
  summary: 'Sets (or with days null removes) a retention rule for a unit subtree or a camera class (admin)',
  body: Type.Object({ kind: StringEnum(['unit', 'class'] as const), key: Type.Integer({ minimum: 1 }), days: Type.Union([Type.Number({ minimum: 0.0001, maximum: 36500 }), Type.Null()]) }, { additionalProperties: false }),
  response: { ...problemResponses },
}
export const statusSchema = { tags, summary: 'Recorders, storage and counters (admin, technician)', response: { ...problemResponses } }

const ExportId = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })

export const createExportSchema = {
  tags: exportTags,
  summary: 'Starts an evidence export job (researchers, who must give caseId and reason, and admins; not patrol)',
  body: Type.Object(
    {
      cameraIds: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 16 }),
      ...Range,
      caseId: Type.Optional(Type.Integer({ minimum: 1 })),
      reason: Type.Optional(Type.String({ maxLength: 1000 })),
      frameExact: Type.Optional(Type.Boolean({ description: 're-encode (libx264) for a frame-exact cut; default stream copy cut at keyframes' })),
    },
    { additionalProperties: false },
  ),
  response: { 202: Type.Object({}, { additionalProperties: true, description: 'the export job' }), ...problemResponses },
}
export const getExportSchema = { tags: exportTags, summary: 'An export job: state and progress (percent)', params: ExportId, response: { ...problemResponses } }
export const downloadExportSchema = { tags: exportTags, summary: 'The export zip (HTTP Range); audited', params: ExportId, response: { ...problemResponses } }
export const publicKeySchema = { tags: exportTags, summary: "The gateway's Ed25519 evidence public key (PEM) that export manifests are signed with", security: [] }
export const verifySchema = {
  tags: exportTags,
  summary: 'Verifies an export: upload the zip (Content-Type: application/zip) or send {"exportId": "..."}; names every file that does not match',
  response: { ...problemResponses },
}
