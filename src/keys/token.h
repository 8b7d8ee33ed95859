/* token.h: the LUKS2 token JSON of the tokened kinds (talos-tpm2, sideroKMS), read and written without a
 * TPM, a KMS or a disk: JSON in, fields out (and back). Split out of tpm.c and kms.c so the fuzz target
 * (tests/fuzz/fuzz-token.c) and unit tests reach exactly the code unlock runs on a token from the header.
 * Promise: a malformed token gives a negative errno and one sentence in run->reason (vs_key_reason: logged at
 * debug level only); nothing is read beyond the JSON given. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "keys.h"
#include "tpm/tpm.h"

/* A talos-tpm2 token. */
struct vs_tpm_token {
        struct vs_tpm_sealed sealed;
        bool has_hashes;             /* volseal_{pk,kek,db}_sha256 all present, 64 characters each */
        char hex[3][65];             /* PK, KEK, db (when has_hashes) */
};

/* UserData of a talos-tpm2 token: sealed_blob_private/public and policy_hash (base64 TPM2B / 32 bytes),
 * key_name (optional), pcrs (literal PCRs; Talos tokens without encryption_version mean [11] = PCR 7), the
 * PK/KEK/db hashes. -EBADMSG (reason set) when a field is missing or malformed. */
int vs_key_tpm_token_parse(struct vs_key_run *run, unsigned slot, struct json_object *token, struct vs_tpm_token *ret);
/* The token JSON written at enrolment (without "keyslots" at top level: volume.c adds it). -errno. */
int vs_key_tpm_token_make(unsigned slot, const struct vs_tpm_token *t, struct json_object **ret);

/* UserData.sealedData of a sideroKMS token, base64-decoded (malloc'ed). -ENOKEY (reason set) when absent,
 * not a sideroKMS token or not base64. */
int vs_key_kms_token_parse(struct vs_key_run *run, unsigned slot, struct json_object *token, uint8_t **ret,
                           size_t *ret_len);
