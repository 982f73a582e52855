import type { Migration } from '../../core/db.js'

export const casesMigrations: Migration[] = [
  {
    id: 'cases-001',
    up: `
      -- per-year counter for readable numbers (2026-000123), allocated inside the opening transaction
      CREATE TABLE case_counters (
        year INTEGER PRIMARY KEY,
        last INTEGER NOT NULL
      );
      CREATE TABLE cases (
        id INTEGER PRIMARY KEY,
        number TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        priority TEXT NOT NULL CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
        state TEXT NOT NULL CHECK (state IN ('registered', 'dispatched', 'in_progress', 'resolved', 'closed', 'archived')),
        title TEXT NOT NULL,
        description TEXT,
        unit_id INTEGER NOT NULL REFERENCES units(id),
        assignee_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
        -- the camera an alarm case is about: what repeated alarms are merged on
        camera_id INTEGER,
        source_alarm_id INTEGER,
        occurrences INTEGER NOT NULL DEFAULT 1,
        first_seen_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        notify_street INTEGER NOT NULL DEFAULT 0,
        location TEXT,
        ack_due_at TEXT NOT NULL,
        resolve_due_at TEXT NOT NULL,
        acknowledged_at TEXT,
        resolved_at TEXT,
        closed_at TEXT,
        archived_at TEXT,
        overdue_notified INTEGER NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX cases_unit ON cases (unit_id, id);
      CREATE INDEX cases_merge ON cases (camera_id, kind, state);
      CREATE INDEX cases_open_due ON cases (state, overdue_notified);
      CREATE INDEX cases_created ON cases (created_at);
      CREATE TABLE case_cameras (
        case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        camera_id INTEGER NOT NULL,
        camera_name TEXT NOT NULL,
        PRIMARY KEY (case_id, camera_id)
      );
      CREATE TABLE case_timeline (
        id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        actor_id INTEGER,
        type TEXT NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX case_timeline_case ON case_timeline (case_id, id);
      CREATE TABLE case_attachments (
        id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('snapshot', 'footage')),
        content_type TEXT,
        size INTEGER,
        sha256 TEXT,
        data BLOB,
        ref TEXT,
        camera_id INTEGER,
        taken_at TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX case_attachments_case ON case_attachments (case_id);
    `,
  },
]
