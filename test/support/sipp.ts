import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Runs SIPp (Debian `sip-tester`), the independent SIP implementation our SIP code is tested
 * against, with a scenario given as XML text. Resolves when SIPp exits, with its exit code (0:
 * every call of the scenario succeeded) and its error log for the test's message.
 */

export interface SippRun {
  code: number | null
  /** SIPp's error trace (unexpected messages, timeouts), for assertion messages */
  errors: string
  /** every message SIPp sent and received (-trace_msg) */
  messages: string
}

export interface SippOptions {
  /** the scenario XML (bytes as they are, e.g. a GB2312 body inside an ISO-8859-1 scenario) */
  scenario: string | Buffer
  /** a scenario for requests that belong to no call of ours (-oocsf): a device answering queries */
  outOfCallScenario?: string | Buffer
  /** host:port of the peer (the gateway's SIP endpoint); omitted for a server (UAS) scenario */
  remote?: string
  transport?: 'udp' | 'tcp'
  /** SIPp's own port (0 or omitted: SIPp picks one) */
  localPort?: number
  /** -s: the user part of the request URI, [service] in the scenario */
  service?: string
  /** extra -key name value pairs: [name] in the scenario */
  keys?: Record<string, string>
  /** calls to make (-m) */
  calls?: number
  /** call rate per second (-r) */
  rate?: number
  timeoutSeconds?: number
  /** aborting it stops SIPp (SIGINT: it writes its logs and exits) */
  signal?: AbortSignal
  /** called once SIPp is running (e.g. a UAS waiting for our request) */
  onStarted?: (pid: number) => void
}

export async function runSipp(o: SippOptions): Promise<SippRun> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-sipp-'))
  try {
    const file = join(dir, 'scenario.xml')
    writeFileSync(file, o.scenario)
    const ooc = join(dir, 'ooc.xml')
    if (o.outOfCallScenario) writeFileSync(ooc, o.outOfCallScenario)
    const args = ['-sf', file, '-m', String(o.calls ?? 1), '-r', String(o.rate ?? 10), '-i', '127.0.0.1', '-p', String(o.localPort ?? 0), '-t', o.transport === 'tcp' ? 't1' : 'u1', '-timeout', `${o.timeoutSeconds ?? 20}s`, '-timeout_error', '-nostdin', '-trace_err', '-trace_msg', '-max_recv_loops', '1000']
    if (o.outOfCallScenario) args.push('-oocsf', ooc)
    if (o.service) args.push('-s', o.service)
    for (const [k, v] of Object.entries(o.keys ?? {})) args.push('-key', k, v)
    if (o.remote) args.push(o.remote)
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    if (child.pid) o.onStarted?.(child.pid)
    o.signal?.addEventListener('abort', () => child.kill('SIGINT'), { once: true })
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
    const read = (suffix: string) =>
      readdirSync(dir)
        .filter((f) => f.endsWith(suffix))
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .join('\n')
    return { code, errors: (read('_errors.log') + stderr).slice(-4000), messages: read('_messages.log') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
