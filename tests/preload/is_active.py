"""Prints whether heapscope is the allocator of this Python process and how
many bytes it reports allocated (proves the preload took effect)."""
import ctypes

libc = ctypes.CDLL(None)
try:
    f = libc.MallocExtension_GetNumericProperty
except AttributeError:
    print("heapscope: not active")
    raise SystemExit(0)
f.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]
f.restype = ctypes.c_int
keep = [bytes(1000) + bytes([i % 256]) for i in range(5000)]
v = ctypes.c_size_t(0)
ok = f(b"generic.current_allocated_bytes", ctypes.byref(v))
print("heapscope: active" if ok and v.value >= 5000 * 1000 else
      "heapscope: loaded but not allocating (%d)" % v.value)
