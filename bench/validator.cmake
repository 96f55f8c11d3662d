# Validator throughput benchmark (bench/validator_bench.cc), reads the shared Synthea data in place.
add_executable(validator_bench validator_bench.cc)
target_link_libraries(validator_bench PRIVATE benhan_fhir)
target_compile_definitions(validator_bench PRIVATE BENHAN_SHARED_DATA="${CMAKE_SOURCE_DIR}/../shared/data")
