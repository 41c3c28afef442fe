// gperftools-compatible heap leak checker (the interface of gperftools
// 2.10's heap-checker.h), header-only over heapscope's C API
// (<heapscope/heapscope.h>): libheapscope stays a C library.
//
// A HeapLeakChecker takes a snapshot when constructed; NoLeaks() reports
// the objects allocated since then that are still live and unreachable
// (heapscope's reachability: every thread's stack and registers, globals,
// ignored objects), with symbolized stacks, under the first line gperftools
// printed ("Leak check NAME detected leaks of N bytes in M objects").
// Checkers do something only while HEAPCHECK is set (any mode; `local`
// turns on just these checks), as in gperftools; otherwise NoLeaks() is
// true and IsActive() false. The whole-program checker (GlobalChecker,
// NoGlobalLeaks) is the exit-time check of HEAPCHECK's mode, run now.
//
// What differs from gperftools, on purpose: region checks print
// symbolized reports (gperftools never did: it forked pprof for that), and
// a leak found by one check is still reported at exit unless freed
// (CancelGlobalCheck stops that, as in gperftools).
#ifndef HEAPSCOPE_GPERFTOOLS_HEAP_CHECKER_H
#define HEAPSCOPE_GPERFTOOLS_HEAP_CHECKER_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <heapscope/heapscope.h>

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

// gperftools' start-up and shut-down hooks of the checker, friends of the
// class. heapscope's own constructor and exit-time check do their work, so
// they only run the REGISTER_HEAPCHECK_CLEANUP functions where gperftools
// did.
inline void HeapLeakChecker_BeforeConstructors();
inline void HeapLeakChecker_AfterDestructors();
inline void HeapLeakChecker_InternalInitStart();
inline void HeapLeakChecker_RunHeapCleanups();

class PERFTOOLS_DLL_DECL HeapLeakChecker {
 public:
  // ---- whole-program checking ----

  // True while leak checking is on (HEAPCHECK set, in any mode): checkers
  // made now check; when false they do nothing and find nothing.
  static bool IsActive() { return heapscope_check_mode() != HEAPSCOPE_MODE_OFF; }

  // The whole-program checker while HEAPCHECK asks for an exit-time check
  // (any mode but local), else NULL. Always the same object.
  static HeapLeakChecker* GlobalChecker() {
    heapscope_mode_t m = heapscope_check_mode();
    if (m == HEAPSCOPE_MODE_OFF || m == HEAPSCOPE_MODE_LOCAL) return 0;
    static HeapLeakChecker global((GlobalTag()));
    return &global;
  }

  // The exit-time check, now (it may be called again); false only when
  // checking is on and found leaks, which it reports.
  static bool NoGlobalLeaks() {
    HeapLeakChecker* g = GlobalChecker();
    return g ? g->DoNoLeaks() : true;
  }

  // No exit-time check.
  static void CancelGlobalCheck() { heapscope_cancel_exit_check(); }

  // ---- checking a region ----

  // Starts a check named name (used in reports and, with
  // HEAP_CHECK_DUMP_DIRECTORY, in the leak profile's file name).
  explicit HeapLeakChecker(const char* name)
      : name_(name ? name : "unnamed"), global_(false), has_checked_(false),
        bytes_leaked_(0), objects_leaked_(0) {
    snapshot_.generation = 0;
    snapshot_.reserved = 0;
    if (IsActive()) snapshot_ = heapscope_snapshot();
  }

  // As gperftools, a checker should be checked before it goes: said once
  // if not (gperftools aborted).
  ~HeapLeakChecker() {
    if (!global_ && !has_checked_ && IsActive())
      std::fprintf(stderr, "heapscope: HeapLeakChecker \"%s\" destroyed without a NoLeaks() check\n",
                   name_);
  }

  // True when nothing allocated since the constructor is still live and
  // unreachable; else reports the leaks and returns false.
  bool NoLeaks() { return DoNoLeaks(); }

  // Obsolete spellings of NoLeaks(), as in gperftools.
  bool QuickNoLeaks() { return NoLeaks(); }
  bool BriefNoLeaks() { return NoLeaks(); }
  bool SameHeap() { return NoLeaks(); }
  bool QuickSameHeap() { return NoLeaks(); }
  bool BriefSameHeap() { return NoLeaks(); }

  // What the last check found (0 before any; said once then).
  ssize_t BytesLeaked() const {
    NeedCheck();
    return bytes_leaked_;
  }
  ssize_t ObjectsLeaked() const {
    NeedCheck();
    return objects_leaked_;
  }

  // ---- ignoring leaks ----

  // Allocations of this thread while a Disabler lives (nested calls
  // included) and what they reach are never leaks. Destroy it in the thread
  // that made it.
  class Disabler {
   public:
    Disabler() { heapscope_disable(); }
    ~Disabler() { heapscope_enable(); }

   private:
    Disabler(const Disabler&);
    void operator=(const Disabler&);
  };

  // The object at ptr (its start, or any byte inside it) and everything
  // reachable from it are never leaks. Returns ptr:
  //   static T* obj = IgnoreObject(new T(...));
  template <typename T>
  static T* IgnoreObject(T* ptr) {
    DoIgnoreObject(static_cast<const void*>(const_cast<const T*>(ptr)));
    return ptr;
  }

  // Undoes IgnoreObject.
  static void UnIgnoreObject(const void* ptr) { heapscope_unignore_object(ptr); }

  // gperftools' internal types, declared as there.
  class Allocator;
  struct RangeValue;

 private:
  struct GlobalTag {};
  explicit HeapLeakChecker(GlobalTag)
      : name_("_main_"), global_(true), has_checked_(false), bytes_leaked_(0),
        objects_leaked_(0) {
    snapshot_.generation = 0;
    snapshot_.reserved = 0;
  }

  static void DoIgnoreObject(const void* ptr) { heapscope_ignore_object(ptr); }

  bool DoNoLeaks() {
    has_checked_ = true;
    bytes_leaked_ = objects_leaked_ = 0;
    heapscope_mode_t mode = heapscope_check_mode();
    if (mode == HEAPSCOPE_MODE_OFF) return true;
    if (mode == HEAPSCOPE_MODE_LOCAL) mode = HEAPSCOPE_MODE_NORMAL;
    if (global_) HeapLeakChecker_RunHeapCleanups();
    heapscope_leaks_t* l =
        global_ ? heapscope_leaks_all(mode) : heapscope_leaks_since(&snapshot_, mode);
    if (!l) return true;
    bytes_leaked_ = static_cast<ssize_t>(l->bytes);
    objects_leaked_ = static_cast<ssize_t>(l->objects);
    heapscope_leaks_emit(l, name_);
    heapscope_leaks_free(l);
    return false;
  }

  void NeedCheck() const {
    if (!has_checked_)
      std::fprintf(stderr, "heapscope: HeapLeakChecker \"%s\": BytesLeaked()/ObjectsLeaked() "
                   "before any NoLeaks() check; 0\n", name_);
  }

  const char* name_;
  bool global_;
  bool has_checked_;
  ssize_t bytes_leaked_;
  ssize_t objects_leaked_;
  heapscope_snapshot_t snapshot_;

  friend void HeapLeakChecker_BeforeConstructors();
  friend void HeapLeakChecker_AfterDestructors();
  friend void HeapLeakChecker_InternalInitStart();
  friend void HeapLeakChecker_RunHeapCleanups();

  HeapLeakChecker(const HeapLeakChecker&);
  void operator=(const HeapLeakChecker&);
};

// A pointer the checker does not follow (stored xor-masked): what only it
// points to is reported as leaked.
template <class T>
class HiddenPointer {
 public:
  explicit HiddenPointer(T* t) : masked_t_(reinterpret_cast<uintptr_t>(t) ^ kHideMask) {}
  T* get() const { return reinterpret_cast<T*>(masked_t_ ^ kHideMask); }

 private:
  static const uintptr_t kHideMask = static_cast<uintptr_t>(0xF03A5F7BF03A5F7Bll);
  uintptr_t masked_t_;
};

// Functions run before the whole-program check (NoGlobalLeaks and the
// check at exit) while HEAPCHECK is set: REGISTER_HEAPCHECK_CLEANUP.
class PERFTOOLS_DLL_DECL HeapCleaner {
 public:
  typedef void (*void_function)(void);
  HeapCleaner(void_function f) {
    std::vector<void_function>*& list = Cleanups();
    if (!list) {
      list = new std::vector<void_function>;
      // Before the runtime's exit-time check: atexit handlers run before
      // the destructors of loaded libraries.
      std::atexit(HeapLeakChecker_RunHeapCleanups);
    }
    list->push_back(f);
  }
  // Runs the registered functions once (later calls run the ones added
  // since), only while leak checking is on.
  static void RunHeapCleanups() {
    std::vector<void_function>* list = Cleanups();
    if (!list || !HeapLeakChecker::IsActive()) return;
    while (!list->empty()) {
      void_function f = list->front();
      list->erase(list->begin());
      f();
    }
  }

 private:
  static std::vector<void_function>*& Cleanups() {
    static std::vector<void_function>* list = 0;
    return list;
  }
};

#define REGISTER_HEAPCHECK_CLEANUP(name, body)                                  \
  namespace {                                                                   \
  void heapcheck_cleanup_##name() { body; }                                     \
  static HeapCleaner heapcheck_cleaner_##name(&heapcheck_cleanup_##name);       \
  }

inline void HeapLeakChecker_BeforeConstructors() {}
inline void HeapLeakChecker_AfterDestructors() { HeapCleaner::RunHeapCleanups(); }
inline void HeapLeakChecker_InternalInitStart() {}
inline void HeapLeakChecker_RunHeapCleanups() { HeapCleaner::RunHeapCleanups(); }

#endif
