/* Per-test resource accounting for the CMocka adapter (test_stats.c):
 * each test's status, wall and CPU time, allocations, peak and leaked
 * bytes; its budgets; and where the figures go (HEAPSCOPE_TEST_STATS,
 * CMocka's XML file, CTest measurements).
 *
 * The adapter calls, on CMocka's thread, for each test:
 *   ts_begin        before the test's setup (clocks and accounting start)
 *   ts_measure      after its teardown, before the leak check (they stop)
 *   ts_set_leaks / ts_set_status as verdicts come in
 *   ts_over_budget  to fail it with the budget report
 * and the test is committed when the next one begins or its group ends
 * (its status can still change until then: a teardown fixture failing
 * after our check makes CMocka call it an error). */
#ifndef HEAPSCOPE_ADAPTERS_CMOCKA_TEST_STATS_H
#define HEAPSCOPE_ADAPTERS_CMOCKA_TEST_STATS_H

#include "core/record/record.h"

typedef enum ts_status {
  TS_PASSED,
  TS_SKIPPED,
  TS_FAILED,
  TS_ERROR,      /* CMocka's ERROR: a failing setup or teardown */
  TS_INCOMPLETE, /* the process ended during the test */
} ts_status_t;

/* Any per-test figure or budget asked for (stats file, budgets, CTest
 * measurements): the adapter then wraps the suite's tests even without
 * HEAPCHECK, and allocations are recorded. */
bool ts_wanted(void);
/* Accounting is on (HEAPSCOPE_TEST_ACCOUNTING, default true). */
bool ts_enabled(void);

void ts_group_begin(const char *group);
/* After CMocka ran the group: the last test is committed, CMocka's XML file
 * gets the figures, the stats file is rewritten. */
void ts_group_end(const char *group);

void ts_begin(const char *group, const char *name, uint32_t gen);
void ts_measure(void);
void ts_set_status(ts_status_t status); /* the most severe wins */
void ts_set_leaks(uint64_t bytes, uint64_t objects);

/* Budgets from the test's code (heapscope_cmocka_*_at_most). */
void ts_budget_peak(uint64_t bytes, const char *file, int line, uintptr_t pc);
void ts_budget_cpu(uint64_t ns, const char *file, int line, uintptr_t pc);

/* After ts_measure: true when the test went over a budget. *report gets the
 * message (first line: the figures; then, for the peak, the allocation
 * stacks live at the peak), *fail_text what replaces CMocka's "Failure!",
 * and file/line where to fail (line 0: unknown). Reports once per test. */
typedef struct ts_verdict {
  hs_strbuf_t report;
  char fail_text[320];
  char file[512];
  int line;
} ts_verdict_t;
bool ts_over_budget(const char *name, ts_verdict_t *v);

/* ---- per-test profile files (test_profiles.c) ----
 * HEAPSCOPE_TEST_PROFILE_DIR (and _TOP) valid and the directory usable
 * (read once; a bad value is one heapscope: line and the feature off). */
bool tp_wanted(void);
/* At a group's start: the CPU profiler started when not running, per-test
 * heap counts on. */
void tp_start(void);
/* At a test's end (ts_measure): its files written, or not (TOP). */
void tp_test_end(const char *group, const char *name, uint64_t wall_ns, bool over_budget);

#endif
