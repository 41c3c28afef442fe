cmake_minimum_required(VERSION 3.25)
# Helpers for the tests/ctest scripts (cmake -P). Each check that fails
# stops the script with a message naming what was expected.

# hs_run(<prefix> [WORKING_DIRECTORY d] COMMAND cmd...): runs cmd and sets
# <prefix>_rc, <prefix>_out, <prefix>_err in the caller.
function(hs_run prefix)
  cmake_parse_arguments(PARSE_ARGV 1 a "" "WORKING_DIRECTORY;TIMEOUT" "COMMAND")
  if(NOT a_WORKING_DIRECTORY)
    set(a_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  if(NOT a_TIMEOUT)
    set(a_TIMEOUT 120)
  endif()
  execute_process(COMMAND ${a_COMMAND} WORKING_DIRECTORY "${a_WORKING_DIRECTORY}"
    TIMEOUT ${a_TIMEOUT} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${prefix}_rc "${rc}" PARENT_SCOPE)
  set(${prefix}_out "${out}" PARENT_SCOPE)
  set(${prefix}_err "${err}" PARENT_SCOPE)
  string(JOIN " " shown ${a_COMMAND})
  message(STATUS "ran: ${shown} -> ${rc}")
endfunction()

function(hs_fail what)
  message(FATAL_ERROR "CHECK FAILED: ${what}")
endfunction()

function(hs_expect_eq actual expected what)
  if(NOT "${actual}" STREQUAL "${expected}")
    hs_fail("${what}: expected '${expected}', got '${actual}'")
  endif()
endfunction()

function(hs_expect_match text regex what)
  if(NOT "${text}" MATCHES "${regex}")
    hs_fail("${what}: no match for /${regex}/ in:\n${text}")
  endif()
endfunction()

function(hs_expect_no_match text regex what)
  if("${text}" MATCHES "${regex}")
    hs_fail("${what}: unexpected match for /${regex}/ in:\n${text}")
  endif()
endfunction()

# Number of non-overlapping matches of regex in text.
function(hs_count out text regex)
  string(REGEX MATCHALL "${regex}" all "${text}")
  list(LENGTH all n)
  set(${out} ${n} PARENT_SCOPE)
endfunction()

# The line number of the first line of file containing marker.
function(hs_line_of out file marker)
  file(STRINGS "${file}" lines)
  set(n 0)
  foreach(l IN LISTS lines)
    math(EXPR n "${n} + 1")
    string(FIND "${l}" "${marker}" pos)
    if(pos GREATER -1)
      set(${out} ${n} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  hs_fail("marker '${marker}' not in ${file}")
endfunction()
