/* libcpu_gap.so (see cpu_phdr_hole.c): a CPU burner, without frame
 * pointers (the walk needs the library's CFI). */
#include "cputest.h"

double gap_burn(double seconds);
double gap_burn(double seconds) { return burn_cpu(seconds); }
