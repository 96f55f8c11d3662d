#include "service/search_params.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/clock.h"
#include "core/text.h"
#include "fhir/indexer.h"
#include "fhir/ucum.h"

namespace benhan::service {
namespace {

using store::ParamKind;
using store::Prefix;

bool ParsePrefix(std::string& v, Prefix* p) {
  static const std::pair<const char*, Prefix> kPrefixes[] = {
      {"eq", Prefix::kEq}, {"ne", Prefix::kNe}, {"gt", Prefix::kGt},
      {"lt", Prefix::kLt}, {"ge", Prefix::kGe}, {"le", Prefix::kLe},
      {"sa", Prefix::kSa}, {"eb", Prefix::kEb}, {"ap", Prefix::kAp}};
  if (v.size() >= 2 && std::isalpha(static_cast<unsigned char>(v[0]))) {
    for (const auto& [s, pr] : kPrefixes) {
      if (v.compare(0, 2, s) == 0) {
        *p = pr;
        v = v.substr(2);
        return true;
      }
    }
  }
  *p = Prefix::kEq;
  return false;
}

// Splits at the first unescaped '|'.
bool SplitBar(const std::string& v, std::string* a, std::string* b) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\') {
      ++i;
      continue;
    }
    if (v[i] == '|') {
      *a = v.substr(0, i);
      *b = v.substr(i + 1);
      return true;
    }
  }
  return false;
}

std::string Unescape(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out.push_back(v[i]);
  }
  return out;
}

Result<double> ParseNumber(const std::string& name, const std::string& s) {
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return Status(Code::kInvalid, "search parameter " + name + ": '" + s + "' is not a number",
                  name);
  }
  return d;
}

// The value of `name:missing`: true or false.
Result<bool> ParseMissing(const std::string& name, const std::string& value) {
  if (value != "true" && value != "false") {
    return Status(Code::kInvalid, "search parameter " + name + ": :missing takes true or false",
                  name);
  }
  return value == "true";
}

ParamKind KindOf(fhir::SearchParamType t) {
  switch (t) {
    case fhir::SearchParamType::kString:
      return ParamKind::kString;
    case fhir::SearchParamType::kToken:
      return ParamKind::kToken;
    case fhir::SearchParamType::kReference:
      return ParamKind::kReference;
    case fhir::SearchParamType::kDate:
      return ParamKind::kDate;
    case fhir::SearchParamType::kNumber:
      return ParamKind::kNumber;
    case fhir::SearchParamType::kQuantity:
      return ParamKind::kQuantity;
    case fhir::SearchParamType::kUri:
      return ParamKind::kUri;
    default:
      return ParamKind::kString;
  }
}

Result<int> ParseCount(const std::string& name, const std::string& v, int lo, int hi) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo) {
    return Status(Code::kInvalid,
                  name + " must be an integer >= " + std::to_string(lo) + ", not '" + v + "'",
                  name);
  }
  return std::min(n, hi);
}

// One value (one OR alternative, or one component of a composite) of a parameter of kind `kind`.
Result<store::QueryValue> ParseValue(ParamKind kind, const std::string& modifier,
                                     const std::string& ref_type, const std::string& name,
                                     const std::string& raw) {
  store::QueryValue v;
  std::string s = raw;
  switch (kind) {
    case ParamKind::kComposite:
    case ParamKind::kText:
    case ParamKind::kNear:
      return Status(Code::kInternal, "parameter parsed as a single value", name);
    case ParamKind::kId:
      v.code = Unescape(s);
      break;
    case ParamKind::kString:
      v.code = modifier == "exact" ? text::Nfc(Unescape(s)) : text::Fold(Unescape(s));
      break;
    case ParamKind::kToken: {
      std::string a, b;
      if (modifier == "text") {
        v.code = text::Fold(Unescape(s));
      } else if (SplitBar(s, &a, &b)) {
        v.has_system = true;
        v.system = Unescape(a);
        v.code = Unescape(b);
      } else {
        v.code = Unescape(s);
      }
      break;
    }
    case ParamKind::kReference: {
      std::string u = Unescape(s);
      v.system = ref_type;
      if (u.find("://") == std::string::npos) {
        if (auto h = u.find("/_history/"); h != std::string::npos) u = u.substr(0, h);
        if (auto slash = u.find('/'); slash != std::string::npos) {
          v.system = u.substr(0, slash);
          u = u.substr(slash + 1);
        }
      }
      v.code = u;
      break;
    }
    case ParamKind::kUri:
      v.code = Unescape(s);
      break;
    case ParamKind::kDate:
    case ParamKind::kLastUpdated: {
      ParsePrefix(s, &v.prefix);
      auto r = ParseFhirDateRange(s);
      if (!r) {
        return Status(Code::kInvalid,
                      "search parameter " + name + ": '" + raw + "' is not a valid date", name);
      }
      v.low = r->low;
      v.high = r->high;
      break;
    }
    case ParamKind::kNumber: {
      ParsePrefix(s, &v.prefix);
      ASSIGN_OR_RETURN(v.number, ParseNumber(name, s));
      v.code = s;
      break;
    }
    case ParamKind::kQuantity: {
      ParsePrefix(s, &v.prefix);
      std::string num = s, rest, sys, unit;
      if (SplitBar(s, &num, &rest)) {
        if (!SplitBar(rest, &sys, &unit)) unit = rest;
        v.system = Unescape(sys);
      }
      ASSIGN_OR_RETURN(v.number, ParseNumber(name, num));
      v.code = num;
      v.unit = Unescape(unit);
      if (!v.unit.empty() && (v.system.empty() || v.system == fhir::ucum::kSystem)) {
        std::string key;
        double factor = 1;
        fhir::QuantityKey(fhir::ucum::kSystem, v.unit, 1.0, &key, &factor);
        if (key.rfind("ucum:", 0) == 0) {
          v.unit_key = std::move(key);
          v.factor = factor;
        }
      }
      break;
    }
  }
  return v;
}

// Splits a composite value at its unescaped '$' ("http://loinc.org|8480-6$gt100").
std::vector<std::string> SplitDollar(const std::string& v) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      out.back() += v.substr(i, 2);
      ++i;
    } else if (v[i] == '$') {
      out.emplace_back();
    } else {
      out.back() += v[i];
    }
  }
  return out;
}

// A composite parameter (`code-value-quantity=http://loinc.org|8480-6$gt100`): each OR value has
// one value per component, parsed by the component's type.
Result<store::Condition> ParseComposite(const fhir::SearchParamDef& p, const std::string& name,
                                        const std::string& modifier, const std::string& value) {
  store::Condition c;
  c.param = p.code;
  c.kind = ParamKind::kComposite;
  c.modifier = modifier;
  if (p.components.size() < 2 || p.components.size() > 3)
    return Status(Code::kNotSupported,
                  "composite parameter with " + std::to_string(p.components.size()) + " components",
                  name);
  for (const auto& comp : p.components) c.part_kinds.push_back(KindOf(comp.type));
  if (modifier == "missing") {
    ASSIGN_OR_RETURN(c.missing, ParseMissing(name, value));
    return c;
  }
  if (!modifier.empty())
    return Status(Code::kNotSupported, "modifier ':" + modifier + "' is not supported", name);
  for (const auto& raw : SplitOr(value)) {
    std::vector<std::string> parts = SplitDollar(raw);
    if (parts.size() != p.components.size()) {
      return Status(Code::kInvalid,
                    "search parameter " + name + ": '" + raw + "' must have " +
                        std::to_string(p.components.size()) +
                        " values separated by '$' (e.g. http://loinc.org|8480-6$gt100)",
                    name);
    }
    store::QueryValue v;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].empty()) {
        return Status(Code::kInvalid,
                      "search parameter " + name + ": component " + std::to_string(i + 1) +
                          " of '" + raw + "' is empty",
                      name);
      }
      ASSIGN_OR_RETURN(store::QueryValue part, ParseValue(c.part_kinds[i], "", "", name, parts[i]));
      v.parts.push_back(std::move(part));
    }
    c.any_of.push_back(std::move(v));
  }
  return c;
}

// Location `near=latitude|longitude[|distance[|units]]` (R4): decimal degrees (WGS84), distance
// in `units` (UCUM length, default km; "mi" taken as [mi_i]), default kNearDefaultKm (the spec
// leaves it to the server). OR across comma-separated values.
constexpr double kNearDefaultKm = 10;

Result<store::Condition> ParseNear(const std::string& name, const std::string& modifier,
                                   const std::string& value) {
  if (!modifier.empty())
    return Status(Code::kNotSupported, "modifier ':" + modifier + "' is not supported on near",
                  name);
  store::Condition c;
  c.param = "near";
  c.kind = ParamKind::kNear;
  const std::string form = "latitude|longitude[|distance[|units]], e.g. 21.0278|105.8342|5|km";
  for (const auto& raw : SplitOr(value)) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t bar; (bar = raw.find('|', start)) != std::string::npos; start = bar + 1)
      parts.push_back(raw.substr(start, bar - start));
    parts.push_back(raw.substr(start));
    if (parts.size() < 2 || parts.size() > 4)
      return Status(Code::kInvalid, "search parameter " + name + ": '" + raw + "' is not " + form,
                    name);
    store::QueryValue v;
    ASSIGN_OR_RETURN(v.latitude, ParseNumber(name, parts[0]));
    ASSIGN_OR_RETURN(v.longitude, ParseNumber(name, parts[1]));
    if (v.latitude < -90 || v.latitude > 90 || v.longitude < -180 || v.longitude > 180)
      return Status(Code::kInvalid,
                    "search parameter " + name +
                        ": latitude must be within -90..90 and longitude "
                        "within -180..180 (decimal degrees), not '" +
                        raw + "'",
                    name);
    v.distance_km = kNearDefaultKm;
    if (parts.size() >= 3 && !parts[2].empty()) {
      ASSIGN_OR_RETURN(double d, ParseNumber(name, parts[2]));
      if (d < 0 || !std::isfinite(d))
        return Status(Code::kInvalid,
                      "search parameter " + name + ": the distance must be 0 or more", name);
      double km_per_unit = 1;
      if (parts.size() == 4 && !parts[3].empty() && parts[3] != "km") {
        std::string unit = parts[3] == "mi" ? "[mi_i]" : parts[3];
        auto u = fhir::ucum::Parse(unit);
        if (!u || u->dims != "m")
          return Status(Code::kInvalid,
                        "search parameter " + name + ": '" + parts[3] +
                            "' is not a unit of length (UCUM: km, m, [mi_i], [nmi_i]...)",
                        name);
        km_per_unit = u->factor / 1000;  // canonical unit: m
      }
      v.distance_km = d * km_per_unit;
    } else if (parts.size() == 4 && !parts[3].empty()) {
      return Status(Code::kInvalid,
                    "search parameter " + name + ": units without a distance in '" + raw + "'",
                    name);
    }
    c.any_of.push_back(std::move(v));
  }
  if (c.any_of.empty())
    return Status(Code::kInvalid, "search parameter " + name + ": expected " + form, name);
  return c;
}

// One search condition `name=value` on resource type `type`, including chains
// (`subject:Patient.name`) and reverse chains (`_has:Observation:patient:code`). Errors:
// kNotSupported for unknown or unsupported parameters (the caller decides strict or lenient),
// kInvalid for malformed values.
Result<store::Condition> ParseCondition(const std::string& type, const std::string& name,
                                        const std::string& value, const fhir::Definitions& defs,
                                        int depth) {
  if (depth > 4)
    return Status(Code::kNotSupported, "search chains deeper than 4 are not supported", name);
  if (name.rfind("_has:", 0) == 0) {
    // _has:Type:param:rest
    size_t a = name.find(':', 5);
    size_t b2 = a == std::string::npos ? a : name.find(':', a + 1);
    if (b2 == std::string::npos)
      return Status(Code::kInvalid, "_has must be _has:Type:parameter:criterion", name);
    std::string src = name.substr(5, a - 5), param = name.substr(a + 1, b2 - a - 1),
                rest = name.substr(b2 + 1);
    if (!defs.IsResourceType(src))
      return Status(Code::kNotSupported, "'" + src + "' is not a resource type", name);
    const fhir::SearchParamDef* p = defs.FindSearchParam(src, param);
    if (p == nullptr || p->type != fhir::SearchParamType::kReference) {
      return Status(Code::kNotSupported, "'" + param + "' is not a reference parameter of " + src,
                    name);
    }
    ASSIGN_OR_RETURN(store::Condition sub, ParseCondition(src, rest, value, defs, depth + 1));
    store::Condition c;
    c.param = param;
    c.kind = ParamKind::kReference;
    c.reverse = true;
    c.chains.push_back(store::Chain{src, {std::move(sub)}});
    return c;
  }
  if (size_t dot = name.find('.'); dot != std::string::npos) {
    // Chain: ref[:Type].rest
    std::string head = name.substr(0, dot), rest = name.substr(dot + 1), target;
    if (size_t colon = head.find(':'); colon != std::string::npos) {
      target = head.substr(colon + 1);
      head = head.substr(0, colon);
      if (!defs.IsResourceType(target))
        return Status(Code::kNotSupported, "'" + target + "' is not a resource type", name);
    }
    const fhir::SearchParamDef* p = defs.FindSearchParam(type, head);
    if (p == nullptr || p->type != fhir::SearchParamType::kReference) {
      return Status(Code::kNotSupported,
                    "'" + head + "' is not a reference parameter of " + type + " (chains need one)",
                    name);
    }
    std::vector<std::string> targets;
    if (!target.empty()) {
      targets.push_back(target);
    } else {
      for (const auto& t : p->targets) {
        if (defs.IsResourceType(t)) targets.push_back(t);
      }
    }
    store::Condition c;
    c.param = head;
    c.kind = ParamKind::kReference;
    std::string rest_code = rest.substr(0, rest.find_first_of(":."));
    Status last;
    for (const auto& t : targets) {
      // Only target types that have the next parameter take part (subject.name: Patient, not
      // Device).
      if (rest_code.rfind("_has", 0) != 0 && rest_code != "_id" && rest_code != "_lastUpdated" &&
          defs.FindSearchParam(t, rest_code) == nullptr) {
        continue;
      }
      auto sub = ParseCondition(t, rest, value, defs, depth + 1);
      if (!sub.ok()) {
        if (sub.status().code() == Code::kInvalid) return sub.status();
        last = sub.status();
        continue;
      }
      c.chains.push_back(store::Chain{t, {std::move(*sub)}});
    }
    if (c.chains.empty()) {
      return last.ok()
                 ? Status(Code::kNotSupported,
                          "no target of '" + head + "' has the parameter '" + rest_code + "'", name)
                 : last;
    }
    return c;
  }
  std::string code = name, modifier;
  if (auto colon = name.find(':'); colon != std::string::npos) {
    code = name.substr(0, colon);
    modifier = name.substr(colon + 1);
  }
  store::Condition c;
  c.param = code;
  c.modifier = modifier;
  if (code == "_id") {
    c.kind = ParamKind::kId;
  } else if (code == "_lastUpdated") {
    c.kind = ParamKind::kLastUpdated;
  } else {
    const fhir::SearchParamDef* p = defs.FindSearchParam(type, code);
    if (p == nullptr)
      return Status(Code::kNotSupported, "unknown search parameter for " + type, name);
    if (p->type == fhir::SearchParamType::kSpecial && type == "Location" && code == "near")
      return ParseNear(name, modifier, value);
    if (p->type == fhir::SearchParamType::kSpecial) {
      return Status(
          Code::kNotSupported,
          std::string(fhir::SearchParamTypeName(p->type)) + " parameters are not supported yet",
          name);
    }
    if (p->type == fhir::SearchParamType::kComposite)
      return ParseComposite(*p, name, modifier, value);
    c.kind = KindOf(p->type);
  }
  if (modifier == "missing") {
    ASSIGN_OR_RETURN(c.missing, ParseMissing(name, value));
    return c;
  }
  // :identifier on a reference and :of-type on an identifier search their own token rows.
  if ((modifier == "identifier" && c.kind == ParamKind::kReference) ||
      (modifier == "of-type" && c.kind == ParamKind::kToken)) {
    c.param = code + ":" + modifier;
    c.kind = ParamKind::kToken;
    c.modifier.clear();
    for (const auto& raw : SplitOr(value)) {
      store::QueryValue v;
      std::string a, b;
      if (modifier == "of-type") {
        // system|code|value
        std::string rest;
        if (!SplitBar(raw, &a, &rest) || !SplitBar(rest, &b, &rest)) {
          return Status(Code::kInvalid,
                        "search parameter " + name + ": expected typeSystem|typeCode|value", name);
        }
        v.has_system = true;
        v.system = Unescape(a);
        v.code = Unescape(b) + "|" + Unescape(rest);
      } else if (SplitBar(raw, &a, &b)) {
        v.has_system = true;
        v.system = Unescape(a);
        v.code = Unescape(b);
      } else {
        v.code = Unescape(raw);
      }
      c.any_of.push_back(std::move(v));
    }
    return c;
  }
  if ((modifier == "below" || modifier == "above") && c.kind != ParamKind::kUri &&
      c.kind != ParamKind::kToken) {
    return Status(Code::kNotSupported,
                  "modifier ':" + modifier + "' applies to token and uri parameters", name);
  }
  if ((modifier == "in" || modifier == "not-in") && c.kind != ParamKind::kToken) {
    return Status(Code::kNotSupported, "modifier ':" + modifier + "' applies to token parameters",
                  name);
  }
  if (modifier == "in" || modifier == "not-in") {
    // The value set's canonical URL (or ValueSet/id); expanded by the service before the search.
    for (const auto& raw : SplitOr(value)) {
      store::QueryValue v;
      v.code = Unescape(raw);
      if (v.code.empty())
        return Status(Code::kInvalid, "search parameter " + name + ": a value set URL is needed",
                      name);
      c.any_of.push_back(std::move(v));
    }
    return c;
  }
  static const char* kModifiers[] = {"", "exact", "contains", "not", "text", "below", "above"};
  bool known_mod = false;
  for (const char* m : kModifiers) known_mod = known_mod || modifier == m;
  std::string ref_type;
  if (!known_mod && c.kind == ParamKind::kReference && defs.IsResourceType(modifier)) {
    ref_type = modifier;
    c.modifier.clear();
    known_mod = true;
  }
  if (!known_mod)
    return Status(Code::kNotSupported, "modifier ':" + modifier + "' is not supported", name);
  for (const auto& raw : SplitOr(value)) {
    ASSIGN_OR_RETURN(store::QueryValue v, ParseValue(c.kind, c.modifier, ref_type, name, raw));
    c.any_of.push_back(std::move(v));
  }
  return c;
}

// A condition no resource matches.
store::Condition Impossible() {
  store::Condition c;
  c.param = "_id";
  c.kind = ParamKind::kId;
  return c;  // no values: "1=0"
}

void AliasConditions(std::vector<store::Condition>& conds, const std::string& type,
                     const fhir::Indexer& ix) {
  for (auto& c : conds) {
    if (c.reverse && !c.chains.empty()) {
      // _has:Src:param:...: param is Src's; the referenced resource is of `type`.
      const std::string& src = c.chains[0].type;
      if (const auto* a = ix.AliasOf(src, c.param)) {
        if (!a->target_type.empty() && a->target_type != type) {
          c = Impossible();
          continue;
        }
        c.param = a->sources[0];
      }
      AliasConditions(c.chains[0].all_of, src, ix);
      continue;
    }
    if (!c.chains.empty()) {
      if (const auto* a = ix.AliasOf(type, c.param)) {
        c.param = a->sources[0];
        if (!a->target_type.empty()) {
          std::erase_if(c.chains,
                        [&](const store::Chain& ch) { return ch.type != a->target_type; });
          if (c.chains.empty()) {
            c = Impossible();
            continue;
          }
        }
      }
      for (auto& ch : c.chains) AliasConditions(ch.all_of, ch.type, ix);
      continue;
    }
    // Plain conditions, including the token rows of :identifier and :of-type
    // ("patient:identifier").
    auto map = [&](const std::string& code, std::vector<std::string>* extra,
                   std::string* target_type) -> std::string {
      std::string base = code.substr(0, code.find(':'));
      std::string suffix = code.substr(base.size());
      const auto* a = ix.AliasOf(type, base);
      if (a == nullptr) return code;
      for (size_t i = 1; i < a->sources.size(); ++i) extra->push_back(a->sources[i] + suffix);
      if (target_type != nullptr && suffix.empty()) *target_type = a->target_type;
      return a->sources[0] + suffix;
    };
    std::vector<std::string> also;
    c.param = map(c.param, &also, &c.target_type);
    for (const auto& p : c.also_params) also.push_back(map(p, &also, nullptr));
    c.also_params = std::move(also);
  }
}

}  // namespace

Status ApplyParamAliases(store::Query& q, const std::string& type, const fhir::Indexer& indexer) {
  if (type.empty()) {
    // A system search shares one query between its types: with one type it is that type's; with
    // several, an aliased parameter (rare: type-specific ones need _type) cannot be rewritten once.
    if (q.types.size() == 1) return ApplyParamAliases(q, q.types[0], indexer);
    for (const auto& t : q.types) {
      for (const auto& c : q.all_of) {
        if (indexer.AliasOf(t, c.param.substr(0, c.param.find(':'))) != nullptr) {
          return Status(Code::kNotSupported,
                        "search parameter '" + c.param + "' of " + t +
                            " cannot be searched across several types; search each type",
                        c.param);
        }
      }
    }
    return Status::Ok();
  }
  AliasConditions(q.all_of, type, indexer);
  for (auto& k : q.sort) {
    if (const auto* a = indexer.AliasOf(type, k.param)) k.param = a->sources[0];
  }
  return Status::Ok();
}

std::vector<std::string> SplitOr(const std::string& value) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      cur.push_back(value[i]);
      cur.push_back(value[++i]);
    } else if (value[i] == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(value[i]);
    }
  }
  out.push_back(cur);
  return out;
}

Result<ParsedSearch> ParseSearch(const std::string& type, const Params& params,
                                 const fhir::Definitions& defs, bool strict, int default_count,
                                 int max_count) {
  ParsedSearch out;
  out.query.count = default_count;
  out.query.want_total = true;
  // System search (no type): `_type` lists the types; other parameters must apply to each of them
  // (or, without _type, to every resource: _id, _lastUpdated, _tag, _profile, _security...).
  const bool system = type.empty();
  std::vector<std::string> types;
  for (const auto& [name, value] : params) {
    if (name != "_type") continue;
    for (const auto& t : SplitOr(value)) {
      if (!defs.IsResourceType(t)) {
        return Status(Code::kInvalid, "_type: '" + t + "' is not a FHIR R4 resource type", name);
      }
      if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
    }
  }
  if (!system && !types.empty() && (types.size() > 1 || types[0] != type)) {
    return Status(Code::kInvalid, "_type on a type-level search must name that type", "_type");
  }
  if (system) out.query.types = types;
  // The types a condition is parsed against: one for a type search; for a system search each
  // _type, or without it a representative type (then only Resource-level parameters are allowed).
  std::vector<std::string> parse_types = system ? types : std::vector<std::string>{type};
  if (parse_types.empty()) parse_types.push_back("Basic");
  auto reject = [&](const std::string& name, const std::string& why) -> Status {
    if (strict) return Status(Code::kInvalid, "search parameter '" + name + "': " + why, name);
    out.warnings.push_back("search parameter '" + name + "' ignored: " + why);
    return Status::Ok();
  };
  for (const auto& [name, value] : params) {
    if (name == "_format" || name == "_pretty") continue;
    if (name == "_type") {
      out.used.emplace_back(name, value);
      continue;
    }
    if (name == "_count") {
      ASSIGN_OR_RETURN(out.query.count, ParseCount(name, value, 0, max_count));
      out.used.emplace_back(name, value);
      continue;
    }
    if (name == "_cursor") {  // keyset paging cursor from a next link (default order only)
      char* end = nullptr;
      long long k = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || k < 0) {
        return Status(Code::kInvalid, "bad paging cursor _cursor='" + value + "'", name);
      }
      out.query.after_key = k;
      continue;
    }
    if (name == "_offset") {
      ASSIGN_OR_RETURN(int off, ParseCount(name, value, 0, INT32_MAX));
      out.query.offset = off;
      continue;
    }
    if (name == "_total") {
      if (value == "none") {
        out.query.want_total = false;
      } else if (value == "accurate" || value == "estimate") {
        out.query.want_total = true;
        out.query.total_accurate = value == "accurate";
      } else
        RETURN_IF_ERROR(reject(name, "must be none, estimate or accurate"));
      out.used.emplace_back(name, value);
      continue;
    }
    if (name == "_summary") {
      ASSIGN_OR_RETURN(out.summary, fhir::ParseSummary(value));
      if (out.summary == fhir::SummaryMode::kCount) {
        out.query.want_total = true;
        out.query.total_accurate = true;
      }
      out.used.emplace_back(name, value);
      continue;
    }
    if (name == "_elements") {
      for (auto& e : SplitOr(value)) {
        if (!e.empty()) out.elements.push_back(e);
      }
      out.used.emplace_back(name, value);
      continue;
    }
    if (name == "_sort") {
      for (auto key : SplitOr(value)) {
        store::SortKey k;
        if (!key.empty() && key[0] == '-') {
          k.descending = true;
          key = key.substr(1);
        }
        k.param = key;
        if (key == "_id") {
          k.kind = ParamKind::kId;
        } else if (key == "_lastUpdated") {
          k.kind = ParamKind::kLastUpdated;
        } else if (system) {
          RETURN_IF_ERROR(reject("_sort", "a system search sorts by _id or _lastUpdated only"));
          continue;
        } else {
          const fhir::SearchParamDef* p = defs.FindSearchParam(type, key);
          if (p == nullptr) {
            RETURN_IF_ERROR(reject("_sort", "unknown parameter '" + key + "' for " + type));
            continue;
          }
          k.kind = KindOf(p->type);
        }
        out.query.sort.push_back(k);
      }
      out.used.emplace_back(name, value);
      continue;
    }
    std::string code = name, modifier;
    if (auto colon = name.find(':'); colon != std::string::npos) {
      code = name.substr(0, colon);
      modifier = name.substr(colon + 1);
    }
    if (code == "_include" || code == "_revinclude") {
      Include inc;
      inc.reverse = code == "_revinclude";
      if (!modifier.empty() && modifier != "iterate" && modifier != "recurse") {
        RETURN_IF_ERROR(reject(name, "modifier ':" + modifier + "' is not supported"));
        continue;
      }
      inc.iterate = !modifier.empty();
      std::vector<std::string> parts;
      for (size_t start = 0;;) {
        size_t colon = value.find(':', start);
        parts.push_back(value.substr(start, colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
      }
      bool ok = true;
      if (parts.size() == 1 && parts[0] == "*") {
        inc.param = "*";
      } else if (parts.size() >= 2 && parts.size() <= 3 && defs.IsResourceType(parts[0])) {
        inc.source_type = parts[0];
        inc.param = parts[1];
        if (parts.size() == 3) {
          inc.target_type = parts[2];
          ok = defs.IsResourceType(inc.target_type);
        }
        if (ok && inc.param != "*") {
          const fhir::SearchParamDef* p = defs.FindSearchParam(inc.source_type, inc.param);
          ok = p != nullptr && p->type == fhir::SearchParamType::kReference;
        }
      } else {
        ok = false;
      }
      if (!ok) {
        RETURN_IF_ERROR(
            reject(name, "'" + value + "' is not Type:referenceParameter[:TargetType]"));
        continue;
      }
      out.includes.push_back(std::move(inc));
      out.used.emplace_back(name, value);
      continue;
    }
    if (code == "_list" && modifier.empty()) {
      // Functional lists ($current-problems...) are not kept; a List by id is parsed below.
      bool functional = false;
      for (const auto& v : SplitOr(value)) functional = functional || (!v.empty() && v[0] == '$');
      if (functional) {
        RETURN_IF_ERROR(reject(name, "functional lists ($current-...) are not supported"));
        continue;
      }
    }
    if ((code == "_text" || code == "_content") && (modifier.empty() || modifier == "not")) {
      store::Condition c;
      c.param = code;
      c.kind = ParamKind::kText;
      c.modifier = modifier;
      for (const auto& v : SplitOr(value)) {
        std::string folded = text::Fold(Unescape(v));
        if (folded.find_first_not_of(" ") == std::string::npos) {
          return Status(Code::kInvalid, "search parameter " + name + ": no words to search for",
                        name);
        }
        store::QueryValue q;
        q.code = std::move(folded);
        c.any_of.push_back(std::move(q));
      }
      out.query.all_of.push_back(std::move(c));
      out.used.emplace_back(name, value);
      continue;
    }
    if (code == "_text" || code == "_content" || (code == "_list" && !modifier.empty()) ||
        code == "_contained" || code == "_containedType") {
      RETURN_IF_ERROR(reject(name, "not supported yet"));
      continue;
    }
    if (system && types.empty()) {
      // Without _type only parameters defined on Resource/DomainResource apply to every type.
      std::string head = code.substr(0, code.find('.'));
      const fhir::SearchParamDef* p = defs.FindSearchParam("Basic", head);
      bool common = head == "_id" || head == "_lastUpdated" || head == "_list";
      if (p != nullptr) {
        for (const auto& b : p->base) common = common || b == "Resource" || b == "DomainResource";
      }
      if (!common) {
        RETURN_IF_ERROR(reject(name,
                               "a search across all types takes only parameters every "
                               "resource has; name the types with _type"));
        continue;
      }
    }
    // _list=ID: the resources a List names in its entries (List.entry.item).
    const std::string cond =
        code == "_list" && modifier.empty() ? std::string("_has:List:item:_id") : name;
    auto parsed = ParseCondition(parse_types[0], cond, value, defs, 0);
    for (size_t i = 1; i < parse_types.size() && parsed.ok(); ++i) {
      auto other = ParseCondition(parse_types[i], cond, value, defs, 0);
      if (!other.ok()) {
        parsed = other.status();
      } else if (other->kind != parsed->kind) {
        parsed = Status(Code::kNotSupported, "the parameter has different types in " +
                                                 parse_types[0] + " and " + parse_types[i]);
      }
    }
    if (!parsed.ok()) {
      if (parsed.status().code() == Code::kNotSupported) {
        RETURN_IF_ERROR(reject(name, parsed.status().message()));
        continue;
      }
      return parsed.status();
    }
    store::Condition c = std::move(*parsed);
    out.query.all_of.push_back(std::move(c));
    out.used.emplace_back(name, value);
  }
  // A _has condition matched by a search (not a few named referrers, as _list=ID's) is tested row
  // by row: its count visits every candidate and would not fit its budget. Total from the page
  // only, unless _total=accurate asked for a count.
  for (const auto& c : out.query.all_of) {
    if (!c.reverse || c.chains.empty()) continue;
    bool named = !c.chains[0].all_of.empty();
    for (const auto& ic : c.chains[0].all_of) named = named && ic.kind == ParamKind::kId;
    if (!named) out.query.total_from_page_only = true;
  }
  return out;
}

}  // namespace benhan::service
