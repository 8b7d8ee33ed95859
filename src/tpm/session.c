/* session.c: the sessions seal.c uses, salted to the SRK with AES-128-CFB, and the one policy session a
 * context keeps for all its unseals (docs/tpm.md "Unseal: the one sequence"): started once, reset by the TPM
 * itself after each Unseal that continues it, restarted (PolicyRestart) after an attempt that failed half-way,
 * flushed by vs_tpm_close() on every path. */
#include "tpm-internal.h"

#include "log.h"

static const TPMT_SYM_DEF aes128cfb = {
        .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB,
};

int tpm_start_session(struct vs_tpm *t, TPM2_SE type, ESYS_TR *ret) {
        bool trial = type == TPM2_SE_TRIAL;
        TPMT_SYM_DEF none = { .algorithm = TPM2_ALG_NULL };
        TSS2_RC rc = TPM_CALL(t, Esys_StartAuthSession(t->esys, trial ? ESYS_TR_NONE : t->srk, ESYS_TR_NONE,
                                                       ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, type,
                                                       trial ? &none : &aes128cfb, TPM2_ALG_SHA256, ret));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_StartAuthSession", "cannot start a %s session",
                                trial ? "trial policy" : type == TPM2_SE_POLICY ? "salted policy" : "salted");
        return 0;
}

int tpm_session_attrs(struct vs_tpm *t, ESYS_TR s, TPMA_SESSION attrs) {
        TSS2_RC rc = Esys_TRSess_SetAttributes(t->esys, s, attrs, 0xff);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "Esys_TRSess_SetAttributes", "cannot set session attributes");
        return 0;
}

int tpm_policy_session(struct vs_tpm *t, ESYS_TR *ret) {
        if (t->policy_session != ESYS_TR_NONE && t->policy_session_spoilt) {
                TSS2_RC rc = TPM_CALL(t, Esys_PolicyRestart(t->esys, t->policy_session, ESYS_TR_NONE, ESYS_TR_NONE,
                                                            ESYS_TR_NONE));
                if (rc != TSS2_RC_SUCCESS) {
                        log_debug("TPM2_PolicyRestart failed (%s): starting a new policy session", Tss2_RC_Decode(rc));
                        tpm_flush(t, &t->policy_session);
                }
        }
        if (t->policy_session == ESYS_TR_NONE) {
                int r = tpm_start_session(t, TPM2_SE_POLICY, &t->policy_session);
                if (r < 0)
                        return r;
        }
        t->policy_session_spoilt = false;
        *ret = t->policy_session;
        return 0;
}

void tpm_policy_session_spoil(struct vs_tpm *t) {
        t->policy_session_spoilt = true;
}
