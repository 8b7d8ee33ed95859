/* tpm-internal.h: what the files of src/tpm/ share (the context, error sentences, the Startup retry).
 * Promise: included only by the .c files of src/tpm/. */
#pragma once
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "tpm.h"

/* What VS_TPM_SRK_HANDLE_DEFAULT holds: nothing, the SRK, or another key (or it could not be read). */
enum tpm_srk_default { TPM_SRK_DEFAULT_UNKNOWN, TPM_SRK_DEFAULT_FREE, TPM_SRK_DEFAULT_SRK, TPM_SRK_DEFAULT_OTHER };

struct vs_tpm {
        ESYS_CONTEXT *esys;
        TSS2_TCTI_CONTEXT *tcti;
        char *tcti_conf;
        bool started;                /* Startup already tried by us */
        bool caller_reports;         /* VS_TPM_CALLER_REPORTS: error sentences at debug level */
        bool banks_known;
        TPML_PCR_SELECTION banks;    /* allocated PCR banks (when banks_known) */

        ESYS_TR srk;                 /* ESYS_TR_NONE until vs_tpm_srk() */
        uint32_t srk_handle;         /* persistent handle, 0 = transient (flush at close) */
        TPM2B_NAME srk_name;
        enum tpm_srk_default srk_default; /* what VS_TPM_SRK_HANDLE_DEFAULT held when the SRK was looked up */
        bool srk_persist_tried;      /* tpm_srk_persist_default() ran (it says once why the SRK stays transient) */

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

        /* The salted policy session every unseal of the run uses (one StartAuthSession per run). The TPM resets
         * its policy after each Unseal that continues it; an attempt that ends elsewhere spoils it, and the
         * next use restarts it. Flushed by vs_tpm_close(). */
        ESYS_TR policy_session;
        bool policy_session_spoilt;

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

/* Logs "<what>: <command> failed: <tss2-rc decoding> (0xRC)[ hint]" once (at debug level under
 * VS_TPM_CALLER_REPORTS), keeps it in t->last_error, returns the errno for rc (see tpm.h). */
__attribute__((format(printf, 4, 5)))
int tpm_fail(struct vs_tpm *t, TSS2_RC rc, const char *command, const char *fmt, ...);
/* Logs an error sentence that is not a TPM RC, keeps it, returns -abs(err). */
__attribute__((format(printf, 3, 4)))
int tpm_error(struct vs_tpm *t, int err, const char *fmt, ...);
void tpm_clear_error(struct vs_tpm *t);

/* Flushes a transient object or session and sets *h to ESYS_TR_NONE; ESYS_TR_NONE is fine. */
void tpm_flush(struct vs_tpm *t, ESYS_TR *h);

/* ---- sessions (session.c) ---- */
/* StartAuthSession: TRIAL unsalted; HMAC or POLICY salted to the loaded SRK (ECDH), AES-128-CFB, SHA-256. */
int tpm_start_session(struct vs_tpm *t, TPM2_SE type, ESYS_TR *ret);
int tpm_session_attrs(struct vs_tpm *t, ESYS_TR s, TPMA_SESSION attrs);
/* The context's policy session with an empty policy: started on first use (the SRK must be loaded), else
 * reused; a spoilt one is restarted with PolicyRestart (replaced if the TPM refuses). Not flushed by the
 * caller. */
int tpm_policy_session(struct vs_tpm *t, ESYS_TR *ret);
/* The policy session holds a partial policy (an attempt ended before its Unseal succeeded). */
void tpm_policy_session_spoil(struct vs_tpm *t);

/* GetCapability(TPM2_CAP_PCRS) into t->banks, once per context, when something needs the banks (not on the
 * unseal path). */
int tpm_load_banks(struct vs_tpm *t);

/* A one-bank selection of the PCRs in `mask`. */
void tpm_pcr_selection(uint16_t bank, uint32_t mask, TPML_PCR_SELECTION *ret);
/* SHA-256 of the concatenation of the values of `mask` in ascending order (TPM2_PolicyPCR's pcrDigest). */
int tpm_pcr_digest(const struct vs_tpm_pcrs *p, uint32_t mask, uint8_t ret[32]);
/* `mask` as "7,14", for messages. */
void tpm_format_pcr_list(uint32_t mask, char *buf, size_t size);
/* PolicyPCR(SHA-256, mask, digest of p's values): 0 accepted, 1 the PCRs moved since they were read
 * (TPM_RC_VALUE: the caller reads them again), -errno. */
int tpm_policy_pcr(struct vs_tpm *t, ESYS_TR session, const struct vs_tpm_pcrs *p, uint32_t mask);
/* Enrolment: a transient SRK goes to VS_TPM_SRK_HANDLE_DEFAULT when that handle is free (EvictControl, owner
 * with empty auth); when it holds another key or the owner refuses, the SRK stays transient and a warning
 * says so once per context. Nothing is ever evicted. Always 0: a transient SRK works, only slower. */
int tpm_srk_persist_default(struct vs_tpm *t);
/* Lists persistent handles (first `max`); returns the count or -errno. */
int tpm_persistent_handles(struct vs_tpm *t, TPM2_HANDLE *ret, size_t max);

/* ---- the updatable slot's policy commands (nv-policy.c) ---- */
struct vs_tpm_authnv;
/* After PolicyAuthorize(key): [PolicyOR over the keys' branches], PolicyPCR(the set's literal PCRs = p's
 * values), [PolicyOR over the states' branches], PolicyAuthorizeNV(the index). 0, 1 (the PCRs moved: read
 * them again), or -errno. */
int tpm_authnv_satisfy(struct vs_tpm *t, ESYS_TR session, const struct vs_tpm_authnv *nv, const struct vs_tpm_pcrs *p);
