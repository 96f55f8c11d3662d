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
  bool demo = false;  // demo population, no authentication, loopback only
  // Access policy file (security/policy.h); empty: the built-in config/policy.json.
  std::string security_policy;
  // Seconds between signed checkpoints of the audit hash chain (security/audit_trail.h).
  int audit_checkpoint_seconds = 300;
  int http_threads = 0;  // 0 = 2 x cores
  std::size_t max_body_bytes = 64u << 20;
  // HTTP limits (api/http_server.h): request line + headers in bytes and header count (both 431),
  // time to receive a request's headers once a connection is open (slow clients), keep-alive idle.
  std::size_t max_header_bytes = 16u << 10;
  int max_headers = 100;
  int header_timeout_s = 10;
  int http_idle_timeout_s = 60;
  // Requests per second and burst per client address and per bearer token (token buckets; 429 +
  // Retry-After). 0: no limit. Loopback clients are exempt unless rate_limit_loopback.
  double rate_ip_per_s = 200;
  int rate_ip_burst = 400;
  double rate_token_per_s = 100;
  int rate_token_burst = 200;
  bool rate_limit_loopback = false;
  // TLS (core/tls.h). HTTP: PEM certificate chain and private key; both set: HTTPS only.
  std::string tls_cert;
  std::string tls_key;
  std::string base_url;  // public base URL; empty = derived from Host header
  // Local accounts and OAuth2 (security/accounts.h, security/oauth.h): failed logins before the
  // account locks and for how long, login-session idle timeout, shortest password, token lifetimes.
  int auth_lockout_attempts = 5;
  int auth_lockout_minutes = 15;
  int auth_session_idle_minutes = 30;
  int auth_password_min_length = 10;
  int auth_access_token_minutes = 60;
  int auth_refresh_token_days = 30;
  bool auth_open_registration = false;  // RFC 7591 registration of public apps without a token
  int default_page_size = 50;
  int max_page_size = 1000;
  bool validate_on_write = true;
  std::string log_level = "info";
  std::size_t sqlite_cache_mib = 64;
  int sqlite_page_size = 8192;  // new databases only (store::kDefaultSqlitePageSize)
  int sqlite_mmap_mib = 0;
  // Versions stored before resource JSON is compressed (store::SqliteOptions::compress_after);
  // 0: never compress.
  int64_t sqlite_compress_after = 1000;
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
  int mllp_threads = 8;  // hl7v2.threads (config/benhan.conf: why 8 on 2 cores)
  int mllp_idle_timeout_s = 300;
  std::string hl7v2_facility;
  // Outbound orders: "NAME@HOST:PORT" of the lab system that gets OML^O21 (ORM^O01 if
  // hl7v2_lab_message is "orm") for every new active ServiceRequest ("" = off).
  std::string hl7v2_lab_destination;
  std::string hl7v2_lab_message = "oml";
  // Digitization of paper records (digitize/): Tesseract data directory ("" = the system's) and
  // language, page clean-up, input limits, the rules directory ("" = the embedded rules), job
  // workers and queue length.
  std::string digitize_tessdata;
  std::string digitize_language = "vie";
  bool digitize_clean_up = true;
  int digitize_max_pages = 1000;
  std::size_t digitize_max_file_bytes = 256u << 20;
  int digitize_pdf_dpi = 300;
  std::string digitize_rules_dir;
  int digitize_workers = 1;
  int digitize_max_queued = 16;
  // MLLP over TLS. Listener: certificate and key (both set: TLS only); client_ca: peers must
  // present a certificate signed by one of these CAs (mutual TLS). Lab connection: lab_tls on;
  // lab_tls_ca verifies the lab's certificate (empty: the system's CAs), lab_tls_cert/key is our
  // client certificate when the lab asks for one.
  std::string mllp_tls_cert;
  std::string mllp_tls_key;
  std::string mllp_tls_client_ca;
  bool lab_tls = false;
  std::string lab_tls_ca;
  std::string lab_tls_cert;
  std::string lab_tls_key;

  // Reads `path` over the current values. Unknown keys are an error (a typo must not be silent).
  Status LoadFile(const std::string& path);
  // Applies one "key: value" setting.
  Status Set(const std::string& key, const std::string& value);
};

}  // namespace benhan
