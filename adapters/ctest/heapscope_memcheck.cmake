# CTest dashboard script, installed with heapscope's CMake package (its path
# is HEAPSCOPE_MEMCHECK_SCRIPT once find_package(heapscope) ran): run the
# tests under CTest's LeakSanitizer memcheck (heapscope writes its reports
# where CTest's LeakSanitizer parser reads them) and fail when any leak was
# found. `ctest -T memcheck` only counts defects; ctest_memcheck(DEFECT_COUNT)
# is what lets a script act on them.
#
#   ctest -S <prefix>/lib/cmake/heapscope/heapscope_memcheck.cmake
#         -DCTEST_BINARY_DIRECTORY=<build dir>
#         [-DEXPECTED_DEFECTS=<n>]   # fail unless exactly n (for tests)
#         [-DMEMCHECK_LABEL=<label>] # only tests with this label
#
# The build directory must be configured (include(CTest)) and built; its
# source directory is read from its CMakeCache.txt.
cmake_minimum_required(VERSION 3.25)
if(NOT CTEST_BINARY_DIRECTORY)
  set(CTEST_BINARY_DIRECTORY "${CTEST_SCRIPT_ARG}")
endif()
if(NOT CTEST_BINARY_DIRECTORY)
  message(FATAL_ERROR "usage: ctest -S memcheck.cmake -DCTEST_BINARY_DIRECTORY=<build dir>")
endif()
get_filename_component(CTEST_BINARY_DIRECTORY "${CTEST_BINARY_DIRECTORY}" ABSOLUTE)
if(NOT CTEST_SOURCE_DIRECTORY)
  file(STRINGS "${CTEST_BINARY_DIRECTORY}/CMakeCache.txt" home REGEX "^CMAKE_HOME_DIRECTORY:")
  string(REGEX REPLACE "^[^=]*=" "" CTEST_SOURCE_DIRECTORY "${home}")
endif()
if(NOT CTEST_SOURCE_DIRECTORY)
  message(FATAL_ERROR "heapscope memcheck: ${CTEST_BINARY_DIRECTORY} is not a configured build directory")
endif()
set(CTEST_MEMORYCHECK_TYPE LeakSanitizer)
set(CTEST_SITE local)
set(CTEST_BUILD_NAME heapscope-memcheck)

ctest_start(Experimental QUIET)
set(args)
if(MEMCHECK_LABEL)
  set(args INCLUDE_LABEL "${MEMCHECK_LABEL}")
endif()
ctest_memcheck(BUILD "${CTEST_BINARY_DIRECTORY}" DEFECT_COUNT defects RETURN_VALUE rv ${args})
message("heapscope memcheck: ${defects} defect(s)")
if(DEFINED EXPECTED_DEFECTS)
  if(NOT defects EQUAL EXPECTED_DEFECTS)
    message(FATAL_ERROR "expected ${EXPECTED_DEFECTS} memcheck defect(s), got ${defects}")
  endif()
elseif(defects GREATER 0)
  message(FATAL_ERROR "memory leaks found: ${defects} defect(s)")
endif()
