-- benhan PostgreSQL schema, version 2: the key-value table of security/ (user accounts, OAuth2
-- clients, authorization codes, token hashes, login sessions), shared by every server of a
-- cluster. See docs/postgresql.md.
CREATE TABLE security_kv (
  ns      TEXT   NOT NULL,
  k       TEXT   NOT NULL,
  v       TEXT   NOT NULL,
  expires BIGINT NOT NULL,   -- epoch microseconds, UTC; 0 = never
  PRIMARY KEY (ns, k)
);
