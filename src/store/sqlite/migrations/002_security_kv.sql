-- benhan SQLite schema, version 2: the key-value table of security/ (user accounts, OAuth2
-- clients, authorization codes, token hashes, login sessions). See docs/storage_format.md.
CREATE TABLE security_kv (
  ns      TEXT    NOT NULL,
  k       TEXT    NOT NULL,
  v       BLOB    NOT NULL,
  expires INTEGER NOT NULL,   -- epoch microseconds, UTC; 0 = never
  PRIMARY KEY (ns, k)
) WITHOUT ROWID;
