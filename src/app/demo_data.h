// The Vietnamese demo population: a deterministic (seeded) generator of synthetic patients with
// realistic names (family/middle/given distributions), birth dates, personal ID and insurance
// card numbers that pass terminology/vn_identifiers.h, addresses, and for each patient encounters
// with common Vietnamese diagnoses coded in ICD-10 (icd10-vn, codes of the built-in starter set),
// vital signs, lab results and prescriptions. Patient i of a seed is the same whatever the count,
// so any size from 10 to 1,000,000 patients can be streamed.
//
// Thread-safety: stateless; GenerateDemoPopulation may run on several threads with their own
// `emit`. Used by `benhan demo-data` (NDJSON on stdout or a file) and `benhan serve --demo`.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>

namespace benhan::app {

struct DemoOptions {
  int64_t patients = 40;
  uint64_t seed = 2026;
  int64_t first = 0;  // index of the first patient (to split a population into parts)
};

// Calls `emit` with every resource, each patient's resources together, references as "Type/id"
// to resources emitted before them. Resource ids are deterministic UUIDs.
void GenerateDemoPopulation(const DemoOptions& opts,
                            const std::function<void(boost::json::object&&)>& emit);

// `benhan demo-data [--patients N] [--seed S] [--out FILE]`: the population as FHIR NDJSON
// (stdout by default), loadable with `benhan import FILE.ndjson`. Exit status.
int DemoDataCmd(int argc, char** argv);

}  // namespace benhan::app
