import { Type } from 'typebox'
import { IdParams, problemResponses, StringEnum } from '../../core/http/schemas.js'

export const StreamQuery = Type.Object(
  { stream: Type.Optional(StringEnum(['main', 'sub'] as const, { description: 'main (default) or sub stream; walls of 16 use sub' })) },
  { additionalProperties: false },
)

const tags = ['live video']

export const whepOfferSchema = {
  tags,
  summary: 'WHEP: start watching a camera (SDP offer in, SDP answer out)',
  description:
    'Body: the SDP offer (Content-Type: application/sdp), recvonly video, non-trickle. 201 with the answer, ' +
    '`Location` of the session (DELETE it to stop) and `X-Gateway-Video`: passthrough-h264 | passthrough-h265 | h264-substream | transcoded-h264.',
  params: IdParams,
  querystring: StreamQuery,
  response: { 201: { description: 'SDP answer', content: { 'application/sdp': { schema: Type.String() } } }, ...problemResponses, 502: Type.Ref('Problem') },
}

export const whepDeleteSchema = {
  tags,
  summary: 'WHEP: stop a session',
  params: Type.Object({ sid: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
  response: { 204: Type.Null(), ...problemResponses },
}

export const whepPatchSchema = {
  tags,
  summary: 'WHEP: trickle ICE candidates (application/trickle-ice-sdpfrag); ICE restart is not supported (422)',
  params: Type.Object({ sid: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
  response: { 204: Type.Null(), ...problemResponses },
}

export const snapshotSchema = {
  tags,
  summary: 'A JPEG of the camera now (its ONVIF snapshot URI, or a keyframe of the live stream)',
  description:
    'A snapshot URI is fetched within media.snapshotTimeoutSeconds (504 snapshot_timeout) and media.snapshotMaxBytes (502 snapshot_too_large); its type is read from its bytes (JPEG or PNG, else 502 snapshot_not_image); redirects are not followed (502 snapshot_redirect); an address cameras.allowedCidrs refuses is 409 address_not_allowed.',
  params: IdParams,
  querystring: StreamQuery,
  response: { 200: { description: 'JPEG or PNG', content: { 'image/jpeg': { schema: Type.String({ format: 'binary' }) }, 'image/png': { schema: Type.String({ format: 'binary' }) } } }, ...problemResponses, 502: Type.Ref('Problem'), 504: Type.Ref('Problem') },
}

export const pinSchema = {
  tags,
  summary: 'Pin (preload) a camera stream so it never stops, or unpin it',
  params: IdParams,
  querystring: StreamQuery,
  response: { 204: Type.Null(), ...problemResponses },
}

export const LiveStreamSchema = Type.Object({
  key: Type.String(),
  cameraId: Type.Integer(),
  stream: Type.String(),
  state: Type.String(),
  viewers: Type.Integer(),
  pinned: Type.Boolean(),
  frames: Type.Integer(),
  restarts: Type.Integer(),
  codec: Type.Union([Type.String(), Type.Null()]),
  width: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.String(),
})

export const listStreamsSchema = {
  tags,
  summary: 'Live upstreams held by the gateway for the cameras you can see, and their WHEP session count (admins)',
  response: { 200: Type.Object({ items: Type.Array(LiveStreamSchema), sessions: Type.Integer() }), ...problemResponses },
}
