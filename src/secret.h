/* secret.h: the one type for every secret buffer in volseal (passphrases, unsealed TPM data, KMS keys,
 * salts joined to keys).
 * Promise: the bytes live in their own anonymous mapping that is mlock()ed (not swapped) and
 * MADV_DONTDUMP (never in a core dump); they are wiped with explicit_bzero before the mapping is returned;
 * there is no function that prints a secret. vs_process_harden() turns core dumps off for the process. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct vs_secret {
        uint8_t *data;  /* len bytes used, followed by a NUL so text secrets can be passed as C strings */
        size_t len;
        size_t cap;     /* usable bytes in the mapping, excluding the trailing NUL */
};

/* A zeroed secret with room for `cap` bytes, len 0. Returns 0 or -errno. */
int vs_secret_new(size_t cap, struct vs_secret **ret);
/* A copy of `len` bytes at `p`. */
int vs_secret_from(const void *p, size_t len, struct vs_secret **ret);
/* Appends, growing into a new locked mapping (the old one is wiped) when needed. */
int vs_secret_append(struct vs_secret *s, const void *p, size_t len);
/* Wipes the bytes and sets len to 0, keeping the mapping. */
void vs_secret_clear(struct vs_secret *s);
/* Wipes and unmaps. NULL is fine. */
void vs_secret_free(struct vs_secret *s);
int vs_secret_equal(const struct vs_secret *a, const struct vs_secret *b); /* constant time in len */

static inline void vs_secret_freep(struct vs_secret **s) { vs_secret_free(*s); *s = NULL; }
#define _cleanup_secret_ __attribute__((cleanup(vs_secret_freep)))

/* For commands that touch secrets: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0. Returns 0 or -errno. */
int vs_process_harden(void);
