import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { open, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/**
 * The head anchor of the audit chain: the last row's id and hash, kept in a file beside the
 * database. The chain alone cannot show that its newest rows were deleted (what is left is a valid
 * shorter chain); the anchor, written from outside SQLite, can. Since the chain is keyed (audit-002)
 * the anchor carries a MAC under the audit key, so it cannot be rewritten to name a shorter chain.
 */
export interface AuditAnchor {
  /** 1: written before the audit key existed (no MAC); 2: carries `mac` under the audit key */
  version: 1 | 2
  /** the newest row when the anchor was written (rows are numbered from 1 without gaps) */
  lastId: number
  lastHash: string
  /** when the anchor was written */
  at: string
  /** version 2: HMAC-SHA256 of lastId, lastHash and at under the audit key (chain.ts anchorMac) */
  mac?: string
}

export const ANCHOR_FILE = 'audit-anchor.json'

/** `<dataDir>/audit-anchor.json`: the gateway writes it, `audit-verify` and GET /api/audit/verify read it. */
export function anchorPathFor(dataDir: string): string {
  return join(dataDir, ANCHOR_FILE)
}

export type AnchorRead = { state: 'missing' } | { state: 'invalid'; problem: string } | { state: 'present'; anchor: AuditAnchor }

export function readAnchor(path: string): AnchorRead {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' }
    return { state: 'invalid', problem: `cannot read it: ${(err as Error).message}` }
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return { state: 'invalid', problem: 'it is not JSON' }
  }
  const a = doc as Partial<AuditAnchor> | null
  if (
    !a ||
    (a.version !== 1 && a.version !== 2) ||
    (a.version === 2 && (typeof a.mac !== 'string' || !/^[0-9a-f]{64}$/.test(a.mac))) ||
    !Number.isSafeInteger(a.lastId) ||
    (a.lastId as number) < 1 ||
    typeof a.lastHash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(a.lastHash) ||
    typeof a.at !== 'string'
  ) {
    return { state: 'invalid', problem: 'it does not hold {version: 1, lastId, lastHash, at} or {version: 2, lastId, lastHash, at, mac}' }
  }
  const anchor: AuditAnchor = { version: a.version, lastId: a.lastId as number, lastHash: a.lastHash, at: a.at }
  if (a.version === 2) anchor.mac = a.mac
  return { state: 'present', anchor }
}

/**
 * Replaces the anchor atomically: the new content goes to a temporary file, is flushed to disk,
 * then renamed over the old one, so a reader (or a power cut) sees the old anchor or the new one,
 * never a torn one.
 */
export function writeAnchor(path: string, anchor: AuditAnchor): void {
  const tmp = `${path}.${process.pid}.tmp`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, JSON.stringify(anchor) + '\n')
    fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw err
  }
  closeSync(fd)
  renameSync(tmp, path)
  // Make the rename itself durable; not every file system lets a directory be fsynced.
  try {
    const dir = openSync(dirname(path), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
  } catch {
    /* best effort */
  }
}

let staged = 0

/** An anchor written and flushed to a temporary file, not yet in place. */
export interface StagedAnchor {
  /** Renames it over the anchor (a quick metadata change, on the calling thread). */
  commit(): void
  /** Removes it (a newer anchor went in meanwhile). */
  discard(): Promise<void>
  /** Makes the rename durable (best effort, off the calling thread). */
  syncDirectory(): Promise<void>
}

/**
 * writeAnchor's slow half off the event loop: the temporary file is written and fsynced by libuv's
 * thread pool (with footage on the same disk an fsync can take hundreds of ms); the caller renames
 * it into place with commit() once it has checked that no newer anchor went in meanwhile.
 */
export async function stageAnchor(path: string, anchor: AuditAnchor): Promise<StagedAnchor> {
  const tmp = `${path}.${process.pid}.${++staged}.tmp`
  const file = await open(tmp, 'w', 0o600)
  try {
    await file.writeFile(JSON.stringify(anchor) + '\n')
    await file.sync()
  } catch (err) {
    await file.close().catch(() => undefined)
    await rm(tmp, { force: true })
    throw err
  }
  await file.close()
  return {
    commit: () => renameSync(tmp, path),
    discard: () => rm(tmp, { force: true }),
    async syncDirectory() {
      try {
        const dir = await open(dirname(path), 'r')
        try {
          await dir.sync()
        } finally {
          await dir.close()
        }
      } catch {
        /* best effort, as in writeAnchor */
      }
    },
  }
}
