// A gperftools-using C++ program: every header of gperftools 2.10 and
// every documented call, compiled against heapscope's installed headers and
// linked with libheapscope alone (tests/gperftools/compat.py builds and runs
// it). argv[1] picks what to exercise; each part prints "ok PART".
//
//   all        every C++ call without HEAPCHECK: checkers inactive and
//              harmless, MallocExtension, MallocHook (class), tc_new family,
//              HiddenPointer, REGISTER_HEAPCHECK_CLEANUP
//   region     HEAPCHECK=local: region checks find a plain leaked
//              malloc(300) (and new[]), pass clean regions, Disabler,
//              IgnoreObject/UnIgnoreObject
//   global     HEAPCHECK=normal: NoGlobalLeaks finds the leak; with
//              argv[2] == "cancel" CancelGlobalCheck, else the exit check
//              fails the process
//   sample     TCMALLOC_SAMPLE_PARAMETER: GetHeapSample, ReadStackTraces,
//              MallocMemoryStats
#include <gperftools/heap-checker.h>
#include <gperftools/heap-profiler.h>
#include <gperftools/malloc_extension.h>
#include <gperftools/malloc_extension_c.h>
#include <gperftools/malloc_hook.h>
#include <gperftools/malloc_hook_c.h>
#include <gperftools/nallocx.h>
#include <gperftools/profiler.h>
#include <gperftools/stacktrace.h>
#include <gperftools/tcmalloc.h>

#include <dlfcn.h>
#include <sys/mman.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#define NOINLINE __attribute__((noinline))
#define CHECK(cond, ...)                                         \
  do {                                                           \
    if (!(cond)) {                                               \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                         \
      std::fprintf(stderr, "\n");                                \
      std::exit(1);                                              \
    }                                                            \
  } while (0)

static void* volatile sink;
void* volatile kept_global;  // reachable from a global: never a leak

static const char* fn_of(const void* pc) {
  Dl_info info;
  if (!pc || !dladdr(static_cast<const char*>(pc) - 1, &info) || !info.dli_sname) return "?";
  return info.dli_sname;
}

// ---- REGISTER_HEAPCHECK_CLEANUP: runs before the whole-program check ----
static int cleanups_run;
static void* cleaned_up;
REGISTER_HEAPCHECK_CLEANUP(compat_cleanup, {
  cleanups_run++;
  std::free(cleaned_up);
  cleaned_up = 0;
})

// ---- all: without HEAPCHECK -----------------------------------------------
// volatile: the compiler assumes malloc calls no program code.
static volatile int hook_news, hook_deletes;
static volatile bool saw_new_caller;
static void NewHook(const void* p, size_t n) {
  hook_news++;
  // new[] -> operator new[] -> operator new -> malloc: the program's
  // function is a few frames up.
  void* pcs[6];
  int d = MallocHook::GetCallerStackTrace(pcs, 6, 0);
  for (int i = 0; i < d; i++)
    if (!std::strcmp(fn_of(pcs[i]), "_Z10new_callerv")) saw_new_caller = true;
}
static void DeleteHook(const void* p) { hook_deletes++; }
static volatile int invoked_mmap, invoked_sbrk;
static void MmapHook(const void* result, const void* start, size_t size, int prot, int flags,
                     int fd, off_t off) {
  invoked_mmap++;
}
static void PreMmapHook(const void*, size_t, int, int, int, off_t) { invoked_mmap++; }
static void MunmapHook(const void*, size_t) { invoked_mmap++; }
static void MremapHook(const void*, const void*, size_t, size_t, int, const void*) {
  invoked_mmap++;
}
static void PreSbrkHook(ptrdiff_t) { invoked_sbrk++; }
static void SbrkHook(const void*, ptrdiff_t) { invoked_sbrk++; }
static int ReplaceMmap(const void*, size_t, int, int, int, off_t, void** r) { return 0; }
static int ReplaceMunmap(const void*, size_t, int*) { return 0; }

NOINLINE int* new_caller() { return new int[100]; }

static void check_malloc_hook_class() {
  CHECK(MallocHook::AddNewHook(&NewHook) && MallocHook::AddDeleteHook(&DeleteHook), "add");
  int* a = new_caller();
  CHECK(hook_news == 1, "new[] not seen by the new hook: %d", hook_news);
  CHECK(saw_new_caller, "GetCallerStackTrace in the hook: new_caller not among the frames");
  delete[] a;
  CHECK(hook_deletes == 1, "delete[] not seen: %d", hook_deletes);
  std::string s(1000, 'x');  // libstdc++'s allocations are the program's too
  CHECK(hook_news == 2, "std::string not seen");
  MallocHook::InvokeNewHook(&s, 1);
  MallocHook::InvokeDeleteHook(&s);
  CHECK(hook_news == 3 && hook_deletes == 2, "Invoke*Hook");
  CHECK(MallocHook::RemoveNewHook(&NewHook) && MallocHook::RemoveDeleteHook(&DeleteHook), "remove");
  CHECK(MallocHook::SetNewHook(&NewHook) == 0 && MallocHook::GetNewHook() == &NewHook &&
            MallocHook::SetNewHook(0) == &NewHook && MallocHook::GetNewHook() == 0,
        "Set/GetNewHook");
  CHECK(MallocHook::SetDeleteHook(0) == 0 && MallocHook::GetDeleteHook() == 0, "Set/GetDeleteHook");
  CHECK(MallocHook::SetPreMmapHook(0) == 0 && MallocHook::GetPreMmapHook() == 0 &&
            MallocHook::SetMmapHook(0) == 0 && MallocHook::GetMmapHook() == 0 &&
            MallocHook::SetMunmapHook(0) == 0 && MallocHook::GetMunmapHook() == 0 &&
            MallocHook::SetMremapHook(0) == 0 && MallocHook::GetMremapHook() == 0 &&
            MallocHook::SetPreSbrkHook(0) == 0 && MallocHook::GetPreSbrkHook() == 0 &&
            MallocHook::SetSbrkHook(0) == 0 && MallocHook::GetSbrkHook() == 0,
        "deprecated Set/Get");
  CHECK(MallocHook::AddPreMmapHook(&PreMmapHook) && MallocHook::AddMmapHook(&MmapHook) &&
            MallocHook::AddMunmapHook(&MunmapHook) && MallocHook::AddMremapHook(&MremapHook) &&
            MallocHook::AddPreSbrkHook(&PreSbrkHook) && MallocHook::AddSbrkHook(&SbrkHook),
        "mmap-family adds");
  CHECK(MallocHook::SetMmapReplacement(&ReplaceMmap) && MallocHook::SetMunmapReplacement(&ReplaceMunmap),
        "replacements");
  void* m = mmap(0, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(invoked_mmap == 2, "pre-mmap + mmap hooks: %d", invoked_mmap);
  munmap(m, 8192);
  CHECK(invoked_mmap == 3, "munmap hook: %d", invoked_mmap);
  // Unhooked: no hooks.
  m = MallocHook::UnhookedMMap(0, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED && MallocHook::UnhookedMUnmap(m, 8192) == 0 && invoked_mmap == 3,
        "Unhooked* ran hooks: %d", invoked_mmap);
  MallocHook::InvokePreMmapHook(0, 1, 0, 0, -1, 0);
  MallocHook::InvokeMmapHook(0, 0, 1, 0, 0, -1, 0);
  MallocHook::InvokeMunmapHook(0, 1);
  MallocHook::InvokeMremapHook(0, 0, 1, 2, 0, 0);
  CHECK(invoked_mmap == 7, "Invoke mmap-family hooks: %d", invoked_mmap);
  MallocHook::InvokePreSbrkHook(1);
  MallocHook::InvokeSbrkHook(0, 1);
  CHECK(invoked_sbrk == 2, "Invoke sbrk hooks: %d", invoked_sbrk);
  void* r = 0;
  int ir = 0;
  CHECK(!MallocHook::InvokeMmapReplacement(0, 1, 0, 0, -1, 0, &r) &&
            !MallocHook::InvokeMunmapReplacement(0, 1, &ir),
        "Invoke*Replacement: the replacements decline");
  CHECK(MallocHook::RemoveMmapReplacement(&ReplaceMmap) &&
            MallocHook::RemoveMunmapReplacement(&ReplaceMunmap) &&
            MallocHook::RemovePreMmapHook(&PreMmapHook) && MallocHook::RemoveMmapHook(&MmapHook) &&
            MallocHook::RemoveMunmapHook(&MunmapHook) && MallocHook::RemoveMremapHook(&MremapHook) &&
            MallocHook::RemovePreSbrkHook(&PreSbrkHook) && MallocHook::RemoveSbrkHook(&SbrkHook),
        "removes");
  std::printf("ok malloc_hook\n");
}

static void check_malloc_extension_class() {
  MallocExtension::Initialize();
  MallocExtension* ext = MallocExtension::instance();
  CHECK(ext && ext == MallocExtension::instance(), "instance");
  size_t v = 0;
  CHECK(ext->GetNumericProperty("generic.current_allocated_bytes", &v) && v > 0, "Get");
  CHECK(ext->SetNumericProperty("tcmalloc.max_total_thread_cache_bytes", 2 << 20) &&
            ext->GetNumericProperty("tcmalloc.max_total_thread_cache_bytes", &v) && v == 2 << 20,
        "Set max_total_thread_cache_bytes");
  CHECK(!ext->SetNumericProperty("generic.heap_size", 1), "read-only");
  char buf[2048];
  ext->GetStats(buf, sizeof buf);
  CHECK(std::strstr(buf, "MALLOC:"), "GetStats");
  char* p = static_cast<char*>(std::malloc(100));
  int local;
  CHECK(ext->GetAllocatedSize(p) >= 100 && ext->GetEstimatedAllocatedSize(100) == ext->GetAllocatedSize(p),
        "sizes");
  CHECK(ext->GetOwnership(p) == MallocExtension::kOwned &&
            ext->GetOwnership(&local) == MallocExtension::kNotOwned,
        "GetOwnership");
  CHECK(ext->VerifyAllMemory() && ext->VerifyMallocMemory(p) && ext->VerifyNewMemory(p) &&
            ext->VerifyArrayNewMemory(p) && !ext->VerifyMallocMemory(&local),
        "Verify*");
  std::free(p);
  int blocks, hist[kMallocHistogramSize];
  size_t total;
  CHECK(!ext->MallocMemoryStats(&blocks, &total, hist) && blocks == 0, "MallocMemoryStats unrecorded");
  ext->SetMemoryReleaseRate(3.5);
  CHECK(ext->GetMemoryReleaseRate() == 3.5, "release rate %f", ext->GetMemoryReleaseRate());
  ext->SetMemoryReleaseRate(1.0);
  ext->ReleaseToSystem(1 << 20);
  ext->ReleaseFreeMemory();
  ext->MarkThreadIdle();
  ext->MarkThreadBusy();
  ext->MarkThreadTemporarilyIdle();
  CHECK(ext->GetThreadCacheSize() == 0, "cache after idle");
  CHECK(ext->GetSystemAllocator() == 0, "GetSystemAllocator");
  std::vector<MallocExtension::FreeListInfo> lists;
  ext->GetFreeListSizes(&lists);
  CHECK(lists.size() == 4 && !std::strcmp(lists[0].type, "tcmalloc.thread"), "GetFreeListSizes");
  int ranges = 0;
  ext->Ranges(&ranges, 0);
  std::string sample, growth;
  ext->GetHeapSample(&sample);  // nothing sampled: empty profile, one heapscope: line
  CHECK(sample.compare(0, 13, "heap profile:") == 0, "GetHeapSample: %.40s", sample.c_str());
  ext->GetHeapGrowthStacks(&growth);
  CHECK(growth.compare(0, 13, "heap profile:") == 0, "GetHeapGrowthStacks");
  int period = -1;
  void** traces = ext->ReadStackTraces(&period);
  CHECK(!traces && period == 1, "ReadStackTraces with nothing sampled");
  CHECK(ext->ReadHeapGrowthStackTraces() == 0, "ReadHeapGrowthStackTraces");
  // A wrapper registered in its place, as tcmalloc users sometimes do.
  static MallocExtension wrapper;
  MallocExtension::Register(&wrapper);
  CHECK(MallocExtension::instance() == &wrapper, "Register");
  MallocExtension::Register(ext);
  std::printf("ok malloc_extension\n");
}

static void check_tc_new() {
  int ver_major;
  CHECK(tc_version(&ver_major, 0, 0) && ver_major == 2, "tc_version");
  void* p = tc_new(100);
  CHECK(p && tc_malloc_size(p) >= 100, "tc_new");
  tc_delete(p);
  p = tc_newarray(200);
  tc_deletearray(p);
  p = tc_new_nothrow(10, std::nothrow);
  tc_delete_nothrow(p, std::nothrow);
  p = tc_newarray_nothrow(10, std::nothrow);
  tc_deletearray_nothrow(p, std::nothrow);
  p = tc_new(30);
  tc_delete_sized(p, 30);
  p = tc_newarray(30);
  tc_deletearray_sized(p, 30);
  bool threw = false;
  try {
    sink = tc_new(static_cast<size_t>(1) << 62);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw, "tc_new of 2^62 bytes did not throw std::bad_alloc");
  CHECK(tc_new_nothrow(static_cast<size_t>(1) << 62, std::nothrow) == 0, "tc_new_nothrow of 2^62");
#if __cplusplus >= 201703L
  std::align_val_t al = static_cast<std::align_val_t>(256);
  p = tc_new_aligned(100, al);
  CHECK(p && (reinterpret_cast<uintptr_t>(p) & 255) == 0, "tc_new_aligned");
  tc_delete_aligned(p, al);
  p = tc_newarray_aligned(100, al);
  CHECK((reinterpret_cast<uintptr_t>(p) & 255) == 0, "tc_newarray_aligned");
  tc_deletearray_aligned(p, al);
  p = tc_new_aligned_nothrow(100, al, std::nothrow);
  tc_delete_aligned_nothrow(p, al, std::nothrow);
  p = tc_newarray_aligned_nothrow(100, al, std::nothrow);
  tc_deletearray_aligned_nothrow(p, al, std::nothrow);
  p = tc_new_aligned(100, al);
  tc_delete_sized_aligned(p, 100, al);
  p = tc_newarray_aligned(100, al);
  tc_deletearray_sized_aligned(p, 100, al);
#endif
  CHECK(tc_set_new_mode(0) == 0, "tc_set_new_mode");
  std::printf("ok tc_new\n");
}

static void check_inactive_checker() {
  CHECK(!HeapLeakChecker::IsActive(), "IsActive without HEAPCHECK");
  CHECK(HeapLeakChecker::GlobalChecker() == 0, "GlobalChecker without HEAPCHECK");
  CHECK(HeapLeakChecker::NoGlobalLeaks(), "NoGlobalLeaks without HEAPCHECK");
  HeapLeakChecker checker("inactive");
  sink = std::malloc(300);  // not checked: checking is off
  CHECK(checker.NoLeaks() && checker.QuickNoLeaks() && checker.BriefNoLeaks() &&
            checker.SameHeap() && checker.QuickSameHeap() && checker.BriefSameHeap(),
        "inactive checker found leaks");
  CHECK(checker.BytesLeaked() == 0 && checker.ObjectsLeaked() == 0, "inactive counts");
  {
    HeapLeakChecker::Disabler disabler;
  }
  int* obj = HeapLeakChecker::IgnoreObject(new int(5));
  HeapLeakChecker::UnIgnoreObject(obj);
  delete obj;
  HeapLeakChecker::CancelGlobalCheck();
  int x = 42;
  HiddenPointer<int> hidden(&x);
  CHECK(hidden.get() == &x, "HiddenPointer");
  HeapLeakChecker_BeforeConstructors();
  HeapLeakChecker_InternalInitStart();
  HeapLeakChecker_RunHeapCleanups();
  HeapCleaner::RunHeapCleanups();
  CHECK(cleanups_run == 0, "cleanups ran without HEAPCHECK");
  HeapLeakChecker_AfterDestructors();
  std::free(sink);
  std::printf("ok heap_checker_inactive\n");
}

// ---- region: HEAPCHECK=local ---------------------------------------------
// A plain leak: the pointer dies with this frame. (Through the volatile
// sink, or the compiler drops an allocation nothing reads.)
NOINLINE void leak_300() {
  void* p = std::malloc(300);
  std::memset(p, 0, 300);
  sink = p;
  sink = 0;
}
NOINLINE void leak_new_array() { sink = new char[500]; sink = 0; }
NOINLINE void keep_and_free() {
  sink = std::malloc(1000);
  std::free(sink);
  sink = 0;
  kept_global = std::malloc(77);  // reachable from a global
}
// The object, known only through a HiddenPointer (which the checker does
// not follow) once IgnoreObject has been given a pointer into it.
HiddenPointer<char>* volatile hidden_object;
NOINLINE void leak_ignored() {
  char* p = static_cast<char*>(std::malloc(64));
  HeapLeakChecker::IgnoreObject(p + 16);  // gperftools allows a pointer into the object
  static HiddenPointer<char> hidden(p);
  hidden = HiddenPointer<char>(p);
  hidden_object = &hidden;
}
// The pointer to the object lives only in this (dead) frame afterwards.
NOINLINE void unignore() { HeapLeakChecker::UnIgnoreObject(hidden_object->get()); }
NOINLINE void leak_disabled() {
  HeapLeakChecker::Disabler disabler;
  sink = std::malloc(128);
  sink = 0;
}

// Counts the program's allocations while the checker works: the runtime's
// own (symbolizing the report, stopping threads) must never reach a hook.
static volatile long region_news;
static void CountNew(const void*, size_t) { region_news++; }

static void region() {
  CHECK(HeapLeakChecker::IsActive(), "IsActive with HEAPCHECK=local");
  CHECK(HeapLeakChecker::GlobalChecker() == 0, "HEAPCHECK=local has no whole-program checker");
  {
    HeapLeakChecker checker("leaky");
    leak_300();
    CHECK(MallocHook::AddNewHook(&CountNew), "AddNewHook");
    bool clean = checker.NoLeaks();  // the first report: libdw loads debug info
    CHECK(MallocHook::RemoveNewHook(&CountNew), "RemoveNewHook");
    CHECK(region_news == 0, "the checker's own %ld allocations reached a hook", region_news);
    CHECK(!clean, "the leaked malloc(300) was not found");
    CHECK(checker.BytesLeaked() == 300 && checker.ObjectsLeaked() == 1,
          "BytesLeaked %zd ObjectsLeaked %zd", checker.BytesLeaked(), checker.ObjectsLeaked());
  }
  {
    HeapLeakChecker checker("array");
    leak_new_array();
    CHECK(!checker.SameHeap() && checker.BytesLeaked() == 500, "new char[500] leak: %zd",
          checker.BytesLeaked());
  }
  {
    HeapLeakChecker checker("clean");
    keep_and_free();
    CHECK(checker.NoLeaks() && checker.BytesLeaked() == 0, "a clean region failed");
  }
  {
    HeapLeakChecker checker("disabled");
    leak_disabled();
    CHECK(checker.NoLeaks(), "a Disabler's allocation was reported");
  }
  {
    HeapLeakChecker checker("ignored");
    leak_ignored();
    CHECK(checker.NoLeaks(), "an IgnoreObject'd object (interior pointer) was reported");
    unignore();
    CHECK(!checker.NoLeaks() && checker.BytesLeaked() == 64, "UnIgnoreObject: %zd",
          checker.BytesLeaked());
  }
  std::printf("ok region\n");
}

// ---- global: HEAPCHECK=normal ----------------------------------------------
NOINLINE void leak_global() {
  sink = std::malloc(4321);
  sink = 0;
}

static void global(bool cancel) {
  CHECK(HeapLeakChecker::IsActive() && HeapLeakChecker::GlobalChecker(), "whole-program checker");
  cleaned_up = std::malloc(999);  // freed by the cleanup before the check
  leak_global();
  CHECK(!HeapLeakChecker::NoGlobalLeaks(), "NoGlobalLeaks missed the leak");
  CHECK(cleanups_run == 1, "REGISTER_HEAPCHECK_CLEANUP ran %d times", cleanups_run);
  CHECK(HeapLeakChecker::GlobalChecker()->BytesLeaked() == 4321 &&
            HeapLeakChecker::GlobalChecker()->ObjectsLeaked() == 1,
        "global BytesLeaked %zd", HeapLeakChecker::GlobalChecker()->BytesLeaked());
  if (cancel) HeapLeakChecker::CancelGlobalCheck();
  std::printf("ok global\n");
}

// ---- sample: TCMALLOC_SAMPLE_PARAMETER ---------------------------------------
static std::vector<void*> samples;
NOINLINE void sampled_alloc() {
  for (int i = 0; i < 20000; i++) samples.push_back(std::malloc(1000));
}

static void sample() {
  sampled_alloc();  // 20 MB live
  std::string s;
  MallocExtension::instance()->GetHeapSample(&s);
  long objs = 0, bytes = 0;
  CHECK(std::sscanf(s.c_str(), "heap profile: %ld: %ld", &objs, &bytes) == 2 && bytes > 0,
        "GetHeapSample: %.60s", s.c_str());
  CHECK(bytes > 10000000 && bytes < 40000000, "sampled estimate %ld of ~20000000 live bytes",
        bytes);
  int period = 0;
  void** t = MallocExtension::instance()->ReadStackTraces(&period);
  CHECK(t && reinterpret_cast<uintptr_t>(t[0]) > 0 && reinterpret_cast<uintptr_t>(t[2]) > 0,
        "ReadStackTraces");
  bool found = false;
  for (size_t i = 0; t[i];) {
    size_t depth = reinterpret_cast<uintptr_t>(t[i + 2]);
    for (size_t k = 0; k < depth; k++)
      if (std::strstr(fn_of(t[i + 3 + k]), "sampled_alloc")) found = true;
    i += 3 + depth;
  }
  delete[] t;
  CHECK(found, "sampled_alloc not in ReadStackTraces");
  int blocks = 0, hist[kMallocHistogramSize];
  size_t total = 0;
  CHECK(MallocExtension::instance()->MallocMemoryStats(&blocks, &total, hist) && blocks > 0 &&
            hist[9] > 0,
        "MallocMemoryStats: %d blocks, hist[9]=%d", blocks, hist[9]);
  for (size_t i = 0; i < samples.size(); i++) std::free(samples[i]);
  std::printf("ok sample\n");
}

int main(int argc, char** argv) {
  std::string what = argc > 1 ? argv[1] : "all";
  if (what == "all") {
    check_malloc_hook_class();
    check_malloc_extension_class();
    check_tc_new();
    check_inactive_checker();
  } else if (what == "region") {
    region();
  } else if (what == "global") {
    global(argc > 2 && !std::strcmp(argv[2], "cancel"));
  } else if (what == "sample") {
    sample();
  } else {
    CHECK(false, "unknown part %s", what.c_str());
  }
  return 0;
}
