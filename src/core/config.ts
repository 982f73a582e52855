import { readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { Type, type Static, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { parse as parseYaml } from 'yaml'
import { parseIpCidr } from '../lib/net/index.js'
import { ConfigError } from './errors.js'
import { projectRoot } from './paths.js'

/**
 * The gateway's configuration: config/default.yaml, then the file named by GW_CONFIG (if any),
 * then GW_* environment variables (one per leaf key: http.port → GW_HTTP_PORT). Validated once at
 * start-up; a bad value stops start-up with a message naming the key.
 */
const deadlineSchema = () => Type.Object({ acknowledgeMinutes: Type.Number(), resolveMinutes: Type.Number() })
/** Mirrors ALARM_KINDS of the alarms feature (core must not import features). */
const ALARM_KIND_NAMES = ['motion', 'tamper', 'video_loss', 'line_crossing', 'intrusion', 'one_button_alarm', 'one_button_help', 'io_input', 'person', 'vehicle', 'face', 'camera_offline', 'other'] as const

const LogLevel = Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { description: 'fatal | error | warn | info | debug | trace | silent' })

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, description: 'database, keys and recordings live here' }),
    demo: Type.Boolean({ description: 'seed the demo org tree, users and demo cameras on first run' }),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024 }),
        importBodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 512 * 1024 * 1024 }),
        planBodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
        trustProxy: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    log: Type.Object({ level: LogLevel }, { additionalProperties: false }),
    metrics: Type.Object(
      {
        eventLoopDelaySampleMs: Type.Integer({ minimum: 10, maximum: 60_000, description: 'period of the event-loop delay sampling timer behind /metrics' }),
        token: Type.String({ maxLength: 256, description: 'bearer token /metrics requires (GW_METRICS_TOKEN); empty: only clients on this host may scrape' }),
      },
      { additionalProperties: false },
    ),
    auth: Type.Object(
      {
        sessionTtlMinutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 }),
        loginMaxFailures: Type.Integer({ minimum: 1, maximum: 100 }),
        lockoutMinutes: Type.Integer({ minimum: 1, maximum: 24 * 60 }),
        loginAttemptsPerMinutePerAddress: Type.Integer({ minimum: 1, maximum: 10_000 }),
      },
      { additionalProperties: false },
    ),
    audit: Type.Object(
      {
        anchorIntervalMs: Type.Integer({ minimum: 0, maximum: 3_600_000, description: 'the head anchor file is rewritten at most this often, and on shutdown' }),
        headLogMinutes: Type.Number({ minimum: 0, maximum: 1440, description: 'log the chain head this often when it moved; 0: never by time' }),
        headLogRows: Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'log the chain head after this many new rows; 0: never by count' }),
      },
      { additionalProperties: false },
    ),
    registry: Type.Object(
      {
        importMaxRows: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        pageSizeMax: Type.Integer({ minimum: 1, maximum: 1000 }),
      },
      { additionalProperties: false },
    ),
    cameras: Type.Object(
      {
        allowedCidrs: Type.Array(Type.String({ minLength: 1 }), { description: 'every address connected to on a camera\'s behalf must lie in one of these IPv4/IPv6 ranges' }),
      },
      { additionalProperties: false },
    ),
    alarms: Type.Object(
      {
        debounceSeconds: Type.Integer({ minimum: 0, maximum: 86_400 }),
        offlineCaseAfterSeconds: Type.Number({ minimum: 0, maximum: 7 * 86_400 }),
        ratePerCameraPerSecond: Type.Number({ minimum: 0.01, maximum: 10_000 }),
        burstPerCamera: Type.Integer({ minimum: 1, maximum: 100_000 }),
        batchWindowMs: Type.Integer({ minimum: 0, maximum: 1000 }),
        pullPoint: Type.Boolean({ description: 'subscribe to ONVIF events of every enabled camera that has them' }),
        pullPointTerminationSeconds: Type.Integer({ minimum: 10, maximum: 86_400 }),
        notifyBaseUrl: Type.String({
          maxLength: 2048,
          pattern: '^(https?://[^\\s/?#]+(/[^\\s?#]*)?)?$',
          description: 'base URL cameras can reach the gateway at, for ONVIF push (WS-BaseNotification) events; empty = push off',
        }),
      },
      { additionalProperties: false },
    ),
    cases: Type.Object(
      {
        deadlines: Type.Object(
          Object.fromEntries(
            ['urgent', 'high', 'normal', 'low'].map((p) => [
              p,
              Type.Object({ acknowledgeMinutes: Type.Number({ minimum: 0.01 }), resolveMinutes: Type.Number({ minimum: 0.01 }) }, { additionalProperties: false }),
            ]),
          ) as Record<'urgent' | 'high' | 'normal' | 'low', ReturnType<typeof deadlineSchema>>,
          { additionalProperties: false },
        ),
        overdueSweepSeconds: Type.Number({ minimum: 0.05, maximum: 3600 }),
        pageSizeMax: Type.Integer({ minimum: 1, maximum: 1000 }),
      },
      { additionalProperties: false },
    ),
    events: Type.Object(
      {
        retentionDays: Type.Number({ minimum: 0.001, maximum: 3650 }),
        maxRows: Type.Integer({ minimum: 100, maximum: 100_000_000 }),
        heartbeatSeconds: Type.Number({ minimum: 0.1, maximum: 300 }),
        pruneIntervalSeconds: Type.Number({ minimum: 1, maximum: 86_400 }),
      },
      { additionalProperties: false },
    ),
    safetyIndex: Type.Object(
      {
        weights: Type.Object(
          Object.fromEntries(ALARM_KIND_NAMES.map((k) => [k, Type.Number({ minimum: 0, maximum: 1000 })])) as Record<(typeof ALARM_KIND_NAMES)[number], ReturnType<typeof Type.Number>>,
          { additionalProperties: false },
        ),
        thresholds: Type.Object(
          { blue: Type.Number(), orange: Type.Number(), red: Type.Number() },
          { additionalProperties: false, description: 'score ≥ blue → green, ≥ orange → blue, ≥ red → orange, below red → red' },
        ),
        supervisionRedMonths: Type.Integer({ minimum: 1, maximum: 24 }),
      },
      { additionalProperties: false },
    ),
    discovery: Type.Object(
      {
        multicastInterfaces: Type.Array(Type.String({ pattern: '^[0-9]{1,3}(\.[0-9]{1,3}){3}$' }), { description: 'IPv4 addresses of the interfaces multicast probes leave from; none by default' }),
        allowedCidrs: Type.Array(Type.String({ minLength: 1 }), { description: 'camera addresses must fall in one of these IPv4 ranges' }),
        probeRepeats: Type.Integer({ minimum: 1, maximum: 10 }),
        probeJitterMs: Type.Integer({ minimum: 0, maximum: 5000 }),
        probeWindowMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
        sweepRatePps: Type.Integer({ minimum: 1, maximum: 10_000 }),
        sweepConcurrency: Type.Integer({ minimum: 1, maximum: 4096 }),
        sweepPerHostTimeoutMs: Type.Integer({ minimum: 10, maximum: 10_000 }),
        sweepWindowMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
        onvifTimeoutMs: Type.Integer({ minimum: 100, maximum: 120_000 }),
        interrogateConcurrency: Type.Integer({ minimum: 1, maximum: 256 }),
        maxRunningScans: Type.Integer({ minimum: 1, maximum: 64 }),
      },
      { additionalProperties: false },
    ),
    gb28181: Type.Object(
      {
        enabled: Type.Boolean({ description: 'run the GB/T 28181 SIP endpoint devices register to' }),
        sipId: Type.String({ pattern: '^[0-9]{20}$', description: "the gateway's own 20-digit SIP id" }),
        realm: Type.String({ pattern: '^[0-9]{10}$', description: 'SIP domain / Digest realm: the 10-digit domain code' }),
        host: Type.String({ minLength: 1, description: 'bind address of the SIP listeners' }),
        sipPort: Type.Integer({ minimum: 0, maximum: 65535, description: 'UDP and TCP port (0: any free port, tests)' }),
        tcp: Type.Boolean(),
        publicAddress: Type.String({ description: 'the address devices reach the gateway at (Via); empty: the first non-internal IPv4 address' }),
        allowedCidrs: Type.Array(Type.String({ minLength: 1 }), { description: 'IPv4 ranges devices may register from; empty: any' }),
        registerExpiresMaxSeconds: Type.Integer({ minimum: 60, maximum: 86_400 }),
        keepaliveIntervalSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
        keepaliveMissedLimit: Type.Integer({ minimum: 1, maximum: 20 }),
        unauthenticatedPerMinute: Type.Integer({ minimum: 1, maximum: 100_000 }),
        catalogTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 600 }),
        sipT1Ms: Type.Integer({ minimum: 10, maximum: 5000 }),
        mediaPortMin: Type.Integer({ minimum: 0, maximum: 65535, description: 'UDP ports for channel media; 0 and 0: any free port' }),
        mediaPortMax: Type.Integer({ minimum: 0, maximum: 65535 }),
        firstFrameTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 120 }),
      },
      { additionalProperties: false },
    ),
    health: Type.Object(
      {
        enabled: Type.Boolean({ description: 'run periodic health sweeps (the server starts them; tests only when asked)' }),
        intervalSeconds: Type.Number({ minimum: 1, maximum: 86_400 }),
        jitterSeconds: Type.Number({ minimum: 0, maximum: 3600 }),
        concurrency: Type.Integer({ minimum: 1, maximum: 10_000 }),
        checkTimeoutSeconds: Type.Number({ minimum: 0.2, maximum: 120 }),
        offlineAfterFailures: Type.Integer({ minimum: 1, maximum: 100 }),
        clockDriftThresholdSeconds: Type.Number({ minimum: 0, maximum: 86_400 }),
        snapshotEveryChecks: Type.Integer({ minimum: 1, maximum: 10_000 }),
        onvifAuthEveryChecks: Type.Integer({ minimum: 1, maximum: 10_000, description: 'an authenticated ONVIF call (GetDeviceInformation) every Nth check of a camera with credentials' }),
        frozenAfterChecks: Type.Integer({ minimum: 2, maximum: 1000 }),
        snapshotMaxBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
        writeBatchSize: Type.Integer({ minimum: 1, maximum: 100_000 }),
        sweepPaceMs: Type.Number({ minimum: 0, maximum: 10_000 }),
        historyDays: Type.Number({ minimum: 1, maximum: 3650 }),
        bucketUtcOffsetMinutes: Type.Integer({ minimum: -720, maximum: 840 }),
      },
      { additionalProperties: false },
    ),
    media: Type.Object(
      {
        idleTimeoutSeconds: Type.Number({ minimum: 0, maximum: 3600, description: 'an upstream with no viewer stops after this long' }),
        stallTimeoutSeconds: Type.Number({ minimum: 1, maximum: 300, description: 'an upstream that delivers no frame for this long is restarted' }),
        backoffMinMs: Type.Integer({ minimum: 10, maximum: 60_000 }),
        backoffMaxMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
        gopCacheBytes: Type.Integer({ minimum: 0, maximum: 256 * 1024 * 1024 }),
        keyframeRequestMinIntervalMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
        rtspTransport: Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { description: 'tcp | udp' }),
        rtspUdpPortMin: Type.Integer({ minimum: 0, maximum: 65535, description: 'UDP client port range start; 0: ephemeral ports' }),
        rtspUdpPortMax: Type.Integer({ minimum: 0, maximum: 65535 }),
        rtspUdpTimeoutSeconds: Type.Number({ minimum: 0.2, maximum: 60, description: 'no UDP media this long after PLAY: fall back to TCP' }),
        rtspTimeoutSeconds: Type.Number({ minimum: 1, maximum: 120 }),
        preload: Type.Array(Type.String({ pattern: '^[1-9][0-9]*(:(main|sub))?$' }), { description: 'camera ids (id or id:sub) kept streaming' }),
        ffmpegPath: Type.String({ minLength: 1 }),
        demoFontFile: Type.String(),
        snapshotTimeoutSeconds: Type.Number({ minimum: 1, maximum: 120 }),
        snapshotMaxBytes: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, description: 'largest picture read from a camera snapshot URI' }),
        maxSessionsPerUser: Type.Integer({ minimum: 1, maximum: 1000, description: 'WHEP sessions one user may hold at once; more is 429' }),
        ice: Type.Object(
          {
            announcedAddresses: Type.Array(Type.String()),
            bindAddress: Type.String(),
            stunUrls: Type.Array(Type.String()),
            turnUrls: Type.Array(Type.String()),
            turnUsername: Type.String(),
            turnCredential: Type.String(),
            portMin: Type.Integer({ minimum: 0, maximum: 65535 }),
            portMax: Type.Integer({ minimum: 0, maximum: 65535 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    recordings: Type.Object(
      {
        root: Type.String({ description: 'recording root; empty: <dataDir>/recordings' }),
        segmentSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
        gapToleranceMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
        preSecondsDefault: Type.Integer({ minimum: 0, maximum: 300 }),
        postSecondsDefault: Type.Integer({ minimum: 0, maximum: 3600 }),
        retentionDays: Type.Number({ minimum: 0.0001, maximum: 36500 }),
        evidenceRetentionDays: Type.Number({ minimum: 0, maximum: 36500 }),
        freeSpaceFloorMb: Type.Integer({ minimum: 0 }),
        maxBytes: Type.Integer({ minimum: 0, description: 'quota of the recording root; 0: none' }),
        guardIntervalSeconds: Type.Number({ minimum: 0.1, maximum: 3600 }),
        exportRetentionDays: Type.Number({ minimum: 0, maximum: 36500 }),
        exportConcurrency: Type.Integer({ minimum: 1, maximum: 16 }),
        exportMaxHours: Type.Number({ minimum: 0.01, maximum: 168 }),
        verifyUploadMaxBytes: Type.Integer({ minimum: 1024, maximum: Number.MAX_SAFE_INTEGER }),
        ffprobePath: Type.String({ minLength: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
export type GatewayConfig = Static<typeof ConfigSchema>

/** Environment variables that are not config keys but are read elsewhere (secrets, paths). */
export const KNOWN_NON_CONFIG_ENV = new Set([
  'GW_CONFIG',
  'GW_ADMIN_PASSWORD',
  'GW_CREDENTIAL_KEY',
  'GW_SESSION_KEY',
  'GW_AUDIT_KEY',
  'GW_EVIDENCE_SIGNING_KEY',
  'GW_GB28181_DEFAULT_PASSWORD',
])

interface Leaf {
  path: string[]
  schema: TSchema
}

const jsonType = (schema: TSchema) => (schema as { type?: string }).type

function leaves(schema: TSchema, path: string[] = []): Leaf[] {
  if (jsonType(schema) === 'object') {
    return Object.entries((schema as unknown as { properties: Record<string, TSchema> }).properties).flatMap(([k, s]) => leaves(s, [...path, k]))
  }
  return [{ path, schema }]
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
export const envNameOf = (path: string[]) => 'GW_' + path.map(snake).join('_')

function coerceEnv(raw: string, leaf: Leaf): unknown {
  const key = leaf.path.join('.')
  switch (jsonType(leaf.schema)) {
    case 'integer':
    case 'number': {
      const n = Number(raw)
      if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(key, `${envNameOf(leaf.path)}="${raw}" is not a number`)
      return n
    }
    case 'boolean': {
      if (/^(1|true|yes|on)$/i.test(raw)) return true
      if (/^(0|false|no|off|)$/i.test(raw)) return false
      throw new ConfigError(key, `${envNameOf(leaf.path)}="${raw}" is not a boolean (use 1/0, true/false)`)
    }
    case 'array':
      return raw.split(',').map((s) => s.trim()).filter(Boolean)
    default:
      return raw
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v
  }
  return out
}

function readYaml(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError('GW_CONFIG', `cannot read ${file}: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text) ?? {}
  } catch (err) {
    throw new ConfigError(file, `invalid YAML: ${(err as Error).message}`)
  }
  if (!isPlainObject(doc)) throw new ConfigError(file, 'top level must be a mapping')
  return doc
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  for (const k of path.slice(0, -1)) {
    if (!isPlainObject(node[k])) node[k] = {}
    node = node[k] as Record<string, unknown>
  }
  node[path[path.length - 1]!] = value
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv
  /** extra overrides applied last (tests) */
  overrides?: Record<string, unknown>
}

export function loadConfig(options: LoadConfigOptions = {}): GatewayConfig {
  const env = options.env ?? process.env
  let merged = readYaml(join(projectRoot, 'config', 'default.yaml'))
  if (env.GW_CONFIG) merged = deepMerge(merged, readYaml(resolve(env.GW_CONFIG)))

  const all = leaves(ConfigSchema)
  const known = new Set(all.map((l) => envNameOf(l.path)))
  for (const name of Object.keys(env)) {
    if (name.startsWith('GW_') && !known.has(name) && !KNOWN_NON_CONFIG_ENV.has(name)) {
      throw new ConfigError(name, `unknown environment variable (known: ${[...known].sort().join(', ')})`)
    }
  }
  for (const leaf of all) {
    const raw = env[envNameOf(leaf.path)]
    if (raw !== undefined) setPath(merged, leaf.path, coerceEnv(raw, leaf))
  }
  if (options.overrides) merged = deepMerge(merged, options.overrides)

  const errors = Value.Errors(ConfigSchema, merged)
  // TypeBox reports an unknown key twice: once on the key ("schema is false"), once on its parent.
  const first = errors.find((e) => e.keyword === 'boolean') ?? errors.find((e) => e.keyword !== 'additionalProperties') ?? errors[0]
  if (first) {
    const path = first.instancePath.split('/').filter(Boolean)
    const key = path.join('.') || '(root)'
    if (first.keyword === 'boolean') throw new ConfigError(key, 'is not a known configuration key')
    if (first.keyword === 'required') {
      const missing = String((first.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? '')
      throw new ConfigError([...path, missing].filter(Boolean).join('.'), 'is required')
    }
    const got = path.reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], merged)
    const envHint = path.length ? `; env ${envNameOf(path)}` : ''
    throw new ConfigError(key, `${first.message} (got ${JSON.stringify(got)})${envHint}`)
  }
  const config = merged as GatewayConfig
  config.cameras.allowedCidrs.forEach((c, i) => {
    try {
      parseIpCidr(c)
    } catch (e) {
      throw new ConfigError(`cameras.allowedCidrs.${i}`, (e as Error).message)
    }
  })
  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(projectRoot, config.dataDir)
  return config
}
