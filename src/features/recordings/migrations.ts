import type { Migration } from '../../core/db.js'

export const recordingsMigrations: Migration[] = [
  {
    id: 'recordings-001',
    up: `
      -- recording mode per camera (no row: off)
      CREATE TABLE recording_settings (
        camera_id INTEGER PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
        mode TEXT NOT NULL CHECK (mode IN ('continuous', 'on_alarm', 'off')),
        stream TEXT NOT NULL CHECK (stream IN ('main', 'sub')),
        pre_seconds INTEGER NOT NULL,
        post_seconds INTEGER NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- one finished fragmented-MP4 segment; footage outlives its camera row (evidence)
      CREATE TABLE recording_segments (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL,
        -- wall-clock start of the recording session (ms) and the segment number in it
        session INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        -- relative to the recording root; never taken from a request
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        -- bytes of ftyp+moov (HLS EXT-X-MAP range)
        init_size INTEGER NOT NULL,
        codec TEXT NOT NULL,
        -- JSON array of keyframe offsets (ms from start_ms)
        keyframes TEXT NOT NULL,
        -- 1: indexed after a crash (probed), not announced by the recorder
        recovered INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      );
      CREATE INDEX recording_segments_camera_start ON recording_segments (camera_id, start_ms);
      CREATE INDEX recording_segments_start ON recording_segments (start_ms);
      -- evidence locks: footage of a camera in a time range kept from retention
      CREATE TABLE recording_locks (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL,
        from_ms INTEGER NOT NULL,
        to_ms INTEGER NOT NULL,
        case_id INTEGER,
        export_id TEXT,
        reason TEXT NOT NULL,
        unit_path TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        released_at TEXT,
        released_by TEXT
      );
      CREATE INDEX recording_locks_camera ON recording_locks (camera_id, from_ms);
      -- retention days per unit (subtree) or camera class
      CREATE TABLE recording_retention (
        kind TEXT NOT NULL CHECK (kind IN ('unit', 'class')),
        key INTEGER NOT NULL,
        days INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
      );
      CREATE TABLE recording_exports (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        progress INTEGER NOT NULL,
        camera_ids TEXT NOT NULL,
        from_ms INTEGER NOT NULL,
        to_ms INTEGER NOT NULL,
        case_id INTEGER,
        reason TEXT,
        frame_exact INTEGER NOT NULL,
        created_by_id INTEGER,
        created_by TEXT NOT NULL,
        unit_path TEXT NOT NULL,
        file TEXT,
        size INTEGER,
        sha256 TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
      );
    `,
  },
  {
    id: 'recordings-002',
    up: `
      -- the camera's clock minus the gateway's (ms) as health checks last measured it (ONVIF
      -- GetSystemDateAndTime) when the segment was indexed; NULL: not known (no ONVIF, recovered
      -- after a crash, or indexed before this column existed)
      ALTER TABLE recording_segments ADD COLUMN camera_clock_offset_ms INTEGER;
    `,
  },
]
