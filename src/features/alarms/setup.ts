import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { GatewayConfig } from '../../core/config.js'
import type { Db } from '../../core/db.js'
import type { EventBus } from '../../core/events.js'
import { systemPrincipal, type Principal } from '../../core/scope.js'
import { imageTypeOf, type ConnectGuard } from '../../lib/net/index.js'
import type { AuditLog } from '../audit/index.js'
import type { AuthService } from '../auth/index.js'
import { CasesService, SafetyIndex, type SnapshotSource } from '../cases/index.js'
import type { EventStreamService } from '../events/index.js'
import type { OrgService } from '../org/index.js'
import type { RegistryService } from '../registry/index.js'
import { AlarmIngest } from './ingest.js'
import { OfflineWatcher } from './offline.js'
import { PullPointSupervisor } from './pullpoint.js'
import { NotifyEndpoint } from './push.js'
import { AlarmsService } from './service.js'
import { AlarmStore } from './store.js'

/** Adapts the media feature's snapshot (JPEG of a keyframe or the camera's snapshot URI) to SnapshotSource. */
export function snapshotSourceFrom(media: { snapshot(principal: Principal, cameraId: number, stream: 'main' | 'sub', client: string | null): Promise<Buffer> }): SnapshotSource {
  const actor = systemPrincipal('alarms')
  return {
    snapshot: async (cameraId) => {
      const data = await media.snapshot(actor, cameraId, 'main', null)
      return { contentType: imageTypeOf(data) ?? 'image/jpeg', data }
    },
  }
}

export interface AlarmsAndCases {
  cases: CasesService
  alarms: AlarmsService
  ingest: AlarmIngest
  safetyIndex: SafetyIndex
  offline: OfflineWatcher
  /** null unless config alarms.pullPoint is on */
  pullPoint: PullPointSupervisor | null
  /** tokens of the push (WS-BaseNotification) subscriptions; served by notifyRoutes */
  notify: NotifyEndpoint
}

/**
 * Builds the cases and alarms features and their timers (overdue sweep, stream pruning), and hooks
 * their shutdown on the app: queued alarms are written before the database closes.
 */
export function createAlarmsAndCases(deps: {
  app: FastifyInstance
  db: Db
  bus: EventBus
  org: OrgService
  auth: AuthService
  registry: RegistryService
  audit: AuditLog
  stream: EventStreamService
  config: GatewayConfig
  metrics?: Registry
  snapshots?: SnapshotSource | null
  /** the camera address policy, for event subscriptions */
  connectGuard?: ConnectGuard
}): AlarmsAndCases {
  const { app, db, bus, org, config } = deps
  const log: FastifyBaseLogger = app.log
  const cases = new CasesService({ db, org, auth: deps.auth, registry: deps.registry, audit: deps.audit, bus, stream: deps.stream, settings: config.cases, snapshots: deps.snapshots ?? null })
  const store = new AlarmStore(db, deps.registry)
  const ingest = new AlarmIngest({ db, store, cases, org, stream: deps.stream, bus, settings: config.alarms, metrics: deps.metrics })
  const alarms = new AlarmsService({ db, store, ingest, org, audit: deps.audit, cases, bus, pageSizeMax: config.cases.pageSizeMax })
  const offline = new OfflineWatcher({ bus, ingest, cases, store, delaySeconds: config.alarms.offlineCaseAfterSeconds, log: (err) => log.error({ err }, 'camera_offline case failed') })
  const safetyIndex = new SafetyIndex({ cases, org, settings: config.safetyIndex })

  const sweep = setInterval(() => {
    try {
      cases.sweepOverdue()
    } catch (err) {
      log.error({ err }, 'overdue sweep failed')
    }
  }, config.cases.overdueSweepSeconds * 1000)
  sweep.unref()
  const prune = setInterval(() => {
    try {
      deps.stream.prune(config.events.retentionDays, config.events.maxRows)
    } catch (err) {
      log.error({ err }, 'event stream pruning failed')
    }
  }, config.events.pruneIntervalSeconds * 1000)
  prune.unref()

  const notify = new NotifyEndpoint({ baseUrl: config.alarms.notifyBaseUrl })
  const pullPoint = config.alarms.pullPoint
    ? new PullPointSupervisor({ registry: deps.registry, ingest, bus, log, notify, settings: { terminationSeconds: config.alarms.pullPointTerminationSeconds, ...(deps.connectGuard ? { connectGuard: deps.connectGuard } : {}) } })
    : null
  // after start-up (demo cameras, first-run seeding), not during it
  if (pullPoint) app.addHook('onReady', async () => pullPoint.start())
  app.addHook('onReady', async () => offline.start(deps.registry))

  app.addHook('preClose', async () => {
    await pullPoint?.close()
    clearInterval(sweep)
    clearInterval(prune)
    offline.close()
    ingest.close()
    await Promise.race([cases.settle(), new Promise((r) => setTimeout(r, 2000).unref())])
    deps.stream.close()
  })
  return { cases, alarms, ingest, safetyIndex, offline, pullPoint, notify }
}
