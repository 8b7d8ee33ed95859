/* authnv.h: the authorized set of volseal's updatable tpm slots (docs/tpm-updatable.md): which PCR-policy
 * signing keys and which literal-PCR states may unseal, as volseal keeps them in its NV index, and every
 * policy digest derived from them.
 * Promise: pure (no TPM, no disk, no randomness); the NV bytes are parsed strictly (every count, every
 * padding byte, no duplicate) and the policy at offset 0 must be the one computed from the lists; the
 * lists are kept oldest first, so retiring "everything authorized before the state that booted" is
 * well defined. Functions return 0 (or a count, or an index) or a negative errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "policy.h"

#define AUTHNV_MAX_KEYS 4             /* PCR-policy signing keys authorized at once (PolicyOR: at most 8) */
#define AUTHNV_STATE_BYTES 256        /* room for the states' PCR values: 8 states of one PCR */
#define AUTHNV_MAX_STATES 8           /* PolicyOR takes at most 8 branches */
#define AUTHNV_NAME_SIZE 34           /* a SHA-256 Name: 0x000b || digest */
#define AUTHNV_HEADER_SIZE 50         /* TPMT_HA (34) + magic, version, counts, mask, serial (16) */
#define AUTHNV_DATA_SIZE (AUTHNV_HEADER_SIZE + AUTHNV_MAX_KEYS * AUTHNV_NAME_SIZE + AUTHNV_STATE_BYTES)
/* The NV index attributes: ordinary, written only through its policy and only whole, read with its empty
 * authValue (anyone may read the public lists), no dictionary-attack accounting. */
#define AUTHNV_ATTRIBUTES (TPMA_NV_POLICYWRITE | TPMA_NV_WRITEALL | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA)
/* policyRef of the PolicySigned that authorizes a write (the signature covers it). */
#define AUTHNV_WRITE_REF "volseal authorized set"

struct authnv_set {
        uint32_t serial;                    /* counts the writes of the index (the writer increments it) */
        uint32_t pcr_mask;                  /* literal SHA-256 PCRs each state gives values for; 0 = none */
        size_t n_keys;                      /* 1..AUTHNV_MAX_KEYS in a valid set */
        TPM2B_NAME keys[AUTHNV_MAX_KEYS];   /* Names of the authorized PCR-policy keys, oldest first */
        size_t n_states;                    /* 0 when pcr_mask is 0, else 1..authnv_max_states() */
        uint8_t states[AUTHNV_STATE_BYTES]; /* each state: the values of pcr_mask's PCRs in ascending order,
                                             * 32 bytes each; oldest first */
};

/* An empty set for these literal PCRs (PCR 11 is never literal: it is bound through the signed policy). */
int authnv_init(struct authnv_set *s, uint32_t pcr_mask);
/* Bytes per state (32 per PCR of the mask) and how many states fit (at most AUTHNV_MAX_STATES). */
size_t authnv_state_size(const struct authnv_set *s);
size_t authnv_max_states(const struct authnv_set *s);
const uint8_t *authnv_state(const struct authnv_set *s, size_t i);

/* The key's index in the set, or -ENOENT. */
int authnv_find_key(const struct authnv_set *s, const TPM2B_NAME *name);
/* 1 added (newest), 0 already there, -ENOSPC full, -EINVAL not a SHA-256 Name. */
int authnv_add_key(struct authnv_set *s, const TPM2B_NAME *name);
/* 1 removed, -ENOENT not there, -EPERM it is the last key (a set always authorizes at least one). */
int authnv_remove_key(struct authnv_set *s, const TPM2B_NAME *name);
/* The state's index (values of the mask's PCRs, authnv_state_size() bytes), or -ENOENT. */
int authnv_find_state(const struct authnv_set *s, const uint8_t *values, size_t len);
/* 1 added (newest), 0 already there, -ENOSPC full, -EINVAL wrong size or no literal PCRs. */
int authnv_add_state(struct authnv_set *s, const uint8_t *values, size_t len);
/* Retires every state authorized before `current` (the state the machine booted in): returns how many
 * were removed (0: nothing to do), or -ENOENT when `current` is not authorized (nothing changes). */
int authnv_retire_before(struct authnv_set *s, const uint8_t *current, size_t len);

/* ---- digests (SHA-256 sessions) ----
 * A_i = PolicyAuthorize(keys[i], "")                    what key i signed for PCR 11
 * X   = A_1, or PolicyOR(A_1..A_n)                      any authorized key
 * Y_j = PolicyPCR(X; pcr_mask = states[j])              ... in state j (Y = X without literal PCRs)
 * P   = Y_1, or PolicyOR(Y_1..Y_m)                      the authorized policy, written at offset 0
 * S   = PolicyAuthorizeNV(Name of the index)            the sealed object's authPolicy (never changes) */
int authnv_key_branches(const struct authnv_set *s, uint8_t (*ret)[POLICY_SHA256_SIZE]);
int authnv_keys_digest(const struct authnv_set *s, uint8_t ret[POLICY_SHA256_SIZE]);
int authnv_state_branches(const struct authnv_set *s, uint8_t (*ret)[POLICY_SHA256_SIZE]);
int authnv_policy(const struct authnv_set *s, uint8_t ret[POLICY_SHA256_SIZE]);

/* The index's authPolicy: PolicySigned(write key, AUTHNV_WRITE_REF) then PolicyCommandCode(NV_Write). */
int authnv_write_policy(const TPM2B_NAME *write_key_name, uint8_t ret[POLICY_SHA256_SIZE]);
/* The index's public area (AUTHNV_ATTRIBUTES, SHA-256, AUTHNV_DATA_SIZE bytes), with TPMA_NV_WRITTEN when
 * `written` (the Name the sealed policy binds is the written one). */
void authnv_nv_public(uint32_t handle, const uint8_t write_policy[POLICY_SHA256_SIZE], bool written,
                      TPM2B_NV_PUBLIC *ret);
/* The Name of the written index of `handle` whose writes `write_key_name` authorizes. */
int authnv_nv_name(uint32_t handle, const TPM2B_NAME *write_key_name, TPM2B_NAME *ret);

/* ---- the index's bytes ----
 * 0   TPMT_HA      0x000b || P
 * 34  "VSAS", version 1, n_keys, n_states, 0, pcr_mask (BE32), serial (BE32)
 * 50  AUTHNV_MAX_KEYS slots of 34 bytes: the key Names, unused slots zero
 * 186 AUTHNV_STATE_BYTES: the states, unused bytes zero                      (AUTHNV_DATA_SIZE = 442) */
int authnv_marshal(const struct authnv_set *s, uint8_t out[AUTHNV_DATA_SIZE]);
/* -EBADMSG (logged with the byte offset and what is wrong) unless buf is exactly such a set. */
int authnv_parse(const uint8_t *buf, size_t len, struct authnv_set *ret);
