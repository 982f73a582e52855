import type { Migration } from '../../core/db.js'

export const eventsMigrations: Migration[] = [
  {
    id: 'events-001',
    up: `
      -- The push stream's journal: written in the same transaction as the change it reports,
      -- so a client resuming with Last-Event-ID gets exactly what it missed.
      CREATE TABLE stream_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        -- the org subtree the event belongs to: visible to users whose unit path is a prefix
        unit_path TEXT NOT NULL,
        payload TEXT NOT NULL
      );
      CREATE INDEX stream_events_at ON stream_events (at);
      CREATE INDEX stream_events_scope ON stream_events (unit_path, id);
    `,
  },
  {
    id: 'events-002',
    up: `
      -- 内保外用: an event about a site camera that is not shared upward (its status, say) goes to
      -- the site itself and to the admins and technicians above it, not to patrol or research
      -- roles above it, the same rule the registry applies to the camera.
      ALTER TABLE stream_events ADD COLUMN site_private INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    id: 'events-003',
    up: `
      -- The camera an event is about (alarm.new, camera.status): delivery and replay apply the
      -- registry's visibility of that camera as it is when the event is sent, so sharing a site
      -- camera upward, or taking the sharing back, holds for its events too.
      ALTER TABLE stream_events ADD COLUMN camera_id INTEGER;
    `,
  },
]
