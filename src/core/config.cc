#include "core/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace benhan {
namespace {

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  if (b == std::string::npos) return "";
  s = s.substr(b, e - b + 1);
  if (s.size() >= 2 &&
      ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\''))) {
    s = s.substr(1, s.size() - 2);
  }
  return s;
}

Result<long long> ParseInt(const std::string& key, const std::string& v) {
  try {
    size_t pos = 0;
    long long n = std::stoll(v, &pos);
    if (pos != v.size()) throw std::invalid_argument(v);
    return n;
  } catch (...) {
    return Status(Code::kInvalid, "config: " + key + " must be an integer, got '" + v + "'");
  }
}

Result<bool> ParseBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return Status(Code::kInvalid, "config: " + key + " must be true or false, got '" + v + "'");
}

}  // namespace

Status Config::Set(const std::string& key, const std::string& value) {
  auto set_int = [&](auto& field, long long lo, long long hi) -> Status {
    auto n = ParseInt(key, value);
    if (!n.ok()) return n.status();
    if (*n < lo || *n > hi) {
      return Status(Code::kInvalid, "config: " + key + " out of range [" + std::to_string(lo) +
                                        ", " + std::to_string(hi) + "]");
    }
    field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
    return Status::Ok();
  };
  if (key == "listen") {
    listen = value;
    return Status::Ok();
  }
  if (key == "data") {
    data_dir = value;
    return Status::Ok();
  }
  if (key == "auth.lockout_attempts") return set_int(auth_lockout_attempts, 1, 1000);
  if (key == "auth.lockout_minutes") return set_int(auth_lockout_minutes, 1, 100000);
  if (key == "auth.session_idle_minutes") return set_int(auth_session_idle_minutes, 1, 10080);
  if (key == "auth.password_min_length") return set_int(auth_password_min_length, 8, 128);
  if (key == "auth.access_token_minutes") return set_int(auth_access_token_minutes, 1, 1440);
  if (key == "auth.refresh_token_days") return set_int(auth_refresh_token_days, 1, 365);
  if (key == "auth.open_registration") {
    auto b = ParseBool(key, value);
    if (!b.ok()) return b.status();
    auth_open_registration = *b;
    return Status::Ok();
  }
  if (key == "storage") {
    storage = value;
    return Status::Ok();
  }
  if (key == "base_url") {
    base_url = value;
    return Status::Ok();
  }
  if (key == "identifiers.check" || key == "terminology.icd10_rules") {
    if (value != "error" && value != "warning" && value != "off")
      return Status(Code::kInvalid, "config: " + key + " must be error, warning or off");
    (key == "identifiers.check" ? identifiers_check : icd10_rules) = value;
    return Status::Ok();
  }
  if (key == "log.level") {
    log_level = value;
    return Status::Ok();
  }
  if (key == "security.policy") {
    security_policy = value;
    return Status::Ok();
  }
  if (key == "audit.checkpoint_seconds") {
    char* end = nullptr;
    long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < 1 || v > 86400)
      return Status(Code::kInvalid, "config: audit.checkpoint_seconds must be 1..86400");
    audit_checkpoint_seconds = static_cast<int>(v);
    return Status::Ok();
  }
  if (key == "demo") {
    auto b = ParseBool(key, value);
    if (!b.ok()) return b.status();
    demo = *b;
    return Status::Ok();
  }
  if (key == "fhir.validate_on_write") {
    auto b = ParseBool(key, value);
    if (!b.ok()) return b.status();
    validate_on_write = *b;
    return Status::Ok();
  }
  if (key == "http.threads") return set_int(http_threads, 0, 256);
  if (key == "http.max_header_bytes") return set_int(max_header_bytes, 1024, 1 << 20);
  if (key == "http.max_headers") return set_int(max_headers, 8, 10000);
  if (key == "http.header_timeout_seconds") return set_int(header_timeout_s, 1, 3600);
  if (key == "http.idle_timeout_seconds") return set_int(http_idle_timeout_s, 1, 86400);
  if (key == "http.rate_limit.ip_per_second" || key == "http.rate_limit.token_per_second") {
    char* end = nullptr;
    double d = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(d >= 0) || d > 1e6)
      return Status(Code::kInvalid, "config: " + key + " must be a number in [0, 1000000]");
    (key == "http.rate_limit.ip_per_second" ? rate_ip_per_s : rate_token_per_s) = d;
    return Status::Ok();
  }
  if (key == "http.rate_limit.ip_burst") return set_int(rate_ip_burst, 1, 1000000);
  if (key == "http.rate_limit.token_burst") return set_int(rate_token_burst, 1, 1000000);
  if (key == "http.rate_limit.loopback" || key == "hl7v2.lab_tls") {
    auto b = ParseBool(key, value);
    if (!b.ok()) return b.status();
    (key == "hl7v2.lab_tls" ? lab_tls : rate_limit_loopback) = *b;
    return Status::Ok();
  }
  static const std::pair<const char*, std::string Config::*> kPaths[] = {
      {"tls.cert", &Config::tls_cert},
      {"tls.key", &Config::tls_key},
      {"hl7v2.tls.cert", &Config::mllp_tls_cert},
      {"hl7v2.tls.key", &Config::mllp_tls_key},
      {"hl7v2.tls.client_ca", &Config::mllp_tls_client_ca},
      {"hl7v2.lab_tls.ca", &Config::lab_tls_ca},
      {"hl7v2.lab_tls.cert", &Config::lab_tls_cert},
      {"hl7v2.lab_tls.key", &Config::lab_tls_key}};
  for (const auto& [name, field] : kPaths) {
    if (key == name) {
      this->*field = value;
      return Status::Ok();
    }
  }
  if (key == "http.max_body_bytes") return set_int(max_body_bytes, 1024, 1ll << 32);
  if (key == "fhir.default_page_size") return set_int(default_page_size, 1, 10000);
  if (key == "fhir.max_page_size") return set_int(max_page_size, 1, 100000);
  if (key == "sqlite.cache_mib") return set_int(sqlite_cache_mib, 1, 1 << 20);
  if (key == "sqlite.readers") return set_int(sqlite_readers, 1, 64);
  if (key == "sqlite.mmap_mib") return set_int(sqlite_mmap_mib, 0, 1 << 20);
  if (key == "sqlite.compress_after") return set_int(sqlite_compress_after, 0, 1ll << 40);
  if (key == "sqlite.page_size") {
    int n = 0;
    RETURN_IF_ERROR(set_int(n, 4096, 65536));
    if ((n & (n - 1)) != 0) {
      return Status(Code::kInvalid,
                    "config: sqlite.page_size must be a power of two (4096-65536), got " + value);
    }
    sqlite_page_size = n;
    return Status::Ok();
  }
  if (key == "postgresql.replicas") {
    pg_replicas = value;
    return Status::Ok();
  }
  if (key == "hl7v2.mllp_listen") {
    mllp_listen = value;
    return Status::Ok();
  }
  if (key == "hl7v2.facility") {
    hl7v2_facility = value;
    return Status::Ok();
  }
  if (key == "hl7v2.lab_destination") {
    hl7v2_lab_destination = value;
    return Status::Ok();
  }
  if (key == "hl7v2.lab_message") {
    if (value != "oml" && value != "orm")
      return Status(Code::kInvalid, "config: hl7v2.lab_message must be oml or orm");
    hl7v2_lab_message = value;
    return Status::Ok();
  }
  if (key == "digitize.tessdata") {
    digitize_tessdata = value;
    return Status::Ok();
  }
  if (key == "digitize.language") {
    if (value.empty()) return Status(Code::kInvalid, "config: digitize.language must not be empty");
    digitize_language = value;
    return Status::Ok();
  }
  if (key == "digitize.clean_up") {
    auto b = ParseBool(key, value);
    if (!b.ok()) return b.status();
    digitize_clean_up = *b;
    return Status::Ok();
  }
  if (key == "digitize.max_pages") return set_int(digitize_max_pages, 1, 100000);
  if (key == "digitize.max_file_bytes") return set_int(digitize_max_file_bytes, 1024, 1ll << 34);
  if (key == "digitize.pdf_dpi") return set_int(digitize_pdf_dpi, 72, 600);
  if (key == "digitize.rules_dir") {
    digitize_rules_dir = value;
    return Status::Ok();
  }
  if (key == "digitize.workers") return set_int(digitize_workers, 1, 64);
  if (key == "digitize.max_queued") return set_int(digitize_max_queued, 1, 100000);
  if (key == "hl7v2.threads") return set_int(mllp_threads, 1, 256);
  if (key == "hl7v2.idle_timeout_seconds") return set_int(mllp_idle_timeout_s, 1, 86400);
  if (key == "postgresql.pool") return set_int(pg_pool, 1, 1024);
  if (key == "postgresql.statement_timeout_ms")
    return set_int(pg_statement_timeout_ms, 0, 86400000);
  return Status(Code::kInvalid, "config: unknown key '" + key + "'");
}

Status Config::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, "config: cannot open " + path);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    line = Trim(line);
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return Status(Code::kInvalid,
                    path + ":" + std::to_string(lineno) + ": expected 'key: value'");
    }
    std::string key = Trim(line.substr(0, colon));
    std::string value = Trim(line.substr(colon + 1));
    Status st = Set(key, value);
    if (!st.ok()) return st.WithContext(path + ":" + std::to_string(lineno));
  }
  return Status::Ok();
}

}  // namespace benhan
