import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import type { Readable, Writable } from 'node:stream'

/**
 * A supervised child process (ffmpeg, usually): spawned with an argv array (never a shell),
 * stderr kept as a short redacted tail, killed on close() with SIGTERM then SIGKILL, and reaped
 * (its 'exit' always observed) so no zombie or orphan remains. Every live child is tracked so a
 * crashing gateway kills them on its way out.
 */

const live = new Set<ChildProcess>()
let exitHook = false
function installExitHook(): void {
  if (exitHook) return
  exitHook = true
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL')
  })
}

/** Children alive right now (tests assert this returns to zero). */
export function liveChildCount(): number {
  return live.size
}

/** Replaces user:password@ in URLs and any listed secret with ***. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]*:[^/\s@]*@/gi, '$1***:***@')
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***')
  return out
}

export interface SupervisedProcessOptions {
  command: string
  args: readonly string[]
  /** Open a stdin pipe (e.g. for piping a bitstream in). Default false (stdin is /dev/null). */
  stdin?: boolean
  /** Strings to hide from stderr text (passwords). URLs with credentials are always redacted. */
  secrets?: readonly string[]
  /** Grace period between SIGTERM and SIGKILL on close(). Default 2000 ms. */
  killTimeoutMs?: number
  /** Bytes of stderr kept. Default 4096. */
  stderrTailBytes?: number
}

export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Last lines of stderr, redacted. */
  stderr: string
  /** True when close() asked for the exit. */
  requested: boolean
}

export interface SupervisedProcessEvents {
  exit: [ProcessExit]
  /** spawn failed (binary missing…); 'exit' follows. */
  error: [Error]
}

export class SupervisedProcess extends EventEmitter<SupervisedProcessEvents> {
  readonly pid: number | undefined
  readonly stdout: Readable
  readonly stdin: Writable | null
  readonly exited: Promise<ProcessExit>
  readonly #child: ChildProcess
  readonly #secrets: readonly string[]
  readonly #killTimeoutMs: number
  readonly #tailBytes: number
  #stderr = ''
  #requested = false
  #exit: ProcessExit | undefined
  #closing: Promise<ProcessExit> | undefined

  constructor(opts: SupervisedProcessOptions) {
    super()
    installExitHook()
    this.#secrets = opts.secrets ?? []
    this.#killTimeoutMs = opts.killTimeoutMs ?? 2000
    this.#tailBytes = opts.stderrTailBytes ?? 4096
    const child = spawn(opts.command, [...opts.args], { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], shell: false, windowsHide: true })
    this.#child = child
    this.pid = child.pid
    this.stdout = child.stdout!
    this.stdin = child.stdin ?? null
    // A reader that stops caring must not make the child die of EPIPE noise in our process.
    this.stdin?.on('error', () => undefined)
    this.stdout.on('error', () => undefined)
    live.add(child)
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-this.#tailBytes)
    })
    this.exited = new Promise<ProcessExit>((resolve) => {
      let spawnError: Error | undefined
      child.once('error', (err) => {
        spawnError = err
        this.emit('error', new Error(redactSecrets(err.message, this.#secrets)))
        // 'exit' may not follow a spawn failure: settle here.
        if (child.pid === undefined) finish(null, null)
      })
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.#exit) return
        live.delete(child)
        const stderr = redactSecrets(this.#stderr + (spawnError ? `\n${spawnError.message}` : ''), this.#secrets).trim()
        this.#exit = { code, signal, stderr, requested: this.#requested }
        resolve(this.#exit)
        this.emit('exit', this.#exit)
      }
      child.once('exit', (code, signal) => {
        // Let stderr drain so the tail holds the last words.
        setImmediate(() => finish(code, signal))
      })
    })
  }

  get running(): boolean {
    return this.#exit === undefined
  }

  get stderrTail(): string {
    return redactSecrets(this.#stderr, this.#secrets).trim()
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the child is reaped. Idempotent. */
  close(): Promise<ProcessExit> {
    if (this.#closing) return this.#closing
    this.#requested = true
    if (this.#exit) return (this.#closing = Promise.resolve(this.#exit))
    this.stdin?.destroy()
    this.#child.kill('SIGTERM')
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), this.#killTimeoutMs)
    timer.unref()
    this.#closing = this.exited.finally(() => clearTimeout(timer))
    return this.#closing
  }
}

/** Runs a child to completion with `input` on stdin; resolves stdout. Killed after `timeoutMs`. */
export async function runToBuffer(command: string, args: readonly string[], input: Buffer | null, timeoutMs: number, secrets: readonly string[] = []): Promise<Buffer> {
  const proc = new SupervisedProcess({ command, args, stdin: input !== null, secrets })
  const chunks: Buffer[] = []
  proc.stdout.on('data', (c: Buffer) => chunks.push(c))
  const timer = setTimeout(() => void proc.close(), timeoutMs)
  if (input && proc.stdin) proc.stdin.end(input)
  const exit = await proc.exited
  clearTimeout(timer)
  if (exit.requested) throw new Error(`${command} timed out after ${timeoutMs} ms`)
  if (exit.code !== 0) throw new Error(`${command} exited with ${exit.code ?? exit.signal}: ${exit.stderr.slice(-500)}`)
  return Buffer.concat(chunks)
}
