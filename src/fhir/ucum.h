// UCUM unit expressions (https://ucum.org/ucum): parses a unit code such as "mg/dL", "10*3/uL",
// "mm[Hg]", "kg/m2" or "mL/min/{1.73_m2}" into a factor and a canonical dimension key, so that
// quantities in commensurable units compare by value (5.4 mg = 5400 ug = 0.0054 g).
//
// Covers the metric prefixes, the SI base and derived units, the customary units clinical systems
// use ([lb_av], [in_i], mm[Hg], cm[H2O], [degF]...), enzyme units, equivalents, annotations ({...}
// counts as 1), exponents, '.', '/' and parentheses. Units with an offset (Cel, [degF]) and
// arbitrary units ([iU], [arb'U], [pH]) are their own dimensions: they compare only with
// themselves.
//
// Thread-safety: pure functions over immutable tables. Errors: std::nullopt for an expression
// that is not valid UCUM or uses an atom outside the table (the caller then compares codes as
// text).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace benhan::fhir::ucum {

inline constexpr std::string_view kSystem = "http://unitsofmeasure.org";

struct Canonical {
  double factor = 1;  // value in canonical units = value * factor
  std::string dims;   // canonical dimension key, e.g. "g.m-3"; "1" for dimensionless
};

std::optional<Canonical> Parse(std::string_view unit);

}  // namespace benhan::fhir::ucum
