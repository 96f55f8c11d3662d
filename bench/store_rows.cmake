# SQLite alone writing benhan's rows with each write strategy (bench/store_rows_bench.cc).
add_executable(store_rows_bench ${CMAKE_CURRENT_SOURCE_DIR}/store_rows_bench.cc)
target_link_libraries(store_rows_bench PRIVATE SQLite::SQLite3)
