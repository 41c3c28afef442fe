# cmake -P: run prof_mmap with and without HEAP_PROFILE_MMAP and check the
# dump's in-use total: 1 MiB + 2 MiB + 1 MiB + 64 KiB of regions (plus a few
# KiB of heap blocks) with it, none without it.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
function(run_case tag env_extra)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=${LIB} HEAPPROFILE=${WORK}/${tag}
                          ${env_extra} ${PROG}
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${tag}: exit ${rc}: ${err}")
  endif()
  file(STRINGS ${WORK}/${tag}.0001.heap header LIMIT_COUNT 1)
  if(NOT header MATCHES "^heap profile: +([0-9]+): +([0-9]+) \\[")
    message(FATAL_ERROR "${tag}: bad header '${header}'")
  endif()
  set(inuse ${CMAKE_MATCH_2} PARENT_SCOPE)
endfunction()
run_case(with "HEAP_PROFILE_MMAP=true")
math(EXPR want "(1 << 20) + (2 << 20) + (1 << 20) + 65536")
math(EXPR slack "${inuse} - ${want}")
if(slack LESS 0 OR slack GREATER 65536)
  message(FATAL_ERROR "with HEAP_PROFILE_MMAP: in-use ${inuse}, expected ${want} (+ < 64 KiB of heap)")
endif()
run_case(without "HEAP_PROFILE_MMAP=false")
if(inuse GREATER 65536)
  message(FATAL_ERROR "without HEAP_PROFILE_MMAP: in-use ${inuse}: regions were profiled")
endif()
message(STATUS "mmap profiling: ${want} bytes of regions accounted")
