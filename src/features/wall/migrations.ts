import { neverReuseIds, type Migration } from '../../core/db.js'
import { highestAuditedId } from '../audit/index.js'

export const wallMigrations: Migration[] = [
  {
    id: 'wall-001',
    up: `
      -- one saved video wall per user: the layout size and the camera shown in each tile
      CREATE TABLE wall_layouts (
        user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        size INTEGER NOT NULL CHECK (size IN (1, 4, 9, 16)),
        -- JSON array of camera ids or null, one per tile
        tiles TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- patrol tours (轮巡): a named group of cameras cycled across the wall
      CREATE TABLE tours (
        id INTEGER PRIMARY KEY,
        unit_id INTEGER NOT NULL REFERENCES units(id),
        name TEXT NOT NULL,
        interval_seconds INTEGER NOT NULL CHECK (interval_seconds BETWEEN 3 AND 3600),
        -- JSON array of camera ids, in patrol order
        camera_ids TEXT NOT NULL,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX tours_unit ON tours (unit_id);
    `,
  },
  {
    // A deleted tour's id is never given to a new one: the audit log still names it.
    id: 'wall-002',
    rebuildsTables: true,
    up: (db) => neverReuseIds(db, 'tours', highestAuditedId(db, 'tour')),
  },
]
