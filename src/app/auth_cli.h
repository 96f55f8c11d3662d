// `benhan user ...` and `benhan client ...`: local accounts and OAuth2 clients, kept in the store
// (so they work while the server runs, on SQLite and PostgreSQL alike). See README.md.
#pragma once

#include "core/config.h"
#include "security/accounts.h"

namespace benhan::app {

// The auth.* settings of `config`.
security::AuthSettings AuthSettingsOf(const Config& config);

// argv[1] is "user" / "client". Exit status: 0 ok, 1 failure, 2 usage.
int UserCmd(int argc, char** argv);
int ClientCmd(int argc, char** argv);

}  // namespace benhan::app
