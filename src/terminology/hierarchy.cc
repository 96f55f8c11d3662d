#include "terminology/hierarchy.h"

#include <unordered_map>

namespace benhan::terminology {

Result<std::vector<std::string>> RelatedCodes(const CodeSystemVersion& cs, const std::string& code,
                                              bool below) {
  const Concept* start = cs.Find(code);
  if (start == nullptr) {
    return Status(Code::kNotFound, "code '" + code + "' is not in " + cs.url +
                                       (cs.version.empty() ? "" : " version " + cs.version));
  }
  std::vector<std::string> out{start->code};
  if (!below) {
    // Ancestors: follow `parent` (bounded, in case of a cycle in an imported list).
    for (const Concept* c = start; !c->parent.empty() && out.size() <= cs.concepts.size();) {
      c = cs.Find(c->parent);
      if (c == nullptr) break;
      out.push_back(c->code);
    }
    return out;
  }
  std::unordered_multimap<std::string_view, const Concept*> children;
  for (const auto& c : cs.concepts) {
    if (!c.parent.empty()) children.emplace(c.parent, &c);
  }
  // Breadth-first from `start`; each concept is reached once (one parent each).
  for (size_t i = 0; i < out.size() && out.size() <= cs.concepts.size(); ++i) {
    auto [b, e] = children.equal_range(out[i]);
    for (auto it = b; it != e; ++it) out.push_back(it->second->code);
  }
  return out;
}

Result<std::vector<std::string>> TerminologyHierarchy::Related(const std::string& system,
                                                               const std::string& code,
                                                               bool below) const {
  auto cs = terminology_.Resolve(system);
  if (cs == nullptr) {
    return Status(Code::kNotFound, "code system " + system +
                                       " is not known to this server: :below and :above need "
                                       "its hierarchy (import it as a CodeSystem)");
  }
  return RelatedCodes(*cs, code, below);
}

}  // namespace benhan::terminology
