# FHIRPath benchmark (bench/fhirpath/). Include from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/fhirpath/bench.cmake OPTIONAL)
add_executable(fhirpath_bench ${CMAKE_CURRENT_LIST_DIR}/fhirpath_bench.cc)
target_link_libraries(fhirpath_bench PRIVATE benhan_fhir)
target_compile_definitions(fhirpath_bench PRIVATE BENHAN_SHARED_DATA="${CMAKE_SOURCE_DIR}/../shared/data")
