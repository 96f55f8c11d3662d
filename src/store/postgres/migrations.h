// Embedded schema migrations of the PostgreSQL backend
// (src/store/postgres/migrations/NNN_name.sql).
#pragma once

#include <vector>

namespace benhan::store::postgres {

struct Migration {
  const char* name;  // "001_initial.sql"; the number is the schema version it brings
  const char* sql;
};
const std::vector<Migration>& Migrations();

}  // namespace benhan::store::postgres
