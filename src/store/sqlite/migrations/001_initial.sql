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
  index_keys   BLOB    NOT NULL,   -- keys of this resource's index rows (to replace them on update)
  UNIQUE (rtype, id)
);
CREATE INDEX resource_type_updated ON resource (rtype, last_updated);
-- A type's resources in rid order (the default search order): a search whose conditions are all
-- per-row tests (_has, :missing, :not) reads candidates in page order and stops at the page.
CREATE INDEX resource_type ON resource (rtype);

CREATE TABLE resource_version (
  seq          INTEGER PRIMARY KEY,  -- global change sequence: history order and outbox cursor
  rid          INTEGER NOT NULL,
  version      INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,     -- never decreases with seq (history _since scans by seq)
  method       TEXT    NOT NULL,
  deleted      INTEGER NOT NULL,
  json         BLOB    NOT NULL      -- canonical JSON with id and meta; empty for tombstones
);
CREATE UNIQUE INDEX resource_version_rid ON resource_version (rid, version);

-- Search parameters in use: (resource type, code) -> small integer.
CREATE TABLE search_param (
  pid   INTEGER PRIMARY KEY,
  rtype TEXT NOT NULL,
  code  TEXT NOT NULL,
  UNIQUE (rtype, code)
);

-- Search index rows of the current version of each resource. Each table is one clustered b-tree
-- keyed by (parameter, value..., rid): one b-tree insert per row. Rows of the previous version are
-- deleted by key, from resource.index_keys.
CREATE TABLE idx_string (pid INTEGER NOT NULL, folded TEXT NOT NULL, exact TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (pid, folded, exact, rid)) WITHOUT ROWID;
-- idx_token keeps `text` (folded display, for :text) out of the key: shorter keys, faster inserts.
CREATE TABLE idx_token (pid INTEGER NOT NULL, code TEXT NOT NULL, system TEXT NOT NULL, rid INTEGER NOT NULL, text TEXT NOT NULL,
  PRIMARY KEY (pid, code, system, rid)) WITHOUT ROWID;
CREATE TABLE idx_reference (pid INTEGER NOT NULL, target_id TEXT NOT NULL, target_type TEXT NOT NULL, url TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (pid, target_id, target_type, url, rid)) WITHOUT ROWID;
-- A resource's references by rid: _has finds the targets of the referrers that match inside.
CREATE INDEX idx_reference_rid ON idx_reference (rid, pid);
CREATE TABLE idx_date (pid INTEGER NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (pid, low, high, rid)) WITHOUT ROWID;
-- A resource's dates by rid: a date condition is tested per candidate row (search_sql probes)
-- instead of listing every date row of a range (p95 of patient+code+date searches 97 -> <1 ms).
CREATE INDEX idx_date_rid ON idx_date (rid, pid);
CREATE TABLE idx_number (pid INTEGER NOT NULL, value REAL NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (pid, value, rid)) WITHOUT ROWID;
-- idx_quantity is keyed by the comparable form: unit_key is "ucum:<dimensions>" for UCUM units
-- (canonical = value in canonical units, so 5.4 mg and 5400 ug meet) or the code as sent.
CREATE TABLE idx_quantity (pid INTEGER NOT NULL, unit_key TEXT NOT NULL, canonical REAL NOT NULL, system TEXT NOT NULL, rid INTEGER NOT NULL,
  value REAL NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL,
  PRIMARY KEY (pid, unit_key, canonical, system, rid)) WITHOUT ROWID;
CREATE TABLE idx_uri (pid INTEGER NOT NULL, uri TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (pid, uri, rid)) WITHOUT ROWID;

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
-- Only the principal index (appended in time order): an index on (rtype, id) would take a random
-- b-tree insert per write and dirty pages all over it in every commit; nothing reads audit rows by
-- resource yet (the audit API that does will add the index it needs).
CREATE INDEX audit_event_principal ON audit_event (principal, time);
