/* seal-updatable.c: seal a secret to PolicyAuthorizeNV(volseal's NV index), and the unseal that satisfies the
 * authorized set held there (updatable.h). The digests come from policy/ (software); the TPM enforces them:
 * PolicyAuthorizeNV compares the session's digest with the policy written at offset 0 of the index. */
#include "tpm-internal.h"
#include "updatable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"
#include "util.h"

#define PCR11 (1u << 11)
#define EXPONENT_DEFAULT 65537u

int vs_tpm_seal_updatable(struct vs_tpm *t, const TPM2B_NAME *nv_name, uint32_t pcr_mask,
                          struct vs_secret **ret_secret, struct vs_tpm_sealed *ret) {
        tpm_clear_error(t);
        uint8_t policy[POLICY_SHA256_SIZE];
        int r = policy_authorize_nv(policy, nv_name);
        if (r < 0)
                return tpm_error(t, r, "cannot compute the PolicyAuthorizeNV digest");
        TPM2B_NAME srk_name;
        r = vs_tpm_srk(t, NULL, &srk_name, NULL);
        if (r < 0)
                return r;
        return tpm_seal_policy(t, policy, &srk_name, pcr_mask, ret_secret, ret);
}

/* What an attempt needs, worked out in software before any policy command. */
struct plan {
        struct vs_tpm_pcrs pcrs;
        uint8_t pol[POLICY_SHA256_SIZE];             /* PolicyPCR(11 = the value read) */
        const struct pcrsig_entry *entry;            /* its signed entry for this key */
        uint8_t keys[AUTHNV_MAX_KEYS][POLICY_SHA256_SIZE];
        uint8_t states[AUTHNV_MAX_STATES][POLICY_SHA256_SIZE];
};

static int refuse_pcr11(struct vs_tpm *t, const struct pcrsig *sig, const uint8_t pkfp[POLICY_SHA256_SIZE]) {
        for (size_t i = 0; i < sig->n_entries; i++)
                if (memcmp(sig->entries[i].pkfp, pkfp, POLICY_SHA256_SIZE) == 0)
                        return tpm_error(t, -EKEYREJECTED, "no signed policy matches PCR 11 (PCR 11 has moved past the "
                                         "signed phase, or the UKI is not the one that was signed?)");
        return tpm_error(t, -EKEYREJECTED, "the signed PCR policy has no entry made with this PCR public key (its "
                         "fingerprint matches none of the %zu entries)", sig->n_entries);
}

static int plan_attempt(struct vs_tpm *t, const struct authnv_set *set, EVP_PKEY *pcr_key, const struct pcrsig *sig,
                        const uint8_t pkfp[POLICY_SHA256_SIZE], struct plan *p) {
        int r = vs_tpm_pcr_read(t, TPM2_ALG_SHA256, PCR11 | set->pcr_mask, &p->pcrs);
        if (r < 0)
                return r;
        policy_digest_init(p->pol);
        r = policy_pcr(p->pol, TPM2_ALG_SHA256, PCR11, p->pcrs.value[11], POLICY_SHA256_SIZE);
        if (r < 0)
                return tpm_error(t, r, "cannot compute the PolicyPCR digest of PCR 11");
        p->entry = pcrsig_find(sig, PCR11, pkfp, p->pol);
        if (!p->entry)
                return refuse_pcr11(t, sig, pkfp);
        if (pcrsig_verify(p->entry, pcr_key) < 0)
                return tpm_error(t, -EBADMSG, "the signature of the signed PCR policy entry for the current PCR 11 "
                                 "does not verify with the PCR public key");
        if (set->pcr_mask) {
                uint8_t values[AUTHNV_STATE_BYTES];
                size_t n = 0;
                for (uint32_t i = 0; i < VS_TPM_PCR_COUNT; i++)
                        if (set->pcr_mask & (1u << i))
                                memcpy(values + POLICY_SHA256_SIZE * n++, p->pcrs.value[i], POLICY_SHA256_SIZE);
                if (authnv_find_state(set, values, n * POLICY_SHA256_SIZE) < 0)
                        return tpm_error(t, -EKEYREJECTED, "the literal PCRs (PCR 7: SecureBoot state) hold none of the "
                                         "%zu authorized states: an update that was not prepared (volseal tpm prepare), "
                                         "or a state retired since", set->n_states);
        }
        r = authnv_key_branches(set, p->keys);
        if (r >= 0)
                r = authnv_state_branches(set, p->states);
        if (r < 0)
                return tpm_error(t, r, "the authorized set gives no policy");
        return 0;
}

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

/* After PolicyAuthorize: [PolicyOR keys], PolicyPCR(literal), [PolicyOR states], PolicyAuthorizeNV. */
static int policy_authorized_set(struct vs_tpm *t, ESYS_TR session, const struct vs_tpm_authnv *nv,
                                 const struct plan *p, bool *ret_retry) {
        const struct authnv_set *set = &nv->set;
        int r = send_policy_or(t, session, (const uint8_t (*)[POLICY_SHA256_SIZE]) p->keys, set->n_keys, "PCR-policy keys");
        if (r < 0)
                return r;
        if (set->pcr_mask) {
                bool changed = false;
                r = tpm_policy_pcr(t, session, &p->pcrs, set->pcr_mask, &changed);
                if (r < 0 || changed) {
                        *ret_retry = changed;
                        return r;
                }
                r = send_policy_or(t, session, (const uint8_t (*)[POLICY_SHA256_SIZE]) p->states, set->n_states, "states");
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

static int unseal_once(struct vs_tpm *t, const struct vs_tpm_sealed *sealed, const struct vs_tpm_authnv *nv,
                       EVP_PKEY *pcr_key, const struct pcrsig *sig, const uint8_t pkfp[POLICY_SHA256_SIZE],
                       const TPM2B_PUBLIC *kpub, const TPM2B_NAME *kname, ESYS_TR *obj,
                       struct vs_secret **ret_secret, bool *ret_retry) {
        struct plan p;
        *ret_retry = false;
        int r = plan_attempt(t, &nv->set, pcr_key, sig, pkfp, &p);
        if (r < 0)
                return r;
        r = tpm_load_sealed(t, sealed, obj);
        if (r < 0)
                return r;
        ESYS_TR session = ESYS_TR_NONE;
        r = tpm_start_session(t, TPM2_SE_POLICY, &session);
        if (r >= 0)
                r = tpm_load_pcr_key(t, kpub, kname);
        if (r >= 0)
                r = tpm_policy_signed_pcr11(t, session, &p.pcrs, p.pol, p.entry, ret_retry);
        if (r >= 0 && !*ret_retry)
                r = policy_authorized_set(t, session, nv, &p, ret_retry);
        if (r >= 0 && !*ret_retry)
                r = tpm_unseal_object(t, obj, &session, ret_secret);
        if (*ret_retry)
                log_debug("the PCRs changed during the unseal: reading them again");
        tpm_flush(t, &session);
        return r;
}

int vs_tpm_unseal_updatable(struct vs_tpm *t, const struct vs_tpm_sealed *sealed, const struct vs_tpm_authnv *nv,
                            EVP_PKEY *pcr_key, const struct pcrsig *sig, struct vs_secret **ret_secret) {
        tpm_clear_error(t);
        if (!sealed || !nv || !pcr_key || !sig)
                return tpm_error(t, -EINVAL, "unseal needs the sealed object, the authorized set, the PCR public key "
                                 "and the signed PCR policy");
        uint8_t s[POLICY_SHA256_SIZE], pkfp[POLICY_SHA256_SIZE];
        if (policy_authorize_nv(s, &nv->name) < 0 || memcmp(s, sealed->policy_hash, sizeof(s)) != 0)
                return tpm_error(t, -EKEYREJECTED, "the slot is bound to another NV index than 0x%08x", nv->handle);
        TPM2B_PUBLIC kpub;
        TPM2B_NAME kname;
        int r = tpm_pcr_key_public(t, pcr_key, EXPONENT_DEFAULT, &kpub, &kname);
        if (r < 0)
                return r;
        if (authnv_find_key(&nv->set, &kname) < 0)
                return tpm_error(t, -EKEYREJECTED, "the PCR public key is not one of the %zu keys authorized for "
                                 "updatable slots (a key that was never added, or was removed)", nv->set.n_keys);
        r = policy_pkfp(pcr_key, pkfp);
        if (r < 0)
                return tpm_error(t, r, "cannot compute the fingerprint of the PCR public key");
        r = vs_tpm_srk(t, &sealed->srk_name, NULL, NULL);
        if (r < 0)
                return r;
        ESYS_TR obj = ESYS_TR_NONE;
        bool retry = false;
        for (int attempt = 0; attempt < 3; attempt++) {
                r = unseal_once(t, sealed, nv, pcr_key, sig, pkfp, &kpub, &kname, &obj, ret_secret, &retry);
                if (r < 0 || !retry)
                        break;
        }
        if (r == 0 && retry)
                r = tpm_error(t, -EAGAIN, "the PCRs kept changing while unsealing; giving up after 3 attempts");
        tpm_flush(t, &obj);
        return r;
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
