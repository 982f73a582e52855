import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/**
 * Test wrapper around scripts/rtsp-test-server.py, the real GStreamer RTSP server the RTSP
 * client and the relay are tested against.
 */

const SCRIPT = fileURLToPath(new URL('../../scripts/rtsp-test-server.py', import.meta.url))
// The pyenv python3 on PATH has no gi bindings; Debian's interpreter has them.
const PYTHON = process.env['GW_GST_PYTHON'] ?? '/usr/bin/python3'

export interface RtspTestMount {
  path: string
  width?: number
  height?: number
  fps?: number
  /** kbit/s */
  bitrate?: number
  /** Frames between IDRs (x264 key-int-max). */
  gop?: number
  slices?: number
  /** rtph264pay config-interval: -1 SPS/PPS before every IDR, 0 only in the SDP. */
  configInterval?: number
  codec?: 'h264' | 'h265'
  /** Lower transports the mount offers (default all); 'tcp' answers a UDP SETUP with 461. */
  protocols?: 'all' | 'tcp' | 'udp'
  /** Draw the wall-clock ms of each frame as a block strip (see STAMP in the script; bench/relay). */
  stamp?: boolean
  /**
   * Timestamp discontinuity: the mount's RTP timestamps step by this many ms (negative: backwards)
   * at each jumpTimestamps() and, with tsJumpAfterSeconds, once that long after its first frame.
   * Frames keep coming at the live rate. See ts_jump_ms in the script.
   */
  tsJumpMs?: number
  tsJumpAfterSeconds?: number
}

export interface RtspTestServerOptions extends Omit<RtspTestMount, 'path' | 'stamp'> {
  /** Fixed port (to restart on the same one); default: a free port chosen by the server. */
  port?: number
  /** Default: a single mount "/test". */
  mounts?: Array<string | RtspTestMount>
  user?: string
  password?: string
  auth?: 'basic' | 'digest'
  /** RTSP session timeout in seconds announced by the server (default 60). */
  sessionTimeout?: number
  startTimeoutMs?: number
}

export interface RtspTestServerCounters {
  clientsConnected: number
  clientsClosed: number
  sessionsCreated: number
  sessionsRemoved: number
  mediaConfigured: number
  requests: Record<string, number>
}

export interface RtspTestServer {
  readonly port: number
  /** Process id of the running server (e.g. to SIGSTOP it and starve clients of data). */
  readonly pid: number | undefined
  /** rtsp://127.0.0.1:port/mount, with user:pass@ when `credentials` is given. */
  url(mount?: string, credentials?: { user: string; password: string }): string
  readonly counters: RtspTestServerCounters
  /** Clients connected now (connected minus closed). */
  readonly activeClients: number
  /** Sessions alive now (created minus removed). */
  readonly activeSessions: number
  /** Every stdout line since the first start. */
  readonly lines: readonly string[]
  readonly running: boolean
  /** Resolves with the first line (already printed or future) matching `pred`. */
  waitForLine(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>
  /**
   * Steps the timestamps of every playing mount that has tsJumpMs (SIGUSR1); resolves with the
   * TS_JUMP lines once each such mount has applied the step to a frame.
   */
  jumpTimestamps(timeoutMs?: number): Promise<string[]>
  /** SIGTERM, then SIGKILL after 3 s. */
  stop(): Promise<void>
  /** SIGKILL: the server vanishes without closing its RTSP sessions properly. */
  kill(): Promise<void>
  /** Stops if running and starts again on the same port. */
  restart(): Promise<void>
  /** stop(), idempotent; the server cannot be restarted afterwards. */
  close(): Promise<void>
}

const live = new Set<ChildProcessWithoutNullStreams>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Last resort for a test that crashed before its teardown. The server also exits by itself
  // when our end of its stdin closes (--exit-on-stdin-eof), which covers SIGKILL of this process.
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL')
  })
}

function buildArgs(opts: RtspTestServerOptions, port: number): string[] {
  const args = ['--port', String(port), '--exit-on-stdin-eof']
  const num = (flag: string, v: number | undefined): void => {
    if (v !== undefined) args.push(flag, String(v))
  }
  num('--width', opts.width)
  num('--height', opts.height)
  num('--fps', opts.fps)
  num('--bitrate', opts.bitrate)
  num('--gop', opts.gop)
  num('--slices', opts.slices)
  num('--config-interval', opts.configInterval)
  num('--session-timeout', opts.sessionTimeout)
  if (opts.codec === 'h265') args.push('--h265')
  if (opts.user !== undefined) {
    args.push('--user', opts.user, '--password', opts.password ?? '', '--auth', opts.auth ?? 'basic')
  }
  for (const m of opts.mounts ?? ['/test']) {
    if (typeof m === 'string') {
      args.push('--mount', m)
      continue
    }
    const kv: string[] = []
    const keys: Array<[keyof RtspTestMount, string]> = [
      ['width', 'width'],
      ['height', 'height'],
      ['fps', 'fps'],
      ['bitrate', 'bitrate'],
      ['gop', 'gop'],
      ['slices', 'slices'],
      ['configInterval', 'config_interval'],
      ['codec', 'codec'],
      ['protocols', 'protocols'],
    ]
    for (const [key, name] of keys) if (m[key] !== undefined) kv.push(`${name}=${m[key]}`)
    if (m.tsJumpMs !== undefined) kv.push(`ts_jump_ms=${Math.round(m.tsJumpMs)}`)
    if (m.tsJumpAfterSeconds !== undefined) kv.push(`ts_jump_after=${m.tsJumpAfterSeconds}`)
    if (m.stamp) kv.push('stamp=1')
    args.push('--mount', kv.length ? `${m.path}:${kv.join(',')}` : m.path)
  }
  return args
}

export async function startRtspTestServer(opts: RtspTestServerOptions = {}): Promise<RtspTestServer> {
  installExitHook()
  const lines: string[] = []
  const counters: RtspTestServerCounters = {
    clientsConnected: 0,
    clientsClosed: 0,
    sessionsCreated: 0,
    sessionsRemoved: 0,
    mediaConfigured: 0,
    requests: {},
  }
  const waiters = new Set<{ pred: (l: string) => boolean; resolve: (l: string) => void }>()
  let child: ChildProcessWithoutNullStreams | undefined
  let port = opts.port ?? 0
  let closed = false
  let closePromise: Promise<void> | undefined

  const onLine = (line: string): void => {
    lines.push(line)
    const word = line.split(' ', 1)[0]
    if (word === 'CLIENT_CONNECTED') counters.clientsConnected++
    else if (word === 'CLIENT_CLOSED') counters.clientsClosed++
    else if (word === 'SESSION_SETUP') counters.sessionsCreated++
    else if (word === 'SESSION_REMOVED') counters.sessionsRemoved++
    else if (word === 'MEDIA_CONFIGURED') counters.mediaConfigured++
    else if (word === 'REQUEST') {
      const method = /method=(\S+)/.exec(line)?.[1] ?? '?'
      counters.requests[method] = (counters.requests[method] ?? 0) + 1
    }
    for (const w of waiters) {
      if (w.pred(line)) {
        waiters.delete(w)
        w.resolve(line)
      }
    }
  }

  const start = async (): Promise<void> => {
    const proc = spawn(PYTHON, [SCRIPT, ...buildArgs(opts, port)], { stdio: ['pipe', 'pipe', 'pipe'] })
    child = proc
    live.add(proc)
    proc.once('exit', () => live.delete(proc))
    let stderr = ''
    proc.stderr.setEncoding('utf8')
    proc.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000)
    })
    createInterface({ input: proc.stdout }).on('line', onLine)
    const timeoutMs = opts.startTimeoutMs ?? 15_000
    const ready = await new Promise<string>((resolve, reject) => {
      const waiter = { pred: (l: string) => l.startsWith('READY '), resolve }
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        proc.kill('SIGKILL')
        reject(new Error(`rtsp-test-server not ready within ${timeoutMs} ms: ${stderr}`))
      }, timeoutMs)
      const onExit = (code: number | null): void => {
        clearTimeout(timer)
        waiters.delete(waiter)
        reject(new Error(`rtsp-test-server exited with ${code} before READY: ${stderr}`))
      }
      proc.once('exit', onExit)
      waiters.add({
        pred: waiter.pred,
        resolve: (l) => {
          clearTimeout(timer)
          proc.off('exit', onExit)
          resolve(l)
        },
      })
    })
    port = Number(/port=(\d+)/.exec(ready)?.[1])
  }

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill(signal)
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
    proc.stdin.destroy()
  }

  await start()

  const api: RtspTestServer = {
    get port() {
      return port
    },
    get pid() {
      return child?.pid
    },
    url(mount = '/test', credentials) {
      const auth = credentials
        ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@`
        : ''
      return `rtsp://${auth}127.0.0.1:${port}${mount}`
    },
    counters,
    get activeClients() {
      return counters.clientsConnected - counters.clientsClosed
    },
    get activeSessions() {
      return counters.sessionsCreated - counters.sessionsRemoved
    },
    lines,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    waitForLine(pred, timeoutMs = 10_000) {
      const seen = lines.find(pred)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w)
          reject(new Error(`rtsp-test-server: no matching line within ${timeoutMs} ms`))
        }, timeoutMs)
        const w = {
          pred,
          resolve: (l: string) => {
            clearTimeout(timer)
            resolve(l)
          },
        }
        waiters.add(w)
      })
    },
    async jumpTimestamps(timeoutMs = 10_000) {
      if (!child) throw new Error('rtsp-test-server is not running')
      const from = lines.length
      const after = (prefix: string) => (l: string) => l.startsWith(prefix) && lines.indexOf(l, from) >= from
      const requested = api.waitForLine(after('TS_JUMP_REQUESTED '), timeoutMs)
      child.kill('SIGUSR1')
      const mounts = /mounts=(\S*)/.exec(await requested)![1]!.split(',').filter(Boolean)
      if (mounts.length === 0) throw new Error('rtsp-test-server: no playing mount has tsJumpMs')
      return Promise.all(mounts.map((path) => api.waitForLine(after(`TS_JUMP mount=${path} `), timeoutMs)))
    },
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    async restart() {
      if (closed) throw new Error('rtsp-test-server is closed')
      await terminate('SIGTERM')
      await start()
    },
    close() {
      closed = true
      closePromise ??= terminate('SIGTERM')
      return closePromise
    },
  }
  return api
}
