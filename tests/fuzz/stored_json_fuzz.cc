// Fuzz target for the stored-JSON codec of the SQLite backend (store/sqlite/json_codec.h), which
// reads what a database file holds (also a clinic's file given to `benhan migrate-store`). The
// first byte picks what the rest is:
//   0: a stored value, decoded by a codec holding a dictionary (JSON, frames, damage);
//   1: a document, encoded then decoded: it must come back exactly (aborts otherwise), and with
//      one byte of the frame changed (at a position the input picks) it must not crash;
//   2: dictionary bytes for JsonCodec::Add; when accepted, a document must round-trip with them.
// Any input must give a value or a Status, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/json_codec.h"

namespace {

using benhan::store::sqlite::JsonCodec;

const JsonCodec& CodecWithDictionary() {
  static JsonCodec* codec = [] {
    std::vector<std::string> samples;
    for (int i = 0; i < 600; ++i) {
      std::string n = std::to_string(i * 7919 % 100003);
      samples.push_back("{\"resourceType\":\"Observation\",\"id\":\"o" + n +
                        "\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://"
                        "loinc.org\",\"code\":\"" +
                        std::to_string(1000 + i % 37) + "-" + std::to_string(i % 10) +
                        "\"}]},\"subject\":{\"reference\":\"Patient/p" + std::to_string(i % 50) +
                        "\"},\"valueQuantity\":{\"value\":" + n + ",\"unit\":\"mg/dL\"}}");
    }
    auto* c = new JsonCodec();
    auto dict = benhan::store::sqlite::TrainJsonDictionary(samples, 16384);
    if (!dict.ok() || !c->Add(*dict).ok()) std::abort();
    return c;
  }();
  return *codec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const JsonCodec& codec = CodecWithDictionary();
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string out, back;
  switch (data[0] % 3) {
    case 0:
      (void)codec.Decode(rest, &out);
      break;
    case 1: {
      codec.Encode(rest, &out);
      if (!codec.Decode(out, &back).ok() || back != rest) std::abort();
      if (!out.empty() && size > 1) {
        out[data[1] % out.size()] ^= static_cast<char>(data[size - 1] | 1);
        (void)codec.Decode(out, &back);
      }
      break;
    }
    default: {
      JsonCodec other;
      if (other.Add(rest).ok()) {
        std::string doc = "{\"resourceType\":\"Patient\",\"id\":\"x\"}";
        other.Encode(doc, &out);
        if (!other.Decode(out, &back).ok() || back != doc) std::abort();
      }
      break;
    }
  }
  return 0;
}
