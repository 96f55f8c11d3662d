// Fuzz target for the client-facing parsers of security/oauth.h that take outside input: the
// bytes as RFC 7591 client metadata (JSON; ClientFromMetadata as an administrator and as an
// open registration) and as HTTP Basic client credentials (ParseBasicCredentials, raw and after
// "Basic "). Any input must give a value or a Status, never a crash.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "security/oauth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace benhan::security;
  namespace json = boost::json;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string id, secret;
  (void)ParseBasicCredentials(in, &id, &secret);
  (void)ParseBasicCredentials("Basic " + std::string(in), &id, &secret);
  boost::system::error_code ec;
  json::value v = json::parse(in, ec);
  if (!ec && v.is_object()) {
    for (bool admin : {true, false}) {
      std::string error;
      std::vector<std::string> responses;
      auto c = ClientFromMetadata(v.as_object(), admin, &error, &responses);
      if (!c.ok() && error.empty()) __builtin_trap();  // every refusal names its RFC 7591 error
    }
  }
  return 0;
}
