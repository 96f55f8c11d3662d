#include "service/access_policy.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <cctype>
#include <cstring>

#include "fhir/indexer.h"

namespace json = boost::json;

namespace benhan::service {

const char* InteractionName(Interaction i) {
  switch (i) {
    case Interaction::kRead:
      return "read";
    case Interaction::kSearch:
      return "search";
    case Interaction::kHistory:
      return "history";
    case Interaction::kCreate:
      return "create";
    case Interaction::kUpdate:
      return "update";
    case Interaction::kDelete:
      return "delete";
    case Interaction::kRestore:
      return "restore";
  }
  return "?";
}

namespace {

// "Observation.subject.where(resolve() is Patient)" -> {"subject"}; "(X.a as Reference)" -> {"a"}.
std::vector<std::string> ElementPath(std::string_view branch, std::string_view type) {
  std::vector<std::string> path;
  while (!branch.empty() && (branch.front() == ' ' || branch.front() == '('))
    branch.remove_prefix(1);
  if (branch.substr(0, type.size()) != type || branch.size() <= type.size() ||
      branch[type.size()] != '.')
    return path;
  branch.remove_prefix(type.size() + 1);
  while (!branch.empty()) {
    size_t n = 0;
    while (n < branch.size() &&
           (std::isalnum(static_cast<unsigned char>(branch[n])) || branch[n] == '_'))
      ++n;
    if (n == 0) break;
    std::string_view name = branch.substr(0, n);
    if (n < branch.size() && branch[n] == '(') break;  // a function: where(), as()...
    path.emplace_back(name);
    branch.remove_prefix(n);
    if (branch.empty() || branch.front() != '.') break;
    branch.remove_prefix(1);
  }
  return path;
}

// Adds the patient id of a reference ("Patient/1", "http://host/fhir/Patient/1/_history/2") to
// `out` unless it is there already.
void AddPatientRef(std::string_view ref, std::vector<std::string>& out) {
  auto pos = ref.rfind("Patient/");
  if (pos == std::string_view::npos || (pos > 0 && ref[pos - 1] != '/')) return;
  std::string_view id = ref.substr(pos + 8);
  if (auto h = id.find('/'); h != std::string_view::npos) id = id.substr(0, h);
  if (id.empty()) return;
  for (const auto& x : out)
    if (x == id) return;
  out.emplace_back(id);
}

// The answer from (compartment path index, reference) hits in document order: PatientsOf's
// order (path by path, document order within a path), each id once; a Patient's one hit is its id.
template <typename Hits>
std::vector<std::string> OrderedPatients(Hits& hits, bool patient) {
  std::stable_sort(hits.begin(), hits.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [path, ref] : hits) {
    if (patient) {
      out.emplace_back(ref);
    } else {
      AddPatientRef(ref, out);
    }
  }
  return out;
}

void Collect(const json::value& v, const std::vector<std::string>& path, size_t i,
             std::vector<std::string>& out) {
  if (v.is_array()) {
    for (const auto& e : v.get_array()) Collect(e, path, i, out);
    return;
  }
  if (!v.is_object()) return;
  const json::object& o = v.get_object();
  if (i == path.size()) {
    const json::value* r = o.if_contains("reference");
    if (r != nullptr && r->is_string()) AddPatientRef(r->get_string(), out);
    return;
  }
  if (const json::value* next = o.if_contains(path[i])) Collect(*next, path, i + 1, out);
}

// Streaming handler for PatientsOfJson. Each open container knows which compartment paths are
// still matched by the element names from the root to it (a bit per path) and how many names
// that is (arrays are transparent, as in Collect); a "reference" string in an object at the end
// of a matched path is a hit, recorded with its path so hits can be put in path order.
struct RefHandler {
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;

  struct Frame {
    uint32_t mask;
    uint32_t depth;
    bool object;
  };
  const std::vector<std::vector<std::string>>* paths = nullptr;
  bool patient = false;  // a Patient: only its own root "id"
  std::vector<Frame> stack;
  bool root_object = false;
  std::string key, part;  // the current key; a string's pieces (split by escapes)
  bool key_split = false, str_split = false;
  std::vector<std::pair<uint32_t, std::string>> hits;  // (path index, reference)

  // The frame of a value that starts now, under the open container.
  Frame Child(bool object) const {
    const Frame& f = stack.back();
    if (!f.object) return Frame{f.mask, f.depth, object};
    uint32_t mask = 0;
    for (uint32_t m = f.mask; m != 0; m &= m - 1) {
      int p = __builtin_ctz(m);
      const auto& path = (*paths)[p];
      if (f.depth < path.size() && path[f.depth] == key) mask |= 1u << p;
    }
    return Frame{mask, f.depth + 1, object};
  }
  bool Open(bool object, boost::system::error_code& ec) {
    if (stack.empty()) {
      if (!object) {
        ec = boost::json::error::syntax;
        return false;
      }
      root_object = true;
      uint32_t all = paths->size() >= 32 ? ~0u : (1u << paths->size()) - 1;
      stack.push_back(Frame{patient ? 0u : all, 0, true});
      return true;
    }
    stack.push_back(Child(object));
    return true;
  }
  bool Scalar(boost::system::error_code& ec) {
    if (stack.empty()) {
      ec = boost::json::error::syntax;  // not an object at the root
      return false;
    }
    return true;
  }
  void String(std::string_view v) {
    const Frame& f = stack.back();
    if (!f.object) return;
    if (patient) {
      if (stack.size() == 1 && key == "id" && hits.empty()) hits.emplace_back(0, v);
      return;
    }
    if (f.mask == 0 || key != "reference") return;
    for (uint32_t m = f.mask; m != 0; m &= m - 1) {
      int p = __builtin_ctz(m);
      if ((*paths)[p].size() == f.depth) {
        hits.emplace_back(static_cast<uint32_t>(p), v);
        return;
      }
    }
  }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code& ec) {
    if (!root_object) ec = boost::json::error::syntax;
    return root_object;
  }
  bool on_array_begin(boost::system::error_code& ec) { return Open(false, ec); }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    stack.pop_back();
    return true;
  }
  bool on_object_begin(boost::system::error_code& ec) { return Open(true, ec); }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    stack.pop_back();
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    if (!str_split) part.clear();
    str_split = true;
    part.append(s.data(), s.size());
    return Scalar(ec);
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    if (!Scalar(ec)) return false;
    if (str_split) {
      part.append(s.data(), s.size());
      String(part);
      str_split = false;
    } else {
      String(std::string_view(s.data(), s.size()));
    }
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (!key_split) key.clear();
    key_split = true;
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (!key_split) key.clear();
    key_split = false;
    key.append(s.data(), s.size());
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code& ec) {
    return Scalar(ec);
  }
  bool on_int64(int64_t, boost::json::string_view, boost::system::error_code& ec) {
    return Scalar(ec);
  }
  bool on_uint64(uint64_t, boost::json::string_view, boost::system::error_code& ec) {
    return Scalar(ec);
  }
  bool on_double(double, boost::json::string_view, boost::system::error_code& ec) {
    return Scalar(ec);
  }
  bool on_bool(bool, boost::system::error_code& ec) { return Scalar(ec); }
  bool on_null(boost::system::error_code& ec) { return Scalar(ec); }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

// The scan of a stored resource (FirstPatientOfStored, PatientsOfStored): RefHandler's rules (a bit
// per compartment path still matched by the names from the root, arrays transparent, a
// "reference" string at a path's end is a hit; for a Patient, its root "id") on raw text, without
// validation or copies. Strings are skipped with memchr. In `kFirst` mode the scan stops as soon
// as path 0 has a patient (no later hit can come first); in `kAll` mode it collects every hit.
// Every patient reference holds the bytes "Patient/", so the scan ends after the value that holds
// the last of them (nothing later can be a hit), and a resource without them answers at once,
// unless a backslash follows that point (an escape could spell "Patient/" in other bytes).
// Unsure (escapes in a key or a reference, nesting deeper than kMaxDepth, text that does not
// parse): the caller falls back to the validating parser.
class StoredScan {
 public:
  enum Mode { kFirst, kAll };
  // `patient`: the text is a Patient (its own root id is the answer; `paths` unused).
  StoredScan(const std::vector<std::vector<std::string>>& paths, bool patient, Mode mode,
             std::string_view text)
      : paths_(paths),
        patient_(patient),
        all_(mode == kAll),
        p_(text.data()),
        e_(text.data() + text.size()),
        limit_(e_) {
    if (patient_) return;   // a Patient's own id: no reference to look for
    const char* last = p_;  // just past the last "Patient/", found from the end
    for (const char* end = e_; end > p_;) {
      const auto* c = static_cast<const char*>(memrchr(p_, 'P', static_cast<size_t>(end - p_)));
      if (c == nullptr) break;
      if (e_ - c >= 8 && std::memcmp(c, "Patient/", 8) == 0) {
        last = c + 8;
        break;
      }
      end = c;
    }
    if (std::memchr(last, '\\', static_cast<size_t>(e_ - last)) == nullptr) {
      limit_ = last;
      limited_ = true;
      none_ = last == p_;
    }
  }
  // true: the answer is ready (best() or All()); false: unsure.
  bool Run() {
    Ws();
    if (p_ == e_ || *p_ != '{') return false;
    if (none_) {  // no patient reference in the text: one object is all that is checked
      const char* e = e_;
      while (e > p_ && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t')) --e;
      return e - p_ >= 2 && e[-1] == '}';
    }
    uint32_t all = patient_ || paths_.empty() ? 0u
                   : paths_.size() >= 32      ? ~0u
                                              : (1u << paths_.size()) - 1;
    if (!Object(all, 0)) return false;
    if (stop_) return true;
    Ws();
    return p_ == e_;
  }
  // kFirst: the first patient of the first path that has one ("" if none).
  const std::string& best() const { return best_; }
  // kAll: PatientsOfJson's answer (path by path, document order within a path, each id once).
  std::vector<std::string> All() { return OrderedPatients(hits_, patient_); }

 private:
  static constexpr uint32_t kMaxDepth = 64;
  void Ws() {
    while (p_ < e_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  // At an opening quote: the raw bytes up to the closing one; `escaped` if they hold a '\\'.
  bool Str(std::string_view* raw, bool* escaped) {
    const char* s = ++p_;
    *escaped = false;
    while (true) {
      const char* q = static_cast<const char*>(std::memchr(p_, '"', static_cast<size_t>(e_ - p_)));
      if (q == nullptr) return false;
      const char* b = static_cast<const char*>(std::memchr(p_, '\\', static_cast<size_t>(q - p_)));
      if (b == nullptr) {
        *raw = std::string_view(s, static_cast<size_t>(q - s));
        p_ = q + 1;
        return true;
      }
      *escaped = true;
      p_ = b + 2;  // past the escaped character (a quote, too)
      if (p_ > e_) return false;
    }
  }
  // At an opening quote: past the closing one (a quote after an odd run of backslashes is
  // escaped).
  bool SkipStr() {
    const char* s = ++p_;
    while (true) {
      const char* q = static_cast<const char*>(std::memchr(p_, '"', static_cast<size_t>(e_ - p_)));
      if (q == nullptr) return false;
      const char* b = q;
      while (b > s && b[-1] == '\\') --b;
      p_ = q + 1;
      if (((q - b) & 1) == 0) return true;
    }
  }
  bool Scalar() {
    const char* s = p_;
    while (p_ < e_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ' && *p_ != '\n' &&
           *p_ != '\r' && *p_ != '\t')
      ++p_;
    return p_ != s;
  }
  void Hit(uint32_t path, std::string_view ref) {
    if (all_) {
      hits_.emplace_back(path, ref);
      return;
    }
    if (path >= best_path_) return;
    std::vector<std::string> id;
    AddPatientRef(ref, id);
    if (id.empty()) return;
    best_path_ = path;
    best_ = std::move(id.front());
    if (path == 0) stop_ = true;
  }
  // At the '{' or '[' of a value no path goes into: past its matching close. Brackets are only
  // counted (the text was validated when written); strings are skipped whole.
  bool Skip() {
    uint32_t depth = 0;
    while (p_ < e_) {
      const char c = *p_;
      if (c == '"') {
        if (!SkipStr()) return false;
        continue;
      }
      ++p_;
      if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return true;
      }
    }
    return false;
  }
  // A value in an array (mask and depth of the array's frame).
  bool Element(uint32_t mask, uint32_t depth) {
    if (*p_ == '{') return Object(mask, depth);
    if (*p_ == '[') return Array(mask, depth);
    if (*p_ == '"') {
      std::string_view v;
      bool esc;
      return Str(&v, &esc);  // a string straight in an array is no reference
    }
    return Scalar();
  }
  bool Array(uint32_t mask, uint32_t depth) {
    if (++nest_ > kMaxDepth) return false;
    ++p_;
    Ws();
    if (p_ < e_ && *p_ == ']') {
      ++p_;
      --nest_;
      return true;
    }
    while (true) {
      Ws();
      if (p_ == e_ || !Element(mask, depth)) return false;
      if (stop_) return true;
      if (limited_ && p_ >= limit_)
        return stop_ = true;  // past the last "Patient/": nothing more to find
      Ws();
      if (p_ == e_) return false;
      if (*p_ == ']') break;
      if (*p_++ != ',') return false;
    }
    ++p_;
    --nest_;
    return true;
  }
  bool Object(uint32_t mask, uint32_t depth) {
    if (++nest_ > kMaxDepth) return false;
    ++p_;
    Ws();
    if (p_ < e_ && *p_ == '}') {
      ++p_;
      --nest_;
      return true;
    }
    while (true) {
      Ws();
      if (p_ == e_ || *p_ != '"') return false;
      std::string_view key;
      bool esc;
      if (!Str(&key, &esc)) return false;
      // An escaped key that may matter (a path's name, a Patient's root "id"): unsure.
      if (esc && (mask != 0 || (patient_ && nest_ == 1))) return false;
      Ws();
      if (p_ == e_ || *p_++ != ':') return false;
      Ws();
      if (p_ == e_) return false;
      if (*p_ == '"') {
        std::string_view v;
        bool vesc;
        if (!Str(&v, &vesc)) return false;
        if (patient_ && nest_ == 1 && key == "id" && !patient_id_seen_) {
          if (vesc) return false;
          patient_id_seen_ = true;
          if (all_) {
            hits_.emplace_back(0, v);
          } else {
            best_ = std::string(v);  // no early stop: a Patient's text is checked to its end
          }
        }
        if (mask != 0 && key == "reference") {
          for (uint32_t m = mask; m != 0; m &= m - 1) {
            auto b = static_cast<uint32_t>(__builtin_ctz(m));
            if (paths_[b].size() == depth) {
              if (vesc) return false;
              Hit(b, v);
              break;
            }
          }
          if (stop_) return true;
        }
      } else if (*p_ == '{' || *p_ == '[') {
        uint32_t child = 0;
        for (uint32_t m = mask; m != 0; m &= m - 1) {
          int b = __builtin_ctz(m);
          const auto& path = paths_[static_cast<size_t>(b)];
          if (depth < path.size() && path[depth] == key) child |= 1u << b;
        }
        if (child == 0) {
          if (!Skip()) return false;
        } else if (!(*p_ == '{' ? Object(child, depth + 1) : Array(child, depth + 1))) {
          return false;
        }
        if (stop_) return true;
      } else if (!Scalar()) {
        return false;
      }
      if (limited_ && p_ >= limit_)
        return stop_ = true;  // past the last "Patient/": nothing more to find
      Ws();
      if (p_ == e_) return false;
      if (*p_ == '}') break;
      if (*p_++ != ',') return false;
    }
    ++p_;
    --nest_;
    return true;
  }

  const std::vector<std::vector<std::string>>& paths_;
  const bool patient_;
  const bool all_;
  const char* p_;
  const char* e_;
  const char* limit_;     // the scan may stop once past this (see the class comment)
  bool limited_ = false;  // limit_ applies
  bool none_ = false;     // no "Patient/" and no backslash in the text
  uint32_t nest_ = 0;
  uint32_t best_path_ = ~0u;
  std::string best_;
  std::vector<std::pair<uint32_t, std::string_view>> hits_;  // kAll: (path, raw reference)
  bool patient_id_seen_ = false;
  bool stop_ = false;
};

}  // namespace

PatientCompartment::PatientCompartment(const fhir::Definitions& defs) {
  for (const auto& type : defs.ResourceTypeNames()) {
    const std::vector<std::string>* params = defs.CompartmentParams("Patient", type);
    if (params == nullptr) continue;
    auto& paths = paths_[type];
    for (const auto& p : *params) {
      const fhir::SearchParamDef* def = defs.FindSearchParam(type, p);
      if (def == nullptr || def->type != fhir::SearchParamType::kReference) continue;
      std::string expr = fhir::ExpressionFor(def->expression, type, defs);
      std::string_view rest = expr;
      while (!rest.empty()) {
        size_t bar = rest.find('|');
        auto path = ElementPath(rest.substr(0, bar), type);
        if (!path.empty()) {
          bool dup = false;
          for (const auto& x : paths) dup = dup || x == path;
          if (!dup) paths.push_back(std::move(path));
        }
        if (bar == std::string_view::npos) break;
        rest.remove_prefix(bar + 1);
      }
    }
  }
}

std::vector<std::string> PatientCompartment::PatientsOf(const std::string& type,
                                                        const json::object& resource) const {
  std::vector<std::string> out;
  if (type == "Patient") {
    const json::value* id = resource.if_contains("id");
    if (id != nullptr && id->is_string()) out.emplace_back(id->get_string());
    // Patient.link.other: another Patient record of the same person is not "theirs"; skip.
    return out;
  }
  auto it = paths_.find(type);
  if (it == paths_.end()) return out;
  for (const auto& path : it->second) {
    if (const json::value* first = resource.if_contains(path[0])) Collect(*first, path, 1, out);
  }
  return out;
}

Result<std::vector<std::string>> PatientCompartment::PatientsOfJson(const std::string& type,
                                                                    std::string_view text) const {
  static const std::vector<std::vector<std::string>> kNoPaths;
  auto it = paths_.find(type);
  bool patient = type == "Patient";
  // No compartment paths (not patient data): nothing to find, but the text is still checked.
  const auto& paths = patient || it == paths_.end() ? kNoPaths : it->second;
  if (paths.size() > 32) {  // more than the handler's mask holds: parse a DOM instead
    std::error_code ec;
    boost::json::monotonic_resource mr;
    json::value v = json::parse(text, ec, &mr);
    if (ec || !v.is_object())
      return Status(Code::kInvalid, "stored " + type + " is not a JSON object");
    return PatientsOf(type, v.get_object());
  }
  boost::json::basic_parser<RefHandler> p(boost::json::parse_options{});
  p.handler().paths = &paths;
  p.handler().patient = patient;
  boost::system::error_code ec;
  size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (ec || !p.done() || n != text.size())
    return Status(Code::kInvalid, "stored " + type + " is not a JSON object");
  return OrderedPatients(p.handler().hits, patient);
}

const std::vector<std::vector<std::string>>* PatientCompartment::ScanPaths(
    const std::string& type) const {
  static const std::vector<std::vector<std::string>> kNoPaths;
  if (type == "Patient") return &kNoPaths;
  auto it = paths_.find(type);
  if (it == paths_.end()) return &kNoPaths;
  return it->second.size() <= 32 ? &it->second : nullptr;
}

Result<std::string> PatientCompartment::FirstPatientOfStored(const std::string& type,
                                                             std::string_view text) const {
  if (const auto* paths = ScanPaths(type)) {
    StoredScan scan(*paths, type == "Patient", StoredScan::kFirst, text);
    if (scan.Run()) return scan.best();
  }
  ASSIGN_OR_RETURN(auto all, PatientsOfJson(type, text));
  return all.empty() ? std::string() : std::move(all.front());
}

Result<std::vector<std::string>> PatientCompartment::PatientsOfStored(const std::string& type,
                                                                      std::string_view text) const {
  if (const auto* paths = ScanPaths(type)) {
    StoredScan scan(*paths, type == "Patient", StoredScan::kAll, text);
    if (scan.Run()) return scan.All();
  }
  return PatientsOfJson(type, text);
}

bool PatientCompartment::IsPatientData(const std::string& type) const {
  if (type == "Patient") return true;
  auto it = paths_.find(type);
  return it != paths_.end() && !it->second.empty();
}

}  // namespace benhan::service
