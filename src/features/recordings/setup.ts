import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { GatewayConfig } from '../../core/config.js'
import type { Db } from '../../core/db.js'
import type { EventBus } from '../../core/events.js'
import type { Guard } from '../../core/http/guard.js'
import { SYSTEM_SCOPE } from '../../core/scope.js'
import type { AuditLog } from '../audit/index.js'
import type { StreamPublisher } from '../events/index.js'
import type { OrgService } from '../org/index.js'
import type { RegistryService } from '../registry/index.js'
import { ExportService, type CaseLink } from './exports.js'
import { recordingRoutes } from './routes.js'
import { RecordingService, type CaseLookup, type UpstreamSource } from './service.js'
import { loadEvidenceKey } from './signing.js'

/** The alarms feature's ingest, as far as the storage alarm needs it. */
interface AlarmSubmit {
  submit(alarm: {
    kind: 'other'
    origin: 'health'
    source: null
    camera: { id: number; name: string; unitId: number } | null
    unit: NonNullable<ReturnType<OrgService['getUnscoped']>>
    occurredAt: string
    description?: string | null
    topic?: string | null
  }): Promise<unknown>
}

/**
 * Wires recording and export into the gateway: services, the evidence key, the storage alarm
 * (raised through the alarms feature's ingest as kind `other`, topic `storage`, plus a
 * `recording.storage` bus event and an error log line), start-up recovery and shutdown.
 */
export async function createRecordings(deps: {
  app: FastifyInstance
  db: Db
  bus: EventBus
  config: GatewayConfig
  env: NodeJS.ProcessEnv
  registry: RegistryService
  org: OrgService
  audit: AuditLog
  media: UpstreamSource
  stream: StreamPublisher
  cases: (CaseLookup & CaseLink) | null
  ingest: AlarmSubmit | null
  guard: Guard
  version: string
}): Promise<{ recordings: RecordingService; exports: ExportService; routes: FastifyPluginAsync }> {
  const { app, config } = deps
  const key = loadEvidenceKey(config.dataDir, deps.env, (m) => app.log.warn(m))
  const recordings = new RecordingService({
    db: deps.db,
    registry: deps.registry,
    org: deps.org,
    audit: deps.audit,
    upstream: deps.media,
    bus: deps.bus,
    settings: config.recordings,
    ffmpegPath: config.media.ffmpegPath,
    dataDir: config.dataDir,
    log: app.log,
    cases: deps.cases,
    storageAlarm: deps.ingest
      ? async ({ message, cameraId, unitId }) => {
          const unit = unitId !== null ? deps.org.getUnscoped(unitId) : deps.org.list(SYSTEM_SCOPE).find((u) => u.parentId === null)
          if (!unit) return
          let camera: { id: number; name: string; unitId: number } | null = null
          if (cameraId !== null) {
            try {
              const c = deps.registry.getForUse(SYSTEM_SCOPE, cameraId).camera
              camera = { id: c.id, name: c.name, unitId: c.unitId }
            } catch {
              camera = null
            }
          }
          await deps.ingest!.submit({ kind: 'other', origin: 'health', source: null, camera, unit, occurredAt: new Date().toISOString(), description: message, topic: 'storage' })
        }
      : null,
  })
  const exports = new ExportService({ recordings, registry: deps.registry, org: deps.org, audit: deps.audit, stream: deps.stream, key, version: deps.version, ffmpegPath: config.media.ffmpegPath, cases: deps.cases })
  exports.start()
  const sweep = setInterval(() => void exports.sweep().catch(() => undefined), 3_600_000)
  sweep.unref()
  // preClose: segments are finished and indexed while the database is still open
  app.addHook('preClose', async () => {
    clearInterval(sweep)
    await exports.close()
    await recordings.close()
  })
  await recordings.start()
  return { recordings, exports, routes: recordingRoutes({ recordings, exports, guard: deps.guard }) }
}
