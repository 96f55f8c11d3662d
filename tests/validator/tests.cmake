# Validator and JSON Patch tests (tests/validator/). Shared test data is read in place, never copied.
add_executable(validator_tests
  validator/validator_test.cc validator/primitive_format_test.cc validator/json_patch_test.cc)
target_link_libraries(validator_tests PRIVATE benhan_fhir GTest::gtest_main)
target_compile_definitions(validator_tests PRIVATE
  BENHAN_SHARED_DATA="${CMAKE_SOURCE_DIR}/../shared/data"
  BENHAN_VALIDATOR_TEST_DIR="${CMAKE_CURRENT_SOURCE_DIR}/validator")
gtest_discover_tests(validator_tests DISCOVERY_TIMEOUT 60)
