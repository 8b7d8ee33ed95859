/* token-updatable.h: the LUKS2 token of an updatable tpm slot, type `volseal-tpm2-updatable`
 * (docs/tpm-updatable.md "The token"), read and written without a TPM or a disk:
 *   { "type": "volseal-tpm2-updatable", "keyslots": ["1"], "version": 1,
 *     "sealed_blob_private": "<base64 TPM2B_PRIVATE>", "sealed_blob_public": "<base64 TPM2B_PUBLIC>",
 *     "srk_name": "<hex Name>", "policy_hash": "<hex>", "nv_index": "0x01805600", "nv_name": "<hex Name>",
 *     "pcrs": [7] }
 * It holds nothing that authorizes anything: the sealed object, the SRK it was sealed under and the NV index
 * its policy binds (the authorized states live in that index, the key that changes them on STATE).
 * Promise: a token is accepted only when it is consistent in itself: policy_hash is PolicyAuthorizeNV of
 * nv_name and the sealed object's authPolicy, and the object is a policy-only, noDA, fixedTPM keyedHash;
 * otherwise -EBADMSG with one sentence in run->reason (vs_key_reason). Talos's `talos-tpm2` tokens are not
 * touched by this module. */
#pragma once
#include <stdint.h>
#include <json-c/json.h>

#include "keys.h"
#include "tpm/tpm.h"

#define VS_UPDATABLE_TOKEN_TYPE "volseal-tpm2-updatable"

struct vs_updatable_token {
        struct vs_tpm_sealed sealed;   /* priv, pub, policy_hash, srk_name; pcr_mask = the literal PCRs of the
                                        * authorized states (the index says which values) */
        uint32_t nv_index;
        TPM2B_NAME nv_name;            /* Name of the written index the policy binds */
};

int vs_key_updatable_token_parse(struct vs_key_run *run, unsigned slot, struct json_object *token,
                                 struct vs_updatable_token *ret);
/* The token JSON (without "keyslots": volume.c adds it after the keyslot exists). */
int vs_key_updatable_token_make(const struct vs_updatable_token *t, struct json_object **ret);
