# HEAPSCOPE_REPORT=json and =github, end to end on a leaking program.
# -D: LEAKER (program), LIB (libheapscope.so), SRC (this directory),
#     TOP (project source dir), WORK (scratch dir), PYTHON, CC (C compiler)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
hs_line_of(DLINE "${SRC}/leaker.c" "LEAK-DIRECT")
hs_line_of(ILINE "${SRC}/leaker.c" "LEAK-INDIRECT")
set(ENV_BASE "${CMAKE_COMMAND}" -E env --unset=GITHUB_WORKSPACE --unset=LSAN_OPTIONS
  --unset=ASAN_OPTIONS --unset=HEAPSCOPE_LOG_PATH --unset=HEAPSCOPE_REPORT_PATH
  --unset=HEAPSCOPE_STRIP_PATH_PREFIX HEAPCHECK=normal "LD_PRELOAD=${LIB}")
set(DIRECT_TEXT "Direct leak of 40 byte\\(s\\) in 1 object\\(s\\) allocated from:")
set(LEAKS --leak "direct:40:ci_make_record:leaker.c:${DLINE}"
          --leak "indirect:100:ci_make_payload:leaker.c:${ILINE}" --total 140)

# ---- json to HEAPSCOPE_REPORT_PATH (with %p) --------------------------------
hs_run(j COMMAND ${ENV_BASE} HEAPSCOPE_REPORT=json "HEAPSCOPE_REPORT_PATH=${WORK}/report-%p.json"
  "${LEAKER}")
hs_expect_eq("${j_rc}" 1 "json: exit status of a leaking program")
hs_expect_match("${j_err}" "${DIRECT_TEXT}\n    #0 0x[0-9a-f]+ in ci_make_record [^\n]*leaker.c:${DLINE}"
  "json: the text report stays on stderr")
hs_expect_match("${j_err}" "SUMMARY: heapscope: 140 byte\\(s\\) leaked in 2 allocation\\(s\\)" "json: summary")
hs_expect_no_match("${j_err}" "\"tool\"" "json: no JSON on stderr when a path is set")
file(GLOB reports "${WORK}/report-*.json")
list(LENGTH reports n)
hs_expect_eq("${n}" 1 "json: one report file, %p replaced by the pid (${reports})")
hs_expect_match("${reports}" "report-[0-9]+\\.json$" "json: %p expanded")
hs_run(py COMMAND "${PYTHON}" "${SRC}/check_json.py" "${reports}" ${LEAKS})
hs_expect_eq("${py_rc}" 0 "json: python json.load + content check: ${py_out}${py_err}")

# ---- json to stderr, after the text ------------------------------------------
hs_run(s COMMAND ${ENV_BASE} HEAPSCOPE_REPORT=json "${LEAKER}")
hs_expect_eq("${s_rc}" 1 "json/stderr: exit status")
hs_expect_match("${s_err}" "SUMMARY: heapscope: [^\n]*\n\\{\"tool\":\"heapscope\"[^\n]*\n"
  "json/stderr: one JSON line after the text report")
string(REGEX MATCH "\n(\\{\"tool\":\"heapscope\"[^\n]*)\n" _ "${s_err}")
file(WRITE "${WORK}/stderr.json" "${CMAKE_MATCH_1}")
hs_run(py COMMAND "${PYTHON}" "${SRC}/check_json.py" "${WORK}/stderr.json" ${LEAKS})
hs_expect_eq("${py_rc}" 0 "json/stderr: parses: ${py_out}${py_err}")
# CMake's own JSON parser agrees.
string(JSON kind GET "${CMAKE_MATCH_1}" leaks 0 kind)
string(JSON nleaks LENGTH "${CMAKE_MATCH_1}" leaks)
hs_expect_eq("${nleaks}" 2 "json/stderr: two leak groups")

# ---- clean program: no report at all -----------------------------------------
hs_run(c COMMAND ${ENV_BASE} HEAPSCOPE_REPORT=json "HEAPSCOPE_REPORT_PATH=${WORK}/clean.json"
  "${LEAKER}" clean)
hs_expect_eq("${c_rc}" 0 "json/clean: exit status")
if(EXISTS "${WORK}/clean.json")
  hs_fail("json/clean: a clean run wrote ${WORK}/clean.json")
endif()
hs_expect_eq("${c_err}" "" "json/clean: stderr")

# ---- json escaping: a source path with a quote, a backslash and UTF-8 ---------
set(weird "${WORK}/dir \"q\" back\\slash é")
# (Python makes the directory: CMake's file() turns backslashes into slashes.)
hs_run(mk COMMAND "${PYTHON}" -c
  "import os, shutil, sys; os.makedirs(sys.argv[1]); shutil.copy(sys.argv[2], sys.argv[1])"
  "${weird}" "${SRC}/leaker.c")
hs_expect_eq("${mk_rc}" 0 "escape: making ${weird}: ${mk_err}")
hs_run(cc COMMAND "${CC}" -g -O0 -fno-omit-frame-pointer -o "${WORK}/weird_leaker" "${weird}/leaker.c")
hs_expect_eq("${cc_rc}" 0 "escape: compiling ${weird}/leaker.c: ${cc_err}")
hs_run(w COMMAND ${ENV_BASE} HEAPSCOPE_REPORT=json "HEAPSCOPE_REPORT_PATH=${WORK}/weird.json"
  "${WORK}/weird_leaker")
hs_expect_eq("${w_rc}" 1 "escape: exit status")
hs_run(py COMMAND "${PYTHON}" "${SRC}/check_json.py" "${WORK}/weird.json"
  --file-exact "${weird}/leaker.c" --leak "direct:40:ci_make_record:-:${DLINE}")
hs_expect_eq("${py_rc}" 0 "escape: the file name round-trips through JSON: ${py_out}${py_err}")

# ---- github: relative to the working directory ---------------------------------
set(ANN "::error file=leaker.c,line=${DLINE},title=heapscope leak::Direct leak of 40 byte\\(s\\) in 1 object\\(s\\) allocated from ci_make_record\n")
set(ANN_I "::error file=leaker.c,line=${ILINE},title=heapscope leak::Indirect leak of 100 byte\\(s\\) in 1 object\\(s\\) allocated from ci_make_payload\n")
hs_run(g WORKING_DIRECTORY "${SRC}" COMMAND ${ENV_BASE} HEAPSCOPE_REPORT=github "${LEAKER}")
hs_expect_eq("${g_rc}" 1 "github: exit status")
hs_expect_match("${g_err}" "(^|\n)${ANN}" "github: direct-leak annotation (file under cwd)")
hs_expect_match("${g_err}" "(^|\n)${ANN_I}" "github: indirect-leak annotation")
hs_count(n "${g_err}" "::error ")
hs_expect_eq("${n}" 2 "github: one annotation per leak stack")
hs_expect_match("${g_err}" "::error [^\n]*\n(::error [^\n]*\n)*\n=+\n==[0-9]+==ERROR: heapscope: detected memory leaks.*${DIRECT_TEXT}.*SUMMARY: heapscope"
  "github: annotations first, then the full text report")

# ---- github: relative to GITHUB_WORKSPACE ----------------------------------------
hs_run(g WORKING_DIRECTORY "${WORK}" COMMAND ${ENV_BASE} HEAPSCOPE_REPORT=github
  "GITHUB_WORKSPACE=${TOP}" "${LEAKER}")
file(RELATIVE_PATH rel "${TOP}" "${SRC}/leaker.c")
string(REPLACE "file=leaker.c" "file=${rel}" ann_ws "${ANN}")
hs_expect_match("${g_err}" "(^|\n)${ann_ws}" "github: file relative to GITHUB_WORKSPACE")

# ---- github: no frame under a root -> the first existing file, absolute --------
hs_run(g WORKING_DIRECTORY "/" COMMAND ${ENV_BASE} HEAPSCOPE_REPORT=github "${LEAKER}")
string(REPLACE "file=leaker.c" "file=${SRC}/leaker.c" ann_abs "${ANN}")
hs_expect_match("${g_err}" "(^|\n)${ann_abs}" "github: absolute file when outside the roots")

# ---- github under CTest's LSan memcheck: no annotations (they would count) -----
# HEAP_CHECK_MAX_LEAKS=1 caps the console only: the log CTest counts gets both.
hs_run(g WORKING_DIRECTORY "${SRC}" COMMAND ${ENV_BASE} HEAPSCOPE_REPORT=github HEAP_CHECK_MAX_LEAKS=1
  "LSAN_OPTIONS=log_path='${WORK}/lsan.log'" "${LEAKER}")
hs_expect_eq("${g_rc}" 1 "github/memcheck: exit status")
hs_expect_no_match("${g_err}" "::error|leak of" "github/memcheck: nothing CTest would count twice on stderr")
file(GLOB logs "${WORK}/lsan.log.*")
list(LENGTH logs n)
hs_expect_eq("${n}" 1 "github/memcheck: one log file")
file(READ "${logs}" log)
hs_count(n "${log}" "(Direct|Indirect) leak of")
hs_expect_eq("${n}" 2 "github/memcheck: the log has each leak once, HEAP_CHECK_MAX_LEAKS=1 notwithstanding")
hs_expect_no_match("${log}" "not shown" "github/memcheck: nothing left out of the log")
message(STATUS "report formats: all checks passed")
