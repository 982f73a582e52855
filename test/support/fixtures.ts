import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Gateway } from '../../src/app.js'
import { SYSTEM_SCOPE, systemPrincipal, type Principal } from '../../src/core/scope.js'
import type { Unit } from '../../src/features/org/index.js'
import type { Camera, CameraInput } from '../../src/features/registry/index.js'

/**
 * Small helpers for feature tests: look units up by code, make cameras and units directly through
 * the services (fast, no HTTP), and reach the SQLite file behind a gateway's back.
 */
export const SYSTEM: Principal = systemPrincipal('test')

export function unit(gw: Pick<Gateway, 'services'>, code: string): Unit {
  const u = gw.services.org.findByCode(SYSTEM_SCOPE, code)
  if (!u) throw new Error(`no unit ${code}`)
  return u
}

let serial = 0
/** A camera in the unit with that code; unique name and serial unless given. */
export function makeCamera(gw: Pick<Gateway, 'services'>, unitCode: string, extra: Partial<CameraInput> = {}): Camera {
  const n = ++serial
  return gw.services.registry.create(SYSTEM, {
    unitId: unit(gw, unitCode).id,
    name: `测试摄像机 ${unitCode} #${n}`,
    class: 2,
    kind: 'fixed',
    device: { serial: `T-${process.pid}-${n}` },
    streams: { main: { uri: `rtsp://10.9.${Math.floor(n / 250)}.${n % 250}/main`, codec: 'h264' } },
    ...extra,
  })
}

let unitSeq = 0
/** An empty unit of the tier below the parent's. */
export function makeChildUnit(gw: Pick<Gateway, 'services'>, parentCode: string, name = '测试单位'): Unit {
  const parent = unit(gw, parentCode)
  const tier = ({ street: 'police_station', police_station: 'community', community: 'site' } as const)[parent.tier as 'street']
  if (!tier) throw new Error(`${parentCode} is a site: it has no children`)
  return gw.services.org.create(SYSTEM, { parentId: parent.id, tier, code: `T${process.pid}-U${++unitSeq}`, name: `${name}${unitSeq}` })
}

/** A second connection to the gateway's SQLite file, as someone with shell access would open it. */
export function openRawDb(dataDir: string): Database.Database {
  return new Database(join(dataDir, 'gateway.db'))
}

/** Every byte SQLite holds on disk for this gateway: the main file and the write-ahead log. */
export function storeBytes(dataDir: string): Buffer {
  const parts = ['gateway.db', 'gateway.db-wal', 'gateway.db-shm']
    .map((f) => join(dataDir, f))
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f))
  return Buffer.concat(parts)
}
