import { neverReuseIds, type Migration } from '../../core/db.js'
import { highestAuditedId } from '../audit/index.js'

export const authMigrations: Migration[] = [
  {
    id: 'auth-001',
    up: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL,
        -- NULL: a gateway administrator above every street
        unit_id INTEGER REFERENCES units(id),
        roles TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT,
        last_login_at TEXT,
        password_changed_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX users_unit ON users (unit_id);
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        client TEXT,
        revoked_at TEXT
      );
      CREATE INDEX sessions_user ON sessions (user_id);
    `,
  },
  {
    // A deleted user's id is never given to a new one: the audit log still names its actions by it.
    id: 'auth-002',
    rebuildsTables: true,
    up: (db) => neverReuseIds(db, 'users', highestAuditedId(db, 'user')),
  },
]
