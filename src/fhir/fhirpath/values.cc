#include "fhir/fhirpath/values.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

namespace benhan::fhir::fhirpath::internal {

namespace {

// The value kind named by a type name; kNone if the name is not a primitive/System/quantity type.
VK KindOfTypeName(std::string_view t) {
  if (t.empty()) return VK::kNone;
  switch (t[0]) {
    case 'B':
      return t == "Boolean" ? VK::kBool : VK::kNone;
    case 'b':
      if (t == "boolean") return VK::kBool;
      if (t == "base64Binary") return VK::kStr;
      return VK::kNone;
    case 'I':
      return t == "Integer" ? VK::kInt : VK::kNone;
    case 'i':
      if (t == "integer") return VK::kInt;
      if (t == "id" || t == "instant") return t == "id" ? VK::kStr : VK::kDateTime;
      return VK::kNone;
    case 'p':
      return t == "positiveInt" ? VK::kInt : VK::kNone;
    case 'u':
      if (t == "unsignedInt") return VK::kInt;
      if (t == "uri" || t == "url" || t == "uuid") return VK::kStr;
      return VK::kNone;
    case 'D':
      if (t == "Decimal") return VK::kDec;
      if (t == "Date") return VK::kDate;
      if (t == "DateTime") return VK::kDateTime;
      if (t == "Duration" || t == "Distance") return VK::kQuantity;
      return VK::kNone;
    case 'd':
      if (t == "decimal") return VK::kDec;
      if (t == "date") return VK::kDate;
      if (t == "dateTime") return VK::kDateTime;
      return VK::kNone;
    case 'S':
      if (t == "String") return VK::kStr;
      if (t == "SimpleQuantity") return VK::kQuantity;
      return VK::kNone;
    case 's':
      return t == "string" ? VK::kStr : VK::kNone;
    case 'c':
      return t == "code" || t == "canonical" ? VK::kStr : VK::kNone;
    case 'o':
      return t == "oid" ? VK::kStr : VK::kNone;
    case 'm':
      return t == "markdown" ? VK::kStr : VK::kNone;
    case 'x':
      return t == "xhtml" ? VK::kStr : VK::kNone;
    case 'T':
      return t == "Time" ? VK::kTime : VK::kNone;
    case 't':
      return t == "time" ? VK::kTime : VK::kNone;
    case 'Q':
      return t == "Quantity" ? VK::kQuantity : VK::kNone;
    case 'A':
      return t == "Age" ? VK::kQuantity : VK::kNone;
    case 'C':
      return t == "Count" ? VK::kQuantity : VK::kNone;
    case 'M':
      return t == "MoneyQuantity" ? VK::kQuantity : VK::kNone;
    default:
      return VK::kNone;
  }
}

}  // namespace

VK KindOf(const Item& it) {
  const boost::json::value& v = it.json();
  if (v.is_null()) return VK::kNone;
  if (!it.type().empty()) {
    VK k = KindOfTypeName(it.type());
    if (k != VK::kNone) {
      if (k == VK::kQuantity && !v.is_object()) return VK::kOther;
      return k;
    }
    if (v.is_object() || v.is_array()) return VK::kOther;
  }
  switch (v.kind()) {
    case boost::json::kind::bool_:
      return VK::kBool;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
      return VK::kInt;
    case boost::json::kind::double_:
      return VK::kDec;
    case boost::json::kind::string:
      return VK::kStr;
    default:
      return VK::kOther;
  }
}

namespace {

bool Num(std::string_view s, size_t* i, int n, int* out) {
  if (*i + static_cast<size_t>(n) > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[*i + static_cast<size_t>(k)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += static_cast<size_t>(n);
  *out = v;
  return true;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2));
}

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[(m - 1) % 12];
}

// Adds minutes to a temporal with at least hour precision, carrying into days.
void AddMillis(Temporal* t, int64_t ms) {
  int64_t days =
      DaysFromCivil(t->v[0], static_cast<unsigned>(t->v[1]), static_cast<unsigned>(t->v[2]));
  int64_t total = (((days * 24 + t->v[3]) * 60 + t->v[4]) * 60 + t->v[5]) * 1000 + t->v[6] + ms;
  int64_t day_ms = 86400000;
  int64_t d = total >= 0 ? total / day_ms : -((-total + day_ms - 1) / day_ms);
  int64_t rem = total - d * day_ms;
  if (t->kind != VK::kTime) CivilFromDays(d, &t->v[0], &t->v[1], &t->v[2]);
  t->v[3] = static_cast<int>(rem / 3600000);
  t->v[4] = static_cast<int>(rem / 60000 % 60);
  t->v[5] = static_cast<int>(rem / 1000 % 60);
  t->v[6] = static_cast<int>(rem % 1000);
}

}  // namespace

std::optional<Temporal> ParseTemporal(std::string_view s, VK kind) {
  Temporal t;
  t.kind = kind;
  size_t i = 0;
  auto time_part = [&](int base_prec) -> bool {
    if (!Num(s, &i, 2, &t.v[3]) || t.v[3] > 23) return false;
    t.prec = base_prec + 1;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!Num(s, &i, 2, &t.v[4]) || t.v[4] > 59) return false;
      t.prec = base_prec + 2;
      if (i < s.size() && s[i] == ':') {
        ++i;
        if (!Num(s, &i, 2, &t.v[5]) || t.v[5] > 59) return false;
        t.prec = base_prec + 3;
        if (i < s.size() && s[i] == '.') {
          ++i;
          size_t b = i;
          int ms = 0, n = 0;
          while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (n < 3) ms = ms * 10 + (s[i] - '0');
            ++n;
            ++i;
          }
          if (i == b) return false;
          for (int k = n; k < 3; ++k) ms *= 10;
          t.v[6] = ms;
          t.ms_digits = n;
          t.prec = base_prec + 4;
        }
      }
    }
    return true;
  };
  auto zone = [&]() -> bool {
    if (i >= s.size()) return true;
    if (s[i] == 'Z') {
      ++i;
      t.tz = true;
      return i == s.size();
    }
    if (s[i] == '+' || s[i] == '-') {
      int sign = s[i] == '-' ? -1 : 1;
      ++i;
      int h = 0, m = 0;
      if (!Num(s, &i, 2, &h) || i >= s.size() || s[i] != ':') return false;
      ++i;
      if (!Num(s, &i, 2, &m)) return false;
      t.tz = true;
      t.tz_min = sign * (h * 60 + m);
      return i == s.size();
    }
    return false;
  };
  if (kind == VK::kTime) {
    if (!time_part(3) || i != s.size()) return std::nullopt;
    return t;
  }
  if (!Num(s, &i, 4, &t.v[0])) return std::nullopt;
  t.prec = 1;
  if (i < s.size() && s[i] == '-') {
    ++i;
    if (!Num(s, &i, 2, &t.v[1]) || t.v[1] < 1 || t.v[1] > 12) return std::nullopt;
    t.prec = 2;
    if (i < s.size() && s[i] == '-') {
      ++i;
      if (!Num(s, &i, 2, &t.v[2]) || t.v[2] < 1 || t.v[2] > DaysInMonth(t.v[0], t.v[1])) {
        return std::nullopt;
      }
      t.prec = 3;
    }
  }
  if (i < s.size() && s[i] == 'T') {
    if (kind == VK::kDate) return std::nullopt;
    ++i;
    if (i == s.size()) return t;
    if (t.prec < 3 || !time_part(3)) return std::nullopt;
    if (!zone()) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  return t;
}

std::string FormatTemporal(const Temporal& t) {
  char buf[64];
  std::string out;
  int start = t.kind == VK::kTime ? 3 : 0;
  for (int f = start; f < t.prec; ++f) {
    switch (f) {
      case 0:
        std::snprintf(buf, sizeof buf, "%04d", t.v[0]);
        break;
      case 1:
        std::snprintf(buf, sizeof buf, "-%02d", t.v[1]);
        break;
      case 2:
        std::snprintf(buf, sizeof buf, "-%02d", t.v[2]);
        break;
      case 3:
        std::snprintf(buf, sizeof buf, t.kind == VK::kTime ? "%02d" : "T%02d", t.v[3]);
        break;
      case 4:
        std::snprintf(buf, sizeof buf, ":%02d", t.v[4]);
        break;
      case 5:
        std::snprintf(buf, sizeof buf, ":%02d", t.v[5]);
        break;
      case 6:
        std::snprintf(buf, sizeof buf, ".%03d", t.v[6]);
        break;
    }
    out += buf;
  }
  if (t.tz && t.prec > 3 && t.kind != VK::kTime) {
    if (t.tz_min == 0) {
      out += 'Z';
    } else {
      int m = std::abs(t.tz_min);
      std::snprintf(buf, sizeof buf, "%c%02d:%02d", t.tz_min < 0 ? '-' : '+', m / 60, m % 60);
      out += buf;
    }
  }
  return out;
}

std::optional<int> CompareTemporal(Temporal a, Temporal b) {
  if (a.kind == VK::kTime && b.kind != VK::kTime) return std::nullopt;
  if (b.kind == VK::kTime && a.kind != VK::kTime) return std::nullopt;
  if (a.kind != VK::kTime && a.prec > 3 && b.prec > 3 && a.tz != b.tz) return std::nullopt;
  if (a.kind != VK::kTime && a.tz && b.tz && a.prec > 3 && b.prec > 3) {
    AddMillis(&a, -static_cast<int64_t>(a.tz_min) * 60000);
    AddMillis(&b, -static_cast<int64_t>(b.tz_min) * 60000);
  }
  int start = a.kind == VK::kTime ? 3 : 0;
  // Seconds and milliseconds are one precision level.
  int pa = a.prec == 7 ? 6 : a.prec;
  int pb = b.prec == 7 ? 6 : b.prec;
  int n = std::min(pa, pb);
  for (int f = start; f < n; ++f) {
    long x = a.v[f], y = b.v[f];
    if (f == 5) {
      x = x * 1000 + a.v[6];
      y = y * 1000 + b.v[6];
    }
    if (x != y) return x < y ? -1 : 1;
  }
  if (pa != pb) return std::nullopt;
  return 0;
}

bool AddToTemporal(Temporal* t, double value, std::string_view unit) {
  if (!unit.empty() && unit.back() == 's' && unit != "ms" && unit != "s") unit.remove_suffix(1);
  int64_t whole = static_cast<int64_t>(value);  // truncated toward zero
  if (unit == "year" || unit == "month") {
    int64_t months = unit == "year" ? whole * 12 : whole;
    if (t->kind == VK::kTime) return true;
    if (t->prec < 2) months = months / 12 * 12;
    int64_t m = static_cast<int64_t>(t->v[0]) * 12 + (t->v[1] - 1) + months;
    t->v[0] = static_cast<int>(m >= 0 ? m / 12 : (m - 11) / 12);
    t->v[1] = static_cast<int>(m - static_cast<int64_t>(t->v[0]) * 12) + 1;
    if (t->v[2] > DaysInMonth(t->v[0], t->v[1])) t->v[2] = DaysInMonth(t->v[0], t->v[1]);
    return true;
  }
  int64_t ms;
  if (unit == "week" || unit == "wk")
    ms = whole * 7 * 86400000LL;
  else if (unit == "day" || unit == "d")
    ms = whole * 86400000LL;
  else if (unit == "hour" || unit == "h")
    ms = whole * 3600000LL;
  else if (unit == "minute" || unit == "min")
    ms = whole * 60000LL;
  else if (unit == "second" || unit == "s")
    ms = whole * 1000;
  else if (unit == "millisecond" || unit == "ms")
    ms = whole;
  else
    return false;
  if (t->kind != VK::kTime && t->prec < 3) {
    // Below day precision: whole years/months only.
    int64_t days = ms / 86400000LL;
    if (t->prec == 2) {
      return AddToTemporal(t, static_cast<double>(days / 30), "month");
    }
    return AddToTemporal(t, static_cast<double>(days / 365), "year");
  }
  if (t->kind == VK::kDate || (t->prec == 3)) {
    ms = ms / 86400000LL * 86400000LL;
  }
  AddMillis(t, ms);
  return true;
}

// ---- UCUM (a practical subset: prefixes x base units, and the common compound units) ----

namespace {

struct UnitDef {
  double factor;
  const char* dim;
};

const std::unordered_map<std::string, UnitDef>& BaseUnits() {
  static const auto* m = new std::unordered_map<std::string, UnitDef>{
      {"g", {1, "g"}},
      {"[lb_av]", {453.59237, "g"}},
      {"[oz_av]", {28.349523125, "g"}},
      {"m", {1, "m"}},
      {"[in_i]", {0.0254, "m"}},
      {"[ft_i]", {0.3048, "m"}},
      {"[mi_i]", {1609.344, "m"}},
      {"s", {1, "s"}},
      {"min", {60, "s"}},
      {"h", {3600, "s"}},
      {"d", {86400, "s"}},
      {"wk", {604800, "s"}},
      {"mo", {2629800, "s"}},
      {"a", {31557600, "s"}},
      {"L", {0.001, "m3"}},
      {"l", {0.001, "m3"}},
      {"mol", {1, "mol"}},
      {"Cel", {1, "Cel"}},
      {"K", {1, "K"}},
      {"[degF]", {1, "degF"}},
      {"Pa", {1, "Pa"}},
      {"bar", {100000, "Pa"}},
      {"mm[Hg]", {133.322, "Pa"}},
      {"%", {0.01, "1"}},
      {"1", {1, "1"}},
      {"U", {1, "U"}},
      {"[iU]", {1, "[iU]"}},
      {"[IU]", {1, "[iU]"}},
      {"eq", {1, "eq"}},
      {"cal", {4.184, "J"}},
      {"J", {1, "J"}},
      {"/min", {1.0 / 60, "/s"}},
      {"/s", {1, "/s"}},
      {"/h", {1.0 / 3600, "/s"}},
      {"{beats}/min", {1.0 / 60, "/s"}},
      {"{breaths}/min", {1.0 / 60, "/s"}},
      {"kg/m2", {1000, "g/m2"}},
      {"g/m2", {1, "g/m2"}},
      {"m2", {1, "m2"}},
      {"m3", {1, "m3"}},
      {"g/m", {1, "g/m"}},
      {"g/L", {1000, "g/m3"}},
      {"g/dL", {10000, "g/m3"}},
      {"mg/dL", {10, "g/m3"}},
      {"mmol/L", {1, "mol/m3"}},
  };
  return *m;
}

bool Lookup(std::string_view u, double* factor, std::string* dim) {
  const auto& base = BaseUnits();
  auto it = base.find(std::string(u));
  if (it != base.end()) {
    *factor = it->second.factor;
    *dim = it->second.dim;
    return true;
  }
  static const std::pair<const char*, double> kPrefixes[] = {
      {"da", 1e1}, {"k", 1e3},  {"M", 1e6},  {"G", 1e9},   {"d", 1e-1}, {"c", 1e-2},
      {"m", 1e-3}, {"u", 1e-6}, {"n", 1e-9}, {"p", 1e-12}, {"h", 1e2}};
  for (const auto& [p, f] : kPrefixes) {
    std::string_view ps(p);
    if (u.size() > ps.size() && u.substr(0, ps.size()) == ps) {
      auto b = base.find(std::string(u.substr(ps.size())));
      if (b != base.end()) {
        std::string_view d = b->second.dim;
        double pf = f;
        // Prefixes on a squared/cubed unit apply to the power (cm2 = 1e-4 m2).
        if (d == "m2") pf = f * f;
        if (d == "m3" && u.substr(ps.size()) == "m3") pf = f * f * f;
        *factor = pf * b->second.factor;
        *dim = b->second.dim;
        return true;
      }
    }
  }
  return false;
}

std::string_view CalendarToUcum(std::string_view u) {
  if (u == "week" || u == "weeks") return "wk";
  if (u == "day" || u == "days") return "d";
  if (u == "hour" || u == "hours") return "h";
  if (u == "minute" || u == "minutes") return "min";
  if (u == "second" || u == "seconds") return "s";
  if (u == "millisecond" || u == "milliseconds") return "ms";
  return u;
}

}  // namespace

std::optional<Quantity> QuantityOf(const Item& it) {
  const boost::json::value& v = it.json();
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  const auto* val = o.if_contains("value");
  if (val == nullptr || !val->is_number()) return std::nullopt;
  Quantity q;
  q.value = val->to_number<double>();
  const auto* code = o.if_contains("code");
  const auto* unit = o.if_contains("unit");
  if (code != nullptr && code->is_string()) {
    q.unit = std::string(code->get_string());
  } else if (unit != nullptr && unit->is_string()) {
    q.unit = std::string(unit->get_string());
  } else {
    q.unit.assign(1, '1');  // (not = "1": GCC 12 -O3 raises a false -Wrestrict there)
  }
  return q;
}

bool Canonical(const Quantity& q, double* value, std::string* dim) {
  std::string_view u = CalendarToUcum(q.unit);
  if (u == "year" || u == "years" || u == "month" || u == "months") {
    *value = q.value;
    *dim = std::string(u.substr(0, u.back() == 's' ? u.size() - 1 : u.size()));
    return true;
  }
  double f = 0;
  if (!Lookup(u, &f, dim)) {
    *value = q.value;
    *dim = std::string(u);
    return true;
  }
  *value = q.value * f;
  return true;
}

std::optional<Quantity> ConvertQuantity(const Quantity& q, std::string_view unit) {
  double v1, v2;
  std::string d1, d2;
  Canonical(q, &v1, &d1);
  Canonical(Quantity{1, std::string(unit)}, &v2, &d2);
  if (d1 != d2 || v2 == 0) return std::nullopt;
  return Quantity{v1 / v2, std::string(unit)};
}

std::string MulUnits(std::string_view a, std::string_view b, bool divide) {
  if (a == "1") a = "";
  if (b == "1") b = "";
  if (divide) {
    if (a == b) return "1";
    if (b.empty()) return a.empty() ? "1" : std::string(a);
    return (a.empty() ? std::string("1") : std::string(a)) + "/" + std::string(b);
  }
  if (a.empty()) return b.empty() ? "1" : std::string(b);
  if (b.empty()) return std::string(a);
  if (a == b) return std::string(a) + "2";
  return std::string(a) + "." + std::string(b);
}

std::string FormatDecimal(double d) {
  if (std::isnan(d) || std::isinf(d)) return "0";
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s(buf);
  if (s.find('e') != std::string::npos) {
    std::snprintf(buf, sizeof buf, "%.10f", d);
    s = buf;
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

}  // namespace benhan::fhir::fhirpath::internal
