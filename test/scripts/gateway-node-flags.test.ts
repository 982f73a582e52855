import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { gatewayNodeFlags } from '../../bench/lib/node-flags.js'
import { projectRoot } from '../../src/core/paths.js'

const flags = readFileSync(join(projectRoot, 'scripts', 'gateway-node-flags'), 'utf8').split(/\s+/).filter(Boolean)

t.test('scripts/gateway-node-flags: flags this node and its V8 accept', async (t) => {
  t.ok(flags.length > 0)
  t.ok(flags.every((f) => f.startsWith('--')), 'only flags')
  const run = spawnSync(process.execPath, [...flags, '-e', "process.stdout.write(JSON.stringify({ ok: true }))"], { encoding: 'utf8' })
  t.equal(run.status, 0, run.stderr)
  t.same(JSON.parse(run.stdout), { ok: true })
  // an unknown V8 flag is only warned about, so check that V8 really knows each one
  const known = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })
  for (const f of flags) {
    const name = f.replace(/^--(no-)?/, '').replace(/=.*$/, '')
    t.ok(known.includes(`--${name} `) || known.includes(`--${name}\n`) || known.includes(`--${name.replace(/-/g, '_')} `), `V8 knows --${name}`)
  }
})

t.test('start.sh, the Dockerfile and the benches run the gateway with exactly those flags', async (t) => {
  const start = readFileSync(join(projectRoot, 'scripts', 'start.sh'), 'utf8')
  t.match(start, /exec node \$\(cat scripts\/gateway-node-flags\) dist\/src\/server\.js/)
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(projectRoot, 'Dockerfile'), 'utf8'))
  t.ok(cmd, 'the Dockerfile has a JSON CMD')
  const argv = JSON.parse(cmd![1]!) as string[]
  t.same(argv.slice(1, 1 + flags.length), flags, 'the Dockerfile CMD carries the same flags, in order')
  t.equal(argv[0], 'node')
  t.equal(argv[1 + flags.length], 'dist/src/cli.js', 'and nothing else before the script')
  t.same(gatewayNodeFlags({}), flags, 'the benches read the file')
  t.same(gatewayNodeFlags({ BENCH_GATEWAY_NODE_FLAGS: ' --max-semi-space-size=16  --expose-gc ' }), ['--max-semi-space-size=16', '--expose-gc'], 'and take an override')
})
