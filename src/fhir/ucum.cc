#include "fhir/ucum.h"

#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

namespace benhan::fhir::ucum {
namespace {

using Dims = std::map<std::string, int>;

struct Atom {
  double factor;
  const char* dims;  // "g.m-3" style; parsed once
  bool metric;       // takes prefixes
};

// Atoms in canonical base units: g (mass), m (length), s (time), mol (amount), K (temperature),
// A (current), cd (luminous intensity), rad; own-dimension atoms name themselves.
const std::unordered_map<std::string_view, Atom>& Atoms() {
  static const auto* m = new std::unordered_map<std::string_view, Atom>{
      // dimensionless
      {"1", {1, "", false}},
      {"10*", {10, "", false}},
      {"10^", {10, "", false}},
      {"%", {0.01, "", false}},
      {"[ppth]", {1e-3, "", false}},
      {"[ppm]", {1e-6, "", false}},
      {"[ppb]", {1e-9, "", false}},
      {"[pi]", {3.141592653589793, "", false}},
      // base units
      {"m", {1, "m", true}},
      {"s", {1, "s", true}},
      {"g", {1, "g", true}},
      {"rad", {1, "rad", true}},
      {"K", {1, "K", true}},
      {"A", {1, "A", true}},
      {"cd", {1, "cd", true}},
      {"mol", {1, "mol", true}},
      // time
      {"min", {60, "s", false}},
      {"h", {3600, "s", false}},
      {"d", {86400, "s", false}},
      {"wk", {604800, "s", false}},
      {"mo", {2629800, "s", false}},
      {"a", {31557600, "s", false}},
      {"Hz", {1, "s-1", true}},
      // length, area, volume
      {"[in_i]", {0.0254, "m", false}},
      {"[ft_i]", {0.3048, "m", false}},
      {"[yd_i]", {0.9144, "m", false}},
      {"[mi_i]", {1609.344, "m", false}},
      {"L", {1e-3, "m3", true}},
      {"l", {1e-3, "m3", true}},
      {"ar", {100, "m2", true}},
      {"[foz_us]", {29.5735295625e-6, "m3", false}},
      {"[tsp_us]", {4.92892159375e-6, "m3", false}},
      {"[tbs_us]", {14.78676478125e-6, "m3", false}},
      {"[drp]", {5e-8, "m3", false}},
      // mass
      {"t", {1e6, "g", true}},
      {"[lb_av]", {453.59237, "g", false}},
      {"[oz_av]", {28.349523125, "g", false}},
      {"[gr]", {0.06479891, "g", false}},
      {"u", {1.6605402e-24, "g", true}},
      // force, pressure, energy, power (1 N = 1000 g.m.s-2)
      {"N", {1000, "g.m.s-2", true}},
      {"Pa", {1000, "g.m-1.s-2", true}},
      {"bar", {1e8, "g.m-1.s-2", true}},
      {"atm", {101325e3, "g.m-1.s-2", false}},
      {"m[Hg]", {133322e3, "g.m-1.s-2", true}},
      {"m[H2O]", {9806.65e3, "g.m-1.s-2", true}},
      {"[in_i'Hg]", {3386.38e3, "g.m-1.s-2", false}},
      {"[psi]", {6894.757e3, "g.m-1.s-2", false}},
      {"J", {1000, "g.m2.s-2", true}},
      {"cal", {4184, "g.m2.s-2", true}},
      {"[Cal]", {4184e3, "g.m2.s-2", false}},
      {"eV", {1.60217733e-16, "g.m2.s-2", true}},
      {"W", {1000, "g.m2.s-3", true}},
      // electricity
      {"C", {1, "A.s", true}},
      {"V", {1000, "g.m2.s-3.A-1", true}},
      {"Ohm", {1000, "g.m2.s-3.A-2", true}},
      {"S", {1e-3, "g-1.m-2.s3.A2", true}},
      {"F", {1e-3, "g-1.m-2.s4.A2", true}},
      // enzyme activity (U = umol/min), catalytic activity, equivalents, osmoles
      {"U", {1e-6 / 60, "mol.s-1", true}},
      {"kat", {1, "mol.s-1", true}},
      {"eq", {1, "eq", true}},
      {"osm", {1, "osm", true}},
      // radiation
      {"Gy", {1, "m2.s-2", true}},
      {"Sv", {1, "m2.s-2", true}},
      {"Bq", {1, "s-1", true}},
      {"Ci", {3.7e10, "s-1", true}},
      // units with an offset or arbitrary units: their own dimension
      {"Cel", {1, "Cel", false}},
      {"[degF]", {1, "[degF]", false}},
      {"[iU]", {1, "[iU]", true}},
      {"[IU]", {1, "[iU]", true}},
      {"[arb'U]", {1, "[arb'U]", false}},
      {"[pH]", {1, "[pH]", false}},
      {"[CFU]", {1, "[CFU]", false}},
      {"[HPF]", {1, "[HPF]", false}},
      {"[LPF]", {1, "[LPF]", false}},
      {"[beth'U]", {1, "[beth'U]", false}},
  };
  return *m;
}

const std::pair<std::string_view, double> kPrefixes[] = {
    {"da", 1e1}, {"Y", 1e24},  {"Z", 1e21},  {"E", 1e18},  {"P", 1e15},  {"T", 1e12}, {"G", 1e9},
    {"M", 1e6},  {"k", 1e3},   {"h", 1e2},   {"d", 1e-1},  {"c", 1e-2},  {"m", 1e-3}, {"u", 1e-6},
    {"n", 1e-9}, {"p", 1e-12}, {"f", 1e-15}, {"a", 1e-18}, {"z", 1e-21}, {"y", 1e-24}};

void AddDims(Dims& into, std::string_view spec, int times) {
  while (!spec.empty()) {
    size_t dot = spec.find('.');
    std::string_view part = spec.substr(0, dot);
    size_t n = part.size();
    while (n > 0 && (std::isdigit(static_cast<unsigned char>(part[n - 1])) || part[n - 1] == '-'))
      --n;
    int exp = n == part.size() ? 1 : std::stoi(std::string(part.substr(n)));
    into[std::string(part.substr(0, n))] += exp * times;
    if (dot == std::string_view::npos) break;
    spec.remove_prefix(dot + 1);
  }
}

struct Value {
  double factor = 1;
  Dims dims;
};

void Combine(Value& a, const Value& b, bool divide) {
  a.factor = divide ? a.factor / b.factor : a.factor * b.factor;
  for (const auto& [k, e] : b.dims) a.dims[k] += divide ? -e : e;
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<Value> Run() {
    auto v = Term();
    if (!v || pos_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  // term := ['/'] component (('.' | '/') component)*
  std::optional<Value> Term() {
    Value acc;
    bool divide = false;
    if (Peek() == '/') {
      ++pos_;
      divide = true;
    }
    for (;;) {
      auto c = Component();
      if (!c) return std::nullopt;
      Combine(acc, *c, divide);
      if (Peek() == '.' || Peek() == '/') {
        divide = s_[pos_++] == '/';
        continue;
      }
      return acc;
    }
  }

  // component := '(' term ')' [exponent] | annotation | simple-unit [exponent] [annotation]
  std::optional<Value> Component() {
    if (Peek() == '(') {
      ++pos_;
      auto t = Term();
      if (!t || Peek() != ')') return std::nullopt;
      ++pos_;
      return t;
    }
    if (Peek() == '{') return Annotation() ? std::optional<Value>(Value{}) : std::nullopt;
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '[') {
        size_t close = s_.find(']', pos_);
        if (close == std::string_view::npos) return std::nullopt;
        pos_ = close + 1;
        continue;
      }
      if (c == '.' || c == '/' || c == '(' || c == ')' || c == '{') break;
      ++pos_;
    }
    std::string_view token = s_.substr(start, pos_ - start);
    if (token.empty()) return std::nullopt;
    auto v = Simple(token);
    if (!v) return std::nullopt;
    if (Peek() == '{' && !Annotation()) return std::nullopt;
    return v;
  }

  bool Annotation() {
    size_t close = s_.find('}', pos_);
    if (close == std::string_view::npos) return false;
    annotations_ += s_.substr(pos_, close + 1 - pos_);
    pos_ = close + 1;
    return true;
  }

 public:
  // The annotations met ("{score}"): UCUM makes them unity, but a unit that is nothing else
  // ("{score}", "{cells}") keeps them as its dimension, so a score never equals a percentage.
  const std::string& annotations() const { return annotations_; }

 private:
  // A simple unit with an optional exponent ("m2", "10*3", "s-1") or a positive integer factor.
  static std::optional<Value> Simple(std::string_view token) {
    bool all_digits = true;
    for (char c : token) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
    if (all_digits) {
      double d = 0;
      auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), d);
      if (ec != std::errc() || ptr != token.data() + token.size()) return std::nullopt;
      return Value{d, {}};
    }
    // Exponent: trailing [+-]digits after the last ']' (so "[H2O]" keeps its digits).
    size_t close = token.rfind(']');
    size_t floor = close == std::string_view::npos ? 0 : close + 1;
    size_t n = token.size();
    while (n > floor && std::isdigit(static_cast<unsigned char>(token[n - 1]))) --n;
    int exp = 1;
    if (n < token.size()) {
      if (n > floor && (token[n - 1] == '-' || token[n - 1] == '+')) --n;
      if (n == 0) return std::nullopt;
      std::string_view digits = token.substr(n);
      if (digits.front() == '+') digits.remove_prefix(1);
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), exp);
      // Exponents beyond ±99 are not units anyone sends (and would overflow the factor).
      if (ec != std::errc() || ptr != digits.data() + digits.size() || exp > 99 || exp < -99)
        return std::nullopt;
    }
    auto atom = Resolve(token.substr(0, n));
    if (!atom) return std::nullopt;
    Value v;
    v.factor = std::pow(atom->factor, exp);
    for (auto& [k, e] : atom->dims) v.dims[k] = e * exp;
    return v;
  }

  static std::optional<Value> Resolve(std::string_view name) {
    const auto& atoms = Atoms();
    auto make = [](double prefix, const Atom& a) {
      Value v;
      v.factor = prefix * a.factor;
      AddDims(v.dims, a.dims, 1);
      return v;
    };
    if (auto it = atoms.find(name); it != atoms.end()) return make(1, it->second);
    std::string micro;  // "µg" and "μg" as sent by some systems mean "ug"
    for (std::string_view mu : {"\xC2\xB5", "\xCE\xBC"}) {
      if (name.substr(0, mu.size()) == mu) {
        micro = "u" + std::string(name.substr(mu.size()));
        name = micro;
        break;
      }
    }
    for (const auto& [p, f] : kPrefixes) {
      if (name.size() > p.size() && name.substr(0, p.size()) == p) {
        auto it = atoms.find(name.substr(p.size()));
        if (it != atoms.end() && it->second.metric) return make(f, it->second);
      }
    }
    return std::nullopt;
  }

  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  std::string_view s_;
  size_t pos_ = 0;
  std::string annotations_;
};

}  // namespace

std::optional<Canonical> Parse(std::string_view unit) {
  if (unit.empty() || unit.size() > 200) return std::nullopt;
  Parser parser(unit);
  auto v = parser.Run();
  if (!v || !std::isfinite(v->factor) || v->factor == 0) return std::nullopt;
  Canonical c;
  c.factor = v->factor;
  for (const auto& [k, e] : v->dims) {
    if (e == 0 || k.empty()) continue;
    if (!c.dims.empty()) c.dims += '.';
    c.dims += k;
    if (e != 1) c.dims += std::to_string(e);
  }
  if (c.dims.empty()) c.dims = parser.annotations().empty() ? "1" : parser.annotations();
  return c;
}

}  // namespace benhan::fhir::ucum
