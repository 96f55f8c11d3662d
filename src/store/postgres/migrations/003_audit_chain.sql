-- benhan PostgreSQL schema, version 3: the audit trail becomes a hash chain
-- (store/audit_chain.h). Each row carries the patient it concerns, flags ("btg"), the hash of the
-- row before and its own hash; audit_head holds the last aid and hash and is locked (SELECT ... FOR
-- UPDATE) by every appending transaction, so appenders on any node chain in commit order; rows up
-- to `genesis` predate the chain. audit_checkpoint holds signed anchors. Append-only: UPDATE,
-- DELETE and TRUNCATE raise an error.
ALTER TABLE audit_event ADD COLUMN patient TEXT NOT NULL DEFAULT '',
  ADD COLUMN flags TEXT NOT NULL DEFAULT '',
  ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '',
  ADD COLUMN hash TEXT NOT NULL DEFAULT '';
DROP INDEX audit_event_principal;
CREATE INDEX audit_event_principal ON audit_event (principal, aid);
CREATE INDEX audit_event_patient ON audit_event (patient, aid);
CREATE INDEX audit_event_entity ON audit_event (rtype, id, aid);
CREATE TABLE audit_head (
  k       INTEGER PRIMARY KEY CHECK (k = 1),
  aid     BIGINT NOT NULL,
  hash    TEXT   NOT NULL,
  genesis BIGINT NOT NULL
);
INSERT INTO audit_head SELECT 1, COALESCE(MAX(aid), 0), '', COALESCE(MAX(aid), 0) FROM audit_event;
CREATE TABLE audit_checkpoint (
  cid       BIGSERIAL PRIMARY KEY,
  aid       BIGINT NOT NULL,
  hash      TEXT   NOT NULL,
  time      BIGINT NOT NULL,
  key_id    TEXT   NOT NULL,
  signature TEXT   NOT NULL
);
CREATE FUNCTION benhan_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION benhan_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION benhan_append_only();
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
  FOR EACH ROW EXECUTE FUNCTION benhan_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION benhan_append_only();
