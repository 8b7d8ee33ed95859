/* alg.h: the TPM hash algorithms volseal knows, by TPM id, name, digest size and OpenSSL digest.
 * Promise: a table and lookups only; no TPM, no I/O, no allocation. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

/* "sha1", "sha256", "sha384", "sha512", "sm3_256", "sha3_256", ... or NULL; and back (case-insensitive,
 * 0 = unknown). */
const char *vs_tpm_alg_name(uint16_t alg);
uint16_t vs_tpm_alg_from_name(const char *name);
/* The digest size of `alg` in bytes, 0 if unknown. */
size_t vs_tpm_alg_digest_size(uint16_t alg);
/* OpenSSL's implementation of `alg`, NULL if unknown or not available in this OpenSSL. */
const EVP_MD *vs_tpm_alg_md(uint16_t alg);
