# Terminology layer tests (tests/terminology/): importers, autocomplete cases, identifiers.
add_executable(terminology_tests ${CMAKE_CURRENT_LIST_DIR}/terminology_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/vn_identifiers_test.cc ${CMAKE_CURRENT_LIST_DIR}/vn_address_test.cc)
target_link_libraries(terminology_tests PRIVATE benhan_terminology GTest::gtest_main)
target_compile_definitions(terminology_tests PRIVATE BENHAN_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
gtest_discover_tests(terminology_tests DISCOVERY_TIMEOUT 60)
add_executable(demo_data_tests ${CMAKE_CURRENT_LIST_DIR}/demo_data_test.cc)
target_link_libraries(demo_data_tests PRIVATE benhan_node GTest::gtest_main)
gtest_discover_tests(demo_data_tests DISCOVERY_TIMEOUT 60)
