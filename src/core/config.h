// Config: benhan's settings, read from a flat "key: value" file (config/benhan.conf documents
// every key) and overridden by command-line flags. Thread-compatible: built once at start-up, then
// only read.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/status.h"

namespace benhan {

struct Config {
  std::string listen = "0.0.0.0:8080";  // host:port of the HTTP server
  std::string data_dir = "./benhan-data";
  // "sqlite" (embedded, in data_dir) or "postgresql://USER@HOST:PORT/DB" (store/postgres).
  std::string storage = "sqlite";
  bool demo = false;     // demo population, no authentication, loopback only
  int http_threads = 0;  // 0 = 2 x cores
  std::size_t max_body_bytes = 64u << 20;
  std::string base_url;  // public base URL; empty = derived from Host header
  int default_page_size = 50;
  int max_page_size = 1000;
  bool validate_on_write = true;
  std::string log_level = "info";
  std::size_t sqlite_cache_mib = 64;
  int sqlite_readers = 4;
  // PostgreSQL: read replicas (comma-separated URLs), connections per server, statement timeout.
  std::string pg_replicas;
  int pg_pool = 8;
  int pg_statement_timeout_ms = 30000;
  // Vietnamese rules checked on writes (terminology/write_checks.h): "error" rejects the write,
  // "warning" logs it, "off".
  std::string identifiers_check = "warning";  // Patient personal ID / insurance card / facility
  std::string icd10_rules = "warning";        // Condition / Encounter ICD-10 diagnoses
  // HL7 v2 over MLLP (interop/hl7v2/): listener address ("" = off), threads, idle timeout, the
  // facility named in our ACKs (MSH-4).
  std::string mllp_listen;
  int mllp_threads = 4;
  int mllp_idle_timeout_s = 300;
  std::string hl7v2_facility;
  // Outbound orders: "NAME@HOST:PORT" of the lab system that gets OML^O21 (ORM^O01 if
  // hl7v2_lab_message is "orm") for every new active ServiceRequest ("" = off).
  std::string hl7v2_lab_destination;
  std::string hl7v2_lab_message = "oml";

  // Reads `path` over the current values. Unknown keys are an error (a typo must not be silent).
  Status LoadFile(const std::string& path);
  // Applies one "key: value" setting.
  Status Set(const std::string& key, const std::string& value);
};

}  // namespace benhan
