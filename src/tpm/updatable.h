/* updatable.h: the TPM side of updatable tpm slots (docs/tpm-updatable.md): volseal's NV index holding the
 * authorized set (policy/authnv.h) -- define, write, read, undefine -- and the seal and unseal bound to it by
 * PolicyAuthorizeNV.
 * Promise: an index is defined, written or undefined only when its public area is exactly the one this
 * authority's key gives (never another index, whoever defined it); every write is one TPM2_NV_Write of the
 * whole set, authorized by a PolicySigned over this very write (the session's nonceTPM and the write's cpHash,
 * signed with the authority's key); the sealed secret is created and unsealed only through SRK-salted sessions
 * with parameter encryption (never on the bus in clear), in noDA objects; every object and session loaded is
 * flushed on every path. Errors are one sentence (vs_tpm_last_error), errno values as in tpm.h plus:
 *   -ENOENT   no index at the handle (removed, or the TPM was cleared)
 *   -ENODATA  the index exists but was never written
 *   -EEXIST   the handle holds an index that is not volseal's with this authority (left alone) */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "authnv.h"
#include "tpm.h"

/* volseal's handles: in the TCG registry's owner range (0x01800000-0x01bfffff), away from the handles
 * Ubuntu's secboot and snapd use there, from systemd's (0x01d10200-0x01d10224) and the TCG-reserved ranges. */
#define VS_TPM_NV_FIRST 0x01805600u
#define VS_TPM_NV_LAST 0x018056ffu

/* ESYS_TR_NONE, for callers that do not include tss2_esys.h: a struct vs_tpm_authnv not read yet. */
#define VS_TPM_NV_NOT_OPEN 0xfffu

/* What an unseal needs from the index, read once per run (vs_tpm_nv_read). */
struct vs_tpm_authnv {
        uint32_t handle;
        TPM2B_NAME name;             /* the index's Name as the TPM reports it (written) */
        struct authnv_set set;
        uint32_t tr;                 /* ESYS_TR of the index in the context it was read with */
};

/* The first handle of VS_TPM_NV_FIRST..LAST with no index; -ENOSPC when all are taken. */
int vs_tpm_nv_free_handle(struct vs_tpm *t, uint32_t *ret);
/* Defines the index at `handle` for this write key (empty authValue, owner authorization with the owner's
 * empty password). An index already there with exactly this public area is volseal's: nothing is done.
 * *ret_written (optional) says whether it holds a set already. */
int vs_tpm_nv_define(struct vs_tpm *t, uint32_t handle, EVP_PKEY *write_key, bool *ret_written);
/* Writes `set` (its serial incremented) into the index. */
int vs_tpm_nv_write(struct vs_tpm *t, uint32_t handle, EVP_PKEY *write_key, struct authnv_set *set);
/* Reads the set from the index at `handle`, which must have the Name `expected` (the token's nv_name, or the
 * authority's authnv_nv_name()): -ENOKEY (the index was redefined or the TPM cleared) otherwise. Release
 * with vs_tpm_nv_done() before the context is closed. */
int vs_tpm_nv_read(struct vs_tpm *t, uint32_t handle, const TPM2B_NAME *expected, struct vs_tpm_authnv *ret);
void vs_tpm_nv_done(struct vs_tpm *t, struct vs_tpm_authnv *nv);
/* `volseal wipe`: undefines the index if it is volseal's for this write key; -ENOENT when there is none. */
int vs_tpm_nv_undefine(struct vs_tpm *t, uint32_t handle, EVP_PKEY *write_key);
/* `volseal wipe` without the authority (STATE is being wiped): undefines the index at `handle` only when its
 * Name is `name` (a slot's nv_name: the Name covers the whole public area, so only volseal's written index
 * of that authority has it). -ENOENT none there, -EEXIST another index (left alone). */
int vs_tpm_nv_undefine_named(struct vs_tpm *t, uint32_t handle, const TPM2B_NAME *name);

/* Seals VS_TPM_SECRET_SIZE fresh bytes (as vs_tpm_seal) with authPolicy PolicyAuthorizeNV(nv_name). The
 * policy never changes: the authorized states change in the index. pcr_mask is recorded for the token. */
int vs_tpm_seal_updatable(struct vs_tpm *t, const TPM2B_NAME *nv_name, uint32_t pcr_mask,
                          struct vs_secret **ret_secret, struct vs_tpm_sealed *ret);
/* The unseal of an updatable slot: PCR_Read(11 + the set's literal PCRs); in software the .pcrsig entry for
 * PCR 11 and this key (checked), the key and the state found in the set (else -EKEYREJECTED with the reason,
 * before any policy command); then Load, salted policy session, PolicyPCR(11), VerifySignature,
 * PolicyAuthorize, [PolicyOR keys], PolicyPCR(literal), [PolicyOR states], PolicyAuthorizeNV, Unseal with
 * response encryption. */
int vs_tpm_unseal_updatable(struct vs_tpm *t, const struct vs_tpm_sealed *sealed, const struct vs_tpm_authnv *nv,
                            EVP_PKEY *pcr_key, const struct pcrsig *sig, struct vs_secret **ret_secret);

/* For tests: the TPM's own trial digests of the index's write policy (PolicySigned(write key) +
 * PolicyCommandCode), of the set's authorized policy and of the sealed policy PolicyAuthorizeNV(index at
 * handle, which must exist). */
int vs_tpm_updatable_trial(struct vs_tpm *t, EVP_PKEY *write_key, const struct authnv_set *set, uint32_t handle,
                           uint8_t ret_write[32], uint8_t ret_policy[32], uint8_t ret_sealed[32]);
