import { neverReuseIds, type Migration } from '../../core/db.js'
import { highestAuditedId } from '../audit/index.js'

export const registryMigrations: Migration[] = [
  {
    id: 'registry-001',
    up: `
      CREATE TABLE cameras (
        id INTEGER PRIMARY KEY,
        unit_id INTEGER NOT NULL REFERENCES units(id),
        name TEXT NOT NULL,
        class INTEGER NOT NULL CHECK (class IN (1, 2, 3)),
        kind TEXT NOT NULL CHECK (kind IN ('fixed', 'ptz', 'dome', 'door_access', 'checkpoint')),
        lat REAL,
        lon REAL,
        address TEXT,
        onvif_url TEXT,
        endpoint_ref TEXT,
        manufacturer TEXT,
        model TEXT,
        serial TEXT,
        firmware TEXT,
        main_uri TEXT,
        main_codec TEXT,
        main_width INTEGER,
        main_height INTEGER,
        main_fps REAL,
        main_profile_token TEXT,
        sub_uri TEXT,
        sub_codec TEXT,
        sub_width INTEGER,
        sub_height INTEGER,
        sub_fps REAL,
        sub_profile_token TEXT,
        snapshot_uri TEXT,
        ptz INTEGER NOT NULL DEFAULT 0,
        events INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT '[]',
        enabled INTEGER NOT NULL DEFAULT 1,
        shared_upward INTEGER NOT NULL DEFAULT 0,
        -- AES-256-GCM sealed {"username","password"}; the key is outside the database
        credentials TEXT,
        credentials_updated_at TEXT,
        clock_offset_ms INTEGER,
        status TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'online', 'degraded', 'offline')),
        status_reasons TEXT NOT NULL DEFAULT '[]',
        status_changed_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX cameras_unit ON cameras (unit_id, id);
      CREATE UNIQUE INDEX cameras_serial ON cameras (serial) WHERE serial IS NOT NULL;
      CREATE INDEX cameras_onvif ON cameras (onvif_url) WHERE onvif_url IS NOT NULL;
      CREATE INDEX cameras_endpoint ON cameras (endpoint_ref) WHERE endpoint_ref IS NOT NULL;

      -- Trigram full-text index: matches substrings in Chinese names and serials alike
      -- (unicode61 would treat a run of Han characters as one token).
      CREATE VIRTUAL TABLE cameras_fts USING fts5(
        name, tags, serial, address, content = 'cameras', content_rowid = 'id', tokenize = 'trigram'
      );
      CREATE TRIGGER cameras_fts_insert AFTER INSERT ON cameras BEGIN
        INSERT INTO cameras_fts (rowid, name, tags, serial, address) VALUES (new.id, new.name, new.tags, new.serial, new.address);
      END;
      CREATE TRIGGER cameras_fts_delete AFTER DELETE ON cameras BEGIN
        INSERT INTO cameras_fts (cameras_fts, rowid, name, tags, serial, address) VALUES ('delete', old.id, old.name, old.tags, old.serial, old.address);
      END;
      CREATE TRIGGER cameras_fts_update AFTER UPDATE OF name, tags, serial, address ON cameras BEGIN
        INSERT INTO cameras_fts (cameras_fts, rowid, name, tags, serial, address) VALUES ('delete', old.id, old.name, old.tags, old.serial, old.address);
        INSERT INTO cameras_fts (rowid, name, tags, serial, address) VALUES (new.id, new.name, new.tags, new.serial, new.address);
      END;
    `,
  },
  {
    // A deleted camera's id is never given to a new one: its footage, kept as evidence, and the audit
    // log still name it; a new camera reusing it would show the old camera's footage as its own.
    id: 'registry-002',
    rebuildsTables: true,
    up: (db) => neverReuseIds(db, 'cameras', highestAuditedId(db, 'camera')),
  },
  {
    // what the PTZ head can do (its node's spaces), read at adoption/refresh; NULL: not known
    id: 'registry-003-ptz-features',
    up: 'ALTER TABLE cameras ADD COLUMN ptz_features TEXT',
  },
]
