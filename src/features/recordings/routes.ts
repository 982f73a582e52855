import { createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ValidationError } from '../../core/errors.js'
import { principalOf, type Guard } from '../../core/http/guard.js'
import type { Readable } from 'node:stream'
import { bodyToFile, type ExportService } from './exports.js'
import type { RecordingService } from './service.js'
import * as S from './schemas.js'

/**
 * Sends a file with HTTP Range support (one range; 206 / 416). The path was resolved by the
 * service from an id; nothing from the request reaches it.
 */
export function sendFile(request: FastifyRequest, reply: FastifyReply, path: string, size: number, type: string, filename?: string): FastifyReply {
  reply.header('accept-ranges', 'bytes').header('content-type', type).header('cache-control', 'private, no-store')
  if (filename) reply.header('content-disposition', `attachment; filename="${filename}"`)
  const range = request.headers.range
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim())
    let start = NaN
    let end = NaN
    if (m && (m[1] || m[2])) {
      if (m[1]) {
        start = Number(m[1])
        end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1
      } else {
        start = Math.max(0, size - Number(m[2]))
        end = size - 1
      }
    }
    if (!m || !(start <= end) || start >= size) {
      return reply.status(416).header('content-range', `bytes */${size}`).send()
    }
    reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`).header('content-length', end - start + 1)
    return reply.send(createReadStream(path, { start, end }))
  }
  reply.header('content-length', size)
  return reply.send(size === 0 ? '' : createReadStream(path))
}

const cameraIds = (q: string | string[]): number[] => [...new Set((Array.isArray(q) ? q : [q]).flatMap((s) => s.split(',')).map(Number))]

export function recordingRoutes(deps: { recordings: RecordingService; exports: ExportService; guard: Guard }): FastifyPluginAsync {
  const { recordings, exports, guard } = deps
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    // --- settings on the camera resource --------------------------------------------------------
    r.get('/cameras/:id/recording', { schema: S.getSettingsSchema, preHandler: guard() }, async (req) => recordings.getSettings(principalOf(req), req.params.id))
    r.put('/cameras/:id/recording', { schema: S.putSettingsSchema, preHandler: guard('admin', 'technician') }, async (req) => recordings.putSettings(principalOf(req), req.params.id, req.body, req.ip))

    // --- search and playback -------------------------------------------------------------------------
    r.get('/recordings', { schema: S.timelineSchema, preHandler: guard() }, async (req) => recordings.timeline(principalOf(req), cameraIds(req.query.camera), req.query.from, req.query.to))
    r.get('/recordings/:camera/playlist.m3u8', { schema: S.playlistSchema, preHandler: guard() }, async (req, reply) =>
      reply.header('content-type', 'application/vnd.apple.mpegurl').header('cache-control', 'private, no-store').send(recordings.playlist(principalOf(req), req.params.camera, req.query.from, req.query.to, req.ip)),
    )
    r.get('/recordings/segments/:id', { schema: S.segmentSchema, preHandler: guard() }, async (req, reply) => {
      const seg = await recordings.openSegment(principalOf(req), req.params.id)
      return sendFile(req, reply, seg.path, seg.size, 'video/mp4')
    })

    // --- evidence locks and retention ----------------------------------------------------------------
    r.get('/recordings/locks', { schema: S.locksSchema, preHandler: guard() }, async (req) => ({ items: recordings.locks(principalOf(req), req.query.camera) }))
    r.post('/recordings/locks', { schema: S.lockSchema, preHandler: guard('admin', 'researcher') }, async (req, reply) => reply.status(201).send({ id: recordings.lock(principalOf(req), req.body, req.ip) }))
    r.delete('/recordings/locks/:id', { schema: S.unlockSchema, preHandler: guard('admin', 'researcher') }, async (req, reply) => {
      recordings.unlock(principalOf(req), req.params.id, req.ip)
      return reply.status(204).send(null)
    })
    r.get('/recordings/retention', { schema: S.retentionGetSchema, preHandler: guard('admin', 'technician') }, async () => recordings.retentionRules())
    r.put('/recordings/retention', { schema: S.retentionPutSchema, preHandler: guard('admin') }, async (req) => {
      recordings.putRetention(principalOf(req), req.body.kind, req.body.key, req.body.days, req.ip)
      void recordings.guard()
      return recordings.retentionRules()
    })
    r.get('/recordings/status', { schema: S.statusSchema, preHandler: guard('admin', 'technician') }, async (req) => ({
      storageFull: recordings.storageFull,
      usedBytes: recordings.store.totalBytes(),
      counters: recordings.counters,
      recorders: recordings.recorderStates(principalOf(req)),
    }))

    // --- exports ---------------------------------------------------------------------------------------
    r.get('/exports/public-key', { schema: S.publicKeySchema }, async (_req, reply) =>
      reply.header('content-type', 'application/x-pem-file').header('x-key-fingerprint-sha256', exports.fingerprint).send(exports.publicKeyPem),
    )
    // Evidence is pulled by researchers (视侦), for a case and with a reason, or by admins; patrol
    // staff watch live and open cases, they do not take footage away (the web app never offered it)
    r.post('/exports', { schema: S.createExportSchema, preHandler: guard('admin', 'researcher') }, async (req, reply) => reply.status(202).send(exports.create(principalOf(req), req.body, req.ip)))
    r.get('/exports/:id', { schema: S.getExportSchema, preHandler: guard() }, async (req) => exports.get(principalOf(req), req.params.id))
    r.get('/exports/:id/download', { schema: S.downloadExportSchema, preHandler: guard() }, async (req, reply) => {
      const f = await exports.file(principalOf(req), req.params.id, req.ip)
      return sendFile(req, reply, f.path, f.size, 'application/zip', f.name)
    })

    // an uploaded zip streams to a temporary file (never held in memory)
    const passThrough = (_req: FastifyRequest, payload: unknown, done: (err: Error | null, body?: unknown) => void) => done(null, { upload: payload })
    app.addContentTypeParser('application/zip', passThrough)
    app.addContentTypeParser('application/octet-stream', passThrough)
    r.post('/exports/verify', { schema: S.verifySchema, preHandler: guard() }, async (req) => {
      const body = req.body as { upload?: Readable; exportId?: unknown } | undefined
      if (body && body.upload) {
        const dir = await mkdtemp(join(tmpdir(), 'gw-verify-'))
        try {
          const file = join(dir, 'upload.zip')
          await bodyToFile(body.upload, file, recordings.settings.verifyUploadMaxBytes)
          return await exports.verifyFile(file)
        } finally {
          await rm(dir, { recursive: true, force: true })
        }
      }
      const id = body?.exportId
      if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) throw ValidationError.field('body.exportId', 'upload the zip (Content-Type: application/zip) or give an export id')
      return exports.verifyById(principalOf(req), id)
    })
  }
}
