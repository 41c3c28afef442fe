/* The library cpu_dlnofp loads, built with -O2 -fomit-frame-pointer: only
 * its CFI says where its frames' return addresses are. */
#include "cputest.h"

CALLER(dlnofp_leaf, burn_cpu)
CALLER(dlnofp_mid, dlnofp_leaf)
CALLER(dlnofp_outer, dlnofp_mid)
