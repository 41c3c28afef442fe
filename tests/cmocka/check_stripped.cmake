# A CMocka suite linked statically into a stripped executable: heapscope
# cannot find CMocka's runner. It must say so once (a heapscope: line), keep
# the whole-program check, list nothing (the CMake module then registers the
# executable as one test), and refuse a per-test filter rather than judge the
# whole executable as one test. -D: EXE (stripped suite), LIB
include(${CMAKE_CURRENT_LIST_DIR}/../ctest/common.cmake)
set(ENV_BASE "${CMAKE_COMMAND}" -E env --unset=HEAPSCOPE_CMOCKA_FILTER --unset=HEAPSCOPE_CMOCKA_LIST
  --unset=CMOCKA_MESSAGE_OUTPUT --unset=CMOCKA_XML_FILE "LD_PRELOAD=${LIB}")
set(SAYS "heapscope: CMocka is linked statically into [^\n]*test_kvstore_static_stripped, which is stripped")

hs_run(r COMMAND ${ENV_BASE} HEAPCHECK=normal "${EXE}")
hs_count(n "${r_err}" "${SAYS}")
hs_expect_eq("${n}" 1 "run: one line saying why per-test checks are off:\n${r_err}")
hs_expect_match("${r_err}" "per-test leak checks are off" "run: what it means")
hs_expect_match("${r_out}" "\\[ RUN      \\] test_put_get" "run: the suite runs")
hs_expect_eq("${r_rc}" 1 "run: the exit-time check fails the leaking executable")
hs_expect_match("${r_err}" "SUMMARY: heapscope: 34 byte" "run: the whole-program report")

hs_run(l COMMAND ${ENV_BASE} HEAPSCOPE_CMOCKA_LIST=1 "${EXE}")
hs_expect_eq("${l_rc}" 0 "list: exit status")
hs_expect_match("${l_out}" "^heapscope-cmocka-unsupported: CMocka is linked statically into [^\n]*stripped"
  "list: says unsupported")
hs_expect_no_match("${l_out}" "RUN|heapscope-cmocka-test:" "list: runs and lists nothing")

hs_run(f COMMAND ${ENV_BASE} HEAPCHECK=normal HEAPSCOPE_CMOCKA_FILTER=test_shout "${EXE}")
hs_expect_eq("${f_rc}" 2 "filter: refused")
hs_expect_match("${f_err}" "cannot run only HEAPSCOPE_CMOCKA_FILTER='test_shout'" "filter: message")
hs_expect_no_match("${f_out}" "RUN" "filter: nothing ran")

hs_run(o COMMAND ${ENV_BASE} "${EXE}")
hs_expect_no_match("${o_err}" "heapscope" "no HEAPCHECK: nothing said, nothing looked up")
message(STATUS "stripped static CMocka: all checks passed")
