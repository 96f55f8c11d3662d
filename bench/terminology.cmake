# $expand autocomplete latency over the full ICD-10 list (bench/terminology_bench.cc), and the
# demo population generator's speed (benhan demo-data, timed by bench/terminology.sh).
add_executable(terminology_bench terminology_bench.cc)
target_link_libraries(terminology_bench PRIVATE benhan_node)
target_compile_definitions(terminology_bench PRIVATE BENHAN_SHARED_DATA="${CMAKE_SOURCE_DIR}/../shared/data")
