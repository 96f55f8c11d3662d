// Fuzz target for the catalog importers (terminology/importers.h), which read files hospitals
// receive from outside: the bytes as CSV or XLSX (ParseCsv, ReadXlsxFirstSheet, the Ministry ICD-10
// layout, a generic code list, a lab catalog, the government's ward list and ward conversion
// table) and as the ICD-10 JSON extraction; whatever is imported is then indexed and searched with
// a filter taken from the input, and a Patient address made of the input is checked against the
// imported wards. Any input must give a Status, never a crash.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "terminology/concept_index.h"
#include "terminology/importers.h"
#include "terminology/vn_address.h"
#include "terminology/xlsx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace benhan::terminology;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CatalogInfo info;
  info.version = "fuzz";
  info.url = "http://example.org/fuzz";
  (void)ParseCsv(in);
  (void)ReadXlsxFirstSheet(in);  // the importers also read XLSX when the bytes are a ZIP file
  std::string_view filter = in.substr(0, std::min<size_t>(in.size(), 24));
  (void)ImportWardMapCsv(in, info);
  for (int format = 0; format < 5; ++format) {
    auto r = format == 0   ? ImportIcd10Csv(in, info)
             : format == 1 ? ImportCodeListCsv(in, info)
             : format == 2 ? ImportLabCsv(in, info)
             : format == 3 ? ImportWardCsv(in, CatalogInfo{})
                           : ImportIcd10Json(in, info);
    if (!r.ok()) continue;
    size_t total = 0;
    (void)r->cs.index().Search(filter, 0, 10, &total);
    if (!r->cs.concepts.empty()) (void)r->cs.Find(r->cs.concepts.back().code);
    if (format == 3) {
      WardData wards;
      wards.current = std::make_shared<CodeSystemVersion>(std::move(r->cs));
      std::string text(filter);
      boost::json::object patient{
          {"resourceType", "Patient"},
          {"address", boost::json::array{boost::json::object{
                          {"country", "VN"}, {"state", text}, {"city", text}}}}};
      (void)CheckPatientAddresses(patient, wards);
    }
  }
  return 0;
}
