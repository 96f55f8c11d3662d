-- benhan SQLite schema, version 1. See docs/storage_format.md.
-- Every version of every resource is kept (resource_version); resource points at the current one.
CREATE TABLE resource (
  rid          INTEGER PRIMARY KEY,
  rtype        TEXT    NOT NULL,
  id           TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  seq          INTEGER NOT NULL,   -- resource_version.seq of the current version
  last_updated INTEGER NOT NULL,   -- epoch microseconds, UTC
  deleted      INTEGER NOT NULL,
  UNIQUE (rtype, id)
);
CREATE INDEX resource_type_updated ON resource (rtype, last_updated);

CREATE TABLE resource_version (
  seq          INTEGER PRIMARY KEY,  -- global change sequence: history order and outbox cursor
  rid          INTEGER NOT NULL,
  version      INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  method       TEXT    NOT NULL,
  deleted      INTEGER NOT NULL,
  json         BLOB    NOT NULL      -- canonical JSON with id and meta; empty for tombstones
);
CREATE UNIQUE INDEX resource_version_rid ON resource_version (rid, version);
CREATE INDEX resource_version_updated ON resource_version (last_updated);

-- Search parameters in use: (resource type, code) -> small integer.
CREATE TABLE search_param (
  pid   INTEGER PRIMARY KEY,
  rtype TEXT NOT NULL,
  code  TEXT NOT NULL,
  UNIQUE (rtype, code)
);

-- Search index rows of the current version of each resource (replaced on every write).
CREATE TABLE idx_string (rid INTEGER NOT NULL, pid INTEGER NOT NULL, folded TEXT NOT NULL, exact TEXT NOT NULL);
CREATE INDEX idx_string_rid ON idx_string (rid);
CREATE INDEX idx_string_val ON idx_string (pid, folded);
CREATE TABLE idx_token (rid INTEGER NOT NULL, pid INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX idx_token_rid ON idx_token (rid);
CREATE INDEX idx_token_val ON idx_token (pid, code, system);
CREATE TABLE idx_reference (rid INTEGER NOT NULL, pid INTEGER NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL);
CREATE INDEX idx_reference_rid ON idx_reference (rid);
CREATE INDEX idx_reference_val ON idx_reference (pid, target_id, target_type);
CREATE TABLE idx_date (rid INTEGER NOT NULL, pid INTEGER NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL);
CREATE INDEX idx_date_rid ON idx_date (rid);
CREATE INDEX idx_date_val ON idx_date (pid, low, high);
CREATE TABLE idx_number (rid INTEGER NOT NULL, pid INTEGER NOT NULL, value REAL NOT NULL);
CREATE INDEX idx_number_rid ON idx_number (rid);
CREATE INDEX idx_number_val ON idx_number (pid, value);
CREATE TABLE idx_quantity (rid INTEGER NOT NULL, pid INTEGER NOT NULL, value REAL NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid);
CREATE INDEX idx_quantity_val ON idx_quantity (pid, value);
CREATE TABLE idx_uri (rid INTEGER NOT NULL, pid INTEGER NOT NULL, uri TEXT NOT NULL);
CREATE INDEX idx_uri_rid ON idx_uri (rid);
CREATE INDEX idx_uri_val ON idx_uri (pid, uri);

-- Audit trail: every read and write of patient data (security/ adds the hash chain).
CREATE TABLE audit_event (
  aid       INTEGER PRIMARY KEY,
  time      INTEGER NOT NULL,
  principal TEXT NOT NULL,
  action    TEXT NOT NULL,
  rtype     TEXT NOT NULL,
  id        TEXT NOT NULL,
  version   INTEGER NOT NULL,
  status    INTEGER NOT NULL,
  remote    TEXT NOT NULL,
  detail    TEXT NOT NULL
);
CREATE INDEX audit_event_resource ON audit_event (rtype, id);
CREATE INDEX audit_event_principal ON audit_event (principal, time);
