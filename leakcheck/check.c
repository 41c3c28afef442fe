/* Snapshot / diff: the API the adapters and the exit-time check call.
 *
 * heapscope_leaks_since(s) first asks the per-generation live counters
 * whether anything born since s is still live; when nothing is (the common
 * case after a clean test) it returns NULL without touching the heap. Only
 * when candidates exist does it stop the world and mark. */
#include "internal.h"

#include "core/module/module.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct collect {
  lc_vec_t *objs;
  uint32_t gen;
  bool with_marked;   /* false: only unmarked candidates (leaks) */
  size_t count;
} collect_t;

static void candidate_cb(uintptr_t p, size_t size, hs_rec_t *rec, void *ctx) {
  collect_t *c = ctx;
  if (rec->gen & (HS_REC_IGNORED | HS_REC_REPORTED)) return;
  if ((rec->gen & HS_REC_GEN_MASK) < c->gen) return;
  if (!c->with_marked && (rec->gen & HS_REC_MARK)) return;
  c->count++;
  if (c->objs) {
    lc_object_t o = {p, size, rec, rec->bucket, 0};
    lc_vec_push(c->objs, &o);
  }
}

/* A group while the result is built: its public part and its origin. */
typedef struct group_build {
  heapscope_leak_group_t pub;
  lc_group_origin_t origin;
} group_build_t;

static int cmp_groups_out(const void *a, const void *b) {
  const heapscope_leak_group_t *x = &((const group_build_t *)a)->pub;
  const heapscope_leak_group_t *y = &((const group_build_t *)b)->pub;
  if (x->direct != y->direct) return y->direct - x->direct;
  if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
  return x->objects < y->objects ? 1 : x->objects > y->objects ? -1 : 0;
}

/* Groups are (stack bucket, direct or not); objects are counted into them
 * through a bucket-indexed table instead of being sorted. */
static lc_leaks_t *build_result(lc_vec_t *objs) {
  uint32_t max_id = hs__depot_max_id();
  size_t table_bytes = ((size_t)max_id + 1) * 2 * sizeof(uint32_t);
  uint32_t *group_of = hs__os_map(table_bytes); /* index + 1, 0 = none */
  if (!group_of) return NULL;
  size_t ngroups = 0;
  for (size_t i = 0; i < objs->len; i++) {
    lc_object_t *o = &LC_AT(objs, lc_object_t, i);
    uint32_t *slot = &group_of[(size_t)(o->bucket <= max_id ? o->bucket : 0) * 2 +
                               ((o->flags & LC_DIRECT) != 0)];
    if (!*slot) *slot = (uint32_t)++ngroups;
  }
  size_t alloc_groups = ngroups ? ngroups : 1;
  lc_leaks_t *l = hs__arena_alloc(sizeof *l);
  group_build_t *build = hs__arena_alloc(alloc_groups * sizeof *build);
  if (l) {
    l->pub.groups = hs__arena_alloc(alloc_groups * sizeof *l->pub.groups);
    l->origin = hs__arena_alloc(alloc_groups * sizeof *l->origin);
  }
  if (!l || !build || !l->pub.groups || !l->origin) {
    if (l) {
      hs__arena_free(l->pub.groups);
      hs__arena_free(l->origin);
    }
    hs__arena_free(l);
    hs__arena_free(build);
    hs__os_unmap(group_of, table_bytes);
    return NULL;
  }
  for (size_t i = 0; i < objs->len; i++) {
    lc_object_t *o = &LC_AT(objs, lc_object_t, i);
    uint32_t id = o->bucket <= max_id ? o->bucket : 0;
    group_build_t *gb = &build[group_of[(size_t)id * 2 + ((o->flags & LC_DIRECT) != 0)] - 1];
    heapscope_leak_group_t *grp = &gb->pub;
    if (!grp->objects) {
      hs_bucket_t *b = hs__depot_get(id);
      grp->direct = (o->flags & LC_DIRECT) != 0;
      grp->depth = b ? b->depth : 0;
      grp->pcs = b ? b->pcs : NULL;
      gb->origin = (lc_group_origin_t){b ? id : 0, b ? b->epoch : 0};
    }
    grp->bytes += o->size;
    grp->objects++;
  }
  hs__os_unmap(group_of, table_bytes);
  l->pub.group_count = ngroups;
  if (lc_config.identify_leaks) {
    l->objects = hs__arena_alloc(objs->len * sizeof *l->objects);
    if (l->objects) {
      memcpy(l->objects, objs->data, objs->len * sizeof *l->objects);
      l->nobjects = objs->len;
    }
  }
  l->addrs = hs__arena_alloc(objs->len * sizeof *l->addrs);
  if (l->addrs) {
    for (size_t i = 0; i < objs->len; i++) l->addrs[i] = LC_AT(objs, lc_object_t, i).addr;
    l->naddrs = objs->len;
  }
  /* Suppressions apply per stack; suppressed groups leave the result. */
  size_t kept = 0;
  for (size_t i = 0; i < ngroups; i++) {
    const heapscope_leak_group_t *grp = &build[i].pub;
    if (lc_has_suppressions() && grp->pcs &&
        lc_suppressed_counted(grp->pcs, grp->depth, build[i].origin.epoch, grp->bytes,
                              grp->objects)) {
      l->suppressed_bytes += grp->bytes;
      l->suppressed_objects += grp->objects;
      continue;
    }
    build[kept++] = build[i];
  }
  qsort(build, kept, sizeof *build, cmp_groups_out);
  for (size_t i = 0; i < kept; i++) {
    l->pub.groups[i] = build[i].pub;
    l->origin[i] = build[i].origin;
  }
  hs__arena_free(build);
  l->pub.group_count = kept;
  for (size_t i = 0; i < kept; i++) {
    heapscope_leak_group_t *grp = &l->pub.groups[i];
    l->pub.bytes += grp->bytes;
    l->pub.objects += grp->objects;
    if (grp->direct) {
      l->pub.direct_bytes += grp->bytes;
      l->pub.direct_objects += grp->objects;
    } else {
      l->pub.indirect_bytes += grp->bytes;
      l->pub.indirect_objects += grp->objects;
    }
  }
  return l;
}

/* draconian: every object is a leak unless ignored, or held by a system
 * library's own state (libc's stdio buffers are not the program's). */
static void choose_roots(heapscope_mode_t mode, lc_roots_t *roots) {
  roots->globals = roots->threads = roots->system_globals = true;
  if (mode == HEAPSCOPE_MODE_DRACONIAN) {
    roots->globals = roots->threads = false;
  } else if (mode == HEAPSCOPE_MODE_AS_IS) {
    roots->globals = lc_config.ignore_global_live;
    roots->threads = lc_config.ignore_thread_live;
  }
}

/* The calling thread as a root: its stack from the frame of whoever called
 * the public entry point upward, and the callee-saved registers as they
 * were at that call. Our own frames are never scanned: they are pushed over
 * the dead frames of the code that just ran (a test that returned), and
 * their unwritten slots would hand stale copies of its pointers to the
 * marker. At exit (lc_check_at_exit) the stack from the frame that called
 * exit() upward when the program called it, its frames (main's included)
 * being live; no stack at all when main returned: its frame is dead, and
 * what only that dead frame points to was never freed (gperftools users
 * complained of locals in main hiding leaks, #384).
 * Returns 0 with *out (NULL: no leaks), or -errno: no verdict. */
static int check_from(uint32_t gen, heapscope_mode_t mode, const lc_caller_t *caller,
                      heapscope_leaks_t **out) {
  *out = NULL;
  if (!atomic_load(&hs__recording)) return -ENOSYS;
  if (hs__live_since(gen) == 0) return 0;
  lc_roots_t roots;
  choose_roots(mode, &roots);

  lc_vec_t threads = {.elem = sizeof(lc_thread_t)};
  lc_thread_t self;
  memset(&self, 0, sizeof self);
  self.tid = hs__gettid();
  /* Static TLS and the TCB are always roots; the stack only if asked. */
  self.sp = caller ? caller->sp : 0;
  self.tp = (uintptr_t)pthread_self();
  if (caller) {
    self.nregs = 6;
    for (int r = 0; r < 6; r++) self.regs[r] = caller->regs[r];
  }
  lc_vec_push(&threads, &self);

  lc_vec_t objs = {.elem = sizeof(lc_object_t)};
  lc_vec_t segments = {.elem = sizeof(lc_range_t)};
  hs__runtime_enter();
  if (roots.globals || roots.system_globals) lc_gather_segments(&segments);
  roots.tls_below_tp = lc_static_tls_extent();
  hs__record_lock_world(); /* blocks stay still while stopped */
  hs__lib_block_loading(true); /* a stopped thread may hold the loader's lock */
  bool all_paused = lc_stop_world(&threads);
  int mark_err = 0;
  collect_t c = {NULL, gen, true, 0};
  hs__for_each_live(gen, candidate_cb, &c);
  if (c.count) {
    mark_err = lc_mark(&roots, &threads, &segments, gen, c.count);
    collect_t leaks = {&objs, gen, false, 0};
    hs__for_each_live(gen, candidate_cb, &leaks);
    lc_clear_marks();
  }
  lc_resume_world();
  hs__lib_block_loading(false);
  hs__record_unlock_world();

  /* A root missing for want of memory would make reachable blocks look
   * leaked: no verdict then. */
  int err = mark_err ? mark_err : threads.oom || segments.oom || objs.oom ? -ENOMEM : 0;
  lc_leaks_t *l = NULL;
  if (objs.len && !err) {
    lc_classify(&objs);
    l = build_result(&objs);
    if (!l) err = -ENOMEM;
  }
  lc_vec_free(&objs);
  lc_vec_free(&threads);
  lc_vec_free(&segments);
  hs__runtime_leave();
  if (l && l->pub.group_count == 0) { /* everything was suppressed */
    heapscope_leaks_free(&l->pub);
    l = NULL;
  }
  if (err) return err;
  /* Leaks found with a thread's stack unscanned may be held there. */
  if (l && !all_paused) {
    heapscope_leaks_free(&l->pub);
    return -EAGAIN;
  }
  *out = l ? &l->pub : NULL;
  return 0;
}

/* The simple forms' and heapscope_check_now's line for a check that gave
 * no verdict. */
void lc_report_check_error(int err) {
  hs__errorf("leak check could not be completed: %s", heapscope_strerror(err));
}

HS_EXPORT const char *heapscope_strerror(int err) {
  switch (err) {
  case 0: return "success";
  case -ENOSYS:
    return "recording is off (set HEAPCHECK, or call heapscope_start_recording() first)";
  case -EAGAIN:
    return "some threads could not be paused, so their stacks were not scanned; the leaks "
           "found could be held there";
  case -ENOMEM: return "out of memory during the check";
  case -EMFILE:
  case -ENFILE: return "out of file descriptors during the check";
  case -EIO: return "/proc/self/maps could not be read";
  case -EINVAL: return "invalid argument";
  default: return "unknown error";
  }
}

HS_EXPORT heapscope_snapshot_t heapscope_snapshot(void) {
  hs__record_init();
  heapscope_snapshot_t s;
  memset(&s, 0, sizeof s);
  s.generation = atomic_fetch_add(&hs__generation, 1) + 1;
  return s;
}

int lc_check_since_caller(const heapscope_snapshot_t *s, heapscope_mode_t mode,
                          const lc_caller_t *caller, heapscope_leaks_t **out) {
  *out = NULL;
  return s ? check_from(s->generation, mode, caller, out) : -EINVAL;
}

HS_EXPORT HS_NOINLINE int heapscope_check_since(const heapscope_snapshot_t *s,
                                                heapscope_mode_t mode, heapscope_leaks_t **out) {
  if (!out) return -EINVAL;
  *out = NULL;
  if (!s) return -EINVAL;
  lc_caller_t c;
  LC_CAPTURE_CALLER(c);
  return check_from(s->generation, mode, &c, out);
}

HS_EXPORT HS_NOINLINE heapscope_leaks_t *heapscope_leaks_since(const heapscope_snapshot_t *s,
                                                   heapscope_mode_t mode) {
  if (!s) return NULL;
  lc_caller_t c;
  LC_CAPTURE_CALLER(c);
  heapscope_leaks_t *l;
  int err = check_from(s->generation, mode, &c, &l);
  if (err) lc_report_check_error(err);
  return l;
}

uint32_t lc_whole_program_gen = 0;

HS_EXPORT HS_NOINLINE int heapscope_check_all(heapscope_mode_t mode, heapscope_leaks_t **out) {
  if (!out) return -EINVAL;
  lc_caller_t c;
  LC_CAPTURE_CALLER(c);
  return check_from(lc_whole_program_gen, mode, &c, out);
}

HS_EXPORT HS_NOINLINE heapscope_leaks_t *heapscope_leaks_all(heapscope_mode_t mode) {
  lc_caller_t c;
  LC_CAPTURE_CALLER(c);
  heapscope_leaks_t *l;
  int err = check_from(lc_whole_program_gen, mode, &c, &l);
  if (err) lc_report_check_error(err);
  return l;
}

int lc_check_at_exit(heapscope_mode_t mode, const lc_caller_t *exit_caller,
                     heapscope_leaks_t **out) {
  return check_from(lc_whole_program_gen, mode, exit_caller, out);
}

HS_EXPORT void heapscope_leaks_free(heapscope_leaks_t *pub) {
  if (!pub) return;
  lc_leaks_t *l = (lc_leaks_t *)pub;
  hs__arena_free(l->addrs);
  hs__arena_free(l->objects);
  hs__arena_free(l->report);
  hs__arena_free(l->pub.groups);
  hs__arena_free(l->origin);
  hs__arena_free(l);
}

HS_EXPORT const char *heapscope_leaks_report(heapscope_leaks_t *pub) {
  if (!pub) return "";
  lc_leaks_t *l = (lc_leaks_t *)pub;
  if (!l->report) {
    hs_strbuf_t sb = {0};
    hs__runtime_enter();
    lc_format_report(pub, &sb);
    hs__runtime_leave();
    l->report = sb.data;
  }
  return l->report ? l->report : "";
}

HS_EXPORT int heapscope_leaks_print(heapscope_leaks_t *pub, int fd) {
  const char *r = heapscope_leaks_report(pub);
  return hs__write_all(fd, r, strlen(r)) ? 0 : -EIO;
}

/* Reported leaks are flagged, not ignored: an ignored object is a root, and
 * a leaked block's uninitialised or stale words then kept blocks of later
 * tests alive that happened to reuse the addresses they name. */
HS_EXPORT void heapscope_leaks_ignore(heapscope_leaks_t *pub) {
  if (!pub) return;
  lc_leaks_t *l = (lc_leaks_t *)pub;
  for (size_t i = 0; i < l->naddrs; i++) {
    hs_rec_t *r = hs__record_of(l->addrs[i], NULL);
    if (r) __atomic_fetch_or(&r->gen, HS_REC_REPORTED, __ATOMIC_RELAXED);
  }
}

HS_EXPORT int heapscope_is_recording(void) { return atomic_load(&hs__recording); }

HS_EXPORT int heapscope_start_recording(void) {
  hs__record_init();
  hs__recording_start(true); /* leak checks need every allocation */
  return 0;
}

/* The record of the live block p points to the start of, or into (as
 * gperftools' IgnoreObject allows: C++ objects are often known by a base
 * or member pointer). */
static hs_rec_t *record_at_or_in(const void *p) {
  hs_rec_t *r = hs__record_of((uintptr_t)p, NULL);
  if (r || !p) return r;
  uintptr_t start;
  size_t scan, unrecorded;
  return hs__record_find((uintptr_t)p, &start, &scan, &unrecorded);
}

HS_EXPORT void *heapscope_ignore_object(const void *p) {
  hs_rec_t *r = record_at_or_in(p);
  if (r) __atomic_fetch_or(&r->gen, HS_REC_IGNORED, __ATOMIC_RELAXED);
  return (void *)p;
}

HS_EXPORT void heapscope_unignore_object(const void *p) {
  hs_rec_t *r = record_at_or_in(p);
  if (r) __atomic_fetch_and(&r->gen, ~HS_REC_IGNORED, __ATOMIC_RELAXED);
}

HS_EXPORT void heapscope_disable(void) { hs__disabled_depth++; }
HS_EXPORT void heapscope_enable(void) {
  if (hs__disabled_depth > 0) hs__disabled_depth--;
}
