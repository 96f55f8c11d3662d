// store/sqlite/json_codec: stored resource JSON compressed with dictionaries the database trains
// from its own resources; every stored form reads back exactly, damage is reported.
#include "store/sqlite/json_codec.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "store/sqlite/sqlite_store.h"

namespace benhan::store {
namespace {

// A Patient whose content varies with i the way a clinic's records do: names, dates, addresses,
// identifiers, a narrative.
std::string PatientJson(int i, const std::string& id) {
  static const char* kFamily[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"};
  static const char* kGiven[] = {"Văn An", "Thị Hằng", "Minh Đức", "Thu Trang", "Quốc Bảo"};
  static const char* kCity[] = {"Hà Nội", "Huế", "Đà Nẵng", "Cần Thơ", "Hải Phòng"};
  std::string n = std::to_string(i);
  return std::string("{\"resourceType\":\"Patient\",\"id\":\"") + id +
         "\",\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"2026-12-05T10:" +
         std::to_string(10 + i % 50) + ":00Z\"},\"text\":{\"status\":\"generated\",\"div\":\"" +
         "<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">" + kFamily[i % 8] + " " + kGiven[i % 5] +
         "</div>\"},\"identifier\":[{\"system\":\"http://benhan.vn/fhir/sid/cccd\"," +
         "\"value\":\"0010" + std::to_string(90000000 + i * 7919) +
         "\"}],\"name\":[{\"use\":" + "\"official\",\"family\":\"" + kFamily[i % 8] +
         "\",\"given\":[\"" + kGiven[(i / 8) % 5] + "\"]}],\"gender\":\"" +
         (i % 2 ? "male" : "female") + "\",\"birthDate\":\"" + std::to_string(1940 + i % 80) +
         "-0" + std::to_string(1 + i % 9) + "-1" + std::to_string(i % 10) +
         "\",\"address\":[{\"line\":[\"" + n + " đường Lê Lợi\"],\"city\":\"" + kCity[i % 5] +
         "\",\"country\":\"VN\"}],\"telecom\":[{\"system\":\"phone\",\"value\":\"09" +
         std::to_string(10000000 + i * 104729 % 89999999) + "\"}]}";
}

std::vector<std::string> Samples(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(PatientJson(i, "p" + std::to_string(i)));
  return out;
}

TEST(JsonCodec, RoundTripsWithAndWithoutADictionary) {
  sqlite::JsonCodec codec;
  std::string json = PatientJson(12345, "x"), stored, back;
  codec.Encode(json, &stored);
  EXPECT_EQ(stored, json);  // no dictionary yet: stored as is
  ASSERT_TRUE(codec.Decode(stored, &back).ok());
  EXPECT_EQ(back, json);

  auto dict = sqlite::TrainJsonDictionary(Samples(1000), 65536);
  ASSERT_TRUE(dict.ok()) << dict.status().ToString();
  EXPECT_LE(dict->size(), 65536u);
  ASSERT_NE(sqlite::JsonDictionaryId(*dict), 0u);
  ASSERT_TRUE(codec.Add(*dict).ok());
  EXPECT_EQ(codec.dictionary_ids(), std::vector<uint32_t>{sqlite::JsonDictionaryId(*dict)});
  codec.Encode(json, &stored);
  EXPECT_TRUE(sqlite::JsonCodec::IsCompressed(stored));
  EXPECT_LT(stored.size() * 3, json.size()) << "a resource like the samples shrinks 3x or more";
  ASSERT_TRUE(codec.Decode(stored, &back).ok());
  EXPECT_EQ(back, json);
  // Plain JSON (rows written before the dictionary) and tombstones still read as they are.
  ASSERT_TRUE(codec.Decode(json, &back).ok());
  EXPECT_EQ(back, json);
  codec.Encode("", &stored);
  EXPECT_EQ(stored, "");
  ASSERT_TRUE(codec.Decode("", &back).ok());
  EXPECT_EQ(back, "");

  // A codec without the frame's dictionary names it instead of guessing.
  codec.Encode(json, &stored);
  sqlite::JsonCodec other;
  Status st = other.Decode(stored, &back);
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_NE(st.message().find(std::to_string(sqlite::JsonDictionaryId(*dict))), std::string::npos)
      << st.message();
  // Any damaged byte after the frame header is caught (the content checksum at the least).
  for (size_t at = 8; at < stored.size(); at += 3) {
    std::string bad = stored;
    bad[at] = static_cast<char>(bad[at] ^ 0x20);
    Status d = codec.Decode(bad, &back);
    EXPECT_FALSE(d.ok()) << "damage at byte " << at << " of " << stored.size() << " not reported";
  }
  // Not a dictionary at all.
  EXPECT_EQ(codec.Add("not a dictionary").code(), Code::kInternal);
  // Too little to train on.
  EXPECT_EQ(sqlite::TrainJsonDictionary({"{}", "{}"}, 65536).status().code(), Code::kInvalid);
}

// The store trains a dictionary in the background once it holds compress_after versions and
// commits it before compressing with it. Rows keep their form; reads, version reads, history,
// searches (also full-text over compressed rows) and a reopened store return the exact JSON.
TEST(JsonCompression, StoreCompressesOnceTrainedAndReadsEveryForm) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "benhan-codec-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Status> trained;
  SqliteOptions o;
  o.path = dir + "/benhan.db";
  o.readers = 2;
  o.compress_after = 300;
  o.dictionary_hook = [&](const Status& st) {
    std::lock_guard<std::mutex> l(mu);
    trained.push_back(st);
    cv.notify_all();
  };
  auto opened = OpenSqliteStore(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Store> store = std::move(*opened);
  std::map<std::string, std::string> want;  // "id/version" -> JSON
  auto put = [&](int from, int to, int version) {
    ASSERT_TRUE(RunInTransaction(*store, [&](Transaction& t) -> Status {
                  for (int i = from; i < to; ++i) {
                    NewVersion v;
                    v.type = "Patient";
                    v.id = "p" + std::to_string(i);
                    v.version = version;
                    v.last_updated_us = 1000 + i;
                    v.method = version == 1 ? "POST" : "PUT";
                    v.json = PatientJson(i * 31 + version, v.id);
                    want[v.id + "/" + std::to_string(version)] = v.json;
                    RETURN_IF_ERROR(t.Put(v).status());
                  }
                  return Status::Ok();
                }).ok());
  };
  put(0, 299, 1);
  {
    std::unique_lock<std::mutex> l(mu);
    EXPECT_FALSE(cv.wait_for(l, std::chrono::milliseconds(300), [&] { return !trained.empty(); }))
        << "trained before compress_after versions";
  }
  put(299, 400, 1);  // reaches 400 >= 300: training starts after this commit
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(60), [&] { return !trained.empty(); }));
    ASSERT_TRUE(trained[0].ok()) << trained[0].ToString();
  }
  put(0, 100, 2);  // new versions of old resources, compressed
  put(400, 500, 1);
  // One dictionary, committed, trained at 400 versions; the next is due at 6,400.
  auto raw = [&](const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(o.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    std::vector<int64_t> row;
    if (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) row.push_back(sqlite3_column_int64(st, c));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return row;
  };
  EXPECT_EQ(raw("SELECT COUNT(*), MIN(versions), MIN(length(dict)) > 1000 FROM json_dict"),
            (std::vector<int64_t>{1, 400, 1}));
  // Versions 1-400 as written (plain); the 200 written after the dictionary compressed, smaller.
  EXPECT_EQ(
      raw("SELECT SUM(substr(json, 1, 4) = x'28b52ffd') FROM resource_version WHERE seq <= 400"),
      std::vector<int64_t>{0});
  EXPECT_EQ(raw("SELECT SUM(substr(json, 1, 4) = x'28b52ffd'), COUNT(*) FROM resource_version "
                "WHERE seq > 400"),
            (std::vector<int64_t>{200, 200}));
  auto avg =
      raw("SELECT (SELECT AVG(length(json)) FROM resource_version WHERE seq <= 400) / "
          "(SELECT AVG(length(json)) FROM resource_version WHERE seq > 400)");
  ASSERT_EQ(avg.size(), 1u);
  EXPECT_GE(avg[0], 3) << "compressed rows are at least 3x smaller";
  // The dictionary can be neither changed nor removed.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
    EXPECT_NE(sqlite3_exec(db, "UPDATE json_dict SET dict = x'00'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    EXPECT_NE(sqlite3_exec(db, "DELETE FROM json_dict", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  auto check_all = [&](Store& s) {
    for (const auto& [key, json] : want) {
      std::string id = key.substr(0, key.find('/'));
      int64_t version = std::stoll(key.substr(key.find('/') + 1));
      auto v = s.VRead("Patient", id, version);
      ASSERT_TRUE(v.ok()) << key << ": " << v.status().ToString();
      EXPECT_EQ(v->json, json) << key;
    }
    auto cur = s.Read("Patient", "p7");  // version 2, compressed
    ASSERT_TRUE(cur.ok());
    EXPECT_EQ(cur->json, want["p7/2"]);
    HistoryQuery hq;
    hq.type = "Patient";
    hq.id = "p7";
    auto h = s.History(hq);
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h->entries.size(), 2u);
    EXPECT_EQ(h->entries[0].json, want["p7/2"]);  // compressed
    EXPECT_EQ(h->entries[1].json, want["p7/1"]);  // plain
    // _content over compressed and plain rows alike: every current version naming "Cần Thơ".
    Query q;
    Condition c;
    c.param = "_content";
    c.kind = ParamKind::kText;
    QueryValue qv;
    qv.code = "can tho";
    c.any_of.push_back(qv);
    q.all_of.push_back(c);
    q.count = 1000;
    auto r = s.Search("Patient", q);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    size_t expected = 0, compressed_found = 0;
    for (int i = 0; i < 500; ++i) {
      std::string id = "p" + std::to_string(i);
      const std::string& j = want.count(id + "/2") ? want[id + "/2"] : want[id + "/1"];
      if (j.find("Cần Thơ") != std::string::npos) ++expected;
    }
    for (const auto& m : r->matches) {
      EXPECT_NE(m.json.find("Cần Thơ"), std::string::npos) << m.id;
      if (m.version == 2 || std::stoi(m.id.substr(1)) >= 400) ++compressed_found;
    }
    EXPECT_EQ(r->matches.size(), expected);
    EXPECT_GT(compressed_found, 0u);
  };
  check_all(*store);
  store.reset();
  // Reopened: the dictionary comes from the database itself.
  o.dictionary_hook = nullptr;
  auto again = OpenSqliteStore(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  check_all(**again);
  again->reset();
  std::filesystem::remove_all(dir);
}

// compress_after 0: never trained, every row plain JSON.
TEST(JsonCompression, ZeroNeverCompresses) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "benhan-codec-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  SqliteOptions o;
  o.path = dir + "/benhan.db";
  o.readers = 1;
  o.compress_after = 0;
  {
    auto s = OpenSqliteStore(o);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(RunInTransaction(**s, [&](Transaction& t) -> Status {
                  for (int i = 0; i < 1500; ++i) {
                    NewVersion v;
                    v.type = "Patient";
                    v.id = "z" + std::to_string(i);
                    v.version = 1;
                    v.method = "POST";
                    v.json = PatientJson(i, v.id);
                    RETURN_IF_ERROR(t.Put(v).status());
                  }
                  return Status::Ok();
                }).ok());
  }  // closing joins any training: none may have started
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(o.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT (SELECT COUNT(*) FROM json_dict), (SELECT COUNT(*) FROM "
                               "resource_version WHERE substr(json, 1, 1) = x'7b')",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(st, 0), 0);
  EXPECT_EQ(sqlite3_column_int64(st, 1), 1500);
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace benhan::store
