/* tpm-internal.h: what the files of src/tpm/ share (the context, error sentences, the Startup retry).
 * Promise: included only by the .c files of src/tpm/. */
#pragma once
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "tpm.h"

struct vs_tpm {
        ESYS_CONTEXT *esys;
        TSS2_TCTI_CONTEXT *tcti;
        char *tcti_conf;
        bool started;                /* Startup already tried by us */
        bool banks_known;
        TPML_PCR_SELECTION banks;    /* allocated PCR banks (when banks_known) */

        ESYS_TR srk;                 /* ESYS_TR_NONE until vs_tpm_srk() */
        uint32_t srk_handle;         /* persistent handle, 0 = transient (flush at close) */
        TPM2B_NAME srk_name;

        ESYS_TR pcr_key;             /* the loaded PCR public key, ESYS_TR_NONE if none */
        TPM2B_NAME pcr_key_name;     /* its Name (policy_public_name; LoadExternal checked the TPM agrees) */
        TPM2B_NAME pkfp_for;         /* Name (exponent 65537) of the key whose .pcrsig fingerprint is pkfp */
        uint8_t pkfp[32];            /* SHA-256 of its RSAPublicKey DER: computed once per context */

        /* Reused by the next volume of the same run, so it costs 7 TPM commands instead of 9. Both are only
         * hints: the TPM still checks PolicyPCR against its PCRs and the ticket in PolicyAuthorize, and a
         * refusal drops them and reads again (seal.c). */
        uint32_t pcrs_cached_mask;   /* the PCRs of pcrs_cache (sha256 bank); 0 = nothing kept */
        struct vs_tpm_pcrs pcrs_cache;
        bool ticket_cached;          /* ticket = VerifySignature(pcr_key, SHA-256(ticket_pol)) */
        uint8_t ticket_pol[32];
        TPMT_TK_VERIFIED ticket;

        char last_error[768];
};

/* The RC without the handle/session/parameter number of format-1 codes, e.g. TPM2_RC_VALUE. */
TSS2_RC tpm_rc_base(TSS2_RC rc);
/* Sends Startup(CLEAR) once per context; 0 if it was sent and accepted (or the TPM was already started). */
int tpm_startup(struct vs_tpm *t);
/* Runs `call` (an Esys_* expression); if the TPM answers TPM_RC_INITIALIZE, sends Startup(CLEAR) and runs
 * it again. Evaluates to the TSS2_RC. */
#define TPM_CALL(t, call) ({                                                            \
        TSS2_RC _rc = (call);                                                           \
        if (tpm_rc_base(_rc) == TPM2_RC_INITIALIZE && tpm_startup(t) == 0)              \
                _rc = (call);                                                           \
        _rc;                                                                            \
})

/* Logs "<what>: <command> failed: <tss2-rc decoding> (0xRC)[ hint]" once, keeps it in t->last_error,
 * returns the errno for rc (see tpm.h). */
__attribute__((format(printf, 4, 5)))
int tpm_fail(struct vs_tpm *t, TSS2_RC rc, const char *command, const char *fmt, ...);
/* Logs an error sentence that is not a TPM RC, keeps it, returns -abs(err). */
__attribute__((format(printf, 3, 4)))
int tpm_error(struct vs_tpm *t, int err, const char *fmt, ...);
void tpm_clear_error(struct vs_tpm *t);

/* Flushes a transient object or session and sets *h to ESYS_TR_NONE; ESYS_TR_NONE is fine. */
void tpm_flush(struct vs_tpm *t, ESYS_TR *h);

/* A one-bank selection of the PCRs in `mask`. */
void tpm_pcr_selection(uint16_t bank, uint32_t mask, TPML_PCR_SELECTION *ret);
/* SHA-256 of the concatenation of the values of `mask` in ascending order (TPM2_PolicyPCR's pcrDigest). */
int tpm_pcr_digest(const struct vs_tpm_pcrs *p, uint32_t mask, uint8_t ret[32]);
/* Lists persistent handles (first `max`); returns the count or -errno. */
int tpm_persistent_handles(struct vs_tpm *t, TPM2_HANDLE *ret, size_t max);

/* ---- seal.c's steps, shared with seal-updatable.c and nv.c ---- */
struct pcrsig_entry;
/* A session with AES-128-CFB parameter encryption, salted with the SRK (TPM2_SE_HMAC, TPM2_SE_POLICY), or an
 * unsalted trial session (TPM2_SE_TRIAL). */
int tpm_start_session(struct vs_tpm *t, TPM2_SE type, ESYS_TR *ret);
int tpm_set_session_attrs(struct vs_tpm *t, ESYS_TR s, TPMA_SESSION attrs);
/* TPMT_PUBLIC and Name of the RSA PCR public key with this exponent spelling (65537 or 0). */
int tpm_pcr_key_public(struct vs_tpm *t, EVP_PKEY *pkey, uint32_t exponent, TPM2B_PUBLIC *pub, TPM2B_NAME *name);
/* Loads the PCR public key in the owner hierarchy into t->pcr_key (kept loaded while its Name is the same). */
int tpm_load_pcr_key(struct vs_tpm *t, const TPM2B_PUBLIC *pub, const TPM2B_NAME *name);
/* PolicyPCR(SHA-256, mask, digest of p's values); *ret_changed when the TPM says the PCRs moved since. */
int tpm_policy_pcr(struct vs_tpm *t, ESYS_TR session, const struct vs_tpm_pcrs *p, uint32_t mask, bool *ret_changed);
/* PolicyPCR(11 = the value read) then PolicyAuthorize(pol, t->pcr_key) with the ticket of the .pcrsig entry
 * e's signature (VerifySignature once per pol and key; the ticket is kept in t). *ret_retry: PCR 11 moved or a
 * kept ticket was refused; the caller reads the PCRs again and starts over. */
int tpm_policy_signed_pcr11(struct vs_tpm *t, ESYS_TR session, const struct vs_tpm_pcrs *pcrs,
                            const uint8_t pol[32], const struct pcrsig_entry *e, bool *ret_retry);
/* Loads the sealed object under the SRK into *obj unless it is loaded already. */
int tpm_load_sealed(struct vs_tpm *t, const struct vs_tpm_sealed *sealed, ESYS_TR *obj);
/* Unseal with the satisfied policy session (response encrypted; the session ends, *session = NONE on success)
 * and flushes *obj; under --debug the session's digest is logged first. */
int tpm_unseal_object(struct vs_tpm *t, ESYS_TR *obj, ESYS_TR *session, struct vs_secret **ret_secret);
/* Seals VS_TPM_SECRET_SIZE fresh bytes (make_secret) under the loaded SRK with this authPolicy: keyedHash,
 * fixedTPM | fixedParent | noDA, in an SRK-salted session with the secret encrypted on the bus. */
int tpm_seal_policy(struct vs_tpm *t, const uint8_t policy[32], const TPM2B_NAME *srk_name, uint32_t pcr_mask,
                    struct vs_secret **ret_secret, struct vs_tpm_sealed *ret);
