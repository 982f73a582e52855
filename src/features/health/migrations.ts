import type { Migration } from '../../core/db.js'

export const healthMigrations: Migration[] = [
  {
    id: 'health-001',
    up: `
      -- Latest check of each camera (one row per camera, replaced every check) and the hysteresis
      -- state that must survive a restart. No foreign key: a deleted camera's row is pruned by the
      -- service, and history outlives cameras.
      CREATE TABLE health_latest (
        camera_id INTEGER PRIMARY KEY,
        checked_at TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        results TEXT NOT NULL DEFAULT '[]',
        snapshot_hash TEXT,
        same_snapshot_count INTEGER NOT NULL DEFAULT 0
      );
      -- Status transitions: the online rate per hour/day/week is computed from these.
      -- class/kind/unit_id are copied at the time of the transition.
      CREATE TABLE health_transitions (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL,
        unit_id INTEGER NOT NULL,
        class INTEGER NOT NULL,
        kind TEXT NOT NULL,
        from_status TEXT NOT NULL,
        to_status TEXT NOT NULL,
        reasons TEXT NOT NULL DEFAULT '[]',
        at TEXT NOT NULL
      );
      CREATE INDEX health_transitions_camera ON health_transitions (camera_id, at);
      CREATE INDEX health_transitions_at ON health_transitions (at);
    `,
  },
]
