# qv_add_criterion_test(NAME <name> SOURCES <files...> LIBS <libs...>
#                       [TIMEOUT <s>] [LABELS <labels...>])
# Builds a Criterion test binary and registers it with CTest.  The test runs
# with the repository root as its working directory so that ../shared/data is
# reachable as ${QV_SHARED_DATA}.
pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)
get_filename_component(QV_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data
                       ABSOLUTE)
function(qv_add_criterion_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  # Every test binary is labelled; "unit" tests also run under ASan+UBSan.
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CRITERION
                        qv_warnings)
  target_compile_definitions(${T_NAME} PRIVATE
    QV_SHARED_DATA="${QV_SHARED_DATA}"
    QV_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} --jobs 2
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# qv_add_fuzz_target(NAME <fuzz_name> SOURCES <files...> LIBS <libs...>)
# Builds a libFuzzer target when QV_FUZZ is ON (clang); scripts/fuzz.sh runs
# every fuzz_* binary for a bounded time over the corpus/ folder beside its
# sources.
function(qv_add_fuzz_target)
  cmake_parse_arguments(F "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT QV_FUZZ)
    return()
  endif()
  add_executable(${F_NAME} ${F_SOURCES})
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS} qv_warnings)
  target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
endfunction()
