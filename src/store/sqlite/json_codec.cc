#include "store/sqlite/json_codec.h"

#include <zdict.h>
#include <zstd.h>

#include <cstring>
#include <mutex>

namespace benhan::store::sqlite {
namespace {

constexpr unsigned char kZstdMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
// Level 1: with a dictionary it compresses these documents 7.4x (level 3: 7.6x) at ~2 us each,
// which the single writer pays (docs/benchmarks.md, "Stored JSON compressed with dictionaries").
constexpr int kLevel = 1;
// No stored resource comes near this; a frame that claims more is damaged.
constexpr unsigned long long kMaxJson = 1ull << 30;

// Per-thread zstd contexts, made on first use (their tables are reused from one value to the
// next): the writer compresses, readers only decompress.
struct Contexts {
  ZSTD_CCtx* c = nullptr;
  ZSTD_DCtx* d = nullptr;
  ~Contexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
thread_local Contexts t_contexts;
ZSTD_CCtx* ThreadCCtx() {
  if (t_contexts.c == nullptr) t_contexts.c = ZSTD_createCCtx();
  return t_contexts.c;
}
ZSTD_DCtx* ThreadDCtx() {
  if (t_contexts.d == nullptr) t_contexts.d = ZSTD_createDCtx();
  return t_contexts.d;
}

}  // namespace

struct JsonCodec::Dict {
  uint32_t id = 0;
  ZSTD_CDict* c = nullptr;
  ZSTD_DDict* d = nullptr;
  ~Dict() {
    ZSTD_freeCDict(c);
    ZSTD_freeDDict(d);
  }
};

JsonCodec::JsonCodec() = default;
JsonCodec::~JsonCodec() = default;

bool JsonCodec::IsCompressed(std::string_view stored) {
  return stored.size() >= 4 && std::memcmp(stored.data(), kZstdMagic, 4) == 0;
}

Status JsonCodec::Load(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT dict FROM json_dict ORDER BY id", -1, &s, nullptr) !=
      SQLITE_OK) {
    return Status(Code::kInternal, std::string("reading json_dict: ") + sqlite3_errmsg(db));
  }
  Status st;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const void* p = sqlite3_column_blob(s, 0);
    st = Add(std::string_view(p ? static_cast<const char*>(p) : "",
                              static_cast<size_t>(sqlite3_column_bytes(s, 0))));
    if (!st.ok()) break;
  }
  if (st.ok() && rc != SQLITE_DONE)
    st = Status(Code::kInternal, std::string("reading json_dict: ") + sqlite3_errmsg(db));
  sqlite3_finalize(s);
  return st;
}

Status JsonCodec::Add(std::string_view bytes) {
  auto d = std::make_unique<Dict>();
  d->id = JsonDictionaryId(bytes);
  if (d->id == 0)
    return Status(Code::kInternal, "json_dict holds a row that is not a zstd dictionary");
  d->c = ZSTD_createCDict(bytes.data(), bytes.size(), kLevel);  // both copy what they need
  d->d = ZSTD_createDDict(bytes.data(), bytes.size());
  if (d->c == nullptr || d->d == nullptr)
    return Status(Code::kInternal, "zstd rejected dictionary " + std::to_string(d->id));
  std::unique_lock<std::shared_mutex> l(mu_);
  dicts_.push_back(std::move(d));
  return Status::Ok();
}

std::vector<uint32_t> JsonCodec::dictionary_ids() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  std::vector<uint32_t> out;
  for (const auto& d : dicts_) out.push_back(d->id);
  return out;
}

void JsonCodec::Encode(std::string_view json, std::string* out) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  if (dicts_.empty() || json.empty()) {
    out->assign(json);
    return;
  }
  ZSTD_CCtx* c = ThreadCCtx();
  ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_refCDict(c, dicts_.back()->c);
  out->resize(ZSTD_compressBound(json.size()));
  size_t n = ZSTD_compress2(c, out->data(), out->size(), json.data(), json.size());
  if (ZSTD_isError(n)) {
    out->assign(json);  // stored as is: still readable
    return;
  }
  out->resize(n);
}

Status JsonCodec::Decode(std::string_view stored, std::string* out) const {
  if (!IsCompressed(stored)) {
    out->assign(stored);
    return Status::Ok();
  }
  unsigned long long size = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxJson)
    return Status(Code::kInternal, "stored resource JSON is a damaged zstd frame");
  uint32_t id = ZSTD_getDictID_fromFrame(stored.data(), stored.size());
  out->resize(static_cast<size_t>(size));
  ZSTD_DCtx* dctx = ThreadDCtx();
  size_t n;
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    const Dict* dict = nullptr;
    for (const auto& d : dicts_) {
      if (d->id == id) dict = d.get();
    }
    if (id != 0 && dict == nullptr) {
      return Status(Code::kInternal, "stored resource JSON needs zstd dictionary " +
                                         std::to_string(id) + ", which json_dict does not hold");
    }
    n = dict ? ZSTD_decompress_usingDDict(dctx, out->data(), out->size(), stored.data(),
                                          stored.size(), dict->d)
             : ZSTD_decompressDCtx(dctx, out->data(), out->size(), stored.data(), stored.size());
  }
  if (ZSTD_isError(n) || n != size) {
    out->clear();
    return Status(Code::kInternal, std::string("stored resource JSON does not decompress: ") +
                                       (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  }
  return Status::Ok();
}

Result<std::string> TrainJsonDictionary(const std::vector<std::string>& samples, size_t max_bytes) {
  std::string all;
  std::vector<size_t> sizes;
  sizes.reserve(samples.size());
  for (const auto& s : samples) {
    all += s;
    sizes.push_back(s.size());
  }
  std::string dict(max_bytes, '\0');
  size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), all.data(), sizes.data(),
                                   static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(n)) {
    return Status(Code::kInvalid, std::string("cannot train a JSON dictionary on ") +
                                      std::to_string(samples.size()) +
                                      " samples: " + ZDICT_getErrorName(n));
  }
  dict.resize(n);
  return dict;
}

uint32_t JsonDictionaryId(std::string_view dict) {
  return ZDICT_getDictID(dict.data(), dict.size());
}

}  // namespace benhan::store::sqlite
