-- benhan SQLite schema, version 3: the audit trail becomes a hash chain (store/audit_chain.h).
-- Each row carries the patient it concerns, flags ("btg": break-the-glass), the hash of the row
-- before and its own hash; audit_head holds the last aid and hash (rows up to `genesis` predate
-- the chain); audit_checkpoint holds signed anchors. Rows can only be appended.
ALTER TABLE audit_event ADD COLUMN patient TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_event ADD COLUMN flags TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_event ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_event ADD COLUMN hash TEXT NOT NULL DEFAULT '';
-- AuditEvent search: "who viewed patient X", "what did user Y do", "who touched this record".
DROP INDEX audit_event_principal;
CREATE INDEX audit_event_principal ON audit_event (principal, aid);
CREATE INDEX audit_event_patient ON audit_event (patient, aid);
CREATE INDEX audit_event_entity ON audit_event (rtype, id, aid);
CREATE TABLE audit_head (
  k       INTEGER PRIMARY KEY CHECK (k = 1),
  aid     INTEGER NOT NULL,
  hash    TEXT    NOT NULL,
  genesis INTEGER NOT NULL
);
INSERT INTO audit_head SELECT 1, COALESCE(MAX(aid), 0), '', COALESCE(MAX(aid), 0) FROM audit_event;
CREATE TABLE audit_checkpoint (
  cid       INTEGER PRIMARY KEY,
  aid       INTEGER NOT NULL,
  hash      TEXT    NOT NULL,
  time      INTEGER NOT NULL,
  key_id    TEXT    NOT NULL,
  signature TEXT    NOT NULL
);
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only'); END;
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only'); END;
