-- benhan PostgreSQL schema, version 1. The same model as the SQLite schema (docs/storage_format.md):
-- every version of every resource is kept (resource_version); resource points at the current one.
-- Text columns compare bytewise (COLLATE "C"), as SQLite does, whatever the database's locale:
-- prefix ranges, :above/:below and _sort give the same answers on both backends.
CREATE SEQUENCE change_seq;  -- resource_version.seq: history order and outbox cursor

CREATE TABLE resource (
  rid          BIGSERIAL PRIMARY KEY,
  rtype        TEXT COLLATE "C" NOT NULL,
  id           TEXT COLLATE "C" NOT NULL,
  version      BIGINT   NOT NULL,
  seq          BIGINT   NOT NULL,   -- resource_version.seq of the current version
  last_updated BIGINT   NOT NULL,   -- epoch microseconds, UTC
  deleted      SMALLINT NOT NULL,
  UNIQUE (rtype, id)
);
CREATE INDEX resource_type_updated ON resource (rtype, last_updated);
CREATE INDEX resource_type ON resource (rtype, rid);
CREATE UNIQUE INDEX resource_seq ON resource (seq);

CREATE TABLE resource_version (
  seq          BIGINT PRIMARY KEY,
  rid          BIGINT   NOT NULL,
  version      BIGINT   NOT NULL,
  last_updated BIGINT   NOT NULL,
  method       TEXT     NOT NULL,
  deleted      SMALLINT NOT NULL,
  json         TEXT     NOT NULL,   -- canonical JSON with id and meta; empty for tombstones
  -- _text and _content: the folded words of the narrative and of every string value, each word
  -- after one space (" viem phoi ..."), so "a word starts with w" is strpos(text, ' ' || w) > 0.
  text_narrative TEXT COLLATE "C" NOT NULL DEFAULT '',
  text_content   TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX resource_version_rid ON resource_version (rid, version);

CREATE TABLE search_param (
  pid   SERIAL PRIMARY KEY,
  rtype TEXT COLLATE "C" NOT NULL,
  code  TEXT COLLATE "C" NOT NULL,
  UNIQUE (rtype, code)
);

-- Search index rows of the current version of each resource, keyed by (parameter, value..., rid)
-- as in SQLite; a second index by (rid, pid) replaces a resource's rows on update and serves the
-- per-candidate probes of the search compiler.
CREATE TABLE idx_string (pid INTEGER NOT NULL, folded TEXT COLLATE "C" NOT NULL, exact TEXT COLLATE "C" NOT NULL, rid BIGINT NOT NULL,
  PRIMARY KEY (pid, folded, exact, rid));
CREATE INDEX idx_string_rid ON idx_string (rid, pid);
CREATE TABLE idx_token (pid INTEGER NOT NULL, code TEXT COLLATE "C" NOT NULL, system TEXT COLLATE "C" NOT NULL, rid BIGINT NOT NULL, text TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (pid, code, system, rid));
CREATE INDEX idx_token_rid ON idx_token (rid, pid);
CREATE TABLE idx_reference (pid INTEGER NOT NULL, target_id TEXT COLLATE "C" NOT NULL, target_type TEXT COLLATE "C" NOT NULL, url TEXT COLLATE "C" NOT NULL, rid BIGINT NOT NULL,
  PRIMARY KEY (pid, target_id, target_type, url, rid));
CREATE INDEX idx_reference_rid ON idx_reference (rid, pid);
CREATE TABLE idx_date (pid INTEGER NOT NULL, low BIGINT NOT NULL, high BIGINT NOT NULL, rid BIGINT NOT NULL,
  PRIMARY KEY (pid, low, high, rid));
CREATE INDEX idx_date_rid ON idx_date (rid, pid);
CREATE TABLE idx_number (pid INTEGER NOT NULL, value DOUBLE PRECISION NOT NULL, rid BIGINT NOT NULL,
  PRIMARY KEY (pid, value, rid));
CREATE INDEX idx_number_rid ON idx_number (rid, pid);
CREATE TABLE idx_quantity (pid INTEGER NOT NULL, unit_key TEXT COLLATE "C" NOT NULL, canonical DOUBLE PRECISION NOT NULL, system TEXT COLLATE "C" NOT NULL, rid BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL, code TEXT COLLATE "C" NOT NULL, unit TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (pid, unit_key, canonical, system, rid));
CREATE INDEX idx_quantity_rid ON idx_quantity (rid, pid);
CREATE TABLE idx_uri (pid INTEGER NOT NULL, uri TEXT COLLATE "C" NOT NULL, rid BIGINT NOT NULL,
  PRIMARY KEY (pid, uri, rid));
CREATE INDEX idx_uri_rid ON idx_uri (rid, pid);

CREATE TABLE audit_event (
  aid       BIGSERIAL PRIMARY KEY,
  time      BIGINT  NOT NULL,
  principal TEXT    NOT NULL,
  action    TEXT    NOT NULL,
  rtype     TEXT    NOT NULL,
  id        TEXT    NOT NULL,
  version   BIGINT  NOT NULL,
  status    INTEGER NOT NULL,
  remote    TEXT    NOT NULL,
  detail    TEXT    NOT NULL
);
CREATE INDEX audit_event_principal ON audit_event (principal, time);

-- fhir::WordsMatch in SQL: every word of the folded query starts a word of `words` (a
-- text_narrative / text_content value). Word bytes are ASCII letters and digits and every
-- non-ASCII character, as in fhir/text_search.cc.
CREATE FUNCTION benhan_words_match(words TEXT, query TEXT) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(bool_and(strpos(words, ' ' || w) > 0), false)
  FROM regexp_split_to_table(query, '[^0-9A-Za-z\u0080-\uffff]+') AS w WHERE w <> ''
$$;
