#ifndef LABELS_H
#define LABELS_H
/* Returns a new "<prefix>: <text>" string; the caller frees it. */
char *label_make(const char *prefix, const char *text);
#endif
