# FHIRPath engine tests (included from tests/CMakeLists.txt).
add_executable(fhirpath_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/engine_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/official_suite_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/definitions_parse_test.cc
)
target_link_libraries(fhirpath_tests PRIVATE benhan_fhir GTest::gtest_main)
target_compile_definitions(fhirpath_tests PRIVATE
  BENHAN_SHARED_DATA="${CMAKE_SOURCE_DIR}/../shared/data"
  BENHAN_NPM_DIR="${BENHAN_NPM_DIR}"
  BENHAN_FHIRPATH_TEST_DIR="${CMAKE_CURRENT_SOURCE_DIR}/fhirpath")
gtest_discover_tests(fhirpath_tests DISCOVERY_TIMEOUT 60)
