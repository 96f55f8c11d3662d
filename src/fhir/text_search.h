// Full-text matching for the _text (narrative) and _content (whole resource) search parameters.
// Text and query are folded like string search (case, Vietnamese marks and đ ignored); every word
// of the query must start a word of the text ("viem phoi" finds "Viêm phổi thùy dưới").
//
// Thread-safety: pure functions. Errors: a resource that is not valid JSON matches nothing.
#pragma once

#include <string>
#include <string_view>

namespace benhan::fhir {

// The searchable text of a stored resource: its narrative (text.div without markup) when
// `narrative_only`, else every string value of the resource. Folded.
std::string SearchableText(std::string_view resource_json, bool narrative_only);

// True if every word of `folded_query` starts a word of `folded_text`.
bool WordsMatch(std::string_view folded_text, std::string_view folded_query);

}  // namespace benhan::fhir
