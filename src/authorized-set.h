/* authorized-set.h: the node's authorized set of updatable tpm slots (docs/tpm-updatable.md): the authority
 * on STATE (authority.h) and the NV index it writes (tpm/updatable.h), loaded together; the first write at
 * enrolment, the retirement of superseded states, and prepare's edits.
 * Promise: nothing is written unless the authority loads and the index at its handle is exactly its own;
 * every change of the set is one TPM2_NV_Write of the whole set, so after a power loss the TPM holds the old
 * set or the new one, never a mix; the authority file is created once (never replaced by another) and only
 * moves to another handle while no index of its own exists. Nothing is unsealed. Errors: one sentence in
 * vs_tpm_last_error() for the TPM's part, logged here for the file's part; errno values as authority.h and
 * tpm/updatable.h say (-ENOENT: no authority in the folder, not logged). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authority.h"
#include "tpm/updatable.h"

struct vs_authset {
        struct vs_authority authority;
        TPM2B_NAME nv_name;                  /* the Name of the authority's written index */
        struct vs_tpm_authnv nv;             /* the index as read (nv.set), open in the TPM context */
};

/* The authority in state_dir and its index, read once. -ENOENT (not logged) without an authority file
 * (ret->authority.write_key NULL then); tpm/updatable.h's errno values when the index is not there, never
 * written or not the authority's (ret->authority stays loaded). Release with vs_authset_done either way. */
int vs_authset_load(struct vs_tpm *t, const char *state_dir, struct vs_authset *ret);
/* Enrolment: the authority (created in state_dir when absent, its index at the first free handle of
 * volseal's range) and its index (defined when absent; an index that is not its own is never touched: the
 * authority moves to a free handle instead, which is safe as long as no index of its own exists). An index
 * never written gets the set {key_name, the current values of pcr_mask}. Then loads as vs_authset_load;
 * -EINVAL (logged) when the index binds other literal PCRs than pcr_mask. */
int vs_authset_enrol(struct vs_tpm *t, const char *state_dir, uint32_t pcr_mask, const TPM2B_NAME *key_name,
                     struct vs_authset *ret);
/* The values the literal PCRs of the set hold now (kept for the run: vs_tpm_pcr_read_kept), as one state
 * (authnv_state_size() bytes). */
int vs_authset_current_state(struct vs_tpm *t, uint32_t pcr_mask, uint8_t out[AUTHNV_STATE_BYTES], size_t *ret_len);
/* Writes `next` as the index's set (one NV write); a->nv.set follows it. */
int vs_authset_write(struct vs_tpm *t, struct vs_authset *a, const struct authnv_set *next);
/* Retires the states authorized before the one the machine booted in (its current literal PCRs); nothing
 * when the booted state is not authorized. Returns how many were retired (0: nothing written). */
int vs_authset_retire(struct vs_tpm *t, struct vs_authset *a);

/* `volseal tpm prepare`'s edits, applied together: first the states older than the booted one retire (as
 * vs_authset_retire), then the new state is added, then keys are added, then keys are removed. */
struct vs_authset_edit {
        const uint8_t *state;                /* a new state (authnv_state_size() bytes), NULL = none */
        size_t state_len;
        TPM2B_NAME add[AUTHNV_MAX_KEYS];
        size_t n_add;
        TPM2B_NAME remove[AUTHNV_MAX_KEYS];
        size_t n_remove;
};
struct vs_authset_changes {
        int retired;                         /* states retired */
        bool state_added;                    /* false: it was authorized already */
        size_t keys_added, keys_removed;
};
/* Applies `e` to a copy of the set and, when anything changed, writes it (one NV write). A refused edit
 * (the set full: -ENOSPC; a key to remove that is not authorized: -ENOENT, or the last one: -EPERM) is
 * logged and nothing is written. */
int vs_authset_prepare(struct vs_tpm *t, struct vs_authset *a, const struct vs_authset_edit *e,
                       struct vs_authset_changes *ret);
void vs_authset_done(struct vs_tpm *t, struct vs_authset *a);
