// FHIRPath value helpers (engine-internal): kinds of values, dates/times with precision, UCUM
// quantities. Used by eval.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath::internal {

// The System kind of a value, from its (FHIR or System) type and JSON shape.
enum class VK : uint8_t {
  kNone,
  kBool,
  kInt,
  kDec,
  kStr,
  kDate,
  kDateTime,
  kTime,
  kQuantity,
  kOther
};
VK KindOf(const Item& it);

// A date, dateTime or time with its precision. Fields v: year, month, day, hour, minute, second,
// millisecond. `prec` = number of fields given (Date: 1..3, DateTime: 1..7, Time: 4..7).
struct Temporal {
  VK kind = VK::kDate;
  int v[7] = {0, 1, 1, 0, 0, 0, 0};
  int prec = 0;
  bool tz = false;
  int tz_min = 0;
  int ms_digits = 0;  // digits written for the fraction (for formatting)
};
std::optional<Temporal> ParseTemporal(std::string_view s, VK kind);
std::string FormatTemporal(const Temporal& t);
// Three-valued comparison: -1/0/1, or nullopt if the precisions make the result unknown.
std::optional<int> CompareTemporal(Temporal a, Temporal b);
// Adds `value` of calendar unit `unit` ("year", "month", "week", "day", "hour", "minute", "second",
// "millisecond"). Returns false if the unit is not a calendar duration.
bool AddToTemporal(Temporal* t, double value, std::string_view unit);

// Quantities.
struct Quantity {
  double value = 0;
  std::string unit;  // UCUM code or calendar keyword
};
std::optional<Quantity> QuantityOf(const Item& it);
// Canonical form for comparison: value in base unit and the base unit's dimension key. For calendar
// keywords, "year"/"month" have no fixed UCUM equivalent except for comparison with themselves.
bool Canonical(const Quantity& q, double* value, std::string* dim);
// Converts q to `unit` if commensurable.
std::optional<Quantity> ConvertQuantity(const Quantity& q, std::string_view unit);
// Multiplies / divides units: returns the resulting unit string (UCUM syntax) for simple cases.
std::string MulUnits(std::string_view a, std::string_view b, bool divide);

// Shortest round-trip text of a decimal ("1.5", "3", "0.1").
std::string FormatDecimal(double d);

}  // namespace benhan::fhir::fhirpath::internal
