import type { Migration } from '../../core/db.js'

export const discoveryMigrations: Migration[] = [
  {
    id: 'discovery-001',
    up: `
      -- Quarantine: what discovery found. Never a camera until a technician adopts it.
      CREATE TABLE discovery_candidates (
        id INTEGER PRIMARY KEY,
        -- lower-cased, trimmed wsa:EndpointReference: the identity candidates are deduplicated on
        endpoint_key TEXT NOT NULL UNIQUE,
        endpoint_ref TEXT NOT NULL,
        address TEXT NOT NULL,
        xaddrs TEXT NOT NULL DEFAULT '[]',
        scopes TEXT NOT NULL DEFAULT '[]',
        name TEXT,
        location TEXT,
        hardware TEXT,
        types TEXT NOT NULL DEFAULT '[]',
        -- learned when an adoption attempt interrogated the device (discovery itself never logs in)
        serial TEXT,
        source TEXT NOT NULL CHECK (source IN ('multicast', 'unicast', 'direct')),
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        scan_id INTEGER,
        state TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'registered', 'moved')),
        camera_id INTEGER,
        camera_address TEXT
      );
      CREATE INDEX discovery_candidates_state ON discovery_candidates (state, id);
      CREATE INDEX discovery_candidates_address ON discovery_candidates (address);

      CREATE TABLE discovery_jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('scan', 'unit_refresh')),
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        actor TEXT NOT NULL,
        unit_path TEXT NOT NULL,
        request TEXT NOT NULL,
        progress TEXT NOT NULL DEFAULT '{}',
        results TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT
      );
    `,
  },
]
