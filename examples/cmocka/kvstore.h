/* A tiny key-value store: the library under test in the CMocka example. */
#ifndef KVSTORE_H
#define KVSTORE_H

#include <stddef.h>

typedef struct kv_store kv_store_t;

kv_store_t *kv_open(void);
void kv_close(kv_store_t *kv);
int kv_put(kv_store_t *kv, const char *key, const char *value);
const char *kv_get(const kv_store_t *kv, const char *key);
size_t kv_count(const kv_store_t *kv);
/* Removes key; returns 0 if it was there. (Bug on purpose: leaks the entry.) */
int kv_remove(kv_store_t *kv, const char *key);
/* "key=value" for an entry, built by a helper in kv_format.c; the caller
 * frees the result. */
char *kv_describe(const kv_store_t *kv, const char *key);
/* Upper-cases a value into a new string (bug on purpose: kv_shout leaks
 * the intermediate copy made by kv_format.c). */
char *kv_shout(const kv_store_t *kv, const char *key);
/* A process-wide table of well-known keys, built on first use and kept:
 * a lazily built cache, reachable from a global, not a leak. */
const char *const *kv_well_known_keys(size_t *count);

/* kv_format.c */
char *kv_format_pair(const char *key, const char *value);
char *kv_copy_upper(const char *s);

#endif
