import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { GatewayConfig } from './core/config.js'
import { SecretBox } from './core/crypto.js'
import { migrate, openDatabase, type Db, type Migration } from './core/db.js'
import { WalCheckpointer } from './core/wal-checkpointer.js'
import { EventBus } from './core/events.js'
import { installProblemHandlers } from './core/http/problem.js'
import { installValidators } from './core/http/validation.js'
import { createMetrics } from './core/metrics.js'
import { projectRoot } from './core/paths.js'
import { redact, redactRequestUrl } from './core/redact.js'
import { loadSymmetricKey } from './core/secrets.js'
import { AuditLog, anchorPathFor, auditLogIsSealed, auditMigrations, auditRoutes } from './features/audit/index.js'
import { AuthService, authMigrations, authRoutes, createGuard, createSessionWatch } from './features/auth/index.js'
import { seedDemo, type DemoSummary } from './features/demo/index.js'
import { opsRoutes } from './features/ops/index.js'
import { OrgService, orgMigrations, orgRoutes } from './features/org/index.js'
import { cameraAddressPolicy, ownListeners, RegistryService, registryMigrations, registryRoutes } from './features/registry/index.js'
import { MediaService, mediaRoutes } from './features/media/index.js'
import { WallService, wallMigrations, wallRoutes } from './features/wall/index.js'
import { PlanService, planRoutes, plansMigrations } from './features/plans/index.js'
import { webRoutes } from './features/web/index.js'
import { HealthService, healthMigrations, healthRoutes, liveStateFrom } from './features/health/index.js'
import { EventStreamService, eventRoutes, eventsMigrations } from './features/events/index.js'
import { caseRoutes, casesMigrations, type CasesService } from './features/cases/index.js'
import { alarmRoutes, alarmsMigrations, createAlarmsAndCases, notifyRoutes, snapshotSourceFrom, type AlarmIngest, type AlarmsService } from './features/alarms/index.js'
import { DiscoveryService, discoveryMigrations, discoveryRoutes } from './features/discovery/index.js'
import { PtzService, ptzRoutes } from './features/ptz/index.js'
import { createRecordings, recordingsMigrations, type ExportService, type RecordingService } from './features/recordings/index.js'
import { Gb28181Service, gb28181Migrations, gb28181Routes } from './features/gb28181/index.js'

export const VERSION: string = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version

/** Schema changes in dependency order: a feature's tables may reference only those before it. */
const MIGRATIONS: Migration[][] = [auditMigrations, orgMigrations, authMigrations, registryMigrations, wallMigrations, plansMigrations, eventsMigrations, casesMigrations, alarmsMigrations, healthMigrations, discoveryMigrations, recordingsMigrations, gb28181Migrations]

export interface GatewayServices {
  db: Db
  bus: EventBus
  audit: AuditLog
  org: OrgService
  auth: AuthService
  registry: RegistryService
  media: MediaService
  stream: EventStreamService
  plans: PlanService
  cases: CasesService
  alarms: AlarmsService
  ingest: AlarmIngest
  discovery: DiscoveryService
  health: HealthService
  recordings: RecordingService
  evidence: ExportService
  gb28181: Gb28181Service
}

export interface Gateway {
  app: FastifyInstance
  services: GatewayServices
  config: GatewayConfig
  /** set on first run; with a generated password, `passwordFile` holds it (0600): say where, never print it */
  firstAdmin: { username: string; password: string | null; passwordFile: string | null } | null
  demo: DemoSummary | null
  close(): Promise<void>
}

export interface BuildOptions {
  env?: NodeJS.ProcessEnv
  logger?: FastifyServerOptions['logger']
}

/** The production logger settings (redaction, serializers); tests add a `stream` to capture lines. */
export function loggerOptions(config: GatewayConfig): FastifyServerOptions['logger'] {
  return {
    level: config.log.level,
    // Credentials must never reach a log line: headers, bodies and any URL carrying user:pass@.
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.credentials', 'password', 'credentials', 'token'],
      censor: '***',
    },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({ method: req.method, url: redactRequestUrl(req.url), remoteAddress: req.ip }),
      // Callers sometimes log a message string or a non-Error under `err`: never let the serializer throw.
      err: ((err: unknown) =>
        err instanceof Error
          ? { type: err.name, message: redact(err.message), stack: err.stack ? redact(err.stack) : '' }
          : { type: typeof err, message: redact(typeof err === 'string' ? err : JSON.stringify(err) ?? String(err)) }) as never,
    },
  }
}

export async function buildGateway(config: GatewayConfig, options: BuildOptions = {}): Promise<Gateway> {
  const env = options.env ?? process.env
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    genReqId: () => crypto.randomUUID(),
  })
  const warn = (message: string) => app.log.warn(message)

  // --- infrastructure ----------------------------------------------------------------------
  const dbFile = join(config.dataDir, 'gateway.db')
  const db = openDatabase(dbFile)
  let shuttingDown = false
  let checkpointer: WalCheckpointer | undefined
  app.addHook('onClose', async () => {
    shuttingDown = true
    await checkpointer?.close()
    db.close()
  })
  migrate(db, MIGRATIONS.flat())
  const box = new SecretBox(loadSymmetricKey(config.dataDir, 'credential', 'GW_CREDENTIAL_KEY', env, warn))
  const sessionKey = loadSymmetricKey(config.dataDir, 'session', 'GW_SESSION_KEY', env, warn)
  // A new key for a sealed log would fail every keyed row: a lost key stops the start instead.
  const auditKey = loadSymmetricKey(config.dataDir, 'audit', 'GW_AUDIT_KEY', env, warn, { mustExist: auditLogIsSealed(db) ? 'the audit log is sealed with it: restore the key from backup' : undefined })
  // WAL checkpoints (a copy into the database file and its fsync) run in a worker thread, not in
  // a commit on this one (issue 26: 0.4–0.9 s event-loop stalls with footage on the same disk).
  checkpointer = WalCheckpointer.start(db, dbFile, { onError: (err) => app.log.error({ err }, 'WAL checkpointer failed: the main connection checkpoints again') })
  const bus = new EventBus()
  bus.onError((err) => app.log.error({ err }, 'event subscriber failed'))
  app.addHook('onClose', async () => bus.close())
  const metrics = createMetrics(config.metrics)

  // --- features, in dependency order ---------------------------------------------------------
  const audit = new AuditLog(db, bus, { anchorPath: anchorPathFor(config.dataDir), key: auditKey, ...config.audit, log: app.log.child({ feature: 'audit' }) })
  // onClose hooks run last-registered first: this one runs after every later feature has closed
  // (and recorded its last rows), just before the database closes.
  app.addHook('onClose', async () => audit.close())
  const org = new OrgService(db, audit)
  const auth = new AuthService({ db, audit, org, settings: config.auth, sessionKey, initialPasswordFile: join(config.dataDir, 'initial-admin-password') })
  // every connection on a camera's behalf passes this one policy (cameras.allowedCidrs)
  const cameraAddresses = cameraAddressPolicy(config.cameras, () => ownListeners(app.server, config.http))
  const connectGuard = cameraAddresses.guard
  const registry = new RegistryService({ db, org, audit, bus, box, settings: config.registry, addressPolicy: cameraAddresses })
  const guard = createGuard(auth)
  const sessionWatch = createSessionWatch(auth)
  app.addHook('onClose', async () => auth.closeWatches())
  // before media: its channels are media's gb28181:// sources, and it closes after media has sent their BYEs
  const gb28181 = new Gb28181Service({ db, box, audit, registry, settings: config.gb28181, defaultPassword: env.GW_GB28181_DEFAULT_PASSWORD, log: app.log.child({ feature: 'gb28181' }) })
  app.addHook('onClose', async () => gb28181.close())
  const media = new MediaService({ registry, audit, org, bus, settings: config.media, metrics: metrics.registry, log: app.log, connectGuard, externalSources: [gb28181.frameSources] })
  app.addHook('onClose', async () => media.close())
  const stream = new EventStreamService(db)
  const health = new HealthService({ db, registry, org, bus, stream, settings: config.health, metrics: metrics.registry, log: app.log, live: liveStateFrom(media), connectGuard })
  app.addHook('onClose', async () => health.close())
  const wall = new WallService({ db, org, registry, audit })
  const plans = new PlanService({ db, org, audit, maxBytes: config.http.planBodyLimitBytes })
  const { cases, alarms, ingest, safetyIndex, notify, pullPoint } = createAlarmsAndCases({ app, db, bus, org, auth, registry, audit, stream, config, metrics: metrics.registry, snapshots: snapshotSourceFrom(media), connectGuard })
  health.setEventSubscriptionSource(pullPoint ?? undefined)
  const discovery = new DiscoveryService({ db, registry, org, audit, settings: config.discovery, log: app.log, cameraAddresses })
  app.addHook('onClose', async () => discovery.close())
  const ptz = new PtzService({ registry, audit, org, policy: discovery.policy, timeoutMs: config.discovery.onvifTimeoutMs, connectGuard, log: app.log })
  app.addHook('onClose', async () => ptz.close())
  const { recordings, exports: evidence, routes: recordingsPlugin } = await createRecordings({ app, db, bus, config, env, registry, org, audit, media, stream, cases, ingest, guard, version: VERSION })

  const sessionSweep = setInterval(() => auth.purgeSessions(), 60 * 60_000)
  sessionSweep.unref()
  app.addHook('onClose', async () => clearInterval(sessionSweep))

  // --- HTTP: plugins, then routes, then the one error handler ------------------------------------
  installValidators(app)
  installProblemHandlers(app)
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })
  await app.register(swagger, {
    openapi: {
      info: { title: 'Sharp Eyes Gateway API', version: VERSION, description: '雪亮工程 video gateway: registry, org tree, users, audit.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  const routes: [prefix: string, plugin: FastifyPluginAsync][] = [
    ['', opsRoutes({ db, metrics: metrics.registry, metricsToken: config.metrics.token, version: VERSION, isShuttingDown: () => shuttingDown })],
    ['/api', authRoutes({ auth, org, guard, sessionTtlMinutes: config.auth.sessionTtlMinutes })],
    ['/api', orgRoutes({ org, guard })],
    ['/api', registryRoutes({ registry, guard, importBodyLimitBytes: config.http.importBodyLimitBytes })],
    ['/api', auditRoutes({ audit, guard })],
    ['/api', mediaRoutes({ media, guard, sessionWatch })],
    ['/api', wallRoutes({ wall, guard })],
    ['/api', planRoutes({ plans, guard })],
    ['/api', eventRoutes({ stream, guard, sessionWatch, heartbeatSeconds: config.events.heartbeatSeconds })],
    ['/api', caseRoutes({ cases, safetyIndex, guard })],
    ['/api', alarmRoutes({ alarms, guard })],
    // no session: the per-subscription token in the path authenticates the camera
    ['/api', notifyRoutes({ endpoint: notify })],
    ['/api', discoveryRoutes({ discovery, guard })],
    ['/api', ptzRoutes({ ptz, guard })],
    ['/api', healthRoutes({ health, registry, guard })],
    ['/api', recordingsPlugin],
    ['/api', gb28181Routes({ gb: gb28181, guard })],
    // last: the web application answers every other GET (SPA fallback)
    ['', webRoutes({ distDir: join(projectRoot, 'web', 'dist') })],
  ]
  for (const [prefix, plugin] of routes) await app.register(plugin, { prefix })

  // --- first run ----------------------------------------------------------------------------------
  const firstAdmin = await auth.ensureFirstAdmin(env.GW_ADMIN_PASSWORD).catch(async (err: unknown) => {
    // A refused GW_ADMIN_PASSWORD stops the start: release what was opened (database, timers) first.
    await app.close()
    throw err
  })
  const demo = config.demo ? await seedDemo({ org, auth, registry }) : null

  await gb28181.start().catch(async (err: unknown) => {
    // e.g. its SIP port taken: stop the start cleanly, as above
    await app.close()
    throw err
  })
  media.start()
  await app.ready()
  return {
    app,
    services: { db, bus, audit, org, auth, registry, media, stream, plans, cases, alarms, ingest, health, discovery, recordings, evidence, gb28181 },
    config,
    firstAdmin,
    demo,
    close: () => app.close(),
  }
}
