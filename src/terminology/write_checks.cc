#include "terminology/write_checks.h"

namespace json = boost::json;

namespace benhan::terminology {
namespace {

class TerminologyWrites : public service::WriteCheck {
 public:
  explicit TerminologyWrites(TerminologyService& ts) : ts_(ts) {}
  Status Check(const json::object& r) const override {
    auto* t = r.if_contains("resourceType");
    if (t && t->is_string()) {
      std::string_view type = t->get_string();
      if (type == "CodeSystem" || type == "ValueSet" || type == "ConceptMap") ts_.NoteWrite();
    }
    return Status::Ok();
  }

 private:
  TerminologyService& ts_;
};

}  // namespace

void AddWriteChecks(service::ResourceService& service, TerminologyService& terminology,
                    store::Store& store, const Config& config) {
  (void)store;
  (void)config;
  service.AddWriteCheck(std::make_shared<TerminologyWrites>(terminology));
}

}  // namespace benhan::terminology
