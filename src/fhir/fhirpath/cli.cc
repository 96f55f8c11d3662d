#include "fhir/fhirpath/cli.h"

#include "fhir/resource.h"

#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath {

int RunCli(int argc, char** argv) {
  bool strict = false;
  std::string expr_text, file;
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--strict") {
      strict = true;
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: benhan fhirpath [--strict] EXPRESSION [RESOURCE.json]\n";
      return 0;
    } else if (positional == 0) {
      expr_text = a;
      ++positional;
    } else if (positional == 1) {
      file = a;
      ++positional;
    } else {
      std::cerr << "usage: benhan fhirpath [--strict] EXPRESSION [RESOURCE.json]\n";
      return 2;
    }
  }
  if (positional == 0) {
    std::cerr << "usage: benhan fhirpath [--strict] EXPRESSION [RESOURCE.json]\n";
    return 2;
  }
  auto defs = Definitions::LoadEmbedded();
  if (!defs.ok()) {
    std::cerr << defs.status().ToString() << "\n";
    return 1;
  }
  auto expr = Compile(expr_text);
  if (!expr.ok()) {
    std::cerr << expr.status().message() << "\n";
    return 1;
  }
  boost::json::value resource;
  bool have_resource = false;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "cannot read " << file << "\n";
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    resource = boost::json::parse(ss.str(), ec);
    if (ec) {
      std::cerr << file << ": invalid JSON: " << ec.message() << "\n";
      return 1;
    }
    have_resource = true;
  }
  if (strict) {
    std::string type;
    if (have_resource && resource.is_object()) {
      if (const auto* rt = resource.get_object().if_contains("resourceType");
          rt && rt->is_string()) {
        type = std::string(rt->get_string());
      }
    }
    Status st = CheckStrict(**expr, type, **defs);
    if (!st.ok()) {
      std::cerr << st.message() << "\n";
      return 1;
    }
  }
  auto result = have_resource ? Evaluate(**expr, resource, **defs) : EvaluateEmpty(**expr, **defs);
  if (!result.ok()) {
    std::cerr << result.status().message() << "\n";
    return 1;
  }
  std::cout << benhan::fhir::Serialize(boost::json::value(ToJson(*result))) << "\n";
  return 0;
}

}  // namespace benhan::fhir::fhirpath
