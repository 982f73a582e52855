import type { Migration } from '../../core/db.js'

export const alarmsMigrations: Migration[] = [
  {
    id: 'alarms-001',
    up: `
      -- Webhook senders (one-button boxes, other systems): a token each, stored as SHA-256, bound to a subtree.
      CREATE TABLE alarm_sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        unit_id INTEGER NOT NULL REFERENCES units(id),
        token_hash TEXT NOT NULL UNIQUE,
        token_hint TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT
      );
      CREATE INDEX alarm_sources_unit ON alarm_sources (unit_id);
      CREATE TABLE alarms (
        id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('webhook', 'onvif', 'health')),
        source_id INTEGER REFERENCES alarm_sources(id),
        external_id TEXT,
        camera_id INTEGER,
        -- the camera's (or box's) unit when the alarm arrived; kept when the camera moves
        unit_id INTEGER NOT NULL,
        topic TEXT,
        payload TEXT,
        description TEXT,
        location TEXT,
        case_id INTEGER REFERENCES cases(id),
        outcome TEXT NOT NULL CHECK (outcome IN ('opened', 'merged', 'logged'))
      );
      CREATE UNIQUE INDEX alarms_idempotency ON alarms (source_id, external_id) WHERE external_id IS NOT NULL;
      CREATE INDEX alarms_unit ON alarms (unit_id, id);
      CREATE INDEX alarms_case ON alarms (case_id);
      CREATE INDEX alarms_camera ON alarms (camera_id, id);
      -- Rules per unit and kind; the most specific (camera's unit, then ancestors) wins, else built-in defaults.
      CREATE TABLE alarm_rules (
        unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('case', 'log')),
        priority TEXT NOT NULL CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
        handling_tier TEXT NOT NULL CHECK (handling_tier IN ('own', 'community', 'police_station', 'street')),
        notify_street INTEGER NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (unit_id, kind)
      );
    `,
  },
]
