import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../../src/core/paths.js'

/**
 * The node flags a bench's gateway child runs with: production's (scripts/gateway-node-flags, which
 * scripts/start.sh and the Dockerfile use), or BENCH_GATEWAY_NODE_FLAGS to try others.
 */
export function gatewayNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const text = env.BENCH_GATEWAY_NODE_FLAGS ?? readFileSync(join(projectRoot, 'scripts', 'gateway-node-flags'), 'utf8')
  return text.split(/\s+/).filter(Boolean)
}
