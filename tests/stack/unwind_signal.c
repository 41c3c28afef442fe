/* The unwinder from a signal handler, as the CPU profiler will use it: a
 * SIGPROF timer interrupts code built without frame pointers (this test is
 * compiled -O2 -fomit-frame-pointer) at arbitrary instructions, and the
 * handler unwinds the interrupted context with hs__unwind_signal.
 *
 * Checks: no fault and no deadlock (the main thread meanwhile allocates
 * with recording on, so the handler interrupts the runtime's own walks,
 * module refreshes and allocator locks); nothing allocated by the handler
 * (the internal and public heaps do not move across the sampling phase);
 * samples taken inside the busy chain are whole: they name spin, then
 * chain_c, chain_b, chain_a in that order and reach main (thread_main on
 * the second thread). Also from a handler on an alternate stack, and on a
 * second thread. */
#include "tests/stack/stack_test.h"

#include "core/symbol/symbolize.h"

#include <gperftools/malloc_extension_c.h>

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>

#define NOINLINE __attribute__((noinline))
#define MAX_SAMPLES 4096

typedef struct sample {
  int depth;
  uintptr_t pcs[HS_MAX_DEPTH];
} sample_t;

static sample_t samples[MAX_SAMPLES];
static volatile int nsamples;
static volatile int busy_phase; /* 1: the busy chain runs, 2: allocations run */
static volatile uint64_t sink;

static void on_prof(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)si;
  int i = nsamples;
  if (i >= MAX_SAMPLES || !busy_phase) return;
  samples[i].depth = hs__unwind_signal(uc, samples[i].pcs, HS_MAX_DEPTH);
  nsamples = i + 1;
}

/* The busy chain: each level is a real frame without a frame pointer. */
NOINLINE static uint64_t spin(uint64_t n) {
  uint64_t x = n;
  for (int i = 0; i < 2000; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}
NOINLINE static uint64_t chain_c(uint64_t n) { uint64_t r = spin(n) + 1; __asm__ volatile("" ::: "memory"); return r; }
NOINLINE static uint64_t chain_b(uint64_t n) { uint64_t r = chain_c(n) ^ 3; __asm__ volatile("" ::: "memory"); return r; }
NOINLINE static uint64_t chain_a(uint64_t n) { uint64_t r = chain_b(n) * 5; __asm__ volatile("" ::: "memory"); return r; }

/* The function at pc (symbolized after sampling, outside the handler):
 * exact for pcs[0] (the interrupted instruction), a return address for the
 * others. */
typedef struct fname {
  const char *name;
} fname_t;
static void take(const hs_symbol_t *sym, void *ctx) {
  fname_t *f = ctx;
  if (!f->name) f->name = sym->function; /* the innermost logical frame */
}
static int is_fn(uintptr_t pc, bool exact, const char *name) {
  fname_t f = {NULL};
  if (exact) hs__symbolize_exact(pc, hs__modules_epoch(), take, &f);
  else hs__symbolize(pc, hs__modules_epoch(), take, &f);
  return f.name && !strcmp(f.name, name);
}

static void start_timer(long usec) {
  struct itimerval it = {{0, usec}, {0, usec}};
  CHECK(setitimer(ITIMER_PROF, &it, NULL) == 0);
}
static void stop_timer(void) {
  struct itimerval it;
  memset(&it, 0, sizeof it);
  setitimer(ITIMER_PROF, &it, NULL);
}

static size_t prop(const char *name) {
  size_t v = 0;
  CHECK(MallocExtension_GetNumericProperty(name, &v));
  return v;
}

/* Samples whose pcs[0] lies in spin must be spin, chain_c, chain_b,
 * chain_a, ..., root. Returns how many samples were in spin. */
static int check_samples(int from, const char *what, const char *root) {
  int in_spin = 0, whole = 0;
  for (int i = from; i < nsamples; i++) {
    const sample_t *s = &samples[i];
    CHECKF(s->depth >= 1 && s->depth <= HS_MAX_DEPTH, "%s: sample %d has depth %d", what, i, s->depth);
    if (!is_fn(s->pcs[0], true, "spin")) continue;
    in_spin++;
    int ok = s->depth >= 5 && is_fn(s->pcs[1], false, "chain_c") && is_fn(s->pcs[2], false, "chain_b") &&
             is_fn(s->pcs[3], false, "chain_a");
    int reaches_main = 0;
    for (int k = 4; k < s->depth; k++) reaches_main |= is_fn(s->pcs[k], false, root);
    if (ok && reaches_main) whole++;
    else if (in_spin - whole <= 3) {
      fprintf(stderr, "%s: sample %d (depth %d) not whole:", what, i, s->depth);
      for (int k = 0; k < s->depth && k < 8; k++) fprintf(stderr, " %#lx", (unsigned long)s->pcs[k]);
      fprintf(stderr, "\n");
    }
  }
  printf("%s: %d samples, %d in spin, %d of those whole\n", what, nsamples - from, in_spin, whole);
  /* A sample in spin's first or last instructions (before its frame is
   * set up or after it is gone) is still whole: CFI covers prologues and
   * epilogues. Allow nothing to be lost. */
  CHECKF(whole == in_spin, "%s: %d of %d samples in spin lost frames", what, in_spin - whole, in_spin);
  return in_spin;
}

NOINLINE static void busy(int rounds) {
  for (int i = 0; i < rounds; i++) sink += chain_a((uint64_t)i);
}

/* Allocation-heavy phase: the handler interrupts the recorder's own walks,
 * the depot and the allocator. */
NOINLINE static void allocate(int rounds) {
  for (int i = 0; i < rounds; i++) {
    void *p = malloc(16 + (size_t)(i & 255));
    sink += (uintptr_t)p;
    free(p);
  }
}

static void *thread_main(void *arg) {
  (void)arg;
  hs__unwind_prepare(); /* this thread's stack, before any signal */
  busy_phase = 1;
  int from = nsamples;
  start_timer(500);
  while (nsamples - from < 50) busy(20);
  stop_timer();
  busy_phase = 0;
  check_samples(from, "second thread", "thread_main");
  return NULL;
}

int main(void) {
  heapscope_start_recording();
  hs__unwind_prepare();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_prof;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  CHECK(sigaction(SIGPROF, &sa, NULL) == 0);

  /* 1. The busy chain, many samples. */
  size_t pub0 = prop("generic.current_allocated_bytes");
  size_t int0 = prop("heapscope.internal_bytes");
  busy_phase = 1;
  start_timer(200);
  while (nsamples < 400) busy(50);
  stop_timer();
  busy_phase = 0;
  size_t pub1 = prop("generic.current_allocated_bytes");
  size_t int1 = prop("heapscope.internal_bytes");
  CHECKF(pub1 == pub0 && int1 == int0, "the handler allocated: public %zu -> %zu, internal %zu -> %zu",
         pub0, pub1, int0, int1);
  CHECK(check_samples(0, "main thread", "main") >= 100);

  /* 2. Interrupting allocations and the recorder's walks: must neither
   *    fault nor deadlock (a deadlock ends by the ctest timeout). */
  int from = nsamples;
  busy_phase = 2;
  start_timer(100);
  while (nsamples - from < 300) allocate(2000);
  stop_timer();
  busy_phase = 0;
  printf("allocations: %d samples, no fault, no deadlock\n", nsamples - from);

  /* 3. The handler on an alternate stack. */
  stack_t ss = {.ss_sp = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                .ss_size = 65536};
  CHECK(ss.ss_sp != MAP_FAILED && sigaltstack(&ss, NULL) == 0);
  sa.sa_flags |= SA_ONSTACK;
  CHECK(sigaction(SIGPROF, &sa, NULL) == 0);
  from = nsamples;
  busy_phase = 1;
  start_timer(200);
  while (nsamples - from < 200) busy(50);
  stop_timer();
  busy_phase = 0;
  check_samples(from, "alternate stack", "main");

  /* 4. Another thread. */
  pthread_t t;
  CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  printf("unwind_signal: ok\n");
  return 0;
}
