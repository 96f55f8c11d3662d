# Digitization throughput (bench/digitize_bench.cc): OCR pages per minute (pages rendered at run
# time from VietBioNER text, clean and degraded) and extraction pages per minute, separately.
if(TARGET benhan_digitize_testkit)
  add_executable(digitize_bench digitize_bench.cc)
  target_link_libraries(digitize_bench PRIVATE benhan_digitize_testkit benhan_digitize)
  target_compile_definitions(digitize_bench PRIVATE BENHAN_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endif()
