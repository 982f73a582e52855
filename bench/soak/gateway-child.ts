/**
 * bench/soak: the gateway under test is the production server (src/server.ts runServer: config from
 * GW_* variables, JSON log lines on stdout), compiled, plus the soak monitor (monitor.ts: event-loop
 * stalls, memory and handles on stderr as SOAKMON lines; with SOAK_TRACE=1 also the synchronous fs
 * and SQLite calls that took long). The monitor is installed before the gateway's modules load.
 * Usage: node <gateway node flags> dist/bench/soak/gateway-child.js
 */
import { startMonitor } from './monitor.js'

startMonitor()
const { runServer, exitOnStartupFailure } = await import('../../src/server.js')
runServer().catch(exitOnStartupFailure)
