# HeapScope.cmake: run CTest tests under heapscope's leak checker.
#
# Getting it
#   find_package(heapscope CONFIG REQUIRED)   # installed package: included for you
#   include(<heapscope source>/adapters/ctest/HeapScope.cmake)   # in-tree, after
#                                             # the heapscope targets exist
# The runtime preloaded into tests is $<TARGET_FILE:heapscope::heapscope>, or
# the file named by the variable HEAPSCOPE_LIBRARY when that is set.
#
# How a test is checked
#   The test process runs with HEAPCHECK=<mode> and, unless its executable
#   links the runtime itself, LD_PRELOAD=<libheapscope.so> (prepended to any
#   LD_PRELOAD already in the environment, with ENVIRONMENT_MODIFICATION).
#   A process that leaks prints a LeakSanitizer-shaped report on stderr
#   ("Direct leak of N byte(s) in M object(s) allocated from:", then
#   "    #0 0x... in FUNCTION FILE:LINE") and exits 1, so the test FAILS and
#   `ctest --output-on-failure` shows where the memory was allocated.
#   HEAPSCOPE_* variables in ctest's own environment reach the tests, e.g. a
#   CI job can set HEAPSCOPE_REPORT=github for ::error annotations.
#   Under `ctest -T memcheck` with MEMORYCHECK_TYPE=LeakSanitizer (set before
#   include(CTest)), the runtime writes its report to CTest's log file, so
#   each leak is one memcheck defect ("Direct leak - N"), not two; every
#   checked process leaves that log file (empty when clean), so CTest has
#   nothing to warn about. `ctest -S ${HEAPSCOPE_MEMCHECK_SCRIPT}
#   -DCTEST_BINARY_DIRECTORY=<build>` fails when defects were found.
#
# Options and variables
#   HEAPSCOPE_FRAME_POINTERS (option, default ON): targets given to
#       heapscope_add_test (as the COMMAND) and heapscope_discover_cmocka_tests
#       get PRIVATE -fno-omit-frame-pointer -g, for complete, exact stacks with
#       file:line. Set it OFF to leave their flags alone.
#   HEAPSCOPE_TEST_MODE (default "normal"): the mode when MODE is not given.
#   HEAPSCOPE_LIBRARY: preload this file instead of heapscope::heapscope.
#   HEAPSCOPE_MEMCHECK_SCRIPT (set by this module): the memcheck dashboard
#       script installed with it (see above).
#
# Modes: minimal, normal, strict, draconian, as-is, local (gperftools' names;
# see HEAPCHECK). Anything else is a configure-time error.
#
# heapscope_add_test(NAME <name> COMMAND <command> [<arg>...]
#                    [MODE <mode>] [WORKING_DIRECTORY <dir>]
#                    [ENVIRONMENT <var>=<value>...] [CONFIGURATIONS <config>...]
#                    [REPORT text|json|github] [EXIT_CODE <n>]
#                    [PROPERTIES <prop> <value>...] [COMMAND_EXPAND_LISTS]
#                    [NO_PRELOAD])
#   add_test() with the leak checker on. If <command> is an executable target
#   that links heapscope::heapscope, heapscope::cmocka or heapscope::static
#   directly, nothing is preloaded (checked at the end of the directory, so
#   target_link_libraries may come later); NO_PRELOAD says the same for
#   other cases (e.g. a static runtime linked through another library).
#   ENVIRONMENT entries come after heapscope's, so they can override them.
#   REPORT sets HEAPSCOPE_REPORT; EXIT_CODE the status of a leaking process
#   (HEAPSCOPE_EXIT_CODE, default 1). PROPERTIES go to set_tests_properties.
#
# heapscope_enable_tests(<test>... [MODE <mode>] [NO_PRELOAD])
#   Turns the checker on for tests already added in the current directory
#   with add_test() (appends to their ENVIRONMENT / ENVIRONMENT_MODIFICATION).
#   Each test gets the runtime preloaded unless NO_PRELOAD is given; a test
#   whose program links the shared runtime is unaffected by that, but one
#   linking heapscope::static must use NO_PRELOAD.
#
# heapscope_enable_directory_tests([DIRECTORY <dir>] [MODE <mode>] [NO_PRELOAD])
#   heapscope_enable_tests() for every test added so far in <dir> (default:
#   the current directory), except those heapscope already handles. Tests of
#   another, already processed directory can only be changed with CMake 3.28
#   or newer; with older versions call it from that directory's own
#   CMakeLists.txt.
#
# heapscope_discover_cmocka_tests(<target>
#       [MODE <mode>] [PREFIX <prefix>] [SUFFIX <suffix>]
#       [EXTRA_ARGS <arg>...] [WORKING_DIRECTORY <dir>]
#       [ENVIRONMENT <var>=<value>...] [PROPERTIES <prop> <value>...]
#       [CMOCKA_OUTPUT STDOUT|SUBUNIT|TAP|XML] [XML_OUTPUT_DIR <dir>]
#       [DISCOVERY_MODE POST_BUILD|PRE_TEST] [DISCOVERY_TIMEOUT <seconds>]
#       [TEST_LIST <var>] [MAX_PEAK <bytes>] [MAX_CPU <seconds>]
#       [NO_MEASUREMENTS] [NO_PRELOAD])
#   Registers every CMocka test of the executable <target> as its own CTest
#   test named <prefix><test name><suffix>, like gtest_discover_tests. The
#   prefix defaults to "<target>." (CTest names are global, and two suites
#   often share test names); PREFIX "" gives the bare names. Each test
#   runs the whole executable with HEAPSCOPE_CMOCKA_FILTER=<test name> (and
#   CMOCKA_TEST_FILTER, which CMocka 2 honors by itself): heapscope's CMocka
#   adapter then runs just that test, leak-checks it, and fails it through
#   CMocka's failure path, so exactly the leaking tests fail. A CMocka
#   linked statically into <target> works the same (the runtime redirects
#   its entry points at start-up).
#   The names are found after each build (POST_BUILD, the default) or when
#   ctest runs, if the executable changed (PRE_TEST: use it when the program
#   cannot run on the build host at build time). Finding them runs the
#   program with HEAPSCOPE_CMOCKA_LIST=1 (runtime loaded, HEAPCHECK unset):
#   the adapter prints "heapscope-cmocka-test: <name>" lines and runs
#   nothing. If no such line appears (a runtime without the adapter), the
#   names come from the "[ RUN      ] <name>" lines of that same run, which
#   then ran the suite once, and one more run checks that a filtered run
#   runs one test only. DISCOVERY_TIMEOUT (default 30 s) bounds the run;
#   a failed discovery fails the build (POST_BUILD) or becomes a failing
#   test named <target>_NOT_BUILT / <target>_DISCOVERY_FAILED.
#   Where one test cannot be run and checked alone (a stripped executable
#   with a static CMocka, the deprecated run_tests() API, a CMocka that
#   ignores filters without the adapter), discovery prints a warning naming
#   the target and the reason, and registers ONE test, <target> (with
#   PREFIX/SUFFIX when given), that runs the whole executable with the
#   exit-time check: never one test per CMocka test that would each run,
#   and be judged on, the whole executable.
#   CMocka's own skip() reports the test as skipped in CTest (in every
#   output format: the adapter prints "heapscope-cmocka-skipped: <name>"),
#   unless the test leaked before skipping: then it fails.
#   CMOCKA_OUTPUT sets CMOCKA_MESSAGE_OUTPUT. XML_OUTPUT_DIR sets XML output
#   and CMOCKA_XML_FILE=<dir>/<test>.xml per test; a fixture test
#   (<prefix>heapscope_xml_cleanup) deletes stale files first, because CMocka
#   writes XML to stderr when the file already exists. Note that in XML (and
#   TAP/subunit) mode CMocka keeps failure messages, heapscope's leak report
#   included, in that output instead of printing them to stderr.
#   TEST_LIST names a variable set at ctest time to the list of tests
#   (default <target>_TESTS).
#   Per-test resources: each test's CPU and wall time, allocations, peak and
#   leaked bytes are printed as <DartMeasurement> tags (CTest keeps them as
#   the test's measurements in Test.xml, CDash graphs them; NO_MEASUREMENTS
#   turns that off). MAX_PEAK (bytes, K/M/G suffixes) and MAX_CPU (seconds)
#   are budgets for every test of the target: a test whose live bytes rise
#   more than MAX_PEAK above their start, or that uses more than MAX_CPU
#   seconds of CPU, fails with the figures (and the allocation stacks live
#   at the peak). Budgets for some tests: heapscope_cmocka_test_budget().
#
# heapscope_cmocka_test_budget(<target> <test>... [MAX_PEAK <bytes>] [MAX_CPU <seconds>])
#   Budgets for the CMocka tests of <target> named <test> (globs: * and ?),
#   replacing the target's MAX_PEAK / MAX_CPU for them (0: no budget); the
#   last matching call wins. The discovered tests carry them in their
#   environment (HEAPSCOPE_TEST_MAX_PEAK, HEAPSCOPE_TEST_MAX_CPU) and as the
#   test properties HEAPSCOPE_MAX_PEAK and HEAPSCOPE_MAX_CPU. Call it before
#   or after heapscope_discover_cmocka_tests(), in the same directory.
#
# The same file is also the discovery script: `cmake -P HeapScope.cmake`
# with -DHEAPSCOPE_DISCOVER_PARAMS=<file> (what the build and ctest run).

if(CMAKE_VERSION VERSION_LESS 3.22)
  message(FATAL_ERROR "HeapScope.cmake needs CMake 3.22 or newer (ENVIRONMENT_MODIFICATION)")
endif()
# include() and find_package() give this file its own policy scope; the
# functions below keep these settings wherever they are called from.
cmake_policy(VERSION 3.22...3.28)

# ---- discovery (runs at build or ctest time, in script mode) -----------------

# Quote a string as a CMake bracket argument.
function(_heapscope_bracket out value)
  set(eq "=")
  while(value MATCHES "\\]${eq}(\\]|$)")
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${value}]${eq}]" PARENT_SCOPE)
endfunction()

# A glob (* and ?) as an anchored regular expression.
function(_heapscope_glob_regex out glob)
  string(REGEX REPLACE "([][.+^$(){}|\\])" "\\\\\\1" re "${glob}")
  string(REPLACE "*" ".*" re "${re}")
  string(REPLACE "?" "." re "${re}")
  set(${out} "^${re}$" PARENT_SCOPE)
endfunction()

# Sets <peak> and <cpu> to name's budgets from heapscope_cmocka_test_budget()
# (triples glob;peak;cpu in _hs_budgets; the last match wins), "" if none.
function(_heapscope_test_budget peak cpu name)
  set(p "")
  set(c "")
  set(items ${_hs_budgets})
  list(LENGTH items n)
  set(i 0)
  while(i LESS n)
    list(GET items ${i} glob)
    math(EXPR i "${i} + 1")
    list(GET items ${i} bp)
    math(EXPR i "${i} + 1")
    list(GET items ${i} bc)
    math(EXPR i "${i} + 1")
    _heapscope_glob_regex(re "${glob}")
    if(name MATCHES "${re}")
      if(NOT bp STREQUAL "-")
        set(p "${bp}")
      endif()
      if(NOT bc STREQUAL "-")
        set(c "${bc}")
      endif()
    endif()
  endwhile()
  set(${peak} "${p}" PARENT_SCOPE)
  set(${cpu} "${c}" PARENT_SCOPE)
endfunction()

# Reads the parameters file written at configure time and writes the ctest
# file that adds one test per CMocka test.
# Appends to content_var one discovered test's add_test() and
# set_tests_properties(): the executable with the extra arguments, the
# environment env (plus CMocka's XML file when asked, also appended to
# xml_files_var), the preload, the working directory, the properties in
# extra, the XML fixture and the user's properties. Reads the discovery's
# _hs_* settings, wd and fixture from the caller.
function(_heapscope_emit_test content_var xml_files_var test env extra)
  set(content "${${content_var}}")
  set(xml_files ${${xml_files_var}})
  _heapscope_bracket(qt "${test}")
  _heapscope_bracket(qexe "${_hs_exe}")
  set(args)
  foreach(a IN LISTS _hs_extra_args)
    _heapscope_bracket(qa "${a}")
    string(APPEND args " ${qa}")
  endforeach()
  string(APPEND content "add_test(${qt} ${qexe}${args})\n")
  if(_hs_xml_dir)
    string(MAKE_C_IDENTIFIER "${test}" file)
    set(xml "${_hs_xml_dir}/${file}.xml")
    list(APPEND xml_files "${xml}")
    list(APPEND env "CMOCKA_XML_FILE=${xml}")
  endif()
  list(APPEND env ${_hs_env_tail})
  _heapscope_bracket(qenv "${env}")
  _heapscope_bracket(qwd "${wd}")
  string(APPEND content "set_tests_properties(${qt} PROPERTIES ENVIRONMENT ${qenv} WORKING_DIRECTORY ${qwd}")
  if(_hs_preload)
    _heapscope_bracket(qmod "LD_PRELOAD=path_list_prepend:${_hs_preload}")
    string(APPEND content " ENVIRONMENT_MODIFICATION ${qmod}")
  endif()
  string(APPEND content "${extra}")
  if(fixture)
    string(APPEND content " FIXTURES_REQUIRED ${fixture}")
  endif()
  foreach(p IN LISTS _hs_properties)
    _heapscope_bracket(qp "${p}")
    string(APPEND content " ${qp}")
  endforeach()
  string(APPEND content ")\n")
  set(${content_var} "${content}" PARENT_SCOPE)
  set(${xml_files_var} ${xml_files} PARENT_SCOPE)
endfunction()

function(_heapscope_cmocka_discover params)
  include("${params}")  # sets _hs_* variables
  set(env "HEAPSCOPE_CMOCKA_LIST=1" "CMOCKA_MESSAGE_OUTPUT=STDOUT")
  if(_hs_preload)
    list(APPEND env "LD_PRELOAD=${_hs_preload}")
  endif()
  set(wd "${_hs_workdir}")
  if(NOT wd)
    get_filename_component(wd "${_hs_exe}" DIRECTORY)
  endif()
  # HEAPCHECK unset: listing needs no checking; without the adapter the
  # fallback run below is then a plain, unchecked run of the suite.
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -E env --unset=HEAPCHECK --unset=HEAPPROFILE
            --unset=HEAPSCOPE_CMOCKA_FILTER --unset=CMOCKA_TEST_FILTER --unset=CMOCKA_XML_FILE
            ${env} "${_hs_exe}" ${_hs_extra_args}
    WORKING_DIRECTORY "${wd}"
    TIMEOUT ${_hs_timeout}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  string(REPLACE "\r" "" out "${out}")
  # One name per line; split lines by hand (names may hold ';').
  string(REPLACE ";" "\\;" out "${out}")
  string(REPLACE "\n" ";" lines "${out}")
  set(names)
  set(unsupported "")
  set(how "HEAPSCOPE_CMOCKA_LIST")
  foreach(line IN LISTS lines)
    if(line MATCHES "^heapscope-cmocka-test: (.+)$")
      list(APPEND names "${CMAKE_MATCH_1}")
    elseif(line MATCHES "^heapscope-cmocka-unsupported: (.+)$")
      set(unsupported "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  if(NOT names AND NOT unsupported)
    set(how "fallback: [ RUN ] lines of a normal run (HEAPSCOPE_CMOCKA_LIST not honored: runtime not loaded, or built without the CMocka adapter)")
    foreach(line IN LISTS lines)
      if(line MATCHES "^\\[ RUN      \\] (.+)$")
        list(APPEND names "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    if(names)
      # One test per CMocka test is right only if a filtered run runs that
      # test alone (CMocka 2 honours CMOCKA_TEST_FILTER by itself; 1.1 does
      # not): try it with the first name.
      list(GET names 0 first)
      execute_process(
        COMMAND "${CMAKE_COMMAND}" -E env --unset=HEAPCHECK --unset=HEAPPROFILE
                --unset=HEAPSCOPE_CMOCKA_LIST --unset=CMOCKA_XML_FILE
                "HEAPSCOPE_CMOCKA_FILTER=${first}" "CMOCKA_TEST_FILTER=${first}"
                "CMOCKA_MESSAGE_OUTPUT=STDOUT" ${env} "${_hs_exe}" ${_hs_extra_args}
        WORKING_DIRECTORY "${wd}"
        TIMEOUT ${_hs_timeout}
        OUTPUT_VARIABLE probe ERROR_VARIABLE probe_err RESULT_VARIABLE probe_rc)
      string(REGEX MATCHALL "\\[ RUN      \\] [^\n]*" ran "${probe}")
      list(LENGTH ran nran)
      if(NOT nran EQUAL 1)
        set(unsupported "a run filtered to '${first}' ran ${nran} tests: the test filter is not honoured (heapscope's runtime was not loaded to list the tests, NO_PRELOAD?, and this CMocka ignores CMOCKA_TEST_FILTER)")
      endif()
    endif()
  endif()
  if(names)
    list(REMOVE_DUPLICATES names)
  endif()

  set(content "# Generated by heapscope_discover_cmocka_tests() from ${_hs_exe}\n")
  string(APPEND content "# names from: ${how}\n")
  if(NOT names AND NOT unsupported)
    string(REPLACE "\n" "\n    " o "${out}${err}")
    set(msg "heapscope_discover_cmocka_tests: found no CMocka tests in ${_hs_exe} (exit status ${rc}); its output:\n    ${o}")
    if(_hs_fail_on_error)
      message(FATAL_ERROR "${msg}")
    endif()
    _heapscope_bracket(n "${_hs_target}_DISCOVERY_FAILED")
    _heapscope_bracket(m "${msg}")
    # A test that prints why and fails (its output never matches).
    string(APPEND content "add_test(${n} \"${CMAKE_COMMAND}\" -E echo ${m})\n"
      "set_tests_properties(${n} PROPERTIES PASS_REGULAR_EXPRESSION [=[^heapscope-discovery-ok$]=])\n")
    file(WRITE "${_hs_out}" "${content}")
    return()
  endif()

  set(common_env ${_hs_env_head})
  set(fixture)
  set(xml_files)
  if(_hs_xml_dir)
    string(MAKE_C_IDENTIFIER "heapscope_xml_${_hs_out}" fixture)
  endif()
  set(listed)
  set(per_test "${names}")
  if(unsupported)
    # Per-test checks cannot work in this executable: one test for all of
    # it, never one per CMocka test that would each run (and judge) the
    # whole executable.
    set(per_test)
    set(test "${_hs_whole_name}")
    list(APPEND listed "${test}")
    message(WARNING "heapscope_discover_cmocka_tests(${_hs_target}): ${unsupported}. "
      "Registered one CTest test, '${test}', that runs the whole executable: its leak verdict "
      "covers all of its CMocka tests.")
    string(APPEND content "# per-test checks unavailable: ${unsupported}\n")
    _heapscope_emit_test(content xml_files "${test}" "${common_env}" "")
  endif()
  foreach(name IN LISTS per_test)
    set(test "${_hs_prefix}${name}${_hs_suffix}")
    list(APPEND listed "${test}")
    set(tenv "HEAPSCOPE_CMOCKA_FILTER=${name}" "CMOCKA_TEST_FILTER=${name}" ${common_env})
    _heapscope_test_budget(bpeak bcpu "${name}")
    set(budget_props "")
    if(NOT bpeak STREQUAL "")
      list(APPEND tenv "HEAPSCOPE_TEST_MAX_PEAK=${bpeak}")
      string(APPEND budget_props " HEAPSCOPE_MAX_PEAK [==[${bpeak}]==]")
    elseif(_hs_max_peak)
      string(APPEND budget_props " HEAPSCOPE_MAX_PEAK [==[${_hs_max_peak}]==]")
    endif()
    if(NOT bcpu STREQUAL "")
      list(APPEND tenv "HEAPSCOPE_TEST_MAX_CPU=${bcpu}")
      string(APPEND budget_props " HEAPSCOPE_MAX_CPU [==[${bcpu}]==]")
    elseif(_hs_max_cpu)
      string(APPEND budget_props " HEAPSCOPE_MAX_CPU [==[${_hs_max_cpu}]==]")
    endif()
    _heapscope_emit_test(content xml_files "${test}" "${tenv}"
      " SKIP_REGULAR_EXPRESSION [==[\\[  SKIPPED \\]|heapscope-cmocka-skipped: ]==]${budget_props}")
  endforeach()
  if(fixture)
    # CMocka will not overwrite an XML file it did not create: delete them
    # before the tests (a fixture, so also for `ctest -R one_test`).
    _heapscope_bracket(qc "${_hs_prefix}heapscope_xml_cleanup")
    _heapscope_bracket(qd "${_hs_prefix}heapscope_xml_mkdir")
    set(rm)
    foreach(x IN LISTS xml_files)
      _heapscope_bracket(qx "${x}")
      string(APPEND rm " ${qx}")
    endforeach()
    _heapscope_bracket(qdir "${_hs_xml_dir}")
    string(APPEND content
      "add_test(${qd} \"${CMAKE_COMMAND}\" -E make_directory ${qdir})\n"
      "add_test(${qc} \"${CMAKE_COMMAND}\" -E rm -f${rm})\n"
      "set_tests_properties(${qd} ${qc} PROPERTIES FIXTURES_SETUP ${fixture})\n")
  endif()
  _heapscope_bracket(ql "${listed}")
  string(APPEND content "set(${_hs_test_list} ${ql})\n")
  file(WRITE "${_hs_out}" "${content}")
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(NOT HEAPSCOPE_DISCOVER_PARAMS)
    message(FATAL_ERROR "usage: cmake -DHEAPSCOPE_DISCOVER_PARAMS=<file> -P HeapScope.cmake")
  endif()
  _heapscope_cmocka_discover("${HEAPSCOPE_DISCOVER_PARAMS}")
  return()
endif()

# ---- configure-time API --------------------------------------------------------

# The dashboard script that fails a `ctest -S` run on memcheck defects
# (installed next to this file); set on every include.
set(HEAPSCOPE_MEMCHECK_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/heapscope_memcheck.cmake")

include_guard(GLOBAL)
# Functions are global but variables are not, and a second include (say,
# find_package from another directory) stops at the guard: keep state in
# global properties or inside the functions.
set_property(GLOBAL PROPERTY _HEAPSCOPE_MODULE_FILE "${CMAKE_CURRENT_LIST_FILE}")

option(HEAPSCOPE_FRAME_POINTERS
  "Compile targets given to heapscope_add_test/heapscope_discover_cmocka_tests with -fno-omit-frame-pointer -g"
  ON)
set(HEAPSCOPE_TEST_MODE "normal" CACHE STRING "Default heapscope leak-check mode for tests")
set_property(CACHE HEAPSCOPE_TEST_MODE PROPERTY STRINGS
  minimal normal strict draconian as-is local)

function(_heapscope_mode out mode)
  set(modes minimal normal strict draconian as-is local)
  if(NOT mode)
    set(mode "${HEAPSCOPE_TEST_MODE}")
  endif()
  if(NOT mode IN_LIST modes)
    message(FATAL_ERROR "heapscope: invalid mode '${mode}' (valid modes: minimal, normal, "
      "strict, draconian, as-is, local)")
  endif()
  set(${out} "${mode}" PARENT_SCOPE)
endfunction()

# The runtime to preload, as a path or generator expression.
function(_heapscope_runtime out)
  if(HEAPSCOPE_LIBRARY)
    set(${out} "${HEAPSCOPE_LIBRARY}" PARENT_SCOPE)
  elseif(TARGET heapscope::heapscope)
    set(${out} "$<TARGET_FILE:heapscope::heapscope>" PARENT_SCOPE)
  else()
    message(FATAL_ERROR "heapscope: no runtime to preload: find_package(heapscope) first, "
      "or set HEAPSCOPE_LIBRARY to libheapscope.so")
  endif()
endfunction()

# The real (non-alias) target behind name, or "" if it is no buildable target.
function(_heapscope_real_target out name)
  set(${out} "" PARENT_SCOPE)
  if(NOT TARGET "${name}")
    return()
  endif()
  get_target_property(aliased "${name}" ALIASED_TARGET)
  if(aliased)
    set(name "${aliased}")
  endif()
  get_target_property(imported "${name}" IMPORTED)
  if(NOT imported)
    set(${out} "${name}" PARENT_SCOPE)
  endif()
endfunction()

function(_heapscope_frame_pointers target)
  _heapscope_real_target(t "${target}")
  if(NOT t OR NOT HEAPSCOPE_FRAME_POINTERS)
    return()
  endif()
  get_target_property(done "${t}" _HEAPSCOPE_FP)
  if(done)
    return()
  endif()
  set_property(TARGET "${t}" PROPERTY _HEAPSCOPE_FP TRUE)
  target_compile_options("${t}" PRIVATE
    "$<$<COMPILE_LANGUAGE:C,CXX>:-fno-omit-frame-pointer>" "$<$<COMPILE_LANGUAGE:C,CXX>:-g>")
endfunction()

# True if target lists the runtime among its direct link libraries.
function(_heapscope_links_runtime out target)
  set(${out} FALSE PARENT_SCOPE)
  _heapscope_real_target(t "${target}")
  if(NOT t)
    return()
  endif()
  get_target_property(libs "${t}" LINK_LIBRARIES)
  # Link items meaning "the runtime is in the executable already".
  set(names heapscope::heapscope heapscope::cmocka heapscope::static
    heapscope heapscope_cmocka heapscope_static)
  if(NOT libs)
    return()
  endif()
  foreach(lib IN LISTS libs)
    foreach(name IN LISTS names)
      if(lib STREQUAL name OR lib MATCHES "^\\$<.*[:,>]${name}>$")
        set(${out} TRUE PARENT_SCOPE)
        return()
      endif()
    endforeach()
  endforeach()
endfunction()

# Deferred to the end of the directory, when the target's link libraries
# are known: preload the runtime unless the executable links it.
function(_heapscope_finish_test test target)
  _heapscope_links_runtime(linked "${target}")
  if(NOT linked)
    _heapscope_runtime(lib)
    set_property(TEST "${test}" APPEND PROPERTY ENVIRONMENT_MODIFICATION
      "LD_PRELOAD=path_list_prepend:${lib}")
  endif()
endfunction()

function(heapscope_add_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "NO_PRELOAD;COMMAND_EXPAND_LISTS"
    "NAME;MODE;WORKING_DIRECTORY;REPORT;EXIT_CODE" "COMMAND;ENVIRONMENT;CONFIGURATIONS;PROPERTIES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "heapscope_add_test: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAME OR NOT arg_COMMAND)
    message(FATAL_ERROR "heapscope_add_test: NAME and COMMAND are required")
  endif()
  _heapscope_mode(mode "${arg_MODE}")
  if(arg_REPORT AND NOT arg_REPORT MATCHES "^(text|json|github)$")
    message(FATAL_ERROR "heapscope_add_test: REPORT must be text, json or github, not '${arg_REPORT}'")
  endif()
  set(opts)
  if(arg_WORKING_DIRECTORY)
    list(APPEND opts WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}")
  endif()
  if(arg_CONFIGURATIONS)
    list(APPEND opts CONFIGURATIONS ${arg_CONFIGURATIONS})
  endif()
  if(arg_COMMAND_EXPAND_LISTS)
    list(APPEND opts COMMAND_EXPAND_LISTS)
  endif()
  add_test(NAME "${arg_NAME}" COMMAND ${arg_COMMAND} ${opts})

  set(env "HEAPCHECK=${mode}")
  if(arg_REPORT)
    list(APPEND env "HEAPSCOPE_REPORT=${arg_REPORT}")
  endif()
  if(NOT "${arg_EXIT_CODE}" STREQUAL "")
    list(APPEND env "HEAPSCOPE_EXIT_CODE=${arg_EXIT_CODE}")
  endif()
  set_property(TEST "${arg_NAME}" PROPERTY ENVIRONMENT ${env} ${arg_ENVIRONMENT})
  set_property(TEST "${arg_NAME}" PROPERTY HEAPSCOPE_MODE "${mode}")
  if(arg_PROPERTIES)
    set_tests_properties("${arg_NAME}" PROPERTIES ${arg_PROPERTIES})
  endif()

  list(GET arg_COMMAND 0 cmd)
  _heapscope_frame_pointers("${cmd}")
  if(NOT arg_NO_PRELOAD)
    if(TARGET "${cmd}")
      _heapscope_bracket(qn "${arg_NAME}")
      _heapscope_bracket(qc "${cmd}")
      cmake_language(EVAL CODE "cmake_language(DEFER CALL _heapscope_finish_test ${qn} ${qc})")
    else()
      _heapscope_finish_test("${arg_NAME}" "")
    endif()
  endif()
endfunction()

# Appends heapscope's environment to tests of dir ("" = current).
function(_heapscope_enable dir mode no_preload)
  _heapscope_mode(mode "${mode}")
  set(where)
  if(dir)
    get_filename_component(dir "${dir}" ABSOLUTE)
    if(NOT dir STREQUAL CMAKE_CURRENT_SOURCE_DIR AND NOT dir STREQUAL CMAKE_CURRENT_BINARY_DIR)
      if(CMAKE_VERSION VERSION_LESS 3.28)
        message(FATAL_ERROR "heapscope: changing tests of another directory (${dir}) needs "
          "CMake 3.28; call heapscope_enable_directory_tests() in that directory instead")
      endif()
      set(where DIRECTORY "${dir}")
    endif()
  endif()
  if(NOT no_preload)
    _heapscope_runtime(lib)
  endif()
  foreach(test IN LISTS ARGN)
    get_property(handled TEST "${test}" ${where} PROPERTY HEAPSCOPE_MODE SET)
    if(handled)
      continue()
    endif()
    set_property(TEST "${test}" ${where} APPEND PROPERTY ENVIRONMENT "HEAPCHECK=${mode}")
    set_property(TEST "${test}" ${where} PROPERTY HEAPSCOPE_MODE "${mode}")
    if(NOT no_preload)
      set_property(TEST "${test}" ${where} APPEND PROPERTY ENVIRONMENT_MODIFICATION
        "LD_PRELOAD=path_list_prepend:${lib}")
    endif()
  endforeach()
endfunction()

function(heapscope_enable_tests)
  cmake_parse_arguments(PARSE_ARGV 0 arg "NO_PRELOAD" "MODE;DIRECTORY" "")
  _heapscope_enable("${arg_DIRECTORY}" "${arg_MODE}" "${arg_NO_PRELOAD}" ${arg_UNPARSED_ARGUMENTS})
endfunction()

function(heapscope_enable_directory_tests)
  cmake_parse_arguments(PARSE_ARGV 0 arg "NO_PRELOAD" "MODE;DIRECTORY" "")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "heapscope_enable_directory_tests: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  set(dir "${arg_DIRECTORY}")
  if(NOT dir)
    set(dir "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()
  get_property(tests DIRECTORY "${dir}" PROPERTY TESTS)
  _heapscope_enable("${dir}" "${arg_MODE}" "${arg_NO_PRELOAD}" ${tests})
endfunction()

# Deferred part of heapscope_discover_cmocka_tests: writes the parameters
# file once the target's link libraries are final.
function(_heapscope_write_discover_params target params)
  cmake_parse_arguments(PARSE_ARGV 2 arg "NO_PRELOAD;FAIL;NO_MEASUREMENTS"
    "MODE;PREFIX;SUFFIX;WORKING_DIRECTORY;TIMEOUT;OUT;TEST_LIST;XML_DIR;OUTPUT;WHOLE_NAME;MAX_PEAK;MAX_CPU"
    "EXTRA_ARGS;ENVIRONMENT;PROPERTIES")
  set(preload "")
  _heapscope_links_runtime(linked "${target}")
  if(NOT linked AND NOT arg_NO_PRELOAD)
    _heapscope_runtime(preload)
  endif()
  set(head "HEAPCHECK=${arg_MODE}")
  if(arg_XML_DIR)
    list(APPEND head "CMOCKA_MESSAGE_OUTPUT=XML")
  elseif(arg_OUTPUT)
    list(APPEND head "CMOCKA_MESSAGE_OUTPUT=${arg_OUTPUT}")
  endif()
  if(NOT arg_NO_MEASUREMENTS)
    list(APPEND head "HEAPSCOPE_TEST_MEASUREMENTS=1")
  endif()
  if(NOT "${arg_MAX_PEAK}" STREQUAL "")
    list(APPEND head "HEAPSCOPE_TEST_MAX_PEAK=${arg_MAX_PEAK}")
  endif()
  if(NOT "${arg_MAX_CPU}" STREQUAL "")
    list(APPEND head "HEAPSCOPE_TEST_MAX_CPU=${arg_MAX_CPU}")
  endif()
  # Budgets of heapscope_cmocka_test_budget(): final now (deferred call).
  get_target_property(budgets "${target}" _HEAPSCOPE_TEST_BUDGETS)
  if(NOT budgets)
    set(budgets "")
  endif()
  set(c "")
  foreach(pair
      "_hs_target;${target}" "_hs_exe;$<TARGET_FILE:${target}>" "_hs_preload;${preload}"
      "_hs_prefix;${arg_PREFIX}" "_hs_suffix;${arg_SUFFIX}" "_hs_workdir;${arg_WORKING_DIRECTORY}"
      "_hs_timeout;${arg_TIMEOUT}" "_hs_out;${arg_OUT}" "_hs_test_list;${arg_TEST_LIST}"
      "_hs_xml_dir;${arg_XML_DIR}" "_hs_fail_on_error;${arg_FAIL}"
      "_hs_whole_name;${arg_WHOLE_NAME}" "_hs_max_peak;${arg_MAX_PEAK}" "_hs_max_cpu;${arg_MAX_CPU}")
    list(POP_FRONT pair var)
    _heapscope_bracket(q "${pair}")
    string(APPEND c "set(${var} ${q})\n")
  endforeach()
  foreach(pair "_hs_extra_args;arg_EXTRA_ARGS" "_hs_env_head;head" "_hs_env_tail;arg_ENVIRONMENT"
      "_hs_properties;arg_PROPERTIES" "_hs_budgets;budgets")
    list(GET pair 0 var)
    list(GET pair 1 src)
    set(items "")
    foreach(item IN LISTS ${src})
      string(REPLACE ";" "\\;" item "${item}")
      _heapscope_bracket(q "${item}")
      string(APPEND items " ${q}")
    endforeach()
    string(APPEND c "set(${var}${items})\n")
  endforeach()
  file(GENERATE OUTPUT "${params}" CONTENT "${c}")
endfunction()

function(heapscope_discover_cmocka_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "NO_PRELOAD;NO_MEASUREMENTS"
    "MODE;PREFIX;SUFFIX;WORKING_DIRECTORY;CMOCKA_OUTPUT;XML_OUTPUT_DIR;DISCOVERY_MODE;DISCOVERY_TIMEOUT;TEST_LIST;MAX_PEAK;MAX_CPU"
    "EXTRA_ARGS;ENVIRONMENT;PROPERTIES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "heapscope_discover_cmocka_tests: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET "${target}")
    message(FATAL_ERROR "heapscope_discover_cmocka_tests: '${target}' is not a target")
  endif()
  get_target_property(type "${target}" TYPE)
  if(NOT type STREQUAL "EXECUTABLE")
    message(FATAL_ERROR "heapscope_discover_cmocka_tests: '${target}' is not an executable")
  endif()
  _heapscope_mode(mode "${arg_MODE}")
  if(NOT arg_DISCOVERY_MODE)
    set(arg_DISCOVERY_MODE POST_BUILD)
  endif()
  if(NOT arg_DISCOVERY_MODE MATCHES "^(POST_BUILD|PRE_TEST)$")
    message(FATAL_ERROR "heapscope_discover_cmocka_tests: DISCOVERY_MODE must be POST_BUILD or PRE_TEST")
  endif()
  if(arg_CMOCKA_OUTPUT AND NOT arg_CMOCKA_OUTPUT MATCHES "^(STDOUT|SUBUNIT|TAP|XML)$")
    message(FATAL_ERROR "heapscope_discover_cmocka_tests: CMOCKA_OUTPUT must be STDOUT, SUBUNIT, TAP or XML")
  endif()
  if(NOT arg_DISCOVERY_TIMEOUT)
    set(arg_DISCOVERY_TIMEOUT 30)
  endif()
  _heapscope_check_budget(heapscope_discover_cmocka_tests "${arg_MAX_PEAK}" "${arg_MAX_CPU}")
  if(NOT arg_TEST_LIST)
    set(arg_TEST_LIST "${target}_TESTS")
  endif()
  # Test names are global in CTest (ctest -R, JUnit): without a PREFIX,
  # equal CMocka test names in two executables would collide. PREFIX ""
  # opts out.
  list(FIND ARGV PREFIX prefix_given)
  set(whole_name "${target}${arg_SUFFIX}")
  if(prefix_given EQUAL -1)
    set(arg_PREFIX "${target}.")
  elseif(arg_PREFIX)
    set(whole_name "${arg_PREFIX}${target}${arg_SUFFIX}")
  endif()
  if(arg_XML_OUTPUT_DIR)
    get_filename_component(arg_XML_OUTPUT_DIR "${arg_XML_OUTPUT_DIR}" ABSOLUTE
      BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  _heapscope_frame_pointers("${target}")
  # In-tree, the runtime is built here too: have it ready for the discovery
  # run that follows the target's link step.
  if(NOT HEAPSCOPE_LIBRARY)
    _heapscope_real_target(runtime heapscope::heapscope)
    if(runtime)
      add_dependencies("${target}" "${runtime}")
    endif()
  endif()

  get_property(multi GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  # Files per call: a target may be discovered more than once (say, with
  # two modes or prefixes).
  get_target_property(calls "${target}" _HEAPSCOPE_DISCOVER_CALLS)
  if(NOT calls)
    set(calls 0)
  endif()
  math(EXPR calls "${calls} + 1")
  set_property(TARGET "${target}" PROPERTY _HEAPSCOPE_DISCOVER_CALLS ${calls})
  set(base "${CMAKE_CURRENT_BINARY_DIR}/${target}_heapscope")
  if(calls GREATER 1)
    string(APPEND base "${calls}")
  endif()
  if(multi)
    set(tests_file "${base}_tests-$<CONFIG>.cmake")
    set(params "${base}_params-$<CONFIG>.cmake")
  else()
    set(tests_file "${base}_tests.cmake")
    set(params "${base}_params.cmake")
  endif()
  set(fail "")
  if(arg_DISCOVERY_MODE STREQUAL "POST_BUILD")
    set(fail FAIL)
  endif()
  set(forward MODE "${mode}" PREFIX "${arg_PREFIX}" SUFFIX "${arg_SUFFIX}"
    WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}" TIMEOUT "${arg_DISCOVERY_TIMEOUT}"
    OUT "${tests_file}" TEST_LIST "${arg_TEST_LIST}" XML_DIR "${arg_XML_OUTPUT_DIR}"
    OUTPUT "${arg_CMOCKA_OUTPUT}" WHOLE_NAME "${whole_name}" ${fail})
  if(arg_NO_PRELOAD)
    list(APPEND forward NO_PRELOAD)
  endif()
  if(arg_NO_MEASUREMENTS)
    list(APPEND forward NO_MEASUREMENTS)
  endif()
  if(NOT "${arg_MAX_PEAK}" STREQUAL "")
    list(APPEND forward MAX_PEAK "${arg_MAX_PEAK}")
  endif()
  if(NOT "${arg_MAX_CPU}" STREQUAL "")
    list(APPEND forward MAX_CPU "${arg_MAX_CPU}")
  endif()
  foreach(kw EXTRA_ARGS ENVIRONMENT PROPERTIES)
    if(arg_${kw})
      list(APPEND forward ${kw})
      foreach(item IN LISTS arg_${kw})
        list(APPEND forward "${item}")
      endforeach()
    endif()
  endforeach()
  # Quote every argument for the deferred call.
  set(call "")
  foreach(a "${target}" "${params}" ${forward})
    _heapscope_bracket(q "${a}")
    string(APPEND call " ${q}")
  endforeach()
  cmake_language(EVAL CODE "cmake_language(DEFER CALL _heapscope_write_discover_params${call})")

  get_property(script GLOBAL PROPERTY _HEAPSCOPE_MODULE_FILE)
  set(ctest_include "${base}_include.cmake")
  if(multi)
    set(pick "${base}_tests-\${CTEST_CONFIGURATION_TYPE}.cmake")
    set(pick_params "${base}_params-\${CTEST_CONFIGURATION_TYPE}.cmake")
  else()
    set(pick "${base}_tests.cmake")
    set(pick_params "${base}_params.cmake")
  endif()
  if(arg_DISCOVERY_MODE STREQUAL "POST_BUILD")
    add_custom_command(TARGET "${target}" POST_BUILD
      BYPRODUCTS "${tests_file}"
      COMMAND "${CMAKE_COMMAND}" "-DHEAPSCOPE_DISCOVER_PARAMS=${params}" -P "${script}"
      VERBATIM)
    file(WRITE "${ctest_include}"
      "if(EXISTS \"${pick}\")\n"
      "  include(\"${pick}\")\n"
      "else()\n"
      "  add_test([=[${target}_NOT_BUILT]=] [=[${target}_NOT_BUILT]=])\n"
      "endif()\n")
  else()
    # PRE_TEST: rediscover when the executable is newer than the list.
    file(WRITE "${ctest_include}"
      "include(\"${pick_params}\")\n"
      "if(NOT EXISTS \"\${_hs_exe}\")\n"
      "  add_test([=[${target}_NOT_BUILT]=] [=[${target}_NOT_BUILT]=])\n"
      "else()\n"
      "  if(NOT EXISTS \"${pick}\" OR \"\${_hs_exe}\" IS_NEWER_THAN \"${pick}\" OR\n"
      "     \"${pick_params}\" IS_NEWER_THAN \"${pick}\")\n"
      "    execute_process(COMMAND \"${CMAKE_COMMAND}\" \"-DHEAPSCOPE_DISCOVER_PARAMS=${pick_params}\"\n"
      "      -P \"${script}\" RESULT_VARIABLE _hs_rc)\n"
      "  endif()\n"
      "  include(\"${pick}\")\n"
      "endif()\n")
  endif()
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${ctest_include}")
endfunction()

# Budget values as the runtime reads them (HEAPSCOPE_TEST_MAX_PEAK: bytes with
# an optional K/M/G suffix; HEAPSCOPE_TEST_MAX_CPU: seconds): a typo is a
# configure-time error here, not a budget silently off at run time.
function(_heapscope_check_budget who peak cpu)
  if(NOT "${peak}" STREQUAL "" AND NOT peak MATCHES "^[0-9]+[KMGkmg]?$")
    message(FATAL_ERROR "${who}: MAX_PEAK must be bytes with an optional K, M or G suffix, not '${peak}'")
  endif()
  if(NOT "${cpu}" STREQUAL "" AND NOT cpu MATCHES "^[0-9]+(\\.[0-9]+)?$")
    message(FATAL_ERROR "${who}: MAX_CPU must be seconds (e.g. 0.5), not '${cpu}'")
  endif()
endfunction()

function(heapscope_cmocka_test_budget target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "MAX_PEAK;MAX_CPU" "")
  if(NOT TARGET "${target}")
    message(FATAL_ERROR "heapscope_cmocka_test_budget: '${target}' is not a target")
  endif()
  if(NOT arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "heapscope_cmocka_test_budget: no test named")
  endif()
  if("${arg_MAX_PEAK}" STREQUAL "" AND "${arg_MAX_CPU}" STREQUAL "")
    message(FATAL_ERROR "heapscope_cmocka_test_budget: give MAX_PEAK or MAX_CPU")
  endif()
  _heapscope_check_budget(heapscope_cmocka_test_budget "${arg_MAX_PEAK}" "${arg_MAX_CPU}")
  set(peak "${arg_MAX_PEAK}")
  set(cpu "${arg_MAX_CPU}")
  if(peak STREQUAL "")
    set(peak "-")
  endif()
  if(cpu STREQUAL "")
    set(cpu "-")
  endif()
  foreach(test IN LISTS arg_UNPARSED_ARGUMENTS)
    set_property(TARGET "${target}" APPEND PROPERTY _HEAPSCOPE_TEST_BUDGETS "${test}" "${peak}" "${cpu}")
  endforeach()
endfunction()
