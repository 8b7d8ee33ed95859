/* nv-policy.c: the policy commands of an updatable slot after the signed PCR policy's PolicyAuthorize
 * (docs/tpm-updatable.md "The policy"): PolicyOR over the authorized keys' branches, PolicyPCR over the
 * literal PCRs, PolicyOR over the authorized states' branches, PolicyAuthorizeNV of volseal's index; and the
 * TPM's own trial digests of the index's policies, which the tests compare with policy/'s. */
#include "tpm-internal.h"
#include "updatable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "log.h"
#include "policy.h"
#include "util.h"

static int send_policy_or(struct vs_tpm *t, ESYS_TR session, const uint8_t (*branches)[POLICY_SHA256_SIZE], size_t n,
                     const char *what) {
        if (n < 2)
                return 0; /* a single branch is the digest itself: no PolicyOR */
        TPML_DIGEST list = { .count = (uint32_t) n };
        for (size_t i = 0; i < n; i++) {
                list.digests[i].size = POLICY_SHA256_SIZE;
                memcpy(list.digests[i].buffer, branches[i], POLICY_SHA256_SIZE);
        }
        TSS2_RC rc = TPM_CALL(t, Esys_PolicyOR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &list));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_PolicyOR", "the TPM refused the PolicyOR over the authorized %s", what);
        return 0;
}

int tpm_authnv_satisfy(struct vs_tpm *t, ESYS_TR session, const struct vs_tpm_authnv *nv, const struct vs_tpm_pcrs *p) {
        const struct authnv_set *set = &nv->set;
        uint8_t keys[AUTHNV_MAX_KEYS][POLICY_SHA256_SIZE], states[AUTHNV_MAX_STATES][POLICY_SHA256_SIZE];
        int r = authnv_key_branches(set, keys);
        if (r >= 0)
                r = authnv_state_branches(set, states);
        if (r < 0)
                return tpm_error(t, r, "the authorized set gives no policy");
        r = send_policy_or(t, session, (const uint8_t (*)[POLICY_SHA256_SIZE]) keys, set->n_keys, "PCR-policy keys");
        if (r < 0)
                return r;
        if (set->pcr_mask) {
                r = tpm_policy_pcr(t, session, p, set->pcr_mask);
                if (r != 0)
                        return r;
                r = send_policy_or(t, session, (const uint8_t (*)[POLICY_SHA256_SIZE]) states, set->n_states, "states");
                if (r < 0)
                        return r;
        }
        TSS2_RC rc = TPM_CALL(t, Esys_PolicyAuthorizeNV(t->esys, nv->tr, nv->tr, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                        ESYS_TR_NONE));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_PolicyAuthorizeNV", "the TPM refused the authorized set of NV index 0x%08x "
                                "(rewritten meanwhile?)", nv->handle);
        return 0;
}

/* ---- trial digests (tests) ---- */

static int trial_digest(struct vs_tpm *t, ESYS_TR session, TSS2_RC rc, const char *command, uint8_t ret[32]) {
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, command, "trial policy failed");
        TPM2B_DIGEST *d = NULL;
        rc = TPM_CALL(t, Esys_PolicyGetDigest(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_PolicyGetDigest", "trial policy failed");
        int r = d->size == POLICY_SHA256_SIZE ? 0 : tpm_error(t, -EIO, "the trial policy digest has %u bytes", d->size);
        if (r == 0)
                memcpy(ret, d->buffer, POLICY_SHA256_SIZE);
        free(d);
        return r;
}

/* PolicySigned(write key) (a trial session does not check the signature) + PolicyCommandCode(NV_Write). */
static int trial_write(struct vs_tpm *t, ESYS_TR session, EVP_PKEY *write_key, uint8_t ret[32]) {
        TPM2B_PUBLIC kpub;
        ESYS_TR key = ESYS_TR_NONE;
        TPM2B_NONCE ref = { .size = (uint16_t) strlen(AUTHNV_WRITE_REF) };
        TPMT_SIGNATURE sig = {
                .sigAlg = TPM2_ALG_ECDSA,
                .signature.ecdsa = { .hash = TPM2_ALG_SHA256, .signatureR.size = 32, .signatureS.size = 32 },
        };
        memcpy(ref.buffer, AUTHNV_WRITE_REF, ref.size);
        int r = policy_ecc_public(write_key, &kpub);
        if (r < 0)
                return tpm_error(t, r, "the write key is not an ECC P-256 key");
        TSS2_RC rc = TPM_CALL(t, Esys_LoadExternal(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, &kpub,
                                                   ESYS_TR_RH_OWNER, &key));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_LoadExternal", "trial policy failed");
        TPM2B_NONCE none = {};
        TPM2B_DIGEST no_cphash = {};
        rc = TPM_CALL(t, Esys_PolicySigned(t->esys, key, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &none,
                                           &no_cphash, &ref, 0, &sig, NULL, NULL));
        tpm_flush(t, &key);
        if (rc == TSS2_RC_SUCCESS)
                rc = TPM_CALL(t, Esys_PolicyCommandCode(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                        TPM2_CC_NV_Write));
        return trial_digest(t, session, rc, "TPM2_PolicySigned/PolicyCommandCode", ret);
}

/* PolicyAuthorize(first key), PolicyOR(keys), PolicyPCR(first state's digest), PolicyOR(states): a trial
 * session takes any branch of a PolicyOR, so one pass gives the authorized policy. */
static int trial_set(struct vs_tpm *t, ESYS_TR session, const struct authnv_set *set, uint8_t ret[32]) {
        uint8_t keys[AUTHNV_MAX_KEYS][POLICY_SHA256_SIZE], states[AUTHNV_MAX_STATES][POLICY_SHA256_SIZE];
        TPM2B_DIGEST approved = {}, pcr_digest = { .size = POLICY_SHA256_SIZE };
        TPM2B_NONCE ref = {};
        TPMT_TK_VERIFIED ticket = { .tag = TPM2_ST_VERIFIED, .hierarchy = TPM2_RH_NULL };
        int r = authnv_key_branches(set, keys);
        if (r >= 0)
                r = authnv_state_branches(set, states);
        if (r < 0)
                return tpm_error(t, r, "the authorized set gives no policy");
        TSS2_RC rc = TPM_CALL(t, Esys_PolicyAuthorize(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                      &approved, &ref, &set->keys[0], &ticket));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_PolicyAuthorize", "trial policy failed");
        r = send_policy_or(t, session, (const uint8_t (*)[POLICY_SHA256_SIZE]) keys, set->n_keys, "keys");
        if (r >= 0 && set->pcr_mask) {
                TPML_PCR_SELECTION sel;
                tpm_pcr_selection(TPM2_ALG_SHA256, set->pcr_mask, &sel);
                unsigned len = 0;
                if (!EVP_Digest(authnv_state(set, 0), authnv_state_size(set), pcr_digest.buffer, &len, EVP_sha256(), NULL))
                        return tpm_error(t, -EIO, "SHA-256 failed in OpenSSL");
                rc = TPM_CALL(t, Esys_PolicyPCR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pcr_digest,
                                                &sel));
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_fail(t, rc, "TPM2_PolicyPCR", "trial policy failed");
                r = send_policy_or(t, session, (const uint8_t (*)[POLICY_SHA256_SIZE]) states, set->n_states, "states");
        }
        if (r < 0)
                return r;
        return trial_digest(t, session, TSS2_RC_SUCCESS, "", ret);
}

static int trial_sealed(struct vs_tpm *t, ESYS_TR session, uint32_t handle, uint8_t ret[32]) {
        ESYS_TR nv = ESYS_TR_NONE;
        TSS2_RC rc = TPM_CALL(t, Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_NV_ReadPublic", "trial policy failed");
        rc = TPM_CALL(t, Esys_PolicyAuthorizeNV(t->esys, nv, nv, session, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE));
        Esys_TR_Close(t->esys, &nv);
        return trial_digest(t, session, rc, "TPM2_PolicyAuthorizeNV", ret);
}

int vs_tpm_updatable_trial(struct vs_tpm *t, EVP_PKEY *write_key, const struct authnv_set *set, uint32_t handle,
                           uint8_t ret_write[32], uint8_t ret_policy[32], uint8_t ret_sealed[32]) {
        tpm_clear_error(t);
        int r = 0;
        for (int step = 0; step < 3 && r >= 0; step++) {
                ESYS_TR session = ESYS_TR_NONE;
                r = tpm_start_session(t, TPM2_SE_TRIAL, &session);
                if (r < 0)
                        break;
                r = step == 0 ? trial_write(t, session, write_key, ret_write) :
                    step == 1 ? trial_set(t, session, set, ret_policy) : trial_sealed(t, session, handle, ret_sealed);
                tpm_flush(t, &session);
        }
        return r;
}
