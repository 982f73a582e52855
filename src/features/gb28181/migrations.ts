import type { Migration } from '../../core/db.js'

export const gb28181Migrations: Migration[] = [
  {
    id: 'gb28181-001',
    up: `
      -- GB/T 28181 devices (cameras, NVRs, lower platforms) known to the gateway: created when a
      -- technician sets a device's password, or when a device registers with the default one.
      CREATE TABLE gb_devices (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL UNIQUE CHECK (length(device_id) = 20),
        -- sealed with the credential key (SecretBox, purpose gb_device:<device_id>); null: the default password
        password_sealed TEXT,
        name TEXT,
        manufacturer TEXT,
        model TEXT,
        firmware TEXT,
        -- where the last REGISTER came from: requests to the device go back there (NAT)
        transport TEXT CHECK (transport IN ('UDP', 'TCP')),
        address TEXT,
        port INTEGER,
        registered_at TEXT,
        expires_at TEXT,
        last_keepalive_at TEXT,
        online INTEGER NOT NULL DEFAULT 0,
        offline_reason TEXT,
        -- the encoding its MANSCDP bodies came in (we answer in it)
        encoding TEXT,
        catalog_sum INTEGER,
        catalog_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- Channels as the device's catalog lists them (cameras, alarm inputs, business groups...).
      CREATE TABLE gb_channels (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL REFERENCES gb_devices (device_id) ON DELETE CASCADE,
        channel_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('on', 'off', 'unknown')),
        parent_id TEXT,
        civil_code TEXT,
        address TEXT,
        manufacturer TEXT,
        model TEXT,
        ptz_type TEXT,
        longitude REAL,
        latitude REAL,
        updated_at TEXT NOT NULL,
        UNIQUE (device_id, channel_id)
      );
    `,
  },
]
