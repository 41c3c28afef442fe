# stack.lazy_load: a process under HEAPCHECK=normal that reports nothing
# maps none of the libraries loaded on first use (issue 11: loading them at
# start-up cost every process ~6 ms), and libheapscope.so needs only libc.
# Control: HEAPSCOPE_UNWINDER=libunwind loads libunwind at the first
# recorded allocation, and the check sees it.
# -D: LIB (libheapscope.so), PROG (lazy_maps), READELF
execute_process(COMMAND ${READELF} -d ${LIB} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${LIB} failed")
endif()
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]*\\]" needed "${dyn}")
foreach(n ${needed})
  if(NOT n MATCHES "\\[(libc\\.so\\.6|ld-linux-x86-64\\.so\\.2)\\]")
    message(FATAL_ERROR "libheapscope.so needs more than libc at start-up: ${n}")
  endif()
endforeach()
message(STATUS "libheapscope.so needs: ${needed}")

function(run_prog out)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=${LIB} HEAPCHECK=normal ${ARGN} ${PROG}
    RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${PROG} (${ARGN}) exited ${rc}:\n${o}${e}")
  endif()
  set(${out} "${o}" PARENT_SCOPE)
endfunction()

run_prog(plain)
if(NOT plain STREQUAL "lazy: none\n")
  message(FATAL_ERROR "a process that reports nothing mapped libraries meant for first use:\n${plain}")
endif()
run_prog(control HEAPSCOPE_UNWINDER=libunwind)
if(NOT control MATCHES "lazy: libunwind")
  message(FATAL_ERROR "control: HEAPSCOPE_UNWINDER=libunwind did not show libunwind mapped:\n${control}")
endif()
message(STATUS "HEAPCHECK=normal, nothing to report: none mapped; HEAPSCOPE_UNWINDER=libunwind: ${control}")
