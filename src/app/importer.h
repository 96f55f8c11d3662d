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
  // Threads: they parse, validate and index units (files, NDJSON chunks) while the writer commits
  // the units that are ready, all of them in one commit (fewer WAL page writes per resource).
  int jobs = 16;
  // Units a commit waits for before it begins (1: none). Waiting leaves the writer, the import's
  // bottleneck, idle: measured in docs/benchmarks.md ("Page size and the memory map; group commit
  // takes late units").
  int commit_group = 1;
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
