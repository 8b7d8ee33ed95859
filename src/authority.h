/* authority.h: the write authority of volseal's NV index, kept on STATE (`--state-dir`) as
 * `volseal-tpm-authority` (docs/tpm-updatable.md): the index's handle and the ECC P-256 key whose
 * signatures alone can change which states and PCR-policy keys unseal the node's updatable tpm slots.
 * The file is a strict list of `name: value` lines (and `#` comments):
 *   version: 1
 *   nv_index: 0x01805600
 *   write_key: <base64 of the PKCS#8 DER private key>
 * Promise: the file is written atomically and durably (a temporary file in STATE, fsync, then link() for a
 * new file or rename() for a replacement, fsync of the folder), mode 0600, never through a symlink; its
 * text only ever lives in struct vs_secret; a file that is not exactly that list is refused with
 * PATH:LINE:COL and the cause, and nothing is written on a refusal. */
#pragma once
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "secret.h"

#define VS_AUTHORITY_FILE "volseal-tpm-authority"

struct vs_authority {
        uint32_t nv_index;           /* the NV index it authorizes writes of */
        EVP_PKEY *write_key;         /* ECC NIST P-256 private key */
};

/* Parses the file's text (`where` names it in errors). -EBADMSG (logged) on anything else. */
int vs_authority_parse(const char *where, const uint8_t *text, size_t len, struct vs_authority *ret);
/* The file's text. */
int vs_authority_format(const struct vs_authority *a, struct vs_secret **ret);
/* The Name the TPM gives the write key (policy_ecc_public), which the index's authPolicy binds. */
int vs_authority_key_name(const struct vs_authority *a, TPM2B_NAME *ret);

/* DIR/volseal-tpm-authority; -ENOENT (not logged) when absent, -EBADMSG when malformed. */
int vs_authority_load(const char *state_dir, struct vs_authority *ret);
/* A new authority (fresh P-256 key) for nv_index, written to DIR; -EEXIST (nothing written) when the file
 * exists already. */
int vs_authority_create(const char *state_dir, uint32_t nv_index, struct vs_authority *ret);
/* Replaces the file with `a` (e.g. when the index had to move to another handle before its first write). */
int vs_authority_save(const char *state_dir, const struct vs_authority *a);
/* `volseal wipe`: removes the file (absent is fine) and syncs the folder. */
int vs_authority_remove(const char *state_dir);
void vs_authority_done(struct vs_authority *a);
