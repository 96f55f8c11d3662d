# digitize/: OCR accuracy on pages rendered at test time, extraction precision/recall on the
# committed development set, the review workflow end to end, bad input.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PANGOCAIRO REQUIRED IMPORTED_TARGET pangocairo)

add_library(benhan_digitize_testkit STATIC digitize/page_render.cc)
target_link_libraries(benhan_digitize_testkit PUBLIC benhan_digitize_ocr PkgConfig::PANGOCAIRO)
target_compile_definitions(benhan_digitize_testkit PUBLIC BENHAN_SHARED_DATA="${CMAKE_SOURCE_DIR}/../shared/data")
target_include_directories(benhan_digitize_testkit PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/digitize)

add_executable(digitize_ocr_tests digitize/ocr_accuracy_test.cc)
target_link_libraries(digitize_ocr_tests PRIVATE benhan_digitize_testkit GTest::gtest_main)
gtest_discover_tests(digitize_ocr_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 900)

add_executable(digitize_extraction_tests digitize/extraction_test.cc)
target_link_libraries(digitize_extraction_tests PRIVATE benhan_digitize_coder GTest::gtest_main)
target_compile_definitions(digitize_extraction_tests PRIVATE BENHAN_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
gtest_discover_tests(digitize_extraction_tests DISCOVERY_TIMEOUT 60)

# End to end with a real Node; bad input.
add_executable(digitize_e2e_tests digitize/e2e_test.cc digitize/bad_input_test.cc)
target_link_libraries(digitize_e2e_tests PRIVATE benhan_digitize_testkit benhan_digitize_service
  benhan_node GTest::gtest_main)
target_compile_definitions(digitize_e2e_tests PRIVATE BENHAN_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
gtest_discover_tests(digitize_e2e_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 900)
