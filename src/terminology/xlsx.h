// A small XLSX reader for catalog imports: the first worksheet of an Office Open XML workbook as
// rows of cell texts (shared and inline strings resolved, numbers and booleans as written).
// Formulas give their cached value; styles, dates as serial numbers and merged cells are not
// interpreted. Untrusted input: the ZIP directory, sizes and XML are bounds-checked; entries
// inflate to at most 256 MiB.
//
// Thread-safety: stateless. Errors: kInvalid (not a ZIP, no worksheet, bad compression or XML),
// kTooLarge (an entry beyond the limit).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace benhan::terminology {

// True if `bytes` starts like a ZIP file (an XLSX workbook).
bool LooksLikeXlsx(std::string_view bytes);
Result<std::vector<std::vector<std::string>>> ReadXlsxFirstSheet(std::string_view bytes);

}  // namespace benhan::terminology
