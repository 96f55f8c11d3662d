#include "service/access_policy.h"

#include <cctype>

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
    if (r == nullptr || !r->is_string()) return;
    std::string_view ref = r->get_string();
    auto pos = ref.rfind("Patient/");
    if (pos == std::string_view::npos || (pos > 0 && ref[pos - 1] != '/')) return;
    std::string_view id = ref.substr(pos + 8);
    if (auto h = id.find('/'); h != std::string_view::npos) id = id.substr(0, h);
    if (id.empty()) return;
    for (const auto& x : out)
      if (x == id) return;
    out.emplace_back(id);
    return;
  }
  if (const json::value* next = o.if_contains(path[i])) Collect(*next, path, i + 1, out);
}

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

bool PatientCompartment::IsPatientData(const std::string& type) const {
  if (type == "Patient") return true;
  auto it = paths_.find(type);
  return it != paths_.end() && !it->second.empty();
}

}  // namespace benhan::service
