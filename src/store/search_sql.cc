#include "store/search_sql.h"

#include <algorithm>
#include <cmath>

#include "fhir/index_entries.h"

namespace benhan::store {
namespace {

class Builder {
 public:
  Builder(const Dialect& d, std::vector<SqlArg>* args) : d_(d), args_(args) {}
  bool reverse_as_list = false;  // see CompileQuery
  // One overload per alternative, constructed in place (GCC 12 warns falsely on converting
  // temporaries of the variant).
  std::string Arg(int64_t v) {
    args_->emplace_back(std::in_place_type<int64_t>, v);
    return d_.placeholder(static_cast<int>(args_->size()));
  }
  std::string Arg(double v) {
    args_->emplace_back(std::in_place_type<double>, v);
    return d_.placeholder(static_cast<int>(args_->size()));
  }
  std::string Arg(std::string v) {
    args_->emplace_back(std::in_place_type<std::string>, std::move(v));
    return d_.placeholder(static_cast<int>(args_->size()));
  }
  // The dialect's full-text condition over `json_sql` with the folded query `words`.
  std::string text_match(const std::string& json_sql, bool narrative, std::string words) {
    std::string p = Arg(std::move(words));
    return d_.text_match(json_sql, narrative, p);
  }
  const Dialect& dialect() const { return d_; }
  std::string Arg(const SqlArg& v) {
    if (std::holds_alternative<int64_t>(v)) return Arg(std::get<int64_t>(v));
    if (std::holds_alternative<double>(v)) return Arg(std::get<double>(v));
    return Arg(std::get<std::string>(v));
  }

 private:
  const Dialect& d_;
  std::vector<SqlArg>* args_;
};

std::string EscapeLike(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Half-width of the implicit range of a decimal as written ("100" -> 0.5, "1.50" -> 0.005).
double ImplicitHalfWidth(const std::string& text) {
  size_t dot = text.find('.');
  size_t e = text.find_first_of("eE");
  if (e != std::string::npos) return 0;  // exponent form: exact
  int decimals = dot == std::string::npos ? 0 : static_cast<int>(text.size() - dot - 1);
  return 0.5 * std::pow(10.0, -decimals);
}

// Note: C++ leaves the order of evaluation of `a + b` unspecified, so every placeholder is taken
// into a named variable first: arguments must be pushed in the order they appear in the SQL text.
std::string RangeCompare(Builder& b, const QueryValue& v, const std::string& lo_col,
                         const std::string& hi_col, SqlArg lo, SqlArg hi) {
  switch (v.prefix) {
    case Prefix::kEq:
    case Prefix::kNe: {
      std::string p1 = b.Arg(lo);
      std::string p2 = b.Arg(hi);
      std::string s = "(" + lo_col + " >= " + p1 + " AND " + hi_col + " <= " + p2 + ")";
      return v.prefix == Prefix::kEq ? s : "NOT " + s;
    }
    case Prefix::kGt:
      return "(" + hi_col + " > " + b.Arg(hi) + ")";
    case Prefix::kLt:
      return "(" + lo_col + " < " + b.Arg(lo) + ")";
    case Prefix::kGe:
      return "(" + hi_col + " > " + b.Arg(lo) + ")";
    case Prefix::kLe:
      return "(" + lo_col + " < " + b.Arg(hi) + ")";
    case Prefix::kSa:
      return "(" + lo_col + " >= " + b.Arg(hi) + ")";
    case Prefix::kEb:
      return "(" + hi_col + " <= " + b.Arg(lo) + ")";
    case Prefix::kAp: {
      std::string p1 = b.Arg(hi);
      std::string p2 = b.Arg(lo);
      return "(" + lo_col + " < " + p1 + " AND " + hi_col + " > " + p2 + ")";
    }
  }
  return "0";
}

// A number or quantity column (a point value) against a search number `n` written with implicit
// half-width `hw` (FHIR R4 search: eq/ne use the implicit range, ap is within 10%).
std::string PointCompare(Builder& b, const QueryValue& v, const std::string& col, double n,
                         double hw) {
  switch (v.prefix) {
    case Prefix::kEq:
    case Prefix::kNe: {
      std::string p1 = b.Arg(n - hw);
      std::string p2 = b.Arg(n + hw);
      std::string s = "(" + col + " >= " + p1 + " AND " + col + " < " + p2 + ")";
      return v.prefix == Prefix::kEq ? s : "NOT " + s;
    }
    case Prefix::kGt:
    case Prefix::kSa:
      return "(" + col + " > " + b.Arg(n) + ")";
    case Prefix::kLt:
    case Prefix::kEb:
      return "(" + col + " < " + b.Arg(n) + ")";
    case Prefix::kGe:
      return "(" + col + " >= " + b.Arg(n) + ")";
    case Prefix::kLe:
      return "(" + col + " <= " + b.Arg(n) + ")";
    case Prefix::kAp: {
      double w = std::max(std::fabs(n) * 0.1, hw);
      std::string p1 = b.Arg(n - w);
      std::string p2 = b.Arg(n + w);
      return "(" + col + " >= " + p1 + " AND " + col + " <= " + p2 + ")";
    }
  }
  return "0";
}

Result<std::string> ValueSql(Builder& b, const Condition& c, const QueryValue& v) {
  switch (c.kind) {
    case ParamKind::kString: {
      if (c.modifier == "exact") return "exact = " + b.Arg(v.code);
      if (c.modifier == "contains")
        return "folded LIKE " + b.Arg("%" + EscapeLike(v.code) + "%") + " ESCAPE '\\'";
      // Default: case/diacritic-insensitive prefix match (v.code is already folded).
      std::string p1 = b.Arg(v.code);
      std::string p2 = b.Arg(v.code + "\xff");
      return "(folded >= " + p1 + " AND folded < " + p2 + ")";
    }
    case ParamKind::kToken: {
      if (c.modifier == "text") {
        return "text LIKE " + b.Arg(EscapeLike(v.code) + "%") + " ESCAPE '\\'";
      }
      std::string s;
      if (!v.code.empty()) s = "code = " + b.Arg(v.code);  // sequenced before the system below
      if (v.has_system) {
        if (!s.empty()) s += " AND ";
        s += "system = " + b.Arg(v.system);
      }
      return s.empty() ? std::string("1=1") : "(" + s + ")";
    }
    case ParamKind::kReference: {
      if (v.code.find("://") != std::string::npos) return "url = " + b.Arg(v.code);
      std::string s = "target_id = " + b.Arg(v.code);  // sequenced before target_type
      if (!v.system.empty()) s += " AND target_type = " + b.Arg(v.system);
      return "(" + s + ")";
    }
    case ParamKind::kUri: {
      if (c.modifier == "below")
        return "uri LIKE " + b.Arg(EscapeLike(v.code) + "%") + " ESCAPE '\\'";
      // above: the stored uri is a prefix of the value (e.g. a profile and its versions).
      if (c.modifier == "above") return "substr(" + b.Arg(v.code) + ", 1, length(uri)) = uri";
      return "uri = " + b.Arg(v.code);
    }
    case ParamKind::kDate:
      return RangeCompare(b, v, "low", "high", v.low, v.high);
    case ParamKind::kNumber:
    case ParamKind::kQuantity: {
      double hw = ImplicitHalfWidth(v.code);
      auto with_system = [&](std::string s) {
        if (!v.system.empty()) s += " AND system = " + b.Arg(v.system);
        return "(" + s + ")";
      };
      if (c.kind == ParamKind::kNumber || v.unit.empty())
        return with_system(PointCompare(b, v, "value", v.number, hw));
      // With a unit: rows keyed by the same UCUM dimensions compare in canonical units; rows of
      // other units (or without a system) by the code as given.
      std::string s;
      if (!v.unit_key.empty()) {
        std::string p = b.Arg(v.unit_key);
        s = with_system("unit_key = " + p + " AND " +
                        PointCompare(b, v, "canonical", v.number * v.factor, hw * v.factor));
      }
      if (v.unit_key.empty() || v.system.empty()) {
        std::string p = b.Arg(v.unit);
        std::string one = with_system("unit_key = " + p + " AND " +
                                      PointCompare(b, v, "canonical", v.number, hw));
        s = s.empty() ? one : "(" + s + " OR " + one + ")";
      }
      return s;
    }
    default:
      return Status(Code::kNotSupported, "search parameter kind not supported here");
  }
}

const char* TableOf(ParamKind k) {
  switch (k) {
    case ParamKind::kString:
      return "idx_string";
    case ParamKind::kToken:
      return "idx_token";
    case ParamKind::kReference:
      return "idx_reference";
    case ParamKind::kDate:
      return "idx_date";
    case ParamKind::kNumber:
      return "idx_number";
    case ParamKind::kQuantity:
      return "idx_quantity";
    case ParamKind::kUri:
      return "idx_uri";
    default:
      return nullptr;
  }
}

// The parameter of a condition and the others it also matches through (aliases, compartments).
std::vector<const std::string*> ParamsOf(const Condition& c) {
  std::vector<const std::string*> out{&c.param};
  for (const auto& p : c.also_params) out.push_back(&p);
  return out;
}

// The upper bound of the keys that start with `prefix` (for `key >= prefix AND key < upper`).
std::string PrefixUpper(const std::string& prefix) {
  if (!prefix.empty() && static_cast<unsigned char>(prefix.back()) < 0x7e) {
    std::string u = prefix;
    ++u.back();
    return u;
  }
  return prefix + "\xff";
}

// SQL over search_param.code for the derived codes of component k of a composite whose first
// component matches `first` (see fhir::CompositeCode).
std::string CompositeKeyMatch(Builder& b, const std::string& param, int k, ParamKind first_kind,
                              const QueryValue& first) {
  std::string prefix = fhir::CompositeCode(param, k, "");
  auto exact = [&](const std::string& key) { return "code = " + b.Arg(prefix + key); };
  auto starts = [&](const std::string& key) {
    std::string p1 = b.Arg(prefix + key);
    std::string p2 = b.Arg(PrefixUpper(prefix + key));
    return "code >= " + p1 + " AND code < " + p2;
  };
  switch (first_kind) {
    case ParamKind::kToken:
      if (!first.has_system) return starts(first.code + "|");                  // any system
      if (!first.code.empty()) return exact(first.code + "|" + first.system);  // system|code, |code
      return "code LIKE " + b.Arg(EscapeLike(prefix) + "%|" + EscapeLike(first.system)) +
             " ESCAPE '\\'";  // system|
    case ParamKind::kReference:
      if (first.code.find("://") != std::string::npos) return exact(first.code);
      if (!first.system.empty()) return exact(first.system + "/" + first.code);
      return "code LIKE " + b.Arg(EscapeLike(prefix) + "%/" + EscapeLike(first.code)) +
             " ESCAPE '\\'";
    case ParamKind::kString:
      return starts(first.code);
    default:
      return exact(first.code);
  }
}

}  // namespace

// The great-circle test with the SQL math functions (SQLite 3.35+ built with them, as Debian's
// is; PostgreSQL): cos(central angle) >= cos_max. `cast` wraps an argument's placeholder.
static std::string GreatCircleSql(const std::string& lat, const std::string& lon,
                                  const std::string& sin0, const std::string& cos0,
                                  const std::string& lon0, const std::string& cos_max,
                                  const char* cast_open, const char* cast_close) {
  auto arg = [&](const std::string& p) { return cast_open + p + cast_close; };
  return "(" + arg(sin0) + " * sin(radians(" + lat + ")) + " + arg(cos0) + " * cos(radians(" + lat +
         ")) * cos(radians(" + lon + ") - " + arg(lon0) + ") >= " + arg(cos_max) + ")";
}

const Dialect& SqliteDialect() {
  // benhan_text_match is registered on every connection by the SQLite store.
  static const Dialect d{
      [](int) { return std::string("?"); },
      [](const std::string& json, bool narrative, const std::string& arg) {
        return "benhan_text_match(" + json + ", " + (narrative ? "1" : "0") + ", " + arg + ")";
      },
      [](const std::string& lat, const std::string& lon, const std::string& s0,
         const std::string& c0, const std::string& l0,
         const std::string& cm) { return GreatCircleSql(lat, lon, s0, c0, l0, cm, "", ""); },
      " ASC", " DESC"};
  return d;
}

const Dialect& PostgresDialect() {
  static const Dialect d{
      [](int) { return std::string("?"); },
      [](const std::string& json, bool narrative, const std::string& arg) {
        // `json` is the scalar subquery "(SELECT json FROM resource_version WHERE ...)": the
        // same row's folded words are read instead of parsing the JSON in the database.
        std::string words = json;
        const std::string from = "SELECT json FROM";
        if (auto p = words.find(from); p != std::string::npos) {
          words.replace(p, from.size(),
                        narrative ? "SELECT text_narrative FROM" : "SELECT text_content FROM");
        }
        return "COALESCE(benhan_words_match(" + words + ", " + arg + "), false)";
      },
      [](const std::string& lat, const std::string& lon, const std::string& s0,
         const std::string& c0, const std::string& l0, const std::string& cm) {
        return GreatCircleSql(lat, lon, s0, c0, l0, cm, "CAST(", " AS DOUBLE PRECISION)");
      },
      " ASC NULLS FIRST", " DESC NULLS LAST"};
  return d;
}

namespace {

constexpr int kMaxChainDepth = 4;

// The SQL (over `alias`, a row of table resource of resource type `type`) for all conditions.
// How selective a condition is likely to be as the driver of a search (lower: fewer rows), or -1
// if it cannot drive (its rows are a list of every non-matching resource, or it is not a plain
// index lookup).
int DriverRank(const Condition& c) {
  if (!c.chains.empty() || c.modifier == "not" || c.modifier == "missing" || c.modifier == "text" ||
      c.any_of.empty())
    return -1;
  switch (c.kind) {
    case ParamKind::kId:
      return 0;
    case ParamKind::kReference:
      for (const auto& v : c.any_of) {
        if (v.code.find("://") != std::string::npos) return 6;
      }
      return 1;
    case ParamKind::kToken:
      for (const auto& v : c.any_of) {
        if (v.code.empty()) return 6;  // system| only
        if (!v.has_system) return 3;
      }
      return 2;
    case ParamKind::kUri:
      return c.modifier.empty() ? 3 : 6;
    case ParamKind::kString:
      return c.modifier == "exact" ? 4 : c.modifier == "contains" ? 8 : 5;
    case ParamKind::kDate:
    case ParamKind::kLastUpdated:
      return 6;
    case ParamKind::kNumber:
    case ParamKind::kQuantity:
    case ParamKind::kNear:
      return 7;
    default:
      return -1;
  }
}

// True if a condition can be tested on one candidate row by seeking its table with the row's rid:
// token and reference keys start with the searched value; idx_date has an index by (rid, pid).
bool Probeable(const Condition& c) {
  if (!c.chains.empty() || c.modifier == "missing" || c.modifier == "text") return false;
  switch (c.kind) {
    case ParamKind::kToken:
      for (const auto& v : c.any_of) {
        if (v.code.empty()) return false;
      }
      return true;
    case ParamKind::kReference:
      for (const auto& v : c.any_of) {
        if (v.code.find("://") != std::string::npos) return false;
      }
      return true;
    case ParamKind::kDate:
      return true;
    case ParamKind::kUri:
      return c.modifier.empty();
    default:
      return false;
  }
}

// Location `near`: the position rows (idx_quantity, unit_key "wgs84", canonical = latitude, value
// = longitude; fhir/indexer) in the latitude band of the circle (a range of the table's key),
// their longitude inside the circle's longitude range (two ranges across the antimeridian, none
// around a pole), then the exact great-circle test (Dialect::great_circle). OR across values.
constexpr double kEarthRadiusKm = 6371.0088;  // mean radius (IUGG), WGS84 as a sphere
constexpr double kPi = 3.14159265358979323846;

Result<std::string> NearSql(Builder& b, const Condition& c, const std::string& type,
                            const std::string& A, const ParamIdFn& param_id) {
  int64_t pid = param_id(type, c.param);
  if (pid < 0 || c.any_of.empty()) return std::string("0=1");
  std::string ors;
  for (const auto& v : c.any_of) {
    const double angle = v.distance_km / kEarthRadiusKm;  // radians
    const double lat0 = v.latitude * kPi / 180, lon0 = v.longitude * kPi / 180;
    // Latitude band; longitude half-width of the cap (none when the cap holds a pole).
    double dlat = angle * 180 / kPi;
    double lat_lo = std::max(-90.0, v.latitude - dlat), lat_hi = std::min(90.0, v.latitude + dlat);
    double dlon = 180;
    if (lat_lo > -90 && lat_hi < 90 && angle < kPi / 2) {
      double s = std::sin(angle) / std::cos(lat0);
      if (s < 1) dlon = std::asin(s) * 180 / kPi;
    }
    std::string p_pid = b.Arg(pid);
    std::string p_key = b.Arg(std::string("wgs84"));
    std::string p_lat_lo = b.Arg(lat_lo);
    std::string p_lat_hi = b.Arg(lat_hi);
    std::string box = "g.canonical >= " + p_lat_lo + " AND g.canonical <= " + p_lat_hi;
    if (dlon < 180) {
      double lo = v.longitude - dlon, hi = v.longitude + dlon;
      if (lo < -180 || hi > 180) {  // across the antimeridian: two ranges
        std::string p1 = b.Arg(lo < -180 ? lo + 360 : lo);
        std::string p2 = b.Arg(hi > 180 ? hi - 360 : hi);
        box += " AND (g.value >= " + p1 + " OR g.value <= " + p2 + ")";
      } else {
        std::string p1 = b.Arg(lo);
        std::string p2 = b.Arg(hi);
        box += " AND g.value >= " + p1 + " AND g.value <= " + p2;
      }
    }
    // A hair of slack for rounding: a point at the exact distance matches.
    std::string s0 = b.Arg(std::sin(lat0));
    std::string c0 = b.Arg(std::cos(lat0));
    std::string l0 = b.Arg(lon0);
    std::string cm = b.Arg(angle >= kPi ? -2.0 : std::cos(angle) - 1e-12);
    std::string exact = b.dialect().great_circle("g.canonical", "g.value", s0, c0, l0, cm);
    std::string one = A + "rid IN (SELECT g.rid FROM idx_quantity g WHERE g.pid = " + p_pid +
                      " AND g.unit_key = " + p_key + " AND " + box + " AND " + exact + ")";
    ors += ors.empty() ? one : " OR " + one;
  }
  return "(" + ors + ")";
}

// The SQL (over `alias`, a row of table resource of resource type `type`) for all conditions.
// One condition drives (its index rows list the candidates); the others that can be tested by the
// candidate's rid become correlated probes, so a search for one patient's observations of a code
// in a date range touches that patient's rows only. With `driven`, the rows are already given by
// the enclosing query (a _has correlation): every probeable condition is a probe.
Result<std::string> CompileConditions(const std::vector<Condition>& conds, const std::string& type,
                                      const std::string& alias, Builder& b,
                                      const ParamIdFn& param_id, int depth, bool driven = false) {
  if (depth > kMaxChainDepth)
    return Status(Code::kNotSupported, "search chains deeper than 4 are not supported");
  const std::string A = alias + ".";
  std::string where = "1=1";
  const Condition* driver = nullptr;
  if (!driven) {
    int best = -1;
    for (const auto& c : conds) {
      int r = DriverRank(c);
      if (r >= 0 && (best < 0 || r < best)) {
        best = r;
        driver = &c;
      }
    }
  }
  for (const auto& c : conds) {
    std::string cond;
    const bool probe = (driven || (driver != nullptr && driver != &c)) && Probeable(c);
    if (!c.chains.empty()) {
      int64_t pid = param_id(c.reverse ? c.chains[0].type : type, c.param);
      if (pid < 0) {
        where += " AND 0=1";
        continue;
      }
      std::string inner = "b" + std::to_string(depth + 1);
      if (c.reverse) {
        // _has: a resource of chains[0].type refers to this one through `param` and matches.
        // Correlated: this row's referrers are found by (pid, target_id) and each is tested by
        // probes, so the cost follows the candidates here, not every referrer of the type. When
        // the referrers are few by themselves (_list=ID: _has:List:item:_id=ID), listing them is
        // cheaper.
        int inner_best = -1;
        for (const auto& ic : c.chains[0].all_of) {
          int r = DriverRank(ic);
          if (r >= 0 && (inner_best < 0 || r < inner_best)) inner_best = r;
        }
        std::string ir = "ir" + std::to_string(depth + 1);
        // Index rows exist only for current, live versions: when the inner conditions read
        // nothing but the referrer's rid, they test the reference row's rid directly (no join
        // with the referrer's resource row).
        bool rid_only = true;
        for (const auto& ic : c.chains[0].all_of) {
          rid_only = rid_only && !(!ic.chains.empty() && ic.reverse) && ic.kind != ParamKind::kId &&
                     ic.kind != ParamKind::kLastUpdated && ic.kind != ParamKind::kText;
        }
        if (b.reverse_as_list || (inner_best >= 0 && inner_best <= 1)) {
          // The referrers that match, found from their own driving condition, then their
          // references by rid (idx_reference_rid): cheap when few resources match inside.
          std::string p_pid = b.Arg(pid);
          std::string p_type = b.Arg(type);
          ASSIGN_OR_RETURN(std::string sub,
                           CompileConditions(c.chains[0].all_of, c.chains[0].type,
                                             rid_only ? ir : inner, b, param_id, depth + 1));
          std::string referrers = rid_only ? sub
                                           : ir + ".rid IN (SELECT " + inner +
                                                 ".rid FROM resource " + inner + " WHERE " + inner +
                                                 ".deleted = 0 AND " + sub + ")";
          cond = A + "id IN (SELECT " + ir + ".target_id FROM idx_reference " + ir + " WHERE " +
                 ir + ".pid = " + p_pid + " AND " + ir + ".target_type = " + p_type + " AND " +
                 referrers + ")";
          where += " AND " + cond;
          continue;
        }
        std::string p_pid = b.Arg(pid);
        std::string p_type = b.Arg(type);
        ASSIGN_OR_RETURN(std::string sub,
                         CompileConditions(c.chains[0].all_of, c.chains[0].type,
                                           rid_only ? ir : inner, b, param_id, depth + 1,
                                           /*driven=*/true));
        cond = "EXISTS (SELECT 1 FROM idx_reference " + ir +
               (rid_only ? std::string()
                         : " JOIN resource " + inner + " ON " + inner + ".rid = " + ir + ".rid") +
               " WHERE " + ir + ".pid = " + p_pid + " AND " + ir + ".target_id = " + A + "id AND " +
               ir + ".target_type = " + p_type +
               (rid_only ? std::string() : " AND " + inner + ".deleted = 0") + " AND " + sub + ")";
      } else {
        std::string ors;
        for (const Chain& ch : c.chains) {
          std::string p_pid = b.Arg(pid);
          std::string p_type = b.Arg(ch.type);
          std::string p_rtype = b.Arg(ch.type);
          ASSIGN_OR_RETURN(std::string sub,
                           CompileConditions(ch.all_of, ch.type, inner, b, param_id, depth + 1));
          std::string one =
              A + "rid IN (SELECT ir.rid FROM idx_reference ir WHERE ir.pid = " + p_pid +
              " AND ir.target_type = " + p_type + " AND ir.target_id IN (SELECT " + inner +
              ".id FROM resource " + inner + " WHERE " + inner + ".rtype = " + p_rtype + " AND " +
              inner + ".deleted = 0 AND " + sub + "))";
          ors += ors.empty() ? one : " OR " + one;
        }
        cond = "(" + ors + ")";
      }
      where += " AND " + cond;
      continue;
    }
    if (c.kind == ParamKind::kNear) {
      ASSIGN_OR_RETURN(cond, NearSql(b, c, type, A, param_id));
      where += " AND " + cond;
      continue;
    }
    if (c.kind == ParamKind::kText) {
      // Full text: evaluated on the stored JSON of the rows the other conditions leave.
      std::string ors;
      for (const auto& v : c.any_of) {
        std::string one =
            b.text_match("(SELECT json FROM resource_version WHERE seq = " + A + "seq)",
                         c.param == "_text", v.code);
        ors += ors.empty() ? one : " OR " + one;
      }
      std::string cond = "(" + (ors.empty() ? std::string("1=0") : ors) + ")";
      where += " AND " + (c.modifier == "not" ? "NOT " + cond : cond);
      continue;
    }
    if (c.kind == ParamKind::kComposite) {
      // Rows of components 2 (and 3) under the derived codes of the first component's value.
      if (c.part_kinds.size() < 2) return Status(Code::kInternal, "composite without components");
      const std::string rtype = type;
      if (c.modifier == "missing") {
        std::string p_type = b.Arg(rtype);
        std::string ranges;
        for (const std::string* param : ParamsOf(c)) {
          std::string p_lo = b.Arg(fhir::CompositeCode(*param, 2, ""));
          std::string p_hi = b.Arg(PrefixUpper(fhir::CompositeCode(*param, 2, "")));
          std::string one = "(code >= " + p_lo + " AND code < " + p_hi + ")";
          ranges += ranges.empty() ? one : " OR " + one;
        }
        std::string sub = A + "rid IN (SELECT rid FROM " + std::string(TableOf(c.part_kinds[1])) +
                          " WHERE pid IN (SELECT pid FROM search_param WHERE rtype = " + p_type +
                          " AND (" + ranges + ")))";
        where += " AND " + (c.missing ? "NOT " + sub : sub);
        continue;
      }
      std::string ors;
      for (const auto& v : c.any_of) {
        if (v.parts.size() != c.part_kinds.size())
          return Status(Code::kInternal, "composite value with the wrong number of parts");
        std::string one;
        for (size_t k = 1; k < v.parts.size(); ++k) {
          const char* table = TableOf(c.part_kinds[k]);
          if (table == nullptr) return Status(Code::kNotSupported, "composite " + c.param);
          std::string p_type = b.Arg(rtype);
          // The composite's own derived codes, or (an alias: combo-code-value-quantity) those of
          // each parameter it unites.
          std::string keys;
          for (const std::string* param : ParamsOf(c)) {
            std::string one =
                CompositeKeyMatch(b, *param, static_cast<int>(k) + 1, c.part_kinds[0], v.parts[0]);
            keys += keys.empty() ? "(" + one + ")" : " OR (" + one + ")";
          }
          keys = "(" + keys + ")";
          Condition part;
          part.param = c.param;
          part.kind = c.part_kinds[k];
          ASSIGN_OR_RETURN(std::string value_sql, ValueSql(b, part, v.parts[k]));
          std::string sub = A + "rid IN (SELECT rid FROM " + std::string(table) +
                            " WHERE pid IN (SELECT pid FROM search_param WHERE rtype = " + p_type +
                            " AND " + keys + ") AND (" + value_sql + "))";
          one += one.empty() ? sub : " AND " + sub;
        }
        ors += ors.empty() ? "(" + one + ")" : " OR (" + one + ")";
      }
      where += " AND (" + (ors.empty() ? std::string("1=0") : ors) + ")";
      continue;
    }
    if (c.kind == ParamKind::kId || c.kind == ParamKind::kLastUpdated) {
      std::string ors;
      for (const auto& v : c.any_of) {
        std::string one;
        if (c.kind == ParamKind::kId) {
          one = A + "id = " + b.Arg(v.code);
        } else {
          one =
              RangeCompare(b, v, A + "last_updated", "(" + A + "last_updated + 1)", v.low, v.high);
        }
        ors += ors.empty() ? one : " OR " + one;
      }
      cond = "(" + (ors.empty() ? std::string("1=0") : ors) + ")";
      if (c.modifier == "not") cond = "NOT " + cond;
    } else {
      const char* table = TableOf(c.kind);
      if (table == nullptr) return Status(Code::kNotSupported, "unsupported parameter " + c.param);
      if (c.modifier == "in" || c.modifier == "not-in") {
        return Status(Code::kNotSupported, c.param + ":" + c.modifier +
                                               " is only available in searches (the value "
                                               "set is expanded by the search service)");
      }
      std::vector<int64_t> pids;
      if (int64_t pid = param_id(type, c.param); pid >= 0) pids.push_back(pid);
      for (const auto& p : c.also_params) {
        int64_t other = param_id(type, p);
        if (other >= 0) pids.push_back(other);
      }
      // Placeholders are numbered in text order: bind the pids, then the target type, then the
      // values.
      auto pid_sql = [&] {
        std::string out;
        if (pids.size() == 1) {
          out = "pid = " + b.Arg(pids[0]);
        } else {
          out = "pid IN (";
          for (size_t i = 0; i < pids.size(); ++i) {
            if (i) out += ", ";
            out += b.Arg(pids[i]);
          }
          out += ")";
        }
        if (!c.target_type.empty() && c.kind == ParamKind::kReference)
          out += " AND target_type = " + b.Arg(c.target_type);
        return out;
      };
      if (c.modifier == "missing") {
        std::string sub = pids.empty() ? std::string("0=1")
                                       : A + "rid IN (SELECT rid FROM " + std::string(table) +
                                             " WHERE " + pid_sql() + ")";
        cond = c.missing ? "NOT " + sub : sub;
      } else {
        if (pids.empty()) {
          cond = c.modifier == "not" ? "1=1" : "0=1";
          where += " AND " + cond;
          continue;
        }
        std::string sub =
            probe ? "EXISTS (SELECT 1 FROM " + std::string(table) + " WHERE rid = " + A + "rid AND "
                  : A + "rid IN (SELECT rid FROM " + std::string(table) + " WHERE ";
        sub += pid_sql();
        sub += " AND (";
        std::string ors;
        for (const auto& v : c.any_of) {
          ASSIGN_OR_RETURN(std::string one, ValueSql(b, c, v));
          ors += ors.empty() ? one : " OR " + one;
        }
        sub += (ors.empty() ? "1=0" : ors) + "))";
        cond = c.modifier == "not" ? "NOT " + sub : sub;
      }
    }
    where += " AND " + cond;
  }
  return where;
}

}  // namespace

bool HasReverseChain(const std::vector<Condition>& conds) {
  for (const auto& c : conds) {
    if (c.reverse) return true;
    for (const auto& ch : c.chains) {
      if (HasReverseChain(ch.all_of)) return true;
    }
  }
  return false;
}

Result<CompiledQuery> CompileQuery(const Query& q, const std::string& type, const Dialect& dialect,
                                   const ParamIdFn& param_id, bool reverse_as_list) {
  CompiledQuery out;
  Builder b(dialect, &out.args);
  b.reverse_as_list = reverse_as_list;
  ASSIGN_OR_RETURN(std::string where, CompileConditions(q.all_of, type, "r", b, param_id, 0));
  out.where = where;
  Builder ob(dialect, &out.order_args);
  std::string order;
  for (const auto& s : q.sort) {
    std::string expr;
    if (s.kind == ParamKind::kId) {
      expr = "r.id";
    } else if (s.kind == ParamKind::kLastUpdated) {
      expr = "r.last_updated";
    } else {
      const char* table = TableOf(s.kind);
      int64_t pid = param_id(type, s.param);
      if (table == nullptr || pid < 0) continue;
      const char* col = s.kind == ParamKind::kString      ? "folded"
                        : s.kind == ParamKind::kToken     ? "code"
                        : s.kind == ParamKind::kDate      ? "low"
                        : s.kind == ParamKind::kReference ? "target_id"
                        : s.kind == ParamKind::kUri       ? "uri"
                                                          : "value";
      expr = "(SELECT " + std::string(s.descending ? "MAX(" : "MIN(") + col + ") FROM " + table +
             " WHERE rid = r.rid AND pid = " + ob.Arg(pid) + ")";
    }
    if (!order.empty()) order += ", ";
    order += expr + (s.descending ? dialect.descending : dialect.ascending);
  }
  if (!order.empty()) order += ", ";
  order += "r.rid ASC";  // stable tie-break
  out.order_by = order;
  return out;
}

}  // namespace benhan::store
