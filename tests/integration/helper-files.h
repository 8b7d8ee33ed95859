/* helper-files.h: whole-file reads and writes for the test helpers (tpm-helper, tpm-updatable-helper).
 * Promise: test-only; no secrets handling beyond what the helpers document. */
#pragma once
#include <stddef.h>

/* The whole file into a malloc'ed buffer; 0 or -errno. */
int helper_read_file(const char *path, char **ret, size_t *ret_len);
/* DIR/NAME with exactly len bytes, mode 0600; 0 or -errno. */
int helper_write_file(const char *dir, const char *name, const void *p, size_t len);
