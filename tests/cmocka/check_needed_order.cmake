# The misbound example must really be linked -lcmocka -lheapscope: its
# DT_NEEDED list names libcmocka before libheapscope. -D: EXE
execute_process(COMMAND readelf -d "${EXE}" OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${EXE} failed")
endif()
string(FIND "${out}" "libcmocka" c)
string(FIND "${out}" "libheapscope" h)
if(c EQUAL -1 OR h EQUAL -1 OR NOT c LESS h)
  message(FATAL_ERROR "CHECK FAILED: expected libcmocka before libheapscope in:\n${out}")
endif()
message(STATUS "libcmocka is needed before libheapscope")
