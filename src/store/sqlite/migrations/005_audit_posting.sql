-- benhan SQLite schema, version 5: the audit trail's search keys per block of rows instead of
-- per row. "Who viewed patient X", "what did user Y do" and "who touched this record" were three
-- secondary indexes of audit_event, i.e. three b-tree inserts for every read and write of the
-- record. audit_posting instead holds one row per (key, block of 256 audit rows) in which the key
-- occurs: a clinician reading one patient's chart adds one patient and one principal posting per
-- 256 reads. A search walks the key's blocks newest first and reads the rows of each block by
-- aid range (at most 256 rows), filtering on the row's own column. The hash chain is unchanged.
-- kind: 1 = patient id, 2 = principal, 3 = entity id (the row's `id`; its type is filtered on
-- the row). block = aid >> 8 (store/sqlite/sqlite_store.cc: kAuditBlockShift).
CREATE TABLE audit_posting (
  kind  INTEGER NOT NULL,
  key   TEXT    NOT NULL,
  block INTEGER NOT NULL,
  PRIMARY KEY (kind, key, block)
) WITHOUT ROWID;
INSERT OR IGNORE INTO audit_posting SELECT 1, patient, aid >> 8 FROM audit_event WHERE patient <> '';
INSERT OR IGNORE INTO audit_posting SELECT 2, principal, aid >> 8 FROM audit_event WHERE principal <> '';
INSERT OR IGNORE INTO audit_posting SELECT 3, id, aid >> 8 FROM audit_event WHERE id <> '';
DROP INDEX audit_event_principal;
DROP INDEX audit_event_patient;
DROP INDEX audit_event_entity;
CREATE TRIGGER audit_posting_no_update BEFORE UPDATE ON audit_posting
BEGIN SELECT RAISE(ABORT, 'audit_posting is append-only'); END;
CREATE TRIGGER audit_posting_no_delete BEFORE DELETE ON audit_posting
BEGIN SELECT RAISE(ABORT, 'audit_posting is append-only'); END;
