import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import t, { type Test } from 'tap'
import { envNameOf, loadConfig } from '../../src/core/config.js'
import { ConfigError } from '../../src/core/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'gw-config-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
function yamlFile(text: string): string {
  const file = join(dir, `config-${++n}.yaml`)
  writeFileSync(file, text)
  return file
}

/** Runs loadConfig and returns the ConfigError it throws (fails the test when it does not throw). */
function configError(t: Test, env: Record<string, string>): ConfigError {
  try {
    loadConfig({ env })
  } catch (err) {
    t.type(err, ConfigError, 'a ConfigError')
    return err as ConfigError
  }
  t.fail('loadConfig accepted ' + JSON.stringify(env))
  return new ConfigError('(none)', 'did not throw')
}

t.test('defaults come from config/default.yaml', async (t) => {
  const c = loadConfig({ env: {} })
  t.equal(c.http.port, 8080)
  t.equal(c.demo, false)
  t.equal(c.auth.loginMaxFailures, 5)
  t.ok(isAbsolute(c.dataDir), 'dataDir is made absolute')
})

t.test('GW_* environment variables override leaf keys, with types coerced', async (t) => {
  const c = loadConfig({
    env: { GW_HTTP_PORT: '9191', GW_DEMO: '1', GW_AUTH_SESSION_TTL_MINUTES: '30', GW_HTTP_TRUST_PROXY: 'true', GW_LOG_LEVEL: 'warn', GW_DATA_DIR: join(dir, 'data') },
  })
  t.equal(c.http.port, 9191)
  t.equal(c.demo, true)
  t.equal(c.auth.sessionTtlMinutes, 30)
  t.equal(c.http.trustProxy, true)
  t.equal(c.log.level, 'warn')
  t.equal(c.dataDir, join(dir, 'data'))
  t.equal(loadConfig({ env: { GW_DEMO: 'off' } }).demo, false)
})

t.test('env names follow the key path in SNAKE_CASE', async (t) => {
  t.equal(envNameOf(['http', 'port']), 'GW_HTTP_PORT')
  t.equal(envNameOf(['auth', 'loginAttemptsPerMinutePerAddress']), 'GW_AUTH_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS')
})

t.test('a bad value stops start-up with a ConfigError naming the key', async (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ GW_HTTP_PORT: 'abc' }, 'http.port'],
    [{ GW_HTTP_PORT: '' }, 'http.port'],
    [{ GW_HTTP_PORT: '70000' }, 'http.port'],
    [{ GW_HTTP_PORT: '80.5' }, 'http.port'],
    [{ GW_DEMO: 'maybe' }, 'demo'],
    [{ GW_LOG_LEVEL: 'loud' }, 'log.level'],
    [{ GW_AUTH_LOGIN_MAX_FAILURES: '0' }, 'auth.loginMaxFailures'],
    [{ GW_HTTP_BODY_LIMIT_BYTES: '10' }, 'http.bodyLimitBytes'],
    [{ GW_CAMERAS_ALLOWED_CIDRS: '10.0.0.0/8,10.0.0.1/8' }, 'cameras.allowedCidrs.1'],
    [{ GW_CAMERAS_ALLOWED_CIDRS: 'camera-net' }, 'cameras.allowedCidrs.0'],
  ]
  for (const [env, key] of cases) {
    const err = configError(t, env)
    t.equal(err.key, key, `${JSON.stringify(env)} names ${key}`)
    t.match(err.message, key)
  }
  t.match(configError(t, { GW_HTTP_PORT: 'abc' }).message, /GW_HTTP_PORT="abc" is not a number/)
})

t.test('an unknown GW_ variable is refused (a typo must not fall back to a default)', async (t) => {
  const err = configError(t, { GW_HTTP_PROT: '9000' })
  t.equal(err.key, 'GW_HTTP_PROT')
  t.match(err.message, /unknown environment variable/)
  t.match(err.message, /GW_HTTP_PORT/, 'lists the known names')
  // secrets and the config path are not config keys but are allowed
  t.doesNotThrow(() => loadConfig({ env: { GW_ADMIN_PASSWORD: 'x', GW_CREDENTIAL_KEY: 'x', GW_SESSION_KEY: 'x' } }))
  // other variables are none of our business
  t.doesNotThrow(() => loadConfig({ env: { PATH: '/usr/bin', GWX_FOO: '1' } }))
})

t.test('GW_CONFIG names a YAML file merged over the defaults', async (t) => {
  const file = yamlFile('http:\n  port: 7001\nauth:\n  lockoutMinutes: 2\n')
  const c = loadConfig({ env: { GW_CONFIG: file } })
  t.equal(c.http.port, 7001)
  t.equal(c.auth.lockoutMinutes, 2)
  t.equal(c.http.host, '0.0.0.0', 'untouched keys keep their default')
  t.equal(loadConfig({ env: { GW_CONFIG: file, GW_HTTP_PORT: '7002' } }).http.port, 7002, 'env wins over the file')
})

t.test('an unknown YAML key is refused, naming it', async (t) => {
  const nested = configError(t, { GW_CONFIG: yamlFile('http:\n  prot: 1\n') })
  t.equal(nested.key, 'http.prot')
  t.match(nested.message, /not a known configuration key/)
  const top = configError(t, { GW_CONFIG: yamlFile('colour: red\n') })
  t.equal(top.key, 'colour')
})

t.test('a wrongly typed YAML value names the key', async (t) => {
  const err = configError(t, { GW_CONFIG: yamlFile('auth:\n  loginMaxFailures: zero\n') })
  t.equal(err.key, 'auth.loginMaxFailures')
  t.match(err.message, /GW_AUTH_LOGIN_MAX_FAILURES/, 'hints at the env name')
})

t.test('a broken or missing YAML file stops start-up', async (t) => {
  t.throws(() => loadConfig({ env: { GW_CONFIG: yamlFile('http: [1, 2\n') } }), ConfigError)
  t.throws(() => loadConfig({ env: { GW_CONFIG: yamlFile('- 1\n- 2\n') } }), { message: /top level must be a mapping/ })
  const missing = configError(t, { GW_CONFIG: join(dir, 'nope.yaml') })
  t.equal(missing.key, 'GW_CONFIG')
})

t.test('overrides (used by tests) are validated like everything else', async (t) => {
  t.throws(() => loadConfig({ env: {}, overrides: { http: { port: -1 } } }), { name: 'ConfigError', key: 'http.port' })
  t.throws(() => loadConfig({ env: {}, overrides: { extra: true } }), { name: 'ConfigError', key: 'extra' })
})

t.test('the server process refuses to start on a bad value and names the key', async (t) => {
  const { spawnSync } = await import('node:child_process')
  const { projectRoot } = await import('../../src/core/paths.js')
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot, 'src/server.ts')], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', GW_HTTP_PORT: 'abc', GW_DATA_DIR: join(dir, 'never') },
    encoding: 'utf8',
    timeout: 30_000,
  })
  t.equal(res.status, 78, 'exits with EX_CONFIG')
  t.match(res.stderr, /config http\.port: GW_HTTP_PORT="abc" is not a number/)
})
