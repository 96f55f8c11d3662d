# Authentication (security/accounts.h, security/oauth.h, security/crypto.h): primitives (TOTP RFC
# 6238 vectors, Argon2id, password rules, SMART scopes, JWT RS384/ES384) and the OAuth2 server on
# SQLite and PostgreSQL.
add_executable(security_tests ${CMAKE_CURRENT_LIST_DIR}/crypto_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/oauth_server_test.cc)
target_link_libraries(security_tests PRIVATE benhan_test_support GTest::gtest_main)
gtest_discover_tests(security_tests DISCOVERY_TIMEOUT 60
  PROPERTIES FIXTURES_REQUIRED pg_cluster TIMEOUT 300)
