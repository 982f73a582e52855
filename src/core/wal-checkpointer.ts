import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Db } from './db.js'

/** What one checkpoint did: WAL frames in the log, frames copied into the database, how long it took. */
export interface CheckpointResult {
  busy: boolean
  logFrames: number
  checkpointedFrames: number
  ms: number
}

export interface WalCheckpointerOptions {
  /** How often the WAL's size is looked at (ms). */
  intervalMs?: number
  /** Checkpoint once the WAL holds this many pages (SQLite's own auto-checkpoint threshold: 1000). */
  minPages?: number
  /** A checkpoint failed, or the worker died (the main connection then checkpoints itself again). */
  onError?: (err: Error) => void
}

/**
 * The WAL checkpoints of the gateway's store, run in a worker thread on a connection of their own.
 *
 * SQLite checkpoints on the connection that commits: the commit that takes the WAL past 1000 pages
 * also copies them into the database file and fsyncs it (synchronous=FULL), on the main thread,
 * where every request waits behind it. With footage being written to the same disk a checkpoint's
 * fsyncs took hundreds of ms (issue 26). Here the main connection no longer checkpoints
 * (wal_autocheckpoint=0) and a worker runs PASSIVE checkpoints when the WAL has grown: PASSIVE
 * never waits for the main connection's readers or writers, which go on meanwhile.
 *
 * Durability is unchanged: a commit is durable when its frames are fsynced into the WAL, which the
 * main connection still does at every commit; a checkpoint only moves committed pages into the
 * database file (and fsyncs it) before the WAL is reused.
 */
export class WalCheckpointer {
  readonly #db: Db
  readonly #worker: Worker
  readonly #waiting = new Map<number, { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void }>()
  readonly #onError: (err: Error) => void
  #nextId = 1
  #closing: Promise<void> | undefined
  #dead = false
  /** Checkpoints run, the WAL frames the last one found and copied, the longest one (ms). */
  readonly stats = { checkpoints: 0, lastLogFrames: 0, lastCheckpointedFrames: 0, maxMs: 0 }

  private constructor(db: Db, file: string, opts: WalCheckpointerOptions) {
    this.#db = db
    this.#onError = opts.onError ?? (() => undefined)
    db.pragma('wal_autocheckpoint = 0')
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        file,
        betterSqlite3: createRequire(import.meta.url).resolve('better-sqlite3'),
        intervalMs: opts.intervalMs ?? 1000,
        minPages: opts.minPages ?? 1000,
      },
    })
    this.#worker.unref()
    this.#worker.on('message', (m: { id?: number; result?: CheckpointResult; error?: string }) => {
      if (m.result) {
        this.stats.checkpoints++
        this.stats.lastLogFrames = m.result.logFrames
        this.stats.lastCheckpointedFrames = m.result.checkpointedFrames
        this.stats.maxMs = Math.max(this.stats.maxMs, m.result.ms)
      }
      const waiter = m.id ? this.#waiting.get(m.id) : undefined
      if (waiter) {
        this.#waiting.delete(m.id!)
        if (m.error) waiter.reject(new CheckpointError(m.error))
        else waiter.resolve(m.result!)
      } else if (m.error) this.#onError(new CheckpointError(m.error))
    })
    this.#worker.on('error', (err) => this.#died(err))
    this.#worker.on('exit', () => this.#died(new CheckpointError('checkpoint worker exited')))
  }

  /** Starts checkpointing `db` (the connection to `file`) from a worker thread. */
  static start(db: Db, file: string, opts: WalCheckpointerOptions = {}): WalCheckpointer {
    return new WalCheckpointer(db, file, opts)
  }

  /** Runs a PASSIVE checkpoint now, whatever the WAL's size. */
  checkpointNow(): Promise<CheckpointResult> {
    if (this.#closing || this.#dead) return Promise.reject(new CheckpointError('checkpointer closed'))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      this.#worker.postMessage({ checkpoint: id })
    })
  }

  /** Stops the worker and closes its connection (before the main connection closes). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#dead) {
        this.#worker.ref() // the process waits for the worker's connection to close
        const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()))
        this.#worker.postMessage({ close: true })
        await exited
      }
      // The main connection checkpoints on close as SQLite always does; later commits (shutdown
      // audit rows) checkpoint on it again as before.
      if (this.#db.open) this.#db.pragma('wal_autocheckpoint = 1000')
    })()
    return this.#closing
  }

  #died(err: Error): void {
    if (this.#dead) return
    this.#dead = true
    for (const w of this.#waiting.values()) w.reject(err)
    this.#waiting.clear()
    if (this.#closing) return
    // Without the worker the WAL would grow for ever: the main connection checkpoints again.
    if (this.#db.open) this.#db.pragma('wal_autocheckpoint = 1000')
    this.#onError(err)
  }
}

export class CheckpointError extends Error {
  override name = 'CheckpointError'
}

/** The WAL file of a database file, and its size now (0 when there is none). */
export function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size
  } catch {
    return 0
  }
}

// Plain CommonJS, run with eval: the same under tsx (tests) and compiled (production). The WAL's
// frame count is read from the wal-index header in the -shm file (mxFrame, a 32-bit native-order
// integer at byte 16: https://www.sqlite.org/walformat.html), as SQLite's own auto-checkpoint reads
// it; when that file cannot be read, any change (data_version) is checkpointed at the next tick.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const { endianness } = require('node:os')
const Database = require(workerData.betterSqlite3)
const db = new Database(workerData.file, { fileMustExist: true })
db.pragma('synchronous = FULL')
db.pragma('wal_autocheckpoint = 0')
const header = Buffer.alloc(48)
let lastVersion = db.pragma('data_version', { simple: true })
function walFrames() {
  let fd
  try {
    fd = openSync(workerData.file + '-shm', 'r')
    if (readSync(fd, header, 0, 48, 0) < 48) return -1
    return endianness() === 'LE' ? header.readUInt32LE(16) : header.readUInt32BE(16)
  } catch {
    return -1
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
function checkpoint() {
  const t0 = performance.now()
  const row = db.pragma('wal_checkpoint(PASSIVE)')[0]
  return { busy: row.busy === 1, logFrames: row.log, checkpointedFrames: row.checkpointed, ms: performance.now() - t0 }
}
// Frames already copied into the database: a checkpoint is due when as many again have been
// committed since (mxFrame restarts from 0 when a commit reuses the WAL after a complete one).
let backfilled = 0
const timer = setInterval(() => {
  const frames = walFrames()
  if (frames >= 0) {
    if (frames < backfilled) backfilled = 0
    if (frames - backfilled < workerData.minPages) return
  } else if (db.pragma('data_version', { simple: true }) === lastVersion) return
  try {
    const result = checkpoint()
    lastVersion = db.pragma('data_version', { simple: true })
    backfilled = result.checkpointedFrames
    parentPort.postMessage({ result })
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) })
  }
}, workerData.intervalMs)
parentPort.on('message', (m) => {
  if (m.close) {
    clearInterval(timer)
    db.close()
    parentPort.close()
    return
  }
  if (m.checkpoint) {
    try {
      parentPort.postMessage({ id: m.checkpoint, result: checkpoint() })
    } catch (err) {
      parentPort.postMessage({ id: m.checkpoint, error: String((err && err.message) || err) })
    }
  }
})
`
