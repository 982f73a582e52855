import type { Migration } from '../../core/db.js'

export const auditMigrations: Migration[] = [
  {
    id: 'audit-001',
    up: `
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor_id INTEGER,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target_type TEXT,
        target_id TEXT,
        unit_path TEXT NOT NULL,
        client TEXT,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_log_unit ON audit_log (unit_path, id);
      CREATE INDEX audit_log_action ON audit_log (action, id);
      -- Append-only through the application. Someone with the file can drop these triggers;
      -- the hash chain is what detects that.
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
    `,
  },
]
