/**
 * Forward-only, numbered schema migrations. A migration is never edited once shipped:
 * changes go in a new, higher-numbered entry. Each runs in one transaction together with
 * the bump of PRAGMA user_version, so a crash mid-migration leaves the old schema intact.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE people (
  id            TEXT PRIMARY KEY,                 -- uuid
  external_id   TEXT UNIQUE,                      -- employee number / relay user id
  name          TEXT NOT NULL,
  status        TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','DEACTIVATED')),
  valid_from    TEXT,                             -- ISO date (inclusive), NULL = always
  valid_until   TEXT,                             -- ISO date (inclusive), NULL = never expires
  schedule_json TEXT,                             -- JSON array of weekly windows, NULL = any time
  notes         TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
CREATE INDEX people_name ON people(name COLLATE NOCASE);

CREATE TABLE face_templates (
  id          INTEGER PRIMARY KEY,
  person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  model_id    TEXT NOT NULL,                      -- manifest id of the embedder
  dim         INTEGER NOT NULL,
  embedding   BLOB NOT NULL,                      -- little-endian float32, L2-normalised
  quality     REAL NOT NULL,
  source      TEXT NOT NULL DEFAULT 'upload',     -- upload | camera | sync | cli
  created_at  TEXT NOT NULL
);
CREATE INDEX face_templates_person ON face_templates(person_id);
CREATE INDEX face_templates_model ON face_templates(model_id);

CREATE TABLE face_thumbnails (
  id          INTEGER PRIMARY KEY,
  person_id   TEXT REFERENCES people(id) ON DELETE CASCADE,
  event_id    TEXT,
  jpeg        BLOB NOT NULL,
  created_at  TEXT NOT NULL
);
CREATE INDEX face_thumbnails_person ON face_thumbnails(person_id);
CREATE INDEX face_thumbnails_created ON face_thumbnails(created_at);

CREATE TABLE access_events (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,   -- local order
  id              TEXT NOT NULL UNIQUE,                -- uuid, for de-duplication downstream
  ts              TEXT NOT NULL,                       -- ISO time of the decision
  result          TEXT NOT NULL CHECK (result IN ('GRANTED','DENIED')),
  reason          TEXT NOT NULL,                       -- reason code (see access/reasons.ts)
  person_id       TEXT,
  person_name     TEXT,
  score           REAL,
  margin          REAL,
  liveness_json   TEXT,                                -- liveness checks and scores
  track_id        INTEGER,
  source          TEXT NOT NULL DEFAULT 'camera',      -- camera | exit_button | admin | mqtt | cli
  door            TEXT NOT NULL DEFAULT 'main',
  details_json    TEXT
);
CREATE INDEX access_events_ts ON access_events(ts);
CREATE INDEX access_events_person ON access_events(person_id, ts);

CREATE TABLE attendance (
  id          INTEGER PRIMARY KEY,
  person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  day         TEXT NOT NULL,                      -- local date YYYY-MM-DD
  kind        TEXT NOT NULL CHECK (kind IN ('CHECK_IN','CHECK_OUT')),
  status      TEXT CHECK (status IN ('ON_TIME','LATE') OR status IS NULL),
  ts          TEXT NOT NULL,
  event_id    TEXT NOT NULL REFERENCES access_events(id),
  synced      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attendance_day ON attendance(day, person_id);
CREATE UNIQUE INDEX attendance_one_checkin ON attendance(person_id, day) WHERE kind = 'CHECK_IN';

CREATE TABLE auth_attempts (
  id          INTEGER PRIMARY KEY,
  ts          TEXT NOT NULL,
  kind        TEXT NOT NULL,                      -- admin_login | face
  subject     TEXT,                               -- username / track
  remote      TEXT,
  success     INTEGER NOT NULL,
  detail      TEXT
);
CREATE INDEX auth_attempts_subject ON auth_attempts(kind, subject, ts);
CREATE INDEX auth_attempts_remote ON auth_attempts(kind, remote, ts);

CREATE TABLE mqtt_outbox (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind        TEXT NOT NULL,                      -- access | alarm | health | state | ...
  topic       TEXT NOT NULL,
  payload     TEXT NOT NULL,
  qos         INTEGER NOT NULL DEFAULT 1,
  retain      INTEGER NOT NULL DEFAULT 0,
  created_at  TEXT NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mqtt_outbox_kind ON mqtt_outbox(kind, seq);

CREATE TABLE sync_outbox (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind        TEXT NOT NULL,                      -- attendance | person | template | event
  ref_id      TEXT NOT NULL,
  payload     TEXT NOT NULL,                      -- JSON; templates only as AES-256-GCM envelopes
  created_at  TEXT NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  last_error  TEXT
);

CREATE TABLE settings (
  key         TEXT PRIMARY KEY,                   -- config key path, e.g. access.threshold
  value_json  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  updated_by  TEXT
);

CREATE TABLE admin_users (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('admin','viewer')),
  created_at    TEXT NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until  TEXT
);

CREATE TABLE admin_sessions (
  id_hash       TEXT PRIMARY KEY,                 -- sha256 of the session token; the token itself is never stored
  user_id       INTEGER NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  csrf_token    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  last_seen_at  TEXT NOT NULL,
  expires_at    TEXT NOT NULL,
  remote        TEXT,
  user_agent    TEXT
);
CREATE INDEX admin_sessions_user ON admin_sessions(user_id);

CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  ts          TEXT NOT NULL,
  actor       TEXT NOT NULL,                      -- username, mqtt:<client>, cli, system
  action      TEXT NOT NULL,
  target      TEXT,
  details_json TEXT
);
CREATE INDEX audit_log_ts ON audit_log(ts);
`,
  },
  {
    version: 2,
    name: 'mqtt access-event cursor',
    sql: `
-- High-water mark of access_events.seq already copied into mqtt_outbox. The copy and the
-- mark move in one transaction, so after a crash the MQTT service catches up from exactly
-- where it stopped: no decision is skipped and none is queued twice.
CREATE TABLE mqtt_cursor (
  name        TEXT PRIMARY KEY,                   -- 'access_events'
  seq         INTEGER NOT NULL,
  updated_at  TEXT NOT NULL
);
`,
  },
  {
    version: 3,
    name: 'people registry revision',
    sql: `
-- Bumped in the same transaction as every change to people, face_templates or face_thumbnails
-- (registry/revisionTable.ts): a running unit notices changes made by another process (the CLI).
CREATE TABLE registry_revision (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  rev  INTEGER NOT NULL
);
INSERT INTO registry_revision (id, rev) VALUES (1, 0);
`,
  },
  {
    version: 4,
    name: 'coalesced sign-in refusals',
    sql: `
-- Sign-ins refused unread during a lock-out are counted in memory and written as one row per
-- address per minute (admin/loginThrottle.ts): count says how many that row stands for.
ALTER TABLE auth_attempts ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
`,
  },
  {
    version: 5,
    name: 'sync: record versions, template ids, tombstones, sync state',
    sql: `
-- The version stamp of each person for last-writer-wins sync (sync/lww.ts): bumped by every
-- change on this unit (registry/peopleRegistry.ts), taken from the winning record when a pulled
-- change is applied. sync_unit_id is the unit that wrote this version ('' = this unit, before
-- it had an id). people.updated_at is the stamp's time, people.created_at its enrolled_at.
ALTER TABLE people ADD COLUMN sync_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE people ADD COLUMN sync_unit_id TEXT NOT NULL DEFAULT '';
-- A globally unique id per template (bound into its envelope).
ALTER TABLE face_templates ADD COLUMN uid TEXT;
UPDATE face_templates SET uid = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX face_templates_uid ON face_templates(uid);
-- A deleted person's last version stamp, so an older version pulled later cannot bring them back.
CREATE TABLE sync_tombstones (
  person_id   TEXT PRIMARY KEY,
  version     INTEGER NOT NULL,
  updated_at  TEXT NOT NULL,
  unit_id     TEXT NOT NULL,
  enrolled_at TEXT NOT NULL
);
-- The unit's sync bookkeeping (store/outboxRepo.ts): whether changes are queued, the pull cursor,
-- which server and organisation it belongs to, the registration.
CREATE TABLE sync_state (
  key         TEXT PRIMARY KEY,
  value       TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX sync_outbox_ref ON sync_outbox(kind, ref_id);
`,
  },
  {
    version: 6,
    name: 'report indexes',
    sql: `
-- Measured on a seeded year of a 2,000-person site (npm run bench -- --only admin, docs/BENCHMARKS.md):
-- the events list filtered by a rare reason scanned every row (newest first) to fill a page;
CREATE INDEX access_events_reason ON access_events(reason, seq);
-- one person's timesheet over a long period walked every person's rows of each day;
CREATE INDEX attendance_person_day ON attendance(person_id, day);
-- check-ins per hour and late arrivals per day read only check-ins: a covering index of them.
CREATE INDEX attendance_checkin_day ON attendance(day, ts) WHERE kind = 'CHECK_IN';
`,
  },
  {
    version: 7,
    name: 'face chips',
    sql: `
-- The aligned face chip of each enrollment photo (registry/chipsTable.ts): a PNG of the face warped
-- to the ArcFace 112×112 five-point template, which no embedder owns, so a new embedder can be fed
-- the same faces without the photos (registry/reembedder.ts). They never leave the unit (not synced)
-- and go with the person.
CREATE TABLE face_chips (
  id          INTEGER PRIMARY KEY,
  person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  alignment   TEXT NOT NULL,                      -- arcface112: RGB, 112×112, ArcFace template
  png         BLOB NOT NULL,
  quality     REAL NOT NULL,
  created_at  TEXT NOT NULL
);
CREATE INDEX face_chips_person ON face_chips(person_id);
`,
  },
];
