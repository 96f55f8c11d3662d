# Command-line tests of the benhan executable (tests/cli/).
add_test(NAME cli.import COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/import_test.sh $<TARGET_FILE:benhan> ${CMAKE_SOURCE_DIR})
set_tests_properties(cli.import PROPERTIES TIMEOUT 600 SKIP_REGULAR_EXPRESSION "SKIP:")
add_test(NAME cli.terminology_wards COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/terminology_wards_test.sh $<TARGET_FILE:benhan> ${CMAKE_SOURCE_DIR})
set_tests_properties(cli.terminology_wards PROPERTIES TIMEOUT 120)
add_test(NAME cli.digitize COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/digitize_test.sh $<TARGET_FILE:benhan>)
set_tests_properties(cli.digitize PROPERTIES TIMEOUT 300 SKIP_REGULAR_EXPRESSION "SKIP:")
