// `benhan fhirpath [--strict] EXPRESSION [RESOURCE.json]`: evaluates and prints the result as JSON.
#pragma once

namespace benhan::fhir::fhirpath {

// argv[0] is "fhirpath". Prints the result collection as one JSON array on stdout and returns 0;
// on an invalid expression, an unreadable resource or an evaluation error prints the reason
// (with the position for syntax errors) on stderr and returns 1; on bad usage returns 2.
int RunCli(int argc, char** argv);

}  // namespace benhan::fhir::fhirpath
