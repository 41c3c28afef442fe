#include "kvstore.h"

#include <stdlib.h>
#include <string.h>

typedef struct kv_entry {
  char *key;
  char *value;
  struct kv_entry *next;
} kv_entry_t;

struct kv_store {
  kv_entry_t *head;
  size_t count;
};

kv_store_t *kv_open(void) { return calloc(1, sizeof(kv_store_t)); }

static void free_entry(kv_entry_t *e) {
  free(e->key);
  free(e->value);
  free(e);
}

void kv_close(kv_store_t *kv) {
  if (!kv) return;
  for (kv_entry_t *e = kv->head, *next; e; e = next) {
    next = e->next;
    free_entry(e);
  }
  free(kv);
}

static kv_entry_t *find(const kv_store_t *kv, const char *key) {
  for (kv_entry_t *e = kv->head; e; e = e->next)
    if (strcmp(e->key, key) == 0) return e;
  return NULL;
}

int kv_put(kv_store_t *kv, const char *key, const char *value) {
  kv_entry_t *e = find(kv, key);
  if (e) {
    char *copy = strdup(value);
    if (!copy) return -1;
    free(e->value);
    e->value = copy;
    return 0;
  }
  e = malloc(sizeof *e);
  if (!e) return -1;
  e->key = strdup(key);
  e->value = strdup(value);
  e->next = kv->head;
  kv->head = e;
  kv->count++;
  return 0;
}

const char *kv_get(const kv_store_t *kv, const char *key) {
  kv_entry_t *e = find(kv, key);
  return e ? e->value : NULL;
}

size_t kv_count(const kv_store_t *kv) { return kv->count; }

int kv_remove(kv_store_t *kv, const char *key) {
  for (kv_entry_t **link = &kv->head; *link; link = &(*link)->next) {
    if (strcmp((*link)->key, key) == 0) {
      *link = (*link)->next; /* BUG (deliberate): the entry is unlinked, never freed */
      kv->count--;
      return 0;
    }
  }
  return -1;
}

char *kv_describe(const kv_store_t *kv, const char *key) {
  const char *v = kv_get(kv, key);
  return v ? kv_format_pair(key, v) : NULL;
}

char *kv_shout(const kv_store_t *kv, const char *key) {
  const char *v = kv_get(kv, key);
  if (!v) return NULL;
  char *upper = kv_copy_upper(v);
  char *result = kv_copy_upper(upper); /* BUG (deliberate): `upper` leaks */
  return result;
}

const char *const *kv_well_known_keys(size_t *count) {
  static const char **cache;
  static const char *names[] = {"host", "port", "user", "timeout"};
  if (!cache) {
    cache = malloc(sizeof names);
    memcpy(cache, names, sizeof names);
  }
  *count = sizeof names / sizeof names[0];
  return cache;
}
