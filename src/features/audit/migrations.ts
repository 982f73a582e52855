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
  {
    // The chain becomes keyed (HMAC-SHA256 under the audit key, kept outside the database) from the
    // next row on; rows already written keep their plain SHA-256 and still verify. The gateway seals
    // the upgrade point with the key when it first starts (AuditLog), before any keyed row exists.
    id: 'audit-002',
    up: `
      CREATE TABLE audit_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        scheme TEXT NOT NULL,
        keyed_from_id INTEGER NOT NULL,
        seal TEXT
      );
      INSERT INTO audit_chain (id, scheme, keyed_from_id) SELECT 1, 'hmac-sha256', coalesce(max(id), 0) + 1 FROM audit_log;
      CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'the audit chain record is permanent'); END;
      CREATE TRIGGER audit_chain_sealed_once BEFORE UPDATE ON audit_chain
        WHEN OLD.seal IS NOT NULL OR NEW.keyed_from_id IS NOT OLD.keyed_from_id OR NEW.scheme IS NOT OLD.scheme
        BEGIN SELECT RAISE(ABORT, 'the audit chain record is permanent once sealed'); END;
    `,
  },
]
