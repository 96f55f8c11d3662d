# HL7 v2 interface tests (tests/interop/): parser, writer, MLLP framing, ACKs.
add_executable(hl7v2_tests ${CMAKE_CURRENT_LIST_DIR}/hl7v2_message_test.cc)
target_link_libraries(hl7v2_tests PRIVATE benhan_hl7v2 GTest::gtest_main)
target_compile_definitions(hl7v2_tests PRIVATE BENHAN_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
gtest_discover_tests(hl7v2_tests DISCOVERY_TIMEOUT 60)
# The inbound path on a real node and the MLLP listener over loopback.
add_executable(hl7v2_server_tests ${CMAKE_CURRENT_LIST_DIR}/hl7v2_server_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/hl7v2_outbound_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/hl7v2_samples_test.cc)
target_link_libraries(hl7v2_server_tests PRIVATE benhan_hl7v2_server benhan_test_support GTest::gtest_main)
gtest_discover_tests(hl7v2_server_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
# Killing the server during a stream of messages loses none that were ACKed (the real binary).
add_test(NAME hl7v2.kill_during_stream
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/kill_test.py $<TARGET_FILE:benhan>)
set_tests_properties(hl7v2.kill_during_stream PROPERTIES TIMEOUT 600)
