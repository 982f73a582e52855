import type { Migration } from '../../core/db.js'

export const plansMigrations: Migration[] = [
  {
    id: 'plans-001',
    up: `
      -- One site or district plan (平面图) per unit, for the offline map: the image itself and the
      -- latitude/longitude of its north-west and south-east corners (north up, linear in between).
      CREATE TABLE unit_plans (
        unit_id INTEGER PRIMARY KEY REFERENCES units(id),
        content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
        width INTEGER NOT NULL CHECK (width > 0),
        height INTEGER NOT NULL CHECK (height > 0),
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        nw_lat REAL NOT NULL CHECK (nw_lat BETWEEN -90 AND 90),
        nw_lon REAL NOT NULL CHECK (nw_lon BETWEEN -180 AND 180),
        se_lat REAL NOT NULL CHECK (se_lat BETWEEN -90 AND 90 AND se_lat < nw_lat),
        se_lon REAL NOT NULL CHECK (se_lon BETWEEN -180 AND 180 AND se_lon > nw_lon),
        image BLOB NOT NULL,
        uploaded_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
]
