# End-to-end tests (tests/e2e/): node --test scripts that start the benhan binary on a temp dir
# (port 0, token mode) and drive it over HTTP. Each keeps its temp dir on failure and says where.
find_program(BENHAN_NODE node)
if(NOT BENHAN_NODE)
  message(STATUS "node not found: e2e tests (tests/e2e) are not registered")
  return()
endif()

set(_benhan_e2e_env "BENHAN_BIN=$<TARGET_FILE:benhan>;BENHAN_SOURCE_DIR=${CMAKE_SOURCE_DIR}")

# A real FHIR client (fhir-kit-client, vendored in third_party/npm) against the server.
add_test(NAME e2e.fhir_kit_client COMMAND node --test ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fhir_kit_client.test.mjs)
set_tests_properties(e2e.fhir_kit_client PROPERTIES ENVIRONMENT "${_benhan_e2e_env}" TIMEOUT 300)

# kill -9 mid-load, restart, check every acknowledged write (3 rounds).
add_test(NAME e2e.crash_restart COMMAND node --test ${CMAKE_CURRENT_SOURCE_DIR}/e2e/crash_restart.test.mjs)
set_tests_properties(e2e.crash_restart PROPERTIES ENVIRONMENT "${_benhan_e2e_env}" TIMEOUT 300)

# Regression: SIGTERM/SIGINT must stop the server through its shutdown path, exit status 0.
add_test(NAME e2e.sigterm_clean_exit COMMAND node --test ${CMAKE_CURRENT_SOURCE_DIR}/e2e/sigterm_clean_exit.test.mjs)
set_tests_properties(e2e.sigterm_clean_exit PROPERTIES ENVIRONMENT "${_benhan_e2e_env}" TIMEOUT 120)

# A real HL7 v2 peer from npm (simple-hl7) sends ADT and ORU over MLLP.
add_test(NAME e2e.hl7v2_simple_hl7 COMMAND node --test ${CMAKE_CURRENT_SOURCE_DIR}/e2e/hl7v2_simple_hl7.test.mjs)
set_tests_properties(e2e.hl7v2_simple_hl7 PROPERTIES ENVIRONMENT "${_benhan_e2e_env}" TIMEOUT 300)

# OAuth2 / SMART App Launch: the npm fhirclient app (authorization code + PKCE, refresh,
# revocation), a system client with an ES384 assertion (npm jose), and the bad-input cases.
add_test(NAME e2e.smart_oauth COMMAND node --test ${CMAKE_CURRENT_SOURCE_DIR}/e2e/smart_oauth.test.mjs)
set_tests_properties(e2e.smart_oauth PROPERTIES ENVIRONMENT "${_benhan_e2e_env}" TIMEOUT 300)

# The same SMART flow in a real browser: Debian's headless chromium (TEST_PKGS) runs a tiny app on
# the fhirclient browser build; the test drives it over the DevTools protocol (Node's WebSocket:
# Node 20 needs --experimental-websocket). Fails without chromium unless BENHAN_ALLOW_SKIP is set.
execute_process(COMMAND ${BENHAN_NODE} --version OUTPUT_VARIABLE _benhan_node_version OUTPUT_STRIP_TRAILING_WHITESPACE)
set(_benhan_node_ws "")
if(_benhan_node_version MATCHES "^v([0-9]+)\\." AND CMAKE_MATCH_1 LESS 22)
  set(_benhan_node_ws --experimental-websocket)
endif()
add_test(NAME e2e.smart_browser COMMAND node ${_benhan_node_ws} --test ${CMAKE_CURRENT_SOURCE_DIR}/e2e/smart_browser.test.mjs)
set_tests_properties(e2e.smart_browser PROPERTIES ENVIRONMENT "${_benhan_e2e_env}" TIMEOUT 600)
