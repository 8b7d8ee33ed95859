/* policy-internal.h: what the files of policy/ share (hashing and big-endian helpers).
 * Promise: included only by the .c files of policy/; no I/O. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* SHA-256 over up to four buffers (NULL/0 ones skipped) into out; 0 or -EIO (logged). */
int policy_sha256_parts(uint8_t out[POLICY_SHA256_SIZE], const void *a, size_t alen, const void *b, size_t blen,
                        const void *c, size_t clen, const void *d, size_t dlen);
void policy_put_be32(uint8_t *p, uint32_t v);
