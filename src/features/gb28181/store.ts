import { nowIso, type Db } from '../../core/db.js'
import type { CatalogItem, ChannelStatus } from '../../lib/gb28181/index.js'
import type { SipTransport } from '../../lib/sip/index.js'

export interface DeviceRow {
  id: number
  device_id: string
  password_sealed: string | null
  name: string | null
  manufacturer: string | null
  model: string | null
  firmware: string | null
  transport: SipTransport | null
  address: string | null
  port: number | null
  registered_at: string | null
  expires_at: string | null
  last_keepalive_at: string | null
  online: 0 | 1
  offline_reason: string | null
  encoding: string | null
  catalog_sum: number | null
  catalog_at: string | null
  created_at: string
  updated_at: string
}

export interface ChannelRow {
  id: number
  device_id: string
  channel_id: string
  kind: string
  name: string
  status: ChannelStatus
  parent_id: string | null
  civil_code: string | null
  address: string | null
  manufacturer: string | null
  model: string | null
  ptz_type: string | null
  longitude: number | null
  latitude: number | null
  updated_at: string
}

export class GbStore {
  constructor(readonly db: Db) {}

  device(deviceId: string): DeviceRow | undefined {
    return this.db.prepare('SELECT * FROM gb_devices WHERE device_id = ?').get(deviceId) as DeviceRow | undefined
  }

  devices(): DeviceRow[] {
    return this.db.prepare('SELECT * FROM gb_devices ORDER BY device_id').all() as DeviceRow[]
  }

  onlineDevices(): DeviceRow[] {
    return this.db.prepare('SELECT * FROM gb_devices WHERE online = 1').all() as DeviceRow[]
  }

  /** Creates the row if the device is new; returns it. */
  ensureDevice(deviceId: string): DeviceRow {
    const now = nowIso()
    this.db.prepare('INSERT INTO gb_devices (device_id, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (device_id) DO NOTHING').run(deviceId, now, now)
    return this.device(deviceId)!
  }

  setPassword(deviceId: string, sealed: string): void {
    this.ensureDevice(deviceId)
    this.db.prepare('UPDATE gb_devices SET password_sealed = ?, updated_at = ? WHERE device_id = ?').run(sealed, nowIso(), deviceId)
  }

  registered(deviceId: string, r: { transport: SipTransport; address: string; port: number; expiresAt: string }): void {
    const now = nowIso()
    this.db
      .prepare('UPDATE gb_devices SET transport = ?, address = ?, port = ?, registered_at = ?, expires_at = ?, last_keepalive_at = ?, online = 1, offline_reason = NULL, updated_at = ? WHERE device_id = ?')
      .run(r.transport, r.address, r.port, now, r.expiresAt, now, now, deviceId)
  }

  /** A keepalive: seen now, from where (a device's NAT mapping may move). */
  keepalive(deviceId: string, from: { transport: SipTransport; address: string; port: number }): void {
    const now = nowIso()
    this.db.prepare('UPDATE gb_devices SET last_keepalive_at = ?, online = 1, offline_reason = NULL, transport = ?, address = ?, port = ?, updated_at = ? WHERE device_id = ?').run(now, from.transport, from.address, from.port, now, deviceId)
  }

  offline(deviceId: string, reason: string): void {
    this.db.prepare('UPDATE gb_devices SET online = 0, offline_reason = ?, updated_at = ? WHERE device_id = ?').run(reason, nowIso(), deviceId)
  }

  info(deviceId: string, i: { name?: string | undefined; manufacturer?: string | undefined; model?: string | undefined; firmware?: string | undefined; encoding?: string | undefined }): void {
    this.db
      .prepare('UPDATE gb_devices SET name = COALESCE(?, name), manufacturer = COALESCE(?, manufacturer), model = COALESCE(?, model), firmware = COALESCE(?, firmware), encoding = COALESCE(?, encoding), updated_at = ? WHERE device_id = ?')
      .run(i.name ?? null, i.manufacturer ?? null, i.model ?? null, i.firmware ?? null, i.encoding ?? null, nowIso(), deviceId)
  }

  deleteDevice(deviceId: string): boolean {
    return this.db.prepare('DELETE FROM gb_devices WHERE device_id = ?').run(deviceId).changes > 0
  }

  channels(deviceId: string): ChannelRow[] {
    return this.db.prepare('SELECT * FROM gb_channels WHERE device_id = ? ORDER BY channel_id').all(deviceId) as ChannelRow[]
  }

  /** A whole catalog: channels upserted, those it no longer lists removed, in one transaction. */
  replaceCatalog(deviceId: string, sum: number, items: CatalogItem[]): void {
    const now = nowIso()
    this.db.transaction(() => {
      for (const i of items) this.replaceOne(deviceId, i, now)
      const keep = new Set(items.map((i) => i.deviceId))
      const gone = this.channels(deviceId).filter((c) => !keep.has(c.channel_id))
      const del = this.db.prepare('DELETE FROM gb_channels WHERE id = ?')
      for (const g of gone) del.run(g.id)
      this.db.prepare('UPDATE gb_devices SET catalog_sum = ?, catalog_at = ?, updated_at = ? WHERE device_id = ?').run(sum, now, now, deviceId)
    })()
  }

  /** A catalog Notify: the listed channels changed (ADD/UPDATE/ON/OFF) or went (DEL). */
  applyCatalogEvents(deviceId: string, items: CatalogItem[]): void {
    const now = nowIso()
    this.db.transaction(() => {
      for (const i of items) {
        if (i.event === 'del') {
          this.db.prepare('DELETE FROM gb_channels WHERE device_id = ? AND channel_id = ?').run(deviceId, i.deviceId)
        } else if (i.event === 'on' || i.event === 'off') {
          this.db.prepare('UPDATE gb_channels SET status = ?, updated_at = ? WHERE device_id = ? AND channel_id = ?').run(i.event, now, deviceId, i.deviceId)
        } else {
          this.replaceOne(deviceId, i, now)
        }
      }
    })()
  }

  replaceOne(deviceId: string, i: CatalogItem, now = nowIso()): void {
    this.db
      .prepare(`INSERT INTO gb_channels (device_id, channel_id, kind, name, status, parent_id, civil_code, address, manufacturer, model, ptz_type, longitude, latitude, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (device_id, channel_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, status = excluded.status, parent_id = excluded.parent_id,
          civil_code = excluded.civil_code, address = excluded.address, manufacturer = excluded.manufacturer, model = excluded.model,
          ptz_type = excluded.ptz_type, longitude = excluded.longitude, latitude = excluded.latitude, updated_at = excluded.updated_at`)
      .run(deviceId, i.deviceId, i.kind, i.name, i.status, i.parentId ?? null, i.civilCode ?? null, i.address ?? null, i.manufacturer ?? null, i.model ?? null, i.ptzType ?? null, i.longitude ?? null, i.latitude ?? null, now)
  }
}
