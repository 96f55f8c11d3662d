# FHIRPath engine sources, part of benhan_fhir (included from src/fhir/CMakeLists.txt).
target_sources(benhan_fhir PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/parser.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/eval.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/values.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/check.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/cli.cc
)
