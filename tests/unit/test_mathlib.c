/* hs__log and hs__exp (core/base/mathlib.c: the runtime's own, so that it
 * needs no libm) against libm over their whole ranges. */
#include "core/base/base.h"
#include "tests/unit/check.h"

#include <math.h>

int main(void) {
  double worst = 0;
  for (double x = 1e-310; x < 1e300; x *= 1.37) {
    double a = log(x), r = fabs(a - hs__log(x)) / (fabs(a) > 1 ? fabs(a) : 1);
    if (r > worst) worst = r;
  }
  CHECKF(worst < 1e-14, "log: worst relative error %g", worst);
  worst = 0;
  for (double x = -700; x < 709; x += 0.0137) { /* normal results */
    double a = exp(x), r = fabs(a - hs__exp(x)) / a;
    if (r > worst) worst = r;
  }
  CHECKF(worst < 1e-12, "exp: worst relative error %g", worst);
  CHECK(hs__exp(-1000) == 0 && isinf(hs__exp(1000)) && isinf(hs__log(0)) && isnan(hs__log(-1)));
  printf("mathlib: log and exp agree with libm\n");
  return 0;
}
