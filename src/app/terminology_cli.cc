// `benhan terminology import`: loads a Ministry catalog file into a data directory as a FHIR
// CodeSystem (through ResourceService, so it is validated, versioned and audited like any write).
// Usage and flags: TerminologyUsage() below and docs/terminology.md.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "app/node.h"
#include "core/log.h"
#include "terminology/importers.h"

namespace benhan::app {

namespace {

const char* kTerminologyUsage =
    "usage: benhan terminology import --format FORMAT [options] FILE\n"
    "  --format icd10-json   the public JSON extraction of the Ministry ICD-10 list\n"
    "           icd10-csv    the Ministry ICD-10 table as CSV or XLSX (annex column layout)\n"
    "           codes-csv    a generic code list (CSV or XLSX): code, display, display_en, parent\n"
    "           lab-csv      a LOINC-style lab catalog, CSV or XLSX (code, name, loinc, unit...)\n"
    "           ward-csv     the government's list of wards/communes (statistics office export\n"
    "                        or the decision's annex), CSV or XLSX; legacy list (before\n"
    "                        2025-07-01) with --url "
    "http://benhan.vn/fhir/CodeSystem/vn-ward-legacy\n"
    "           ward-map-csv the government's old -> new ward conversion table: a ConceptMap\n"
    "  --url URL             canonical URL (icd10-*: http://benhan.vn/fhir/CodeSystem/icd10-vn;\n"
    "                        ward-csv: http://benhan.vn/fhir/CodeSystem/vn-ward)\n"
    "  --version V           the catalog version, e.g. 2026 (required)\n"
    "  --valid-from DATE     first day in force (YYYY-MM-DD); --valid-to DATE: first day no "
    "longer\n"
    "  --id ID               the CodeSystem (ConceptMap) id (default: from the URL and version)\n"
    "  --name NAME --title TITLE --value-set URL   override the defaults\n"
    "  --data DIR --config FILE   the data directory (server stopped) and config, as for serve\n"
    "  --dry-run             read and report, store nothing\n"
    "Versions are kept side by side; an import of an existing id stores a new version of it.\n";

std::string DefaultId(const std::string& url, const std::string& version) {
  std::string last = url.substr(url.find_last_of('/') + 1);
  std::string id;
  for (char c : last + "-" + version) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    id.push_back(ok ? c : '-');
  }
  return id.substr(0, 64);
}

void PrintProblems(const std::vector<std::string>& problems) {
  const size_t kShown = 30;
  for (size_t i = 0; i < problems.size() && i < kShown; ++i)
    std::fprintf(stderr, "note: %s\n", problems[i].c_str());
  if (problems.size() > kShown)
    std::fprintf(stderr, "... and %zu more notes\n", problems.size() - kShown);
}

// --format ward-map-csv: the conversion table stored as a ConceptMap.
int ImportMap(const Config& config, const std::string& text, const std::string& file,
              const terminology::CatalogInfo& info, const std::string& given_id, bool dry_run) {
  auto r = terminology::ImportWardMapCsv(text, info);
  if (!r.ok()) {
    std::fprintf(stderr, "benhan terminology import: %s: %s\n", file.c_str(),
                 r.status().message().c_str());
    return 1;
  }
  PrintProblems(r->problems);
  std::string url(r->concept_map.at("url").as_string());
  std::string id = given_id.empty() ? DefaultId(url, info.version) : given_id;
  r->concept_map["id"] = id;
  std::printf("%s: %zu rows, %zu legacy codes mapped, %zu notes -> ConceptMap/%s (%s|%s)\n",
              file.c_str(), r->rows, r->elements, r->problems.size(), id.c_str(), url.c_str(),
              info.version.c_str());
  if (dry_run) return 0;
  auto node = Node::Open(config);
  if (!node.ok()) {
    std::fprintf(stderr, "benhan terminology import: %s\n", node.status().message().c_str());
    return 1;
  }
  service::RequestContext ctx;
  ctx.principal = "system:terminology-import";
  auto w = (*node)->service().Update(ctx, "ConceptMap", id, r->concept_map);
  if (!w.ok()) {
    std::fprintf(stderr, "benhan terminology import: storing ConceptMap/%s: %s\n", id.c_str(),
                 w.status().ToString().c_str());
    return 1;
  }
  std::printf("stored ConceptMap/%s version %lld\n", id.c_str(),
              static_cast<long long>(w->record.version));
  return 0;
}

}  // namespace

int TerminologyCmd(int argc, char** argv) {
  if (argc < 3 || std::string(argv[2]) != "import") {
    std::fputs(kTerminologyUsage, stderr);
    return 2;
  }
  Config config;
  std::string format, file, id, config_file;
  terminology::CatalogInfo info;
  bool dry_run = false;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        *out = a.substr(eq + 1);
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    auto is = [&](const char* name) {
      return a == name || a.rfind(std::string(name) + "=", 0) == 0;
    };
    bool ok = true;
    std::string data;
    if (is("--format")) {
      ok = value(&format);
    } else if (is("--url")) {
      ok = value(&info.url);
    } else if (is("--version")) {
      ok = value(&info.version);
    } else if (is("--valid-from")) {
      ok = value(&info.valid_from);
    } else if (is("--valid-to")) {
      ok = value(&info.valid_to);
    } else if (is("--id")) {
      ok = value(&id);
    } else if (is("--name")) {
      ok = value(&info.name);
    } else if (is("--title")) {
      ok = value(&info.title);
    } else if (is("--value-set")) {
      ok = value(&info.value_set);
    } else if (is("--data")) {
      ok = value(&data);
      if (ok) config.data_dir = data;
    } else if (is("--config")) {
      ok = value(&config_file);
    } else if (a == "--dry-run") {
      dry_run = true;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kTerminologyUsage, stdout);
      return 0;
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "benhan terminology import: unknown option %s\n%s", a.c_str(),
                   kTerminologyUsage);
      return 2;
    } else {
      file = a;
    }
    if (!ok) {
      std::fprintf(stderr, "benhan terminology import: %s needs a value\n", a.c_str());
      return 2;
    }
  }
  if (!config_file.empty()) {
    std::string keep = config.data_dir;
    Status st = config.LoadFile(config_file);
    if (!st.ok()) {
      std::fprintf(stderr, "benhan terminology import: %s\n", st.message().c_str());
      return 2;
    }
    if (keep != Config().data_dir) config.data_dir = keep;
  }
  if (format.empty() || file.empty() || info.version.empty()) {
    std::fprintf(stderr, "benhan terminology import: --format, --version and FILE are required\n%s",
                 kTerminologyUsage);
    return 2;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "benhan terminology import: cannot read %s\n", file.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (format == "ward-map-csv") return ImportMap(config, text, file, info, id, dry_run);
  Result<terminology::ImportResult> r = Status(Code::kInvalid, "unknown --format " + format);
  if (format == "ward-csv") r = terminology::ImportWardCsv(text, info);
  if (format == "icd10-json") r = terminology::ImportIcd10Json(text, info);
  if (format == "icd10-csv") r = terminology::ImportIcd10Csv(text, info);
  if (format == "codes-csv") r = terminology::ImportCodeListCsv(text, info);
  if (format == "lab-csv") r = terminology::ImportLabCsv(text, info);
  if (!r.ok()) {
    std::fprintf(stderr, "benhan terminology import: %s: %s\n", file.c_str(),
                 r.status().message().c_str());
    return 1;
  }
  PrintProblems(r->problems);
  r->cs.resource_id = id.empty() ? DefaultId(r->cs.url, r->cs.version) : id;
  std::printf("%s: %zu rows, %zu concepts, %zu notes -> CodeSystem/%s (%s|%s)\n", file.c_str(),
              r->rows, r->cs.concepts.size(), r->problems.size(), r->cs.resource_id.c_str(),
              r->cs.url.c_str(), r->cs.version.c_str());
  if (dry_run) return 0;
  auto node = Node::Open(config);
  if (!node.ok()) {
    std::fprintf(stderr, "benhan terminology import: %s\n", node.status().message().c_str());
    return 1;
  }
  service::RequestContext ctx;
  ctx.principal = "system:terminology-import";
  auto w = (*node)->service().Update(ctx, "CodeSystem", r->cs.resource_id,
                                     terminology::ToResource(r->cs));
  if (!w.ok()) {
    std::fprintf(stderr, "benhan terminology import: storing CodeSystem/%s: %s\n",
                 r->cs.resource_id.c_str(), w.status().ToString().c_str());
    return 1;
  }
  std::printf("stored CodeSystem/%s version %lld\n", r->cs.resource_id.c_str(),
              static_cast<long long>(w->record.version));
  return 0;
}

}  // namespace benhan::app
