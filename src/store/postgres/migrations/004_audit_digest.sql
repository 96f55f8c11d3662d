-- benhan PostgreSQL schema, version 4: audit rows in chain format 2 (store/audit_chain.h). A row's
-- hash is stored as 32 raw bytes in `digest` instead of 64 hex characters in `hash`, and the row
-- no longer repeats the previous row's hash (`prev_hash`, '' in new rows): `benhan audit verify`
-- takes it from the row before, so edits, deletions and reordering are caught as before. Rows
-- written earlier keep prev_hash and hash (format 1) and still verify; audit_head.v2_after is the
-- last of them (the first format-2 row links to its hex hash). The append-only triggers stay.
ALTER TABLE audit_event ADD COLUMN digest BYTEA;
ALTER TABLE audit_head ADD COLUMN v2_after BIGINT NOT NULL DEFAULT 0;
UPDATE audit_head SET v2_after = aid;
