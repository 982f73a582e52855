#!/usr/bin/env node
import { join } from 'node:path'
import { loadConfig } from './core/config.js'
import { openDatabase } from './core/db.js'
import { ConfigError } from './core/errors.js'

/**
 * sharp-eyes-gateway <command>
 *   serve            run the gateway (default)
 *   check-config     load and validate the configuration, print it (no secrets), exit 0/78
 *   audit-verify     verify the audit hash chain of the local database and its end against the
 *                    anchor file with the audit key (GW_AUDIT_KEY or <dataDir>/keys/audit.key):
 *                    exit 0 when intact (a missing anchor is a warning), 1 when broken or forged,
 *                    2 when it cannot verify (keyed rows and no audit key)
 *   verify <export.zip> [--public-key <pem>]
 *                    check an evidence export against its signed manifest, exit 0 when intact
 */
const USAGE = `usage: sharp-eyes-gateway [serve | check-config | audit-verify | verify <export.zip> [--public-key <pem>] | help]`

async function main(argv: string[]): Promise<number> {
  const [command = 'serve'] = argv
  switch (command) {
    case 'serve': {
      const { runServer, exitOnStartupFailure } = await import('./server.js')
      await runServer().catch(exitOnStartupFailure)
      return -1 // keeps running
    }
    case 'check-config': {
      const config = loadConfig()
      const shown = { ...config, metrics: { ...config.metrics, token: config.metrics.token ? '***' : '' } }
      process.stdout.write(JSON.stringify(shown, null, 2) + '\n')
      return 0
    }
    case 'audit-verify': {
      const config = loadConfig()
      const db = openDatabase(join(config.dataDir, 'gateway.db'))
      try {
        const { AuditLog, anchorPathFor } = await import('./features/audit/index.js')
        const { EventBus } = await import('./core/events.js')
        const { readSymmetricKey } = await import('./core/secrets.js')
        // Never creates a key: a new key would make every keyed row look altered.
        const key = readSymmetricKey(config.dataDir, 'audit', 'GW_AUDIT_KEY', process.env) ?? undefined
        // Reads the anchor but never writes it: a gateway may be running on the same data dir.
        const verdict = new AuditLog(db, new EventBus(), { anchorPath: anchorPathFor(config.dataDir), writeAnchor: false, key }).verify()
        process.stdout.write(JSON.stringify(verdict, null, 2) + '\n')
        return verdict.ok ? 0 : 'unverifiable' in verdict ? 2 : 1
      } finally {
        db.close()
      }
    }
    case 'verify': {
      const { runVerify } = await import('./features/recordings/cli.js')
      return runVerify(argv.slice(1))
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n')
      return 0
    default:
      process.stderr.write(`unknown command ${command}\n${USAGE}\n`)
      return 64
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (err) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`sharp-eyes-gateway: ${err.message}\n`)
      process.exit(78)
    }
    process.stderr.write(`sharp-eyes-gateway: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  },
)
