/* RLIMIT_AS and the flat range (pagemap.c).
 *
 * The page heap reserves a large range of address space up front, which
 * counts against RLIMIT_AS. A program that sets a finite limit while it
 * runs (to test its out-of-memory paths, or to sandbox itself) would find
 * its own next mmap refused (a thread's stack, dlopen) until the heap next
 * grew and noticed. These interposers give the range's unused rest back
 * before the limit takes effect. They call the system call themselves, as
 * glibc does (setrlimit is prlimit64 on pid 0): no lookup of the next
 * definition, nothing allocated. */
#include "internal.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int do_prlimit(pid_t pid, int resource, const struct rlimit *new_limit,
                      struct rlimit *old_limit) {
  bool finite_as = resource == RLIMIT_AS && new_limit && new_limit->rlim_cur != RLIM_INFINITY;
  if (finite_as && (pid == 0 || pid == getpid())) hs__pagemap_flat_shrink();
  long r = syscall(SYS_prlimit64, pid, resource, new_limit, old_limit);
  /* Once more when this process's limit is now finite: any of its thread
   * ids names it too (prlimit(gettid())), and a first heap growth that
   * raced the call may have reserved the range meanwhile. */
  if (r == 0 && finite_as && hs__os_address_space_limited()) hs__pagemap_flat_shrink();
  return r == 0 ? 0 : -1; /* syscall() has set errno */
}

HS_EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *rlim) {
  return do_prlimit(0, (int)resource, rlim, NULL);
}

HS_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *rlim) {
  return do_prlimit(0, (int)resource, (const struct rlimit *)rlim, NULL);
}

HS_EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *new_limit,
                      struct rlimit *old_limit) {
  return do_prlimit(pid, (int)resource, new_limit, old_limit);
}

HS_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource,
                        const struct rlimit64 *new_limit, struct rlimit64 *old_limit) {
  return do_prlimit(pid, (int)resource, (const struct rlimit *)new_limit,
                    (struct rlimit *)old_limit);
}
