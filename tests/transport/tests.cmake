# Transport security (tests/transport/): TLS for HTTP and MLLP on the real binary, HTTP hardening
# and bad input over HTTP on both backends.
add_test(NAME transport.tls COMMAND ${CMAKE_CURRENT_LIST_DIR}/tls_test.py $<TARGET_FILE:benhan>)
set_tests_properties(transport.tls PROPERTIES TIMEOUT 300)
