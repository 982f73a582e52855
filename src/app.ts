import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { GatewayConfig } from './core/config.js'
import { SecretBox } from './core/crypto.js'
import { migrate, openDatabase, type Db, type Migration } from './core/db.js'
import { EventBus } from './core/events.js'
import { installProblemHandlers } from './core/http/problem.js'
import { installValidators } from './core/http/validation.js'
import { createMetrics } from './core/metrics.js'
import { projectRoot } from './core/paths.js'
import { redact } from './core/redact.js'
import { loadSymmetricKey } from './core/secrets.js'
import { AuditLog, auditMigrations, auditRoutes } from './features/audit/index.js'
import { AuthService, authMigrations, authRoutes, createGuard } from './features/auth/index.js'
import { seedDemo, type DemoSummary } from './features/demo/index.js'
import { opsRoutes } from './features/ops/index.js'
import { OrgService, orgMigrations, orgRoutes } from './features/org/index.js'
import { RegistryService, registryMigrations, registryRoutes } from './features/registry/index.js'

export const VERSION: string = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version

/** Schema changes in dependency order: a feature's tables may reference only those before it. */
const MIGRATIONS: Migration[][] = [auditMigrations, orgMigrations, authMigrations, registryMigrations]

export interface GatewayServices {
  db: Db
  bus: EventBus
  audit: AuditLog
  org: OrgService
  auth: AuthService
  registry: RegistryService
}

export interface Gateway {
  app: FastifyInstance
  services: GatewayServices
  config: GatewayConfig
  /** set on first run when the admin password was generated: print it once */
  firstAdmin: { username: string; password: string | null } | null
  demo: DemoSummary | null
  close(): Promise<void>
}

export interface BuildOptions {
  env?: NodeJS.ProcessEnv
  logger?: FastifyServerOptions['logger']
}

function loggerOptions(config: GatewayConfig): FastifyServerOptions['logger'] {
  return {
    level: config.log.level,
    // Credentials must never reach a log line: headers, bodies and any URL carrying user:pass@.
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.credentials', 'password', 'credentials', 'token'],
      censor: '***',
    },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({ method: req.method, url: redact(req.url), remoteAddress: req.ip }),
      err: ((err: Error) => ({ type: err.name, message: redact(err.message), stack: err.stack ? redact(err.stack) : '' })) as never,
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
  const db = openDatabase(join(config.dataDir, 'gateway.db'))
  let shuttingDown = false
  app.addHook('onClose', async () => {
    shuttingDown = true
    db.close()
  })
  migrate(db, MIGRATIONS.flat())
  const box = new SecretBox(loadSymmetricKey(config.dataDir, 'credential', 'GW_CREDENTIAL_KEY', env, warn))
  const sessionKey = loadSymmetricKey(config.dataDir, 'session', 'GW_SESSION_KEY', env, warn)
  const bus = new EventBus()
  bus.onError((err) => app.log.error({ err }, 'event subscriber failed'))
  app.addHook('onClose', async () => bus.close())
  const metrics = createMetrics()

  // --- features, in dependency order ---------------------------------------------------------
  const audit = new AuditLog(db, bus)
  const org = new OrgService(db, audit)
  const auth = new AuthService({ db, audit, org, settings: config.auth, sessionKey })
  const registry = new RegistryService({ db, org, audit, bus, box, settings: config.registry })
  const guard = createGuard(auth)

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
    ['', opsRoutes({ db, metrics: metrics.registry, version: VERSION, isShuttingDown: () => shuttingDown })],
    ['/api', authRoutes({ auth, org, guard, sessionTtlMinutes: config.auth.sessionTtlMinutes })],
    ['/api', orgRoutes({ org, guard })],
    ['/api', registryRoutes({ registry, guard, importBodyLimitBytes: config.http.importBodyLimitBytes })],
    ['/api', auditRoutes({ audit, guard })],
  ]
  for (const [prefix, plugin] of routes) await app.register(plugin, { prefix })

  // --- first run ----------------------------------------------------------------------------------
  const firstAdmin = await auth.ensureFirstAdmin(env.GW_ADMIN_PASSWORD)
  const demo = config.demo ? await seedDemo({ org, auth, registry }) : null

  await app.ready()
  return {
    app,
    services: { db, bus, audit, org, auth, registry },
    config,
    firstAdmin,
    demo,
    close: () => app.close(),
  }
}
