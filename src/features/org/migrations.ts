import { neverReuseIds, type Migration } from '../../core/db.js'
import { highestAuditedId } from '../audit/index.js'

export const orgMigrations: Migration[] = [
  {
    id: 'org-001',
    up: `
      CREATE TABLE units (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES units(id),
        tier TEXT NOT NULL CHECK (tier IN ('street', 'police_station', 'community', 'site')),
        code TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL,
        -- materialized path of ids, '/1/4/17/': a subtree is one index range scan
        path TEXT NOT NULL UNIQUE,
        address TEXT,
        lat REAL,
        lon REAL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CHECK ((tier = 'street') = (parent_id IS NULL))
      );
      CREATE INDEX units_parent ON units (parent_id);
    `,
  },
  {
    // A deleted unit's id is never given to a new one: unit paths in audit entries and evidence locks
    // still name it, and a new unit reusing it would take over their scope.
    id: 'org-002',
    rebuildsTables: true,
    up: (db) => neverReuseIds(db, 'units', highestAuditedId(db, 'unit')),
  },
]
