import { spawnSync } from 'node:child_process'
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

/**
 * Builds a bench's gateway child as production is built (its tsconfig.gateway-child.json: the
 * production build plus the child script) and returns the compiled script: dist/bench/<bench>/gateway-child.js.
 */
export function buildGatewayChild(bench: 'health' | 'relay' | 'soak'): string {
  const tsc = spawnSync(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(projectRoot, 'bench', bench, 'tsconfig.gateway-child.json')], { cwd: projectRoot, stdio: 'inherit' })
  if (tsc.status !== 0) throw new Error(`build of the ${bench} gateway child failed (tsc exit ${tsc.status})`)
  return join(projectRoot, 'dist', 'bench', bench, 'gateway-child.js')
}
