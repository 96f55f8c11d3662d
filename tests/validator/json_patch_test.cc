#include "fhir/json_patch.h"

#include <gtest/gtest.h>

namespace benhan::fhir {
namespace {
TEST(JsonPatch, Placeholder) {}
}  // namespace
}  // namespace benhan::fhir
