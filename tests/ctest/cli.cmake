# The heapscope CLI: error cases (one "heapscope: ..." line, exit status 2)
# and the happy paths of run and profile.
# -D: CLI, LEAKER, SRC, WORK
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(ENV_BASE "${CMAKE_COMMAND}" -E env --unset=LD_PRELOAD --unset=HEAPCHECK
  --unset=HEAPSCOPE_LIBRARY --unset=HEAPSCOPE_REPORT)

# Expects exit status 2 and exactly one line "heapscope: <regex>" on stderr.
function(expect_error what regex)
  hs_run(r COMMAND ${ENV_BASE} "${CLI}" ${ARGN})
  hs_expect_eq("${r_rc}" 2 "${what}: exit status")
  hs_expect_match("${r_err}" "^heapscope: ${regex}\n$" "${what}: one clear error line")
  hs_expect_eq("${r_out}" "" "${what}: stdout")
endfunction()

# Fixtures: a non-ELF file, a non-executable ELF file, a script.
file(WRITE "${WORK}/data.txt" "just text\n")
file(CHMOD "${WORK}/data.txt" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
file(COPY_FILE "${LEAKER}" "${WORK}/noexec")
file(CHMOD "${WORK}/noexec" PERMISSIONS OWNER_READ OWNER_WRITE)
file(WRITE "${WORK}/script.sh" "#!/bin/sh\necho \"script sees HEAPCHECK=$HEAPCHECK\"\n")
file(CHMOD "${WORK}/script.sh" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)

expect_error("missing program" "run: no program given.*" run)
expect_error("missing program after --" "run: no program given.*" run --mode normal --)
expect_error("nonexistent program" "${WORK}/nope: No such file or directory" run -- "${WORK}/nope")
expect_error("not in PATH" "no-such-heapscope-cmd: command not found in PATH" run no-such-heapscope-cmd)
expect_error("not executable" "${WORK}/noexec: not executable.*" run -- "${WORK}/noexec")
expect_error("directory" "${WORK}: is a directory, not a program" run -- "${WORK}")
expect_error("not ELF" "${WORK}/data.txt: not an ELF executable or a #! script" run -- "${WORK}/data.txt")
expect_error("bad mode" "invalid mode 'sloppy' \\(valid modes: minimal, normal, strict, draconian, as-is, local\\)"
  run --mode sloppy -- "${LEAKER}")
expect_error("bad mode, = form" "invalid mode 'NORMAL'.*" run --mode=NORMAL "${LEAKER}")
expect_error("bad report" "invalid report format 'xml'.*" run --report xml -- "${LEAKER}")
expect_error("bad exit code" "--exit-code: invalid value 'abc'.*" run --exit-code abc -- "${LEAKER}")
expect_error("exit code range" "--exit-code: invalid value '256'.*" run --exit-code 256 -- "${LEAKER}")
expect_error("unknown option" "run: unknown option '--frobnicate'.*" run --frobnicate -- "${LEAKER}")
expect_error("option needs value" "--mode needs a value" run --mode)
expect_error("unknown command" "unknown command 'check'.*" check "${LEAKER}")
expect_error("profile without prefix or --cpu"
  "profile: --prefix PREFIX \\(a heap profile\\) or --cpu \\(a CPU profile\\) is required" profile -- "${LEAKER}")
expect_error("run-only option in profile" "profile: unknown option '--mode'.*" profile --mode normal --prefix p -- "${LEAKER}")
expect_error("bad library" "--library /nonexistent/libheapscope.so: no such file"
  run --library /nonexistent/libheapscope.so -- "${LEAKER}")
hs_run(r COMMAND ${ENV_BASE} "${CLI}")
hs_expect_eq("${r_rc}" 2 "no arguments: exit status")
hs_expect_match("${r_err}" "^usage: heapscope run" "no arguments: usage on stderr")

# ---- help and version -----------------------------------------------------------
hs_run(r COMMAND "${CLI}" --help)
hs_expect_eq("${r_rc}" 0 "--help: exit status")
hs_expect_match("${r_out}" "usage: heapscope run.*--mode MODE.*--report FORMAT.*profile" "--help: text")
hs_run(r COMMAND "${CLI}" --version)
hs_expect_eq("${r_rc}" 0 "--version: exit status")
hs_expect_match("${r_out}" "^heapscope [0-9]+\\.[0-9]+\\.[0-9]+\n$" "--version: output")

# ---- run ----------------------------------------------------------------------------
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run -- "${LEAKER}")
hs_expect_eq("${r_rc}" 1 "run: a leak gives exit status 1")
hs_expect_match("${r_err}" "Direct leak of 40 byte\\(s\\) in 1 object\\(s\\) allocated from:\n    #0 0x[0-9a-f]+ in ci_make_record [^\n]*leaker.c:[0-9]+"
  "run: symbolized report")
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run -- "${LEAKER}" clean)
hs_expect_eq("${r_rc}" 0 "run: clean program, arguments passed through")
hs_expect_eq("${r_err}" "" "run: clean program is silent")
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run --exit-code 7 --mode strict "${LEAKER}")
hs_expect_eq("${r_rc}" 7 "run --exit-code 7 (options end at the program)")
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run --log-path "${WORK}/leaks" -- "${LEAKER}")
hs_expect_eq("${r_rc}" 1 "run --log-path: exit status")
file(GLOB logs "${WORK}/leaks.*")
list(LENGTH logs n)
hs_expect_eq("${n}" 1 "run --log-path: one LOG.PID file")
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run --report github -- "${LEAKER}")
hs_expect_match("${r_err}" "::error file=[^\n]*leaker.c,line=[0-9]+,title=heapscope leak::Direct leak of 40"
  "run --report github")
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run --report=json --report-path "${WORK}/r.json" -- "${LEAKER}")
if(NOT EXISTS "${WORK}/r.json")
  hs_fail("run --report=json --report-path: no ${WORK}/r.json")
endif()
# The runtime is prepended to LD_PRELOAD; the environment reaches the program.
hs_run(r COMMAND "${CMAKE_COMMAND}" -E env LD_PRELOAD=libfoo-not-there.so "${CLI}" run -q --mode draconian --
  /bin/sh -c "echo \"$HEAPCHECK|$LD_PRELOAD\"")
hs_expect_match("${r_out}" "^draconian\\|/[^\n]*libheapscope\\.so[^:\n]*:libfoo-not-there\\.so\n" "run: environment (${r_err})")
# Scripts run, with a note that the interpreter is what gets the runtime.
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run "${WORK}/script.sh")
hs_expect_eq("${r_rc}" 0 "run script: exit status")
hs_expect_match("${r_out}" "script sees HEAPCHECK=normal" "run script: output")
hs_expect_match("${r_err}" "^heapscope: note: [^\n]*script.sh is a script: the runtime is preloaded into its interpreter \\(/bin/sh\\)"
  "run script: note")
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run -q "${WORK}/script.sh")
hs_expect_eq("${r_err}" "" "run -q script: no note")
# --no-preload leaves LD_PRELOAD alone.
hs_run(r COMMAND ${ENV_BASE} "${CLI}" run --no-preload -- /bin/sh -c "echo \"[$LD_PRELOAD]\"")
hs_expect_eq("${r_out}" "[]\n" "run --no-preload")

# ---- profile ---------------------------------------------------------------------
hs_run(r COMMAND ${ENV_BASE} "${CLI}" profile --prefix "${WORK}/prof" -- "${LEAKER}" clean)
hs_expect_eq("${r_rc}" 0 "profile: exit status")
if(NOT EXISTS "${WORK}/prof.0001.heap")
  hs_fail("profile: no ${WORK}/prof.0001.heap (${r_err})")
endif()
file(READ "${WORK}/prof.0001.heap" heap LIMIT 200)
hs_expect_match("${heap}" "^heap profile: " "profile: gperftools heap profile")
message(STATUS "cli: all checks passed")
