// Importer: `benhan import FILE|DIR...` — loads FHIR Bundles (transaction, batch, collection...),
// single resources and FHIR NDJSON through the ResourceService (validated, indexed, audited like
// any write). Bad lines and entries are reported with file and line; the rest still loads.
// Work is spread over `jobs` threads; a unit that fails because something it refers to is not
// loaded yet (conditional references across files) is retried once at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/node.h"

namespace benhan::app {

struct ImportOptions {
  // Threads. Half of them at a time commit together while the other half parse, validate and
  // index the next units; larger groups share a commit (fewer WAL page writes per resource).
  int jobs = 16;
  int commit_group = 0;  // units (files, NDJSON chunks) per commit; 0: jobs / 2
  bool progress = true;  // progress line on stderr when it is a terminal
  int ndjson_chunk = 1000;
};

struct ImportSummary {
  int64_t files = 0;
  int64_t resources = 0;  // resources stored (entries that wrote or matched)
  int64_t errors = 0;
  double seconds = 0;
  std::vector<std::string> error_messages;  // "file:line: message" (first 1000)
};

ImportSummary Import(Node& node, const std::vector<std::string>& paths, const ImportOptions& opts);

}  // namespace benhan::app
