# stack.gcc_compiles: `heapscope run -- gcc -c FILE` must compile FILE.
# gcc, cc1 and as all run with recording on (mode local: no exit-time
# verdict, gcc's own leaks are not this test's business). Before the fix,
# `as` died with "Internal error (Segmentation fault)" in the frame-pointer
# walk: its %rbp held a value that wrapped the stack bounds check.
file(REMOVE ${OUT}.o)
foreach(unwinder auto fp)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env HEAPSCOPE_UNWINDER=${unwinder}
            ${HEAPSCOPE} run --mode local -- ${GCC} -O2 -g -D_GNU_SOURCE -I${INC} -I${INC}/include -c ${SRC} -o ${OUT}.o
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${OUT}.o OR err MATCHES "Internal error|Segmentation")
    message(FATAL_ERROR "HEAPSCOPE_UNWINDER=${unwinder} heapscope run -- gcc -c failed (exit ${rc}):\n${out}${err}")
  endif()
  file(REMOVE ${OUT}.o)
  message(STATUS "HEAPSCOPE_UNWINDER=${unwinder}: gcc -c under heapscope: ok")
endforeach()
