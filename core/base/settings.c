/* Settings: the one place the runtime reads its environment (see
 * settings.h). Runs from the first malloc, before libc has finished
 * initialising, so it reads `environ` directly, copies what it keeps into a
 * static pool and never allocates. */
#include "core/base/settings.h"

#include "core/base/base.h"

#include <string.h>
#include <strings.h>
#include <sys/auxv.h>

extern char **environ;

enum { KIND_STR, KIND_BOOL, KIND_INT, KIND_BYTES, KIND_SECONDS };

typedef struct setting {
  const char *name;
  size_t len; /* strlen(name) */
  int kind;
  const char *dflt;
  long long min, max;
} setting_t;

static const setting_t table[HS_SET_COUNT] = {
#define HS_SETTING(name, kind, dflt, min, max, help) \
  {#name, sizeof(#name) - 1, KIND_##kind, dflt, min, max},
#include "core/base/settings.def"
#undef HS_SETTING
};

typedef struct value {
  const char *str; /* copy in pool, NULL when unset or empty */
  long long num;   /* parsed value or the default */
  bool given;
} value_t;

static value_t values[HS_SET_COUNT];
static char pool[16384];
static size_t pool_used;
static _Atomic int state; /* 0 not read, 1 reading, 2 read */
static bool secure;

/* Each setting's value in the environment (the first definition, as
 * getenv), in one pass over `environ` comparing each entry's name with the
 * names of its length only: scanning `environ` once per setting cost ~170 k
 * instructions at every process start. */
static void read_environ(const char *found[HS_SET_COUNT]) {
  char **env = environ;
  if (!env) return;
  for (; *env; env++) {
    const char *eq = strchr(*env, '=');
    if (!eq) continue;
    size_t n = (size_t)(eq - *env);
    for (int id = 0; id < HS_SET_COUNT; id++) {
      if (table[id].len != n || memcmp(table[id].name, *env, n) != 0) continue;
      if (!found[id]) found[id] = eq + 1;
      break;
    }
  }
}

static bool parse_int(const char *v, bool bytes, long long *out) {
  const char *p = v;
  bool neg = *p == '-';
  if (neg || *p == '+') p++;
  if (*p < '0' || *p > '9') return false;
  long long r = 0;
  for (; *p >= '0' && *p <= '9'; p++)
    if (__builtin_mul_overflow(r, 10, &r) || __builtin_add_overflow(r, *p - '0', &r))
      return false;
  if (bytes && *p) {
    int shift = 0;
    switch (*p) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: return false;
    }
    p++;
    if (r > (__LONG_LONG_MAX__ >> shift)) return false;
    r <<= shift;
  }
  if (*p) return false;
  *out = neg ? -r : r;
  return true;
}

/* Seconds with up to nine decimals ("0.25", "2"), as nanoseconds. */
static bool parse_seconds(const char *v, long long *out) {
  const char *p = v;
  if (*p < '0' || *p > '9') return false;
  long long s = 0, frac = 0;
  for (; *p >= '0' && *p <= '9'; p++)
    if (__builtin_mul_overflow(s, 10, &s) || __builtin_add_overflow(s, *p - '0', &s))
      return false;
  if (*p == '.') {
    p++;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
      if (digits < 9) frac = frac * 10 + (*p - '0');
    if (digits == 0) return false;
    for (; digits < 9; digits++) frac *= 10;
  }
  if (*p) return false;
  if (__builtin_mul_overflow(s, 1000000000LL, &s) || __builtin_add_overflow(s, frac, &s))
    return false;
  *out = s;
  return true;
}

static bool parse_bool(const char *v, long long *out) {
  static const char *const yes[] = {"1", "true", "yes", "on", "t", "y"};
  static const char *const no[] = {"0", "false", "no", "off", "f", "n"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (!strcasecmp(v, yes[i])) return *out = 1, true;
    if (!strcasecmp(v, no[i])) return *out = 0, true;
  }
  return false;
}

static void reject(const setting_t *s, const char *v) {
  switch (s->kind) {
  case KIND_BOOL:
    hs__errorf("invalid %s='%s' (expected true or false); using %s", s->name, v, s->dflt);
    break;
  case KIND_BYTES:
    hs__errorf("invalid %s='%s' (expected bytes in [%lld, %lld], K/M/G suffixes allowed); using %s",
               s->name, v, s->min, s->max, s->dflt);
    break;
  case KIND_SECONDS:
    hs__errorf("invalid %s='%s' (expected seconds in [%lld, %lld], e.g. 0.5); using %s", s->name,
               v, s->min, s->max, s->dflt);
    break;
  default:
    hs__errorf("invalid %s='%s' (expected an integer in [%lld, %lld]); using %s", s->name, v,
               s->min, s->max, s->dflt);
  }
}

static void read_one(hs_setting_id_t id, const char *v) {
  const setting_t *s = &table[id];
  value_t *val = &values[id];
  if (s->kind == KIND_SECONDS) parse_seconds(s->dflt, &val->num);
  else if (s->kind != KIND_STR && !parse_int(s->dflt, false, &val->num))
    parse_bool(s->dflt, &val->num);
  if (!v || !*v) return;
  if (s->kind == KIND_STR) {
    size_t n = strlen(v) + 1;
    if (n > sizeof pool - pool_used) {
      hs__errorf("%s is too long (%zu bytes); ignored", s->name, n - 1);
      return;
    }
    val->str = memcpy(pool + pool_used, v, n);
    pool_used += n;
    val->given = true;
    return;
  }
  long long num;
  bool ok;
  if (s->kind == KIND_BOOL) ok = parse_bool(v, &num);
  else if (s->kind == KIND_SECONDS)
    ok = parse_seconds(v, &num) && num >= s->min * 1000000000LL && num <= s->max * 1000000000LL;
  else ok = parse_int(v, s->kind == KIND_BYTES, &num) && num >= s->min && num <= s->max;
  if (!ok) {
    reject(s, v);
    return;
  }
  val->num = num;
  val->given = true;
}

/* Lists the variables a secure process was given (and ignores). */
static void note_ignored(const char *const found[HS_SET_COUNT]) {
  char names[512];
  size_t len = 0;
  int count = 0;
  for (int id = 0; id < HS_SET_COUNT; id++) {
    if (!found[id]) continue;
    count++;
    int n = hs__snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", table[id].name);
    if (n > 0 && (size_t)n < sizeof names - len) len += (size_t)n;
  }
  if (count)
    hs__errorf("setuid/setgid process: environment variables ignored (%s)", names);
}

void hs__settings_init(void) {
  if (HS_LIKELY(atomic_load_explicit(&state, memory_order_acquire) == 2)) return;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&state, &expected, 1)) {
    while (atomic_load_explicit(&state, memory_order_acquire) != 2) __builtin_ia32_pause();
    return;
  }
  secure = getauxval(AT_SECURE) != 0;
  const char *found[HS_SET_COUNT] = {0};
  read_environ(found);
  for (int id = 0; id < HS_SET_COUNT; id++)
    read_one((hs_setting_id_t)id, secure ? NULL : found[id]);
  if (secure) note_ignored(found);
  atomic_store_explicit(&state, 2, memory_order_release);
}

bool hs__settings_secure(void) {
  hs__settings_init();
  return secure;
}

const char *hs__setting_str(hs_setting_id_t id) {
  hs__settings_init();
  return values[id].str;
}

long long hs__setting_int(hs_setting_id_t id) {
  hs__settings_init();
  return values[id].num;
}

bool hs__setting_bool(hs_setting_id_t id) { return hs__setting_int(id) != 0; }

bool hs__setting_given(hs_setting_id_t id) {
  hs__settings_init();
  return values[id].given;
}
