// gperftools-compatible MallocHook class (the interface of gperftools
// 2.10's malloc_hook.h), header-only over the C functions of
// <gperftools/malloc_hook_c.h> and <heapscope/heapscope.h>: libheapscope
// stays a C library. See malloc_hook_c.h for when hooks run.
//
// Unlike gperftools' installed header, the Invoke*Hook and deprecated
// Get*Hook methods are defined here (gperftools kept them in an uninstalled
// malloc_hook-inl.h).
#ifndef HEAPSCOPE_GPERFTOOLS_MALLOC_HOOK_H
#define HEAPSCOPE_GPERFTOOLS_MALLOC_HOOK_H

#include <stddef.h>
#include <sys/types.h>
#include <gperftools/malloc_hook_c.h>
#include <heapscope/heapscope.h>

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

class PERFTOOLS_DLL_DECL MallocHook {
 public:
  // Invoked after each allocation (ptr, size).
  typedef MallocHook_NewHook NewHook;
  inline static bool AddNewHook(NewHook hook) { return MallocHook_AddNewHook(hook) != 0; }
  inline static bool RemoveNewHook(NewHook hook) { return MallocHook_RemoveNewHook(hook) != 0; }
  inline static void InvokeNewHook(const void* p, size_t s) {
    heapscope_hook_args_t a = Args();
    a.result = p;
    a.size = s;
    heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_NEW, &a);
  }

  // Invoked before each deallocation (ptr).
  typedef MallocHook_DeleteHook DeleteHook;
  inline static bool AddDeleteHook(DeleteHook hook) { return MallocHook_AddDeleteHook(hook) != 0; }
  inline static bool RemoveDeleteHook(DeleteHook hook) {
    return MallocHook_RemoveDeleteHook(hook) != 0;
  }
  inline static void InvokeDeleteHook(const void* p) {
    heapscope_hook_args_t a = Args();
    a.result = p;
    heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_DELETE, &a);
  }

  // Invoked with mmap's arguments before the call.
  typedef MallocHook_PreMmapHook PreMmapHook;
  inline static bool AddPreMmapHook(PreMmapHook hook) { return MallocHook_AddPreMmapHook(hook) != 0; }
  inline static bool RemovePreMmapHook(PreMmapHook hook) {
    return MallocHook_RemovePreMmapHook(hook) != 0;
  }
  inline static void InvokePreMmapHook(const void* start, size_t size, int protection, int flags,
                                       int fd, off_t offset) {
    heapscope_hook_args_t a = Args();
    a.start = start;
    a.size = size;
    a.prot = protection;
    a.flags = flags;
    a.fd = fd;
    a.offset = offset;
    heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_PRE_MMAP, &a);
  }

  // Does the mapping instead of mmap when it returns true. One at a time.
  typedef MallocHook_MmapReplacement MmapReplacement;
  inline static bool SetMmapReplacement(MmapReplacement hook) {
    return MallocHook_SetMmapReplacement(hook) != 0;
  }
  inline static bool RemoveMmapReplacement(MmapReplacement hook) {
    return MallocHook_RemoveMmapReplacement(hook) != 0;
  }
  inline static bool InvokeMmapReplacement(const void* start, size_t size, int protection,
                                           int flags, int fd, off_t offset, void** result) {
    heapscope_hook_args_t a = Args();
    a.start = start;
    a.size = size;
    a.prot = protection;
    a.flags = flags;
    a.fd = fd;
    a.offset = offset;
    a.out_result = result;
    return heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_MMAP_REPLACEMENT, &a) != 0;
  }

  // Invoked after each mmap (result may be MAP_FAILED).
  typedef MallocHook_MmapHook MmapHook;
  inline static bool AddMmapHook(MmapHook hook) { return MallocHook_AddMmapHook(hook) != 0; }
  inline static bool RemoveMmapHook(MmapHook hook) { return MallocHook_RemoveMmapHook(hook) != 0; }
  inline static void InvokeMmapHook(const void* result, const void* start, size_t size,
                                    int protection, int flags, int fd, off_t offset) {
    heapscope_hook_args_t a = Args();
    a.result = result;
    a.start = start;
    a.size = size;
    a.prot = protection;
    a.flags = flags;
    a.fd = fd;
    a.offset = offset;
    heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_MMAP, &a);
  }

  // Does the unmapping instead of munmap when it returns true. One at a time.
  typedef MallocHook_MunmapReplacement MunmapReplacement;
  inline static bool SetMunmapReplacement(MunmapReplacement hook) {
    return MallocHook_SetMunmapReplacement(hook) != 0;
  }
  inline static bool RemoveMunmapReplacement(MunmapReplacement hook) {
    return MallocHook_RemoveMunmapReplacement(hook) != 0;
  }
  inline static bool InvokeMunmapReplacement(const void* p, size_t size, int* result) {
    heapscope_hook_args_t a = Args();
    a.start = p;
    a.size = size;
    a.out_int = result;
    return heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_MUNMAP_REPLACEMENT, &a) != 0;
  }

  // Invoked before each munmap.
  typedef MallocHook_MunmapHook MunmapHook;
  inline static bool AddMunmapHook(MunmapHook hook) { return MallocHook_AddMunmapHook(hook) != 0; }
  inline static bool RemoveMunmapHook(MunmapHook hook) {
    return MallocHook_RemoveMunmapHook(hook) != 0;
  }
  inline static void InvokeMunmapHook(const void* p, size_t size) {
    heapscope_hook_args_t a = Args();
    a.start = p;
    a.size = size;
    heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_MUNMAP, &a);
  }

  // Invoked after each mremap.
  typedef MallocHook_MremapHook MremapHook;
  inline static bool AddMremapHook(MremapHook hook) { return MallocHook_AddMremapHook(hook) != 0; }
  inline static bool RemoveMremapHook(MremapHook hook) {
    return MallocHook_RemoveMremapHook(hook) != 0;
  }
  inline static void InvokeMremapHook(const void* result, const void* old_addr, size_t old_size,
                                      size_t new_size, int flags, const void* new_addr) {
    heapscope_hook_args_t a = Args();
    a.result = result;
    a.start = old_addr;
    a.size = old_size;
    a.new_size = new_size;
    a.flags = flags;
    a.new_addr = new_addr;
    heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_MREMAP, &a);
  }

  // Invoked before each sbrk with a non-zero increment.
  typedef MallocHook_PreSbrkHook PreSbrkHook;
  inline static bool AddPreSbrkHook(PreSbrkHook hook) { return MallocHook_AddPreSbrkHook(hook) != 0; }
  inline static bool RemovePreSbrkHook(PreSbrkHook hook) {
    return MallocHook_RemovePreSbrkHook(hook) != 0;
  }
  inline static void InvokePreSbrkHook(ptrdiff_t increment) {
    heapscope_hook_args_t a = Args();
    a.increment = increment;
    heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_PRE_SBRK, &a);
  }

  // Invoked after each sbrk with a non-zero increment.
  typedef MallocHook_SbrkHook SbrkHook;
  inline static bool AddSbrkHook(SbrkHook hook) { return MallocHook_AddSbrkHook(hook) != 0; }
  inline static bool RemoveSbrkHook(SbrkHook hook) { return MallocHook_RemoveSbrkHook(hook) != 0; }
  inline static void InvokeSbrkHook(const void* result, ptrdiff_t increment) {
    heapscope_hook_args_t a = Args();
    a.result = result;
    a.increment = increment;
    heapscope_malloc_hook_invoke(HEAPSCOPE_HOOK_SBRK, &a);
  }

  // From a hook: the stack of the code that called the allocation function.
  inline static int GetCallerStackTrace(void** result, int max_depth, int skip_count) {
    return MallocHook_GetCallerStackTrace(result, max_depth, skip_count);
  }

  // mmap and munmap without hooks (the replacements still apply).
  static void* UnhookedMMap(void* start, size_t length, int prot, int flags, int fd,
                            off_t offset) {
    return heapscope_mmap_unhooked(start, length, prot, flags, fd, offset);
  }
  static int UnhookedMUnmap(void* start, size_t length) {
    return heapscope_munmap_unhooked(start, length);
  }

  // Deprecated, as in gperftools: the one hook of each kind set by Set*Hook.
  inline static NewHook GetNewHook() {
    return reinterpret_cast<NewHook>(heapscope_malloc_hook_get(HEAPSCOPE_HOOK_NEW));
  }
  inline static NewHook SetNewHook(NewHook hook) { return MallocHook_SetNewHook(hook); }
  inline static DeleteHook GetDeleteHook() {
    return reinterpret_cast<DeleteHook>(heapscope_malloc_hook_get(HEAPSCOPE_HOOK_DELETE));
  }
  inline static DeleteHook SetDeleteHook(DeleteHook hook) { return MallocHook_SetDeleteHook(hook); }
  inline static PreMmapHook GetPreMmapHook() {
    return reinterpret_cast<PreMmapHook>(heapscope_malloc_hook_get(HEAPSCOPE_HOOK_PRE_MMAP));
  }
  inline static PreMmapHook SetPreMmapHook(PreMmapHook hook) {
    return MallocHook_SetPreMmapHook(hook);
  }
  inline static MmapHook GetMmapHook() {
    return reinterpret_cast<MmapHook>(heapscope_malloc_hook_get(HEAPSCOPE_HOOK_MMAP));
  }
  inline static MmapHook SetMmapHook(MmapHook hook) { return MallocHook_SetMmapHook(hook); }
  inline static MunmapHook GetMunmapHook() {
    return reinterpret_cast<MunmapHook>(heapscope_malloc_hook_get(HEAPSCOPE_HOOK_MUNMAP));
  }
  inline static MunmapHook SetMunmapHook(MunmapHook hook) { return MallocHook_SetMunmapHook(hook); }
  inline static MremapHook GetMremapHook() {
    return reinterpret_cast<MremapHook>(heapscope_malloc_hook_get(HEAPSCOPE_HOOK_MREMAP));
  }
  inline static MremapHook SetMremapHook(MremapHook hook) { return MallocHook_SetMremapHook(hook); }
  inline static PreSbrkHook GetPreSbrkHook() {
    return reinterpret_cast<PreSbrkHook>(heapscope_malloc_hook_get(HEAPSCOPE_HOOK_PRE_SBRK));
  }
  inline static PreSbrkHook SetPreSbrkHook(PreSbrkHook hook) {
    return MallocHook_SetPreSbrkHook(hook);
  }
  inline static SbrkHook GetSbrkHook() {
    return reinterpret_cast<SbrkHook>(heapscope_malloc_hook_get(HEAPSCOPE_HOOK_SBRK));
  }
  inline static SbrkHook SetSbrkHook(SbrkHook hook) { return MallocHook_SetSbrkHook(hook); }

 private:
  static heapscope_hook_args_t Args() {
    heapscope_hook_args_t a;
    a.result = a.start = a.new_addr = 0;
    a.size = a.new_size = 0;
    a.prot = a.flags = 0;
    a.fd = -1;
    a.offset = 0;
    a.increment = 0;
    a.out_result = 0;
    a.out_int = 0;
    return a;
  }
};

#endif
