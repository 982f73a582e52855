import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { buildGateway } from './app.js'
import { loadConfig } from './core/config.js'
import { ConfigError } from './core/errors.js'
import { DEMO_PASSWORD } from './features/demo/index.js'

/** Process entry: load config, build the gateway, listen, and close everything on a signal. */
export async function runServer(): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sharp-eyes-gateway: ${err.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw err
  }
  // Files the gateway and its ffmpeg children create (database, anchor, footage segments, exports)
  // are for its own account only; explicit modes cover what this process opens itself.
  process.umask(0o077)
  const gateway = await buildGateway(config)
  const { app } = gateway
  if (gateway.firstAdmin?.passwordFile) {
    // Only where it is: a service manager keeps stdout in plain logs, and the password is a secret.
    process.stdout.write(`\n  First run: created user "${gateway.firstAdmin.username}"; its password is in ${gateway.firstAdmin.passwordFile} (readable by this account only).\n  Sign in and change it: the file is removed then.\n\n`)
  }
  if (gateway.demo) {
    process.stdout.write(`  Demo data: ${gateway.demo.units} units, ${gateway.demo.cameras} cameras; users ${gateway.demo.users.join(', ')} (password ${DEMO_PASSWORD})\n\n`)
  }

  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => {
      app.log.error('shutdown took longer than 15 s; exiting')
      process.exit(1)
    }, 15_000)
    force.unref()
    await gateway.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))

  const address = await app.listen({ host: config.http.host, port: config.http.port })
  app.log.info(`Sharp Eyes Gateway listening on ${address} (API docs at /docs)`)
  if (config.health.enabled) gateway.services.health.start()
  if (process.stdout.isTTY) process.stdout.write(`  Open http://localhost:${config.http.port}/ — API docs at /docs\n`)
}

export function exitOnStartupFailure(err: unknown): never {
  if (err instanceof ConfigError) {
    // A setting (or GW_ADMIN_PASSWORD) is wrong: say which, without a stack.
    process.stderr.write(`sharp-eyes-gateway: ${err.message}\n`)
    process.exit(78) // EX_CONFIG
  }
  process.stderr.write(`sharp-eyes-gateway: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
}

const entry = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : ''
if (import.meta.url === entry) runServer().catch(exitOnStartupFailure)
