# HL7 v2 over MLLP, end to end (bench/hl7v2_bench.cc): ORU^R01 with 10 OBX, 1 and 8 connections.
add_executable(hl7v2_bench hl7v2_bench.cc)
target_link_libraries(hl7v2_bench PRIVATE benhan_node benhan_hl7v2_server)
