# Access policy and audit trail (security/policy.h, security/audit_trail.h): the permission matrix,
# scopes, Consent, break-the-glass over HTTP; tampering with the audit hash chain detected by the
# real `benhan audit verify` on SQLite and PostgreSQL.
add_executable(access_tests ${CMAKE_CURRENT_LIST_DIR}/access_policy_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_trail_test.cc ${CMAKE_CURRENT_LIST_DIR}/audit_log_test.cc)
target_link_libraries(access_tests PRIVATE benhan_test_support GTest::gtest_main)
target_compile_definitions(access_tests PRIVATE BENHAN_BIN="$<TARGET_FILE:benhan>")
add_dependencies(access_tests benhan)
gtest_discover_tests(access_tests DISCOVERY_TIMEOUT 60
  PROPERTIES FIXTURES_REQUIRED pg_cluster TIMEOUT 600)

# The streaming read of a stored resource's patients equals the DOM's (no server, no database).
add_executable(access_compartment_tests ${CMAKE_CURRENT_LIST_DIR}/compartment_json_test.cc)
target_link_libraries(access_compartment_tests PRIVATE benhan_test_support GTest::gtest_main)
gtest_discover_tests(access_compartment_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
