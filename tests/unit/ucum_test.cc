// UCUM unit expressions: factors and dimensions of the units clinical systems send.
#include "fhir/ucum.h"

#include <gtest/gtest.h>

namespace benhan::fhir::ucum {
namespace {

struct Case {
  const char* unit;
  double factor;
  const char* dims;
};

TEST(Ucum, ParsesClinicalUnits) {
  const Case cases[] = {
      {"g", 1, "g"},
      {"mg", 1e-3, "g"},
      {"ug", 1e-6, "g"},
      {"\xC2\xB5g", 1e-6, "g"},  // µg as some systems send it
      {"kg", 1e3, "g"},
      {"[lb_av]", 453.59237, "g"},
      {"cm", 1e-2, "m"},
      {"[in_i]", 0.0254, "m"},
      {"mg/dL", 1e-3 / 1e-4, "g.m-3"},
      {"g/L", 1.0 / 1e-3, "g.m-3"},
      {"mmol/L", 1e-3 / 1e-3, "m-3.mol"},
      {"10*3/uL", 1e3 / 1e-9, "m-3"},
      {"10*9/L", 1e9 / 1e-3, "m-3"},
      {"kg/m2", 1e3, "g.m-2"},
      {"mm[Hg]", 133322e3 * 1e-3, "g.m-1.s-2"},
      {"cm[H2O]", 9806.65e3 * 1e-2, "g.m-1.s-2"},
      {"/min", 1.0 / 60, "s-1"},
      {"{beats}/min", 1.0 / 60, "s-1"},
      {"mL/min/{1.73_m2}", 1e-6 / 60, "m3.s-1"},
      {"%", 0.01, "1"},
      {"{score}", 1, "{score}"},  // a bare annotation is its own dimension: not a percentage
      {"10*3{cells}", 1000, "{cells}"},
      {"1", 1, "1"},
      {"U/L", 1e-6 / 60 / 1e-3, "m-3.mol.s-1"},
      {"meq/L", 1e-3 / 1e-3, "eq.m-3"},
      {"fL", 1e-15 * 1e-3, "m3"},
      {"Cel", 1, "Cel"},
      {"[degF]", 1, "[degF]"},
      {"[iU]/L", 1 / 1e-3, "[iU].m-3"},
      {"s-1", 1, "s-1"},
      {"m.s-2", 1, "m.s-2"},
      {"(kg.m)/s2", 1e3, "g.m.s-2"},
      {"h", 3600, "s"},
      {"d", 86400, "s"},
      {"mo", 2629800, "s"},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.unit);
    ASSERT_TRUE(r.has_value()) << c.unit;
    EXPECT_NEAR(r->factor / c.factor, 1.0, 1e-9) << c.unit;
    EXPECT_EQ(r->dims, c.dims) << c.unit;
  }
}

TEST(Ucum, CommensurableUnitsCompareByValue) {
  auto mg = Parse("mg"), ug = Parse("ug");
  ASSERT_TRUE(mg && ug);
  EXPECT_EQ(mg->dims, ug->dims);
  EXPECT_NEAR(5.4 * mg->factor, 5400 * ug->factor, 1e-12);
  auto lb = Parse("[lb_av]"), kg = Parse("kg");
  EXPECT_NEAR(150 * lb->factor / kg->factor, 68.0388555, 1e-6);
}

TEST(Ucum, RejectsWhatIsNotUcum) {
  for (const char* bad : {"", "mg/", "foo", "kg/(m", "{unclosed", "[in_i", "mg//dL", "beats/min",
                          "m88888888888888888888", "m+", "10*-999"}) {
    EXPECT_FALSE(Parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace benhan::fhir::ucum
