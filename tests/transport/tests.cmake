# Transport security (tests/transport/): TLS for HTTP and MLLP on the real binary, HTTP hardening
# and bad input over HTTP on both backends.
add_test(NAME transport.tls COMMAND ${CMAKE_CURRENT_LIST_DIR}/tls_test.py $<TARGET_FILE:benhan>)
set_tests_properties(transport.tls PROPERTIES TIMEOUT 300)
add_executable(transport_tests ${CMAKE_CURRENT_LIST_DIR}/bad_input_test.cc)
target_link_libraries(transport_tests PRIVATE benhan_test_support GTest::gtest_main)
gtest_discover_tests(transport_tests DISCOVERY_TIMEOUT 60
  PROPERTIES FIXTURES_REQUIRED pg_cluster TIMEOUT 300)
