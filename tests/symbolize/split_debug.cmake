# Make stripped copies of a shared library with its debug info split off:
#   OUT/debuglink/<lib>        stripped, .gnu_debuglink -> <lib>.debug beside it
#   OUT/buildid/lib/<lib>      stripped, no debuglink
#   OUT/buildid/debug/.build-id/xx/yyyy.debug
#   OUT/nodebug/<lib>          stripped, no debug info anywhere
# Usage: cmake -DLIB=... -DOUT=... -DOBJCOPY=... -DSTRIP=... -DREADELF=... -P split_debug.cmake
get_filename_component(name ${LIB} NAME)
file(MAKE_DIRECTORY ${OUT}/debuglink ${OUT}/buildid/lib ${OUT}/nodebug)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN} failed: ${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run(${OBJCOPY} --only-keep-debug ${LIB} ${OUT}/debuglink/${name}.debug)
run(${STRIP} --strip-unneeded -o ${OUT}/debuglink/${name}.tmp ${LIB})
# --add-gnu-debuglink records the basename and a CRC of the file it is given.
file(REMOVE ${OUT}/debuglink/${name})
run(${OBJCOPY} --add-gnu-debuglink=${OUT}/debuglink/${name}.debug
    ${OUT}/debuglink/${name}.tmp ${OUT}/debuglink/${name})
file(REMOVE ${OUT}/debuglink/${name}.tmp)

run(${READELF} -n ${LIB})
string(REGEX MATCH "Build ID: ([0-9a-f]+)" _ "${run_output}")
set(id ${CMAKE_MATCH_1})
if(NOT id)
  message(FATAL_ERROR "${LIB} has no build-id")
endif()
string(SUBSTRING ${id} 0 2 head)
string(SUBSTRING ${id} 2 -1 tail)
file(MAKE_DIRECTORY ${OUT}/buildid/debug/.build-id/${head})
run(${OBJCOPY} --only-keep-debug ${LIB} ${OUT}/buildid/debug/.build-id/${head}/${tail}.debug)
run(${STRIP} --strip-unneeded -o ${OUT}/buildid/lib/${name} ${LIB})
run(${STRIP} --strip-unneeded -o ${OUT}/nodebug/${name} ${LIB})
