-- benhan SQLite schema, version 6: resource JSON compressed with dictionaries kept in the
-- database (store/sqlite/json_codec.h). resource_version.json holds either the JSON as is
-- (rows written before the first dictionary, tombstones) or a zstd frame naming the zstd_id of the
-- dictionary it was made with. Dictionaries are trained from the database's own resources once it
-- holds sqlite.compress_after versions, and again as it grows; none is ever changed or removed,
-- since rows of every age need theirs.
CREATE TABLE json_dict (
  id       INTEGER PRIMARY KEY,
  zstd_id  INTEGER NOT NULL UNIQUE,  -- the dictionary id its frames carry
  created  INTEGER NOT NULL,         -- epoch microseconds, UTC
  versions INTEGER NOT NULL,         -- resource versions stored when it was trained
  dict     BLOB    NOT NULL
);
CREATE TRIGGER json_dict_no_update BEFORE UPDATE ON json_dict
BEGIN SELECT RAISE(ABORT, 'json_dict is append-only'); END;
CREATE TRIGGER json_dict_no_delete BEFORE DELETE ON json_dict
BEGIN SELECT RAISE(ABORT, 'json_dict is append-only'); END;
