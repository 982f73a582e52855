import { readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { Type, type Static, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from './errors.js'
import { projectRoot } from './paths.js'

/**
 * The gateway's configuration: config/default.yaml, then the file named by GW_CONFIG (if any),
 * then GW_* environment variables (one per leaf key: http.port → GW_HTTP_PORT). Validated once at
 * start-up; a bad value stops start-up with a message naming the key.
 */
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
        trustProxy: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    log: Type.Object({ level: LogLevel }, { additionalProperties: false }),
    auth: Type.Object(
      {
        sessionTtlMinutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 }),
        loginMaxFailures: Type.Integer({ minimum: 1, maximum: 100 }),
        lockoutMinutes: Type.Integer({ minimum: 1, maximum: 24 * 60 }),
        loginAttemptsPerMinutePerAddress: Type.Integer({ minimum: 1, maximum: 10_000 }),
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
  'GW_EVIDENCE_SIGNING_KEY',
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
  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(projectRoot, config.dataDir)
  return config
}
