/* heapscope for CMocka: per-test leak checking.
 *
 * Zero-change mode: with libheapscope loaded (LD_PRELOAD, or linked before
 * libcmocka) and HEAPCHECK set, every cmocka_run_group_tests() call checks
 * each test on its own: a snapshot before the test's setup, a reachability
 * diff after its teardown; a test that leaked fails through CMocka's own
 * failure path with the symbolized report as its message.
 *
 * This header adds the explicit forms. Include it after <cmocka.h>.
 *
 * Environment (zero-change and explicit mode alike):
 *   HEAPCHECK                  mode for the per-test checks (normal if the
 *                              group runner is the explicit one and HEAPCHECK
 *                              is unset); local = per-test checks only
 *   HEAPSCOPE_CMOCKA_FILTER    run only tests whose name matches this glob
 *                              (* and ?), e.g. for one CTest test per test
 *   HEAPSCOPE_CMOCKA_SKIP      comma-separated globs: tests not leak-checked
 *   HEAPSCOPE_CMOCKA_LIST=1    print "heapscope-cmocka-test: NAME" for each
 *                              test instead of running the group
 *   HEAPSCOPE_CMOCKA=off       no per-test checks (the exit-time check of
 *                              HEAPCHECK still runs)
 *   HEAPSCOPE_TEST_STATS=FILE  each test's status, wall and CPU time,
 *                              allocations, peak and leaked bytes as JSON
 *                              (%p = pid); works without HEAPCHECK too
 *   HEAPSCOPE_TEST_MAX_PEAK=BYTES[K|M|G], HEAPSCOPE_TEST_MAX_CPU=SECONDS
 *                              budgets for every test (see below)
 */
#ifndef HEAPSCOPE_CMOCKA_H
#define HEAPSCOPE_CMOCKA_H

#include <stddef.h>
#include <heapscope/heapscope.h>

#ifdef __cplusplus
extern "C" {
#endif

struct CMUnitTest;
typedef int (*heapscope_cm_fixture_t)(void **state);

/* Like cmocka_run_group_tests, with every test leak-checked. Use it when the
 * runtime is linked statically or libcmocka is linked into the program. */
#define heapscope_cmocka_run_group_tests(group_tests, group_setup, group_teardown) \
  _heapscope_cmocka_run_group_tests(#group_tests, group_tests,                      \
                                    sizeof(group_tests) / sizeof((group_tests)[0]), \
                                    group_setup, group_teardown)
HEAPSCOPE_API int _heapscope_cmocka_run_group_tests(const char *group_name,
                                                    const struct CMUnitTest *tests,
                                                    size_t count,
                                                    heapscope_cm_fixture_t group_setup,
                                                    heapscope_cm_fixture_t group_teardown);

/* Region assertions inside a test (nestable, per thread):
 *   assert_no_leaks_begin();  ...code...  assert_no_leaks_end();
 * fails the test with the report and the file:line of the _end call when
 * the code left unreachable memory behind. assert_leaks_at_most(bytes)
 * closes the region allowing up to `bytes` leaked bytes. */
#define assert_no_leaks_begin() _heapscope_region_begin()
#define assert_no_leaks_end() _heapscope_region_end(0, __FILE__, __LINE__)
#define assert_leaks_at_most(bytes) _heapscope_region_end((bytes), __FILE__, __LINE__)
HEAPSCOPE_API void _heapscope_region_begin(void);
HEAPSCOPE_API void _heapscope_region_end(size_t max_bytes, const char *file, int line);

/* Per-test controls, called from inside a test (or its setup):
 * skip the leak check of the current test (it deliberately keeps memory); */
HEAPSCOPE_API void heapscope_cmocka_skip_leak_check(void);
/* or declare that the current test leaks exactly `objects` objects: it
 * fails if it leaks a different number (at the file:line of this call),
 * and passes (silently) otherwise. */
HEAPSCOPE_API void(heapscope_cmocka_expect_leaks)(size_t objects);
HEAPSCOPE_API void _heapscope_cmocka_expect_leaks_at(size_t objects, const char *file, int line);
#define heapscope_cmocka_expect_leaks(objects) \
  _heapscope_cmocka_expect_leaks_at((objects), __FILE__, __LINE__)

/* Per-test budgets, called from inside a test (or its setup); they replace
 * HEAPSCOPE_TEST_MAX_PEAK / HEAPSCOPE_TEST_MAX_CPU for the current test (0:
 * no budget). After its teardown, a test whose live bytes rose more than
 * `bytes` above where they were before its setup, or that used more than
 * `seconds` of CPU time (the process's, setup and teardown included),
 * fails through CMocka with the figures and, for the peak, the allocation
 * stacks live at the moment of the peak. Needs per-test accounting (the
 * runtime loaded; HEAPSCOPE_TEST_ACCOUNTING not false). */
HEAPSCOPE_API void(heapscope_cmocka_peak_bytes_at_most)(size_t bytes);
HEAPSCOPE_API void _heapscope_cmocka_peak_bytes_at_most_at(size_t bytes, const char *file,
                                                           int line);
#define heapscope_cmocka_peak_bytes_at_most(bytes) \
  _heapscope_cmocka_peak_bytes_at_most_at((bytes), __FILE__, __LINE__)
HEAPSCOPE_API void(heapscope_cmocka_cpu_seconds_at_most)(double seconds);
HEAPSCOPE_API void _heapscope_cmocka_cpu_seconds_at_most_at(double seconds, const char *file,
                                                            int line);
#define heapscope_cmocka_cpu_seconds_at_most(seconds) \
  _heapscope_cmocka_cpu_seconds_at_most_at((seconds), __FILE__, __LINE__)

#ifdef __cplusplus
}
#endif
#endif
