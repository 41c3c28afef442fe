// gperftools-compatible MallocExtension (the interface of gperftools 2.10's
// malloc_extension.h), header-only over the C functions of
// <gperftools/malloc_extension_c.h> and <heapscope/heapscope.h>:
// libheapscope stays a C library. MallocExtension::instance() is
// heapscope's allocator; docs/gperftools.md says what each call does here.
#ifndef HEAPSCOPE_GPERFTOOLS_MALLOC_EXTENSION_H
#define HEAPSCOPE_GPERFTOOLS_MALLOC_EXTENSION_H

#include <stddef.h>
#include <stdint.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <gperftools/malloc_extension_c.h>
#include <heapscope/heapscope.h>

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

static const int kMallocHistogramSize = 64;

typedef std::string MallocExtensionWriter;

namespace base {
struct MallocRange;
}

// gperftools' pluggable system allocator. heapscope maps its own memory and
// takes none (SetSystemAllocator says so).
class PERFTOOLS_DLL_DECL SysAllocator {
 public:
  SysAllocator() {}
  virtual ~SysAllocator() {}
  virtual void* Alloc(size_t size, size_t* actual_size, size_t alignment) = 0;
};

class PERFTOOLS_DLL_DECL MallocExtension {
 public:
  virtual ~MallocExtension() {}

  // Nothing to set up.
  static void Initialize() {}

  // true: heapscope validates each free instead (an invalid one aborts).
  virtual bool VerifyAllMemory() { return MallocExtension_VerifyAllMemory() != 0; }
  // p is NULL or a block of this heap not known to be freed.
  virtual bool VerifyNewMemory(const void* p) { return MallocExtension_VerifyNewMemory(p) != 0; }
  virtual bool VerifyArrayNewMemory(const void* p) {
    return MallocExtension_VerifyArrayNewMemory(p) != 0;
  }
  virtual bool VerifyMallocMemory(const void* p) { return MallocExtension_VerifyMallocMemory(p) != 0; }
  // Live blocks, bytes and a log2 size histogram, while allocations are
  // recorded; false (and zeros) otherwise.
  virtual bool MallocMemoryStats(int* blocks, size_t* total, int histogram[kMallocHistogramSize]) {
    return MallocExtension_MallocMemoryStats(blocks, total, histogram) != 0;
  }

  virtual void GetStats(char* buffer, int buffer_length) {
    MallocExtension_GetStats(buffer, buffer_length);
  }

  // The live recorded objects by stack, as a heap profile pprof reads
  // (TCMALLOC_SAMPLE_PARAMETER samples them; HEAPCHECK or HEAPPROFILE
  // record every one).
  virtual void GetHeapSample(MallocExtensionWriter* writer) {
    size_t len = 0;
    char* p = heapscope_heap_sample(&len);
    if (p) {
      writer->append(p, len);
      std::free(p);
    }
  }

  // heapscope does not record what made the heap grow: an empty profile
  // (said once).
  virtual void GetHeapGrowthStacks(MallocExtensionWriter* writer) {
    static bool said = false;
    if (!said)
      std::fprintf(stderr, "heapscope: MallocExtension::GetHeapGrowthStacks: heap growth stacks "
                   "are not recorded; the profile is empty\n");
    said = true;
    writer->append("heap profile:      0:        0 [     0:        0] @ growthz\n");
  }

  // Calls func for no range (gperftools allows it: "may not call func at all").
  typedef void(RangeFunction)(void*, const base::MallocRange*);
  virtual void Ranges(void* arg, RangeFunction func) {}

  virtual bool GetNumericProperty(const char* property, size_t* value) {
    return MallocExtension_GetNumericProperty(property, value) != 0;
  }
  virtual bool SetNumericProperty(const char* property, size_t value) {
    return MallocExtension_SetNumericProperty(property, value) != 0;
  }

  virtual void MarkThreadIdle() { MallocExtension_MarkThreadIdle(); }
  virtual void MarkThreadBusy() { MallocExtension_MarkThreadBusy(); }

  // NULL: no pluggable system allocator.
  virtual SysAllocator* GetSystemAllocator() { return 0; }
  virtual void SetSystemAllocator(SysAllocator* a) {
    std::fprintf(stderr, "heapscope: MallocExtension::SetSystemAllocator is ignored: heapscope "
                 "maps its own memory\n");
  }

  virtual void ReleaseToSystem(size_t num_bytes) { MallocExtension_ReleaseToSystem(num_bytes); }
  virtual void ReleaseFreeMemory() { MallocExtension_ReleaseFreeMemory(); }

  // As TCMALLOC_RELEASE_RATE: divides how long free pages stay mapped
  // unused (1 s) and the cap on free memory; 0 never gives free pages back
  // on its own, 1 is the default.
  virtual void SetMemoryReleaseRate(double rate) {
    if (!(rate >= 0)) rate = 0;
    if (rate > 1e6) rate = 1e6;
    MallocExtension_SetNumericProperty("heapscope.release_rate_milli",
                                       static_cast<size_t>(rate * 1000.0 + 0.5));
  }
  virtual double GetMemoryReleaseRate() {
    size_t milli = 0;
    if (!MallocExtension_GetNumericProperty("heapscope.release_rate_milli", &milli)) return -1;
    return static_cast<double>(milli) / 1000.0;
  }

  virtual size_t GetEstimatedAllocatedSize(size_t size) {
    return MallocExtension_GetEstimatedAllocatedSize(size);
  }
  virtual size_t GetAllocatedSize(const void* p) { return MallocExtension_GetAllocatedSize(p); }

  enum Ownership { kUnknownOwnership = 0, kOwned, kNotOwned };
  virtual Ownership GetOwnership(const void* p) {
    return static_cast<Ownership>(MallocExtension_GetOwnership(p));
  }

  // heapscope's allocator, or what Register installed.
  static MallocExtension* instance() {
    MallocExtension*& current = Current();
    if (!current) {
      static MallocExtension heapscope_allocator;
      current = &heapscope_allocator;
    }
    return current;
  }
  static void Register(MallocExtension* implementation) { Current() = implementation; }

  struct FreeListInfo {
    size_t min_object_size;
    size_t max_object_size;
    size_t total_bytes_free;
    const char* type;
  };
  // One entry per kind of free list (not per size class): "tcmalloc.thread",
  // "tcmalloc.central", "tcmalloc.page", "tcmalloc.page_unmapped".
  virtual void GetFreeListSizes(std::vector<FreeListInfo>* v) {
    static const struct {
      const char* property;
      const char* type;
      size_t min, max;
    } lists[] = {
        {"tcmalloc.thread_cache_free_bytes", "tcmalloc.thread", 1, 256 << 10},
        {"tcmalloc.central_cache_free_bytes", "tcmalloc.central", 1, 256 << 10},
        {"tcmalloc.pageheap_free_bytes", "tcmalloc.page", 8 << 10, static_cast<size_t>(-1)},
        {"tcmalloc.pageheap_unmapped_bytes", "tcmalloc.page_unmapped", 8 << 10,
         static_cast<size_t>(-1)},
    };
    v->clear();
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
      FreeListInfo info;
      info.min_object_size = lists[i].min;
      info.max_object_size = lists[i].max;
      info.total_bytes_free = 0;
      MallocExtension_GetNumericProperty(lists[i].property, &info.total_bytes_free);
      info.type = lists[i].type;
      v->push_back(info);
    }
  }

  // The live recorded objects as gperftools' array: per stack {count,
  // bytes, depth, pc...}, ending with a count of 0; delete[] it. NULL if
  // none. Counts of sampled objects are already scaled back to estimates,
  // so *sample_period is 1.
  virtual void** ReadStackTraces(int* sample_period) {
    if (sample_period) *sample_period = 1;
    size_t len = 0;
    char* text = heapscope_heap_sample(&len);
    if (!text) return 0;
    std::vector<void*> out;
    const char* line = std::strchr(text, '\n');  // the first line is the header
    while (line && *++line && *line != '\n') {   // a blank line ends the stacks
      const char* eol = std::strchr(line, '\n');
      const char* at = std::strchr(line, '@');
      const char* colon = std::strchr(line, ':');
      if (!colon || !at || (eol && at > eol)) break;
      unsigned long objs = std::strtoul(line, 0, 10);
      unsigned long bytes = std::strtoul(colon + 1, 0, 10);
      std::vector<void*> pcs;
      for (const char* q = at + 1; !eol || q < eol;) {
        char* next;
        unsigned long long pc = std::strtoull(q, &next, 16);
        if (next == q) break;
        pcs.push_back(reinterpret_cast<void*>(static_cast<uintptr_t>(pc)));
        q = next;
      }
      if (objs) {
        out.push_back(reinterpret_cast<void*>(static_cast<uintptr_t>(objs)));
        out.push_back(reinterpret_cast<void*>(static_cast<uintptr_t>(bytes)));
        out.push_back(reinterpret_cast<void*>(static_cast<uintptr_t>(pcs.size())));
        out.insert(out.end(), pcs.begin(), pcs.end());
      }
      line = eol;
    }
    std::free(text);
    if (out.empty()) return 0;
    void** result = new void*[out.size() + 1];
    for (size_t i = 0; i < out.size(); i++) result[i] = out[i];
    result[out.size()] = 0;
    return result;
  }

  // heapscope does not record heap growth: NULL ("no results").
  virtual void** ReadHeapGrowthStackTraces() { return 0; }

  virtual size_t GetThreadCacheSize() { return MallocExtension_GetThreadCacheSize(); }
  virtual void MarkThreadTemporarilyIdle() { MallocExtension_MarkThreadTemporarilyIdle(); }

 private:
  static MallocExtension*& Current() {
    static MallocExtension* current = 0;
    return current;
  }
};

namespace base {
struct MallocRange {
  enum Type { INUSE, FREE, UNMAPPED, UNKNOWN };
  uintptr_t address;  // Address of range
  size_t length;      // Byte length of range
  Type type;          // Type of this range
  double fraction;    // Fraction of range that is being used (0 if !INUSE)
};
}  // namespace base

#endif
