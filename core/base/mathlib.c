/* exp and log for the sampler (core/record/) and the profile writer's
 * scaling (core/profile/), so that the runtime does not need libm: one
 * library less for every process to load at start-up. Accurate to about
 * 1e-15 relative, far beyond what sampling needs. */
#include "core/base/base.h"

#include <string.h>

static const double ln2 = 0.69314718055994530942;

double hs__log(double x) {
  if (!(x > 0)) return x == 0 ? -1.0 / 0.0 : 0.0 / 0.0;
  if (x == 1.0 / 0.0) return x;
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  int e = (int)((bits >> 52) & 0x7ff);
  if (e == 0) { /* subnormal: scale into the normal range first */
    return hs__log(x * 18014398509481984.0) - 54 * ln2;
  }
  /* x = m * 2^(e - 1023), m in [1, 2); fold m into [sqrt(1/2), sqrt(2)). */
  bits = (bits & ((1ull << 52) - 1)) | (1023ull << 52);
  double m;
  memcpy(&m, &bits, sizeof m);
  int k = e - 1023;
  if (m > 1.4142135623730951) {
    m /= 2;
    k++;
  }
  /* log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172 */
  double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
  for (int i = 1; i < 40; i += 2) {
    sum += term / i;
    term *= s2;
  }
  return 2 * sum + k * ln2;
}

double hs__exp(double x) {
  if (x != x) return x;
  if (x > 709.78) return 1.0 / 0.0;
  if (x < -745.2) return 0;
  /* x = k ln2 + r, |r| <= ln2 / 2 */
  double kd = x / ln2;
  int k = (int)(kd < 0 ? kd - 0.5 : kd + 0.5);
  double r = x - k * ln2, term = 1, sum = 1;
  for (int i = 1; i < 24; i++) {
    term *= r / i;
    sum += term;
  }
  /* sum * 2^k, in two halves so that neither scale over- or underflows */
  int k1 = k / 2, k2 = k - k1;
  uint64_t b1 = (uint64_t)(k1 + 1023) << 52, b2 = (uint64_t)(k2 + 1023) << 52;
  double f1, f2;
  memcpy(&f1, &b1, sizeof f1);
  memcpy(&f2, &b2, sizeof f2);
  return sum * f1 * f2;
}
