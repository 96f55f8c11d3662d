#include "security/policy.h"

#include <boost/json.hpp>
#include <cctype>
#include <cstring>
#include <functional>

#include "core/log.h"

namespace json = boost::json;

namespace benhan::security {

using service::AccessDecision;
using service::Interaction;
using service::RequestContext;

namespace {

constexpr int64_t kCacheMicros = 10'000'000;  // care sets and consents: at most 10 s old
constexpr int kMaxCare = 10000;

std::string_view Str(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

Result<int> ParseClock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':' || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])) ||
      !std::isdigit(static_cast<unsigned char>(s[3])) ||
      !std::isdigit(static_cast<unsigned char>(s[4])))
    return Status(Code::kInvalid, "time '" + std::string(s) + "' is not HH:MM");
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0))
    return Status(Code::kInvalid, "time '" + std::string(s) + "' is out of range");
  return h * 60 + m;
}

int DayIndex(std::string_view d) {
  static const char* kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (int i = 0; i < 7; ++i)
    if (d == kDays[i]) return i;
  return -1;
}

Result<unsigned> ParseDays(std::string_view s) {
  unsigned bits = 0;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    size_t dash = part.find('-');
    int a = DayIndex(part.substr(0, dash));
    int b = dash == std::string_view::npos ? a : DayIndex(part.substr(dash + 1));
    if (a < 0 || b < 0)
      return Status(Code::kInvalid, "days '" + std::string(part) + "': use mon..sun, e.g. mon-fri");
    for (int i = a;; i = (i + 1) % 7) {
      bits |= 1u << i;
      if (i == b) break;
    }
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return bits;
}

// A SMART resource scope: context/type.perms (v1 read|write|*, v2 letters c r u d s in order).
struct Scope {
  std::string_view context, type;  // views into the scope string
  unsigned letters = 0;            // bit per letter: c=1 r=2 u=4 d=8 s=16
};
std::optional<Scope> ParseScope(std::string_view s) {
  size_t slash = s.find('/');
  size_t dot = s.rfind('.');
  if (slash == std::string_view::npos || dot == std::string_view::npos || dot < slash) return {};
  Scope sc;
  sc.context = s.substr(0, slash);
  if (sc.context != "patient" && sc.context != "user" && sc.context != "system") return {};
  sc.type = s.substr(slash + 1, dot - slash - 1);
  std::string_view p = s.substr(dot + 1);
  if (sc.type.empty() || p.find('?') != std::string_view::npos) return {};  // v2 query: not yet
  if (p == "read") {
    sc.letters = 2 | 16;
  } else if (p == "write") {
    sc.letters = 1 | 4 | 8;
  } else if (p == "*") {
    sc.letters = 31;
  } else {
    const char* order = "cruds";
    size_t at = 0;
    for (char c : p) {
      const char* f = std::strchr(order + at, c);
      if (c == '\0' || f == nullptr) return {};
      at = static_cast<size_t>(f - order) + 1;
      sc.letters |= 1u << (f - order);
    }
    if (sc.letters == 0) return {};
  }
  return sc;
}

unsigned LetterOf(Interaction i) {
  switch (i) {
    case Interaction::kCreate:
      return 1;
    case Interaction::kRead:
    case Interaction::kHistory:
      return 2;
    case Interaction::kUpdate:
    case Interaction::kRestore:
      return 4;
    case Interaction::kDelete:
      return 8;
    case Interaction::kSearch:
      return 16;
  }
  return 0;
}

std::string Why(const std::string& vi, const std::string& en) { return vi + " / " + en; }

// Not restricted: administrator tokens and demo mode (all_access), and the server's own jobs,
// whose context carries no authenticated Principal (import, HL7 v2 interface, outbox, loaders).
bool Free(const Principal& who) { return who.all_access || who.id.empty(); }

// Is `patient` (an id) the principal's SMART patient context ("Patient/<id>" or "<id>")?
bool IsOwnPatient(const Principal& who, const std::string& patient) {
  std::string_view ctx = who.patient;
  if (ctx.size() == patient.size() + 8 && ctx.substr(0, 8) == "Patient/") ctx.remove_prefix(8);
  return ctx == patient;
}

std::atomic<uint64_t> g_next_instance{1};

}  // namespace

// This thread's copies of a policy's snapshots (entries of another policy are dropped on use).
struct Policy::ThreadCache {
  static constexpr size_t kCareEntries = 8;  // most recently used first
  uint64_t instance = 0;
  std::vector<std::shared_ptr<const CareEntry>> care;
  std::shared_ptr<const ConsentSnapshot> consents;
};

Policy::ThreadCache& Policy::Cache() const {
  thread_local ThreadCache cache;
  if (cache.instance != instance_) {
    cache.instance = instance_;
    cache.care.clear();
    cache.consents.reset();
  }
  return cache;
}

const std::string& BuiltinPolicyJson();  // policy_embed.cc (generated)

unsigned Policy::Role::PermsFor(const std::string& type) const {
  auto it = perms.find(type);
  if (it != perms.end()) return it->second;
  it = perms.find("*");
  return it == perms.end() ? 0 : it->second;
}

unsigned Policy::PermOf(Interaction i) {
  switch (i) {
    case Interaction::kRead:
    case Interaction::kSearch:
    case Interaction::kHistory:
      return kView;
    case Interaction::kCreate:
      return kCreate;
    case Interaction::kUpdate:
      return kEdit;
    case Interaction::kDelete:
      return kCancel;
    case Interaction::kRestore:
      return kRestore;
  }
  return 0;
}

Policy::Policy(store::Store& store, std::shared_ptr<const fhir::Definitions> defs,
               service::AuditLog& audit, const Clock& clock)
    : store_(store),
      defs_(defs),
      compartment_(*defs),
      audit_(audit),
      clock_(clock),
      instance_(g_next_instance.fetch_add(1)) {}

Result<std::shared_ptr<Policy>> Policy::Load(const std::string& text, store::Store& store,
                                             std::shared_ptr<const fhir::Definitions> defs,
                                             service::AuditLog& audit, const Clock& clock) {
  std::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status(Code::kInvalid, "policy: not a JSON object");
  std::shared_ptr<Policy> p(new Policy(store, defs, audit, clock));
  const json::object& o = v.get_object();
  if (auto off = Str(o, "utc_offset"); !off.empty()) {
    if (off.size() != 6 || (off[0] != '+' && off[0] != '-'))
      return Status(Code::kInvalid, "policy: utc_offset must look like +07:00");
    ASSIGN_OR_RETURN(int m, ParseClock(off.substr(1)));
    p->utc_offset_min_ = off[0] == '-' ? -m : m;
  }
  if (const auto* m = o.if_contains("break_glass_minutes"); m && m->is_int64())
    p->break_glass_seconds_ = static_cast<int>(m->as_int64()) * 60;
  if (const auto* m = o.if_contains("break_glass_seconds"); m && m->is_int64())
    p->break_glass_seconds_ = static_cast<int>(m->as_int64());  // tests
  if (const auto* m = o.if_contains("break_glass_min_reason"); m && m->is_int64())
    p->break_glass_min_reason_ = static_cast<size_t>(m->as_int64());
  const json::value* roles = o.if_contains("roles");
  if (roles == nullptr || !roles->is_object())
    return Status(Code::kInvalid, "policy: 'roles' must be an object");
  for (const auto& [name, rv] : roles->get_object()) {
    std::string where = "policy: role '" + std::string(name) + "'";
    if (!rv.is_object()) return Status(Code::kInvalid, where + " must be an object");
    const json::object& ro = rv.get_object();
    Role r;
    r.name = std::string(name);
    std::string_view pat = Str(ro, "patients");
    if (pat == "all" || pat.empty()) {
      r.patients = Patients::kAll;
    } else if (pat == "department") {
      r.patients = Patients::kDepartment;
    } else if (pat == "care") {
      r.patients = Patients::kCare;
    } else if (pat == "own") {
      r.patients = Patients::kOwn;
    } else {
      return Status(Code::kInvalid, where + ": patients must be all, department, care or own");
    }
    if (auto h = Str(ro, "hours"); !h.empty()) {
      auto dash = h.find('-');
      if (dash == std::string_view::npos)
        return Status(Code::kInvalid, where + ": hours must be HH:MM-HH:MM");
      auto a = ParseClock(h.substr(0, dash));
      auto b = ParseClock(h.substr(dash + 1));
      if (!a.ok() || !b.ok()) return Status(Code::kInvalid, where + ": hours must be HH:MM-HH:MM");
      r.start_min = *a;
      r.end_min = *b;
    }
    if (auto d = Str(ro, "days"); !d.empty()) {
      auto bits = ParseDays(d);
      if (!bits.ok()) return Status(Code::kInvalid, where + ": " + bits.status().message());
      r.days = *bits;
    }
    if (const auto* bg = ro.if_contains("break_glass"); bg && bg->is_bool())
      r.break_glass = bg->as_bool();
    const json::value* perms = ro.if_contains("permissions");
    if (perms == nullptr || !perms->is_object())
      return Status(Code::kInvalid, where + ": 'permissions' must be an object");
    for (const auto& [type, list] : perms->get_object()) {
      std::string t(type);
      if (t != "*" && !defs->IsResourceType(t))
        return Status(Code::kInvalid, where + ": '" + t + "' is not an R4 resource type");
      if (!list.is_array()) return Status(Code::kInvalid, where + ": " + t + " needs a list");
      unsigned bits = 0;
      for (const auto& x : list.get_array()) {
        std::string_view n = x.is_string() ? std::string_view(x.get_string()) : "";
        if (n == "view") {
          bits |= kView;
        } else if (n == "create") {
          bits |= kCreate;
        } else if (n == "edit") {
          bits |= kEdit;
        } else if (n == "cancel") {
          bits |= kCancel;
        } else if (n == "restore") {
          bits |= kRestore;
        } else {
          return Status(Code::kInvalid, where + ": unknown interaction '" + std::string(n) +
                                            "' (view, create, edit, cancel, restore)");
        }
      }
      r.perms[t] = bits;
    }
    p->roles_[r.name] = std::move(r);
  }
  return p;
}

Policy::RoleList Policy::RolesOf(const Principal& who) const {
  RoleList out;
  auto add = [&](const std::string& n) {
    auto it = roles_.find(n);
    if (it != roles_.end() && std::find(out.begin(), out.end(), &it->second) == out.end())
      out.push_back(&it->second);
  };
  add(who.role);
  for (const auto& r : who.roles) add(r);
  return out;
}

Policy::Patients Policy::ReachOf(const Principal& who) const {
  if (Free(who)) return Patients::kAll;
  // Only patient/ resource scopes (a patient-facing app): its patient's compartment.
  bool any_resource_scope = false, wide_scope = false;
  for (const auto& s : who.scopes) {
    auto sc = ParseScope(s);
    if (!sc) continue;
    any_resource_scope = true;
    wide_scope = wide_scope || sc->context != "patient";
  }
  if (any_resource_scope && !wide_scope) return Patients::kOwn;
  Patients widest = Patients::kOwn;
  bool any = false;
  for (const Role* r : RolesOf(who)) {
    // kAll < kDepartment < kCare < kOwn in enum order: smaller is wider.
    if (!any || static_cast<int>(r->patients) < static_cast<int>(widest)) widest = r->patients;
    any = true;
  }
  return widest;
}

Status Policy::CheckType(const RequestContext& ctx, Interaction i, const std::string& type) const {
  const Principal& who = ctx.who;
  if (Free(who)) return Status::Ok();
  // Only built for a refusal: an allowed request allocates nothing here.
  auto what = [&] {
    return std::string(service::InteractionName(i)) + " " +
           (type.empty() ? std::string("(every type)") : type);
  };
  // SMART scopes, when the token carries any.
  if (!who.scopes.empty()) {
    bool granted = false;
    for (const auto& s : who.scopes) {
      auto sc = ParseScope(s);
      if (!sc || !(sc->letters & LetterOf(i))) continue;
      if (sc->type == "*" || (!type.empty() && sc->type == type)) granted = true;
    }
    if (!granted) {
      return Status(Code::kForbidden, Why("phạm vi (scope) của token không cho phép " + what(),
                                          "no granted SMART scope allows " + what()));
    }
  }
  auto roles = RolesOf(who);
  if (roles.empty()) {
    return Status(Code::kForbidden,
                  Why("vai trò '" + who.role + "' không có quyền nào trong chính sách",
                      "role '" + who.role + "' has no permissions in the access policy"));
  }
  // Local time for access hours.
  int64_t local_s = clock_.NowMicros() / 1'000'000 + int64_t{utc_offset_min_} * 60;
  int minute = static_cast<int>(((local_s / 60) % 1440 + 1440) % 1440);
  int64_t days = local_s >= 0 ? local_s / 86400 : (local_s - 86399) / 86400;
  int weekday = static_cast<int>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday (3)
  bool outside_hours = false;
  const unsigned need = PermOf(i);
  for (const Role* r : roles) {
    bool perm = type.empty() ? (r->PermsFor("*") & need) && r->patients == Patients::kAll
                             : (r->PermsFor(type) & need) != 0;
    if (!perm) continue;
    bool in_window = (r->days >> weekday & 1u) &&
                     (r->start_min <= r->end_min ? minute >= r->start_min && minute < r->end_min
                                                 : minute >= r->start_min || minute < r->end_min);
    if (in_window) return Status::Ok();
    outside_hours = true;
  }
  if (outside_hours) {
    return Status(Code::kForbidden, Why("ngoài giờ làm việc được phép của vai trò (" + what() + ")",
                                        "outside the role's access hours (" + what() + ")"));
  }
  return Status(Code::kForbidden,
                Why("vai trò không có quyền " + what(), "the role may not " + what()));
}

bool Policy::Unrestricted(const RequestContext& ctx) const {
  if (Free(ctx.who)) return true;
  if (ReachOf(ctx.who) != Patients::kAll) return false;
  return Consents().rules.empty();
}

void Policy::OnWrite(const std::string& type) const {
  if (type == "Encounter" || type == "EpisodeOfCare" || type == "CareTeam" || type == "Consent")
    generation_.fetch_add(1, std::memory_order_acq_rel);
}

const Policy::ConsentSnapshot& Policy::Consents() const {
  ThreadCache& tc = Cache();
  auto fresh = [&](const ConsentSnapshot& c) {
    return c.generation == generation_.load(std::memory_order_acquire) &&
           clock_.NowMicros() - c.at_us < kCacheMicros;
  };
  if (tc.consents && fresh(*tc.consents)) return *tc.consents;
  // Stale here: take the shared snapshot, or load it (one thread at a time; the others wait and
  // then find it fresh).
  std::lock_guard<std::mutex> r(refresh_mu_);
  std::shared_ptr<const ConsentSnapshot> snap;
  {
    std::lock_guard<std::mutex> l(mu_);
    snap = consents_;
  }
  if (!snap || !fresh(*snap)) {
    snap = LoadConsents(generation_.load(std::memory_order_acquire), clock_.NowMicros());
    std::lock_guard<std::mutex> l(mu_);
    consents_ = snap;
  }
  tc.consents = std::move(snap);
  return *tc.consents;
}

std::shared_ptr<const Policy::ConsentSnapshot> Policy::LoadConsents(uint64_t gen,
                                                                    int64_t now) const {
  auto snap = std::make_shared<ConsentSnapshot>();
  snap->generation = gen;
  snap->at_us = now;
  store::Query q;
  store::Condition c;
  c.param = "status";
  c.kind = store::ParamKind::kToken;
  store::QueryValue v;
  v.code = "active";
  c.any_of.push_back(v);
  q.all_of.push_back(std::move(c));
  q.count = kMaxCare;
  auto r = store_.Search("Consent", q);
  if (!r.ok()) {
    log::Error("policy: cannot read Consents: " + r.status().ToString());
    // Keep enforcing the rules last read (if any) until the next try, 10 s later.
    std::lock_guard<std::mutex> l(mu_);
    if (consents_) snap->rules = consents_->rules;
    return snap;
  }
  auto refs = [](const json::value* actors, std::set<std::string>& out) {
    if (actors == nullptr || !actors->is_array()) return;
    for (const auto& a : actors->get_array()) {
      if (!a.is_object()) continue;
      const json::value* ref = a.get_object().if_contains("reference");
      if (ref && ref->is_object()) {
        auto s = Str(ref->get_object(), "reference");
        if (!s.empty()) out.insert(std::string(s));
      }
    }
  };
  for (const auto& m : r->matches) {
    std::error_code ec;
    json::value doc = json::parse(m.json, ec);
    if (ec || !doc.is_object()) continue;
    const json::object& o = doc.get_object();
    const json::value* prov = o.if_contains("provision");
    if (prov == nullptr || !prov->is_object() || Str(prov->get_object(), "type") != "deny")
      continue;
    const json::value* pat = o.if_contains("patient");
    if (pat == nullptr || !pat->is_object()) continue;
    std::string_view ref = Str(pat->get_object(), "reference");
    if (ref.rfind("Patient/", 0) != 0) continue;
    ConsentRule rule;
    refs(prov->get_object().if_contains("actor"), rule.actors);
    if (const json::value* nested = prov->get_object().if_contains("provision");
        nested && nested->is_array()) {
      for (const auto& n : nested->get_array()) {
        if (n.is_object() && Str(n.get_object(), "type") == "permit")
          refs(n.get_object().if_contains("actor"), rule.permitted);
      }
    }
    if (const json::value* per = prov->get_object().if_contains("period");
        per && per->is_object()) {
      if (auto r1 = ParseFhirDateRange(Str(per->get_object(), "start"))) rule.start_us = r1->low;
      if (auto r2 = ParseFhirDateRange(Str(per->get_object(), "end"))) rule.end_us = r2->high;
    }
    snap->rules.emplace(std::string(ref.substr(8)), std::move(rule));
  }
  return snap;
}

bool Policy::ConsentDenies(const Principal& who, const std::string& patient) const {
  if (Free(who) || patient.empty() || IsOwnPatient(who, patient)) return false;
  return ConsentDeniesIn(Consents(), who, patient);
}

bool Policy::ConsentDeniesIn(const ConsentSnapshot& c, const Principal& who,
                             const std::string& patient) const {
  if (c.rules.empty() || Free(who) || patient.empty() || IsOwnPatient(who, patient)) return false;
  auto [lo, hi] = c.rules.equal_range(patient);
  if (lo == hi) return false;
  int64_t now = clock_.NowMicros();
  for (auto it = lo; it != hi; ++it) {
    const ConsentRule& r = it->second;
    if ((r.start_us && now < r.start_us) || (r.end_us && now >= r.end_us)) continue;
    auto names = [&](const std::set<std::string>& s) {
      return (!who.practitioner.empty() && s.count(who.practitioner)) ||
             (!who.department.empty() && s.count(who.department));
    };
    if (names(r.permitted)) continue;
    if (r.actors.empty() || names(r.actors)) return true;
  }
  return false;
}

std::set<std::string> Policy::DeniedPatients(const Principal& who) const {
  std::set<std::string> out;
  const ConsentSnapshot& c = Consents();
  for (const auto& [p, r] : c.rules)
    if (!out.count(p) && ConsentDeniesIn(c, who, p)) out.insert(p);
  return out;
}

const Policy::PatientSet* Policy::CareSet(const Principal& who, Patients reach) const {
  static const std::string kNone;
  const std::string& dept = reach == Patients::kDepartment ? who.department : kNone;
  auto fresh = [&](const CareEntry& e) {
    return e.generation == generation_.load(std::memory_order_acquire) &&
           clock_.NowMicros() - e.at_us < kCacheMicros;
  };
  ThreadCache& tc = Cache();
  auto mine = tc.care.end();
  for (auto it = tc.care.begin(); it != tc.care.end(); ++it) {
    if ((*it)->practitioner == who.practitioner && (*it)->department == dept) {
      if (fresh(**it)) return &(*it)->patients;
      mine = it;
      break;
    }
  }
  // Stale or missing here: take the shared entry, or compute it (one thread at a time: the others
  // wait and then find it fresh instead of repeating the same searches).
  std::shared_ptr<const CareEntry> entry;
  {
    std::lock_guard<std::mutex> r(refresh_mu_);
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = care_.find({who.practitioner, dept});
      if (it != care_.end() && fresh(*it->second)) entry = it->second;
    }
    if (!entry) {
      entry = ComputeCare(who.practitioner, dept, generation_.load(std::memory_order_acquire),
                          clock_.NowMicros());
      std::lock_guard<std::mutex> l(mu_);
      care_[{who.practitioner, dept}] = entry;
    }
  }
  if (mine != tc.care.end()) tc.care.erase(mine);
  if (tc.care.size() >= ThreadCache::kCareEntries) tc.care.pop_back();
  tc.care.insert(tc.care.begin(), std::move(entry));
  return &tc.care.front()->patients;
}

std::shared_ptr<const Policy::CareEntry> Policy::ComputeCare(const std::string& practitioner,
                                                             const std::string& department,
                                                             uint64_t gen, int64_t now) const {
  auto entry = std::make_shared<CareEntry>();
  entry->generation = gen;
  entry->at_us = now;
  entry->practitioner = practitioner;
  entry->department = department;
  PatientSet& set = entry->patients;
  auto collect = [&](const char* type, const char* param, const std::string& ref) {
    auto slash = ref.find('/');
    if (ref.empty() || slash == std::string::npos) return;
    store::Query q;
    store::Condition c;
    c.param = param;
    c.kind = store::ParamKind::kReference;
    store::QueryValue v;
    v.system = ref.substr(0, slash);
    v.code = ref.substr(slash + 1);
    c.any_of.push_back(v);
    q.all_of.push_back(std::move(c));
    q.count = kMaxCare;
    auto r = store_.Search(type, q);
    if (!r.ok()) {
      log::Error(std::string("policy: cannot read ") + type + ": " + r.status().ToString());
      return;
    }
    for (const auto& m : r->matches) {
      std::error_code ec;
      json::monotonic_resource mr;
      json::value doc = json::parse(m.json, ec, &mr);
      if (ec || !doc.is_object()) continue;
      for (auto& p : compartment_.PatientsOf(type, doc.get_object())) set.insert(std::move(p));
    }
  };
  collect("Encounter", "participant", practitioner);
  collect("EpisodeOfCare", "care-manager", practitioner);
  collect("CareTeam", "participant", practitioner);
  if (!department.empty()) {
    collect("Encounter", "service-provider", department);
    collect("EpisodeOfCare", "organization", department);
  }
  return entry;
}

bool Policy::BreakGlassOpen(const Principal& who, const std::string& patient) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = glass_.find({who.id, patient});
  return it != glass_.end() && it->second > clock_.NowMicros();
}

std::set<std::string> Policy::BreakGlassPatients(const Principal& who) const {
  std::set<std::string> out;
  std::lock_guard<std::mutex> l(mu_);
  int64_t now = clock_.NowMicros();
  for (auto it = glass_.lower_bound({who.id, ""}); it != glass_.end() && it->first.first == who.id;
       ++it) {
    if (it->second > now) out.insert(it->first.second);
  }
  return out;
}

AccessDecision Policy::CheckResource(const RequestContext& ctx, Interaction i,
                                     const std::string& type, const json::object& resource) const {
  return CheckPatients(ctx, i, type, compartment_.PatientsOf(type, resource));
}

AccessDecision Policy::CheckPatients(const RequestContext& ctx, Interaction i,
                                     const std::string& type,
                                     std::vector<std::string> patients) const {
  AccessDecision d;
  const Principal& who = ctx.who;
  if (!patients.empty()) d.patient = patients[0];
  if (Free(who) || !compartment_.IsPatientData(type)) return d;
  auto what = [&] { return std::string(service::InteractionName(i)) + " " + type; };
  Patients reach = ReachOf(who);
  // A new Patient record is nobody's yet: registering one needs only the role's permission.
  if (type == "Patient" && i == Interaction::kCreate && reach != Patients::kOwn) return d;
  if (reach == Patients::kOwn) {
    std::string_view own = who.patient;
    if (own.substr(0, 8) == "Patient/") own.remove_prefix(8);
    bool mine = !patients.empty() && !own.empty();
    for (const auto& p : patients) mine = mine && p == own;
    if (!mine) {
      d.status =
          Status(Code::kForbidden, Why("chỉ được xem hồ sơ của chính người bệnh trong ngữ cảnh",
                                       "this token reaches only its patient context's records"));
    }
    return d;
  }
  // Which patients need a reason beyond the role (outside care, or behind a Consent).
  std::vector<std::string> blocked;
  std::string reason_vi, reason_en;
  if (reach != Patients::kAll) {
    if (patients.empty()) {
      d.status = Status(Code::kForbidden,
                        Why("hồ sơ không gắn với bệnh nhân nào trong phạm vi chăm sóc",
                            "the resource names no patient under your care (" + what() + ")"));
      return d;
    }
    const PatientSet* care = CareSet(who, reach);
    for (const auto& p : patients) {
      if (!care->count(p)) blocked.push_back(p);
    }
    if (!blocked.empty()) {
      reason_vi = "bệnh nhân không thuộc phạm vi chăm sóc của bạn";
      reason_en = "the patient is not under your care";
    }
  }
  for (const auto& p : patients) {
    if (ConsentDenies(who, p) && std::find(blocked.begin(), blocked.end(), p) == blocked.end()) {
      blocked.push_back(p);
      reason_vi = "người bệnh đã từ chối chia sẻ hồ sơ (Consent)";
      reason_en = "the patient's Consent forbids sharing this record";
    }
  }
  if (blocked.empty()) return d;
  // Break-the-glass: an open window, or a reason given now by a role allowed to.
  bool may_break = false;
  for (const Role* r : RolesOf(who)) may_break = may_break || r->break_glass;
  bool all_open = true;
  for (const auto& p : blocked) all_open = all_open && BreakGlassOpen(who, p);
  if (may_break && all_open) {
    d.break_glass = true;
    return d;
  }
  if (may_break && !ctx.break_glass.empty()) {
    if (ctx.break_glass.size() < break_glass_min_reason_) {
      d.status = Status(Code::kForbidden,
                        Why("lý do truy cập khẩn cấp quá ngắn (ít nhất " +
                                std::to_string(break_glass_min_reason_) + " ký tự)",
                            "the break-the-glass reason is too short (at least " +
                                std::to_string(break_glass_min_reason_) + " characters)"));
      return d;
    }
    int64_t now = clock_.NowMicros();
    int64_t until = now + int64_t{break_glass_seconds_} * 1'000'000;
    for (const auto& p : blocked) {
      {
        std::lock_guard<std::mutex> l(mu_);
        glass_[{who.id, p}] = until;
      }
      audit_.Record(store::AuditRecord{
          now, who.id, "break-glass", "Patient", p, 0, 200, ctx.remote,
          "break-glass (" + std::to_string(break_glass_seconds_) + " s): " + ctx.break_glass, p,
          "btg"});
      log::Warn("audit: break-the-glass by " + who.id + " on Patient/" + p + ": " +
                ctx.break_glass);
    }
    d.break_glass = true;
    return d;
  }
  d.status = Status(
      Code::kForbidden,
      Why(reason_vi +
              (may_break ? "; trường hợp khẩn cấp: gửi tiêu đề X-Break-Glass kèm lý do" : ""),
          reason_en + " (" + what() + ")" +
              (may_break ? "; in an emergency send the header X-Break-Glass: <reason>" : "")));
  return d;
}

std::optional<store::Condition> Policy::CompartmentCondition(
    const std::string& type, const std::vector<std::string>& ids) const {
  store::Condition c;
  if (type == "Patient") {
    c.param = "_id";
    c.kind = store::ParamKind::kId;
    for (const auto& id : ids) {
      store::QueryValue v;
      v.code = id;
      c.any_of.push_back(v);
    }
    return c;
  }
  const std::vector<std::string>* params = defs_->CompartmentParams("Patient", type);
  if (params == nullptr) return std::nullopt;
  c.kind = store::ParamKind::kReference;
  for (const auto& p : *params) {
    const fhir::SearchParamDef* def = defs_->FindSearchParam(type, p);
    if (def == nullptr || def->type != fhir::SearchParamType::kReference) continue;
    if (c.param.empty()) {
      c.param = p;
    } else {
      c.also_params.push_back(p);
    }
  }
  if (c.param.empty()) return std::nullopt;
  for (const auto& id : ids) {
    store::QueryValue v;
    v.system = "Patient";
    v.code = id;
    c.any_of.push_back(v);
  }
  return c;
}

Status Policy::RestrictSearch(const RequestContext& ctx, const std::string& type,
                              store::Query& query) const {
  const Principal& who = ctx.who;
  if (Free(who)) return Status::Ok();
  // Chains and _has read other types: the principal must be allowed to search them.
  std::function<Status(const std::vector<store::Condition>&)> walk =
      [&](const std::vector<store::Condition>& conds) -> Status {
    for (const auto& c : conds) {
      for (const auto& ch : c.chains) {
        RETURN_IF_ERROR(CheckType(ctx, Interaction::kSearch, ch.type));
        if (ReachOf(who) != Patients::kAll && compartment_.IsPatientData(ch.type)) {
          return Status(Code::kForbidden,
                        Why("tìm kiếm nối chuỗi qua hồ sơ bệnh nhân khác không được phép",
                            "chained searches and _has through patient data (" + ch.type +
                                ") are only for roles that see every patient"));
        }
        RETURN_IF_ERROR(walk(ch.all_of));
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(walk(query.all_of));
  if (type.empty()) {
    if (!Unrestricted(ctx)) {
      return Status(Code::kForbidden,
                    Why("tìm kiếm trên mọi loại hồ sơ chỉ dành cho vai trò không bị giới hạn",
                        "whole-system searches are only for roles that see every patient"));
    }
    return Status::Ok();
  }
  if (!compartment_.IsPatientData(type)) return Status::Ok();
  Patients reach = ReachOf(who);
  std::vector<std::string> allowed;
  if (reach == Patients::kOwn) {
    std::string own = who.patient.rfind("Patient/", 0) == 0 ? who.patient.substr(8) : who.patient;
    allowed.push_back(own.empty() ? std::string("-") : own);  // "-": matches nothing
  } else if (reach != Patients::kAll) {
    auto care = CareSet(who, reach);
    allowed.assign(care->begin(), care->end());
    for (const auto& p : BreakGlassPatients(who))
      if (!care->count(p)) allowed.push_back(p);
    if (allowed.empty()) allowed.push_back("-");
  }
  if (!allowed.empty()) {
    auto c = CompartmentCondition(type, allowed);
    if (!c) return Status::Ok();
    query.all_of.push_back(std::move(*c));
  }
  // The audit trail is not clinical data: a Consent does not hide who looked at a record.
  if (reach != Patients::kOwn && type != "AuditEvent") {
    std::set<std::string> denied = DeniedPatients(who);
    for (const auto& p : BreakGlassPatients(who)) denied.erase(p);
    if (!denied.empty()) {
      auto c = CompartmentCondition(type, std::vector<std::string>(denied.begin(), denied.end()));
      if (c) {
        c->modifier = "not";
        query.all_of.push_back(std::move(*c));
      }
    }
  }
  return Status::Ok();
}

}  // namespace benhan::security
