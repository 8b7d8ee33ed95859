/* tpm.h: the only door to the TPM (tpm2-tss ESYS, tctildr, rc): context and TCTI, capability checks, PCR
 * read/extend, the SRK, seal and the one unseal sequence (docs/tpm.md).
 * Promise: nothing else in volseal includes tss2_esys.h. Every function returns 0 (or a count) or a
 * negative errno and logs one sentence where it decides (TPM return codes decoded by tss2-rc); the same
 * sentence is kept for the caller in vs_tpm_last_error(). Every object and session this module loads is
 * flushed on every path, except the SRK, the PCR public key and the salted policy session, which the context
 * keeps for further unseals and flushes in vs_tpm_close(): at most 3 objects and 2 sessions at a time (the
 * policy session, and a seal's HMAC session). Secrets come back only in struct vs_secret.
 *
 * errno values callers may act on:
 *   -ENODEV        no TPM (TCTI cannot be opened), or the TPM stopped answering
 *   -EOPNOTSUPP    the TPM lacks SHA-256 with 24 PCRs or AES-128-CFB
 *   -ENOKEY        the SRK differs from the one a slot was sealed to (TPM cleared or replaced)
 *   -EKEYREJECTED  the PCR state does not satisfy the slot's policy (reason in the message)
 *   -EBADMSG       signed policy or sealed blob malformed / signature invalid
 *   -EACCES        the TPM refused an authorization (owner password set, DA lockout, ...)
 *   -EEXIST        vs_tpm_srk_setup(): the requested handle holds another key (never evicted)
 *   -EIO           any other TPM failure */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "alg.h"
#include "measure-log.h"
#include "secret.h"

struct pcrsig;

#define VS_TPM_PCR_COUNT 24
#define VS_TPM_SRK_HANDLE_DEFAULT 0x81000001u
#define VS_TPM_SECRET_SIZE 32

struct vs_tpm; /* one ESYS context + TCTI, the SRK and the loaded PCR key, reused across calls */

enum {
        /* Leave tpm2-tss logging as TSS2_LOG says (it logs session keys and whole buffers at debug level);
         * without it volseal sets TSS2_LOG=all+none before the first tss2 call. */
        VS_TPM_DEBUG_LOG = 1 << 0,
        /* The caller reports each failure itself (with vs_tpm_last_error(), naming the volume and slot): the
         * error sentences are logged at debug level only, so each failure reaches stderr once. */
        VS_TPM_CALLER_REPORTS = 1 << 1,
};

/* Opens the TPM: `tcti` (a tctildr string such as "swtpm:host=127.0.0.1,port=2321" or
 * "device:/dev/tpmrm0") if not NULL/empty, else $VOLSEAL_TCTI, else device:/dev/tpmrm0, then
 * device:/dev/tpm0. Sends no command: TPM2_Startup(CLEAR) is sent only when a later command answers
 * TPM_RC_INITIALIZE (then that command is sent again). -ENODEV when no TPM can be opened. */
int vs_tpm_open(const char *tcti, unsigned flags, struct vs_tpm **ret);
/* Flushes what the context holds loaded (transient SRK, PCR key), finalizes ESYS and the TCTI. NULL ok. */
void vs_tpm_close(struct vs_tpm *t);
static inline void vs_tpm_closep(struct vs_tpm **t) { vs_tpm_close(*t); *t = NULL; }
#define _cleanup_tpm_ __attribute__((cleanup(vs_tpm_closep)))

/* A TPM or TSS return code as a sentence for an error message: tss2-rc's decoding, "(0xRC)" and, for the
 * codes a user can act on, what it means (TPM_RC_LOCKOUT: dictionary-attack lockout, how it ends, and that
 * volseal's noDA objects are not affected). Returns the errno of the list above. No TPM needed. */
int vs_tpm_rc_describe(TSS2_RC rc, char *buf, size_t size);
/* The last error sentence logged by a call on `t` ("" when none). Valid until the next call. */
const char *vs_tpm_last_error(const struct vs_tpm *t);
/* The TCTI string actually opened. */
const char *vs_tpm_tcti(const struct vs_tpm *t);

/* ---- capabilities ---- */
/* SHA-256 bank allocated with all 24 PCRs, and AES-128-CFB usable for sessions (TestParms);
 * -EOPNOTSUPP with a sentence naming what is missing. */
int vs_tpm_check_caps(struct vs_tpm *t);

struct vs_tpm_info {
        char manufacturer[5];        /* TPM2_PT_MANUFACTURER as 4 ASCII chars, e.g. "IBM " */
        char vendor[17];             /* TPM2_PT_VENDOR_STRING_1..4, NULs and trailing blanks removed */
        uint32_t firmware[2];        /* TPM2_PT_FIRMWARE_VERSION_1/2 */
        uint32_t spec_level, spec_revision, spec_year;
        uint32_t pcr_count;          /* TPM2_PT_PCR_COUNT */
        TPML_PCR_SELECTION banks;    /* allocated banks */
        bool sha256_24;              /* SHA-256 bank with 24 PCRs */
        bool aes128cfb;              /* TestParms(AES-128-CFB) accepted */
        uint32_t lockout_counter, max_auth_fail, lockout_interval, lockout_recovery;
        bool in_lockout;
        uint32_t srk_handle;         /* persistent handle holding volseal's SRK, 0 = none */
        TPM2B_NAME srk_name;         /* Name of volseal's SRK on this TPM (size 0: see srk_error) */
        char srk_error[768];         /* why the SRK could not be made (e.g. owner password), "" if it could */
};
/* Reads properties, banks, lockout state; finds the SRK (CreatePrimary, compared to persistent handles). A
 * refused CreatePrimary (owner password, ...) is reported in srk_error, not as a failure of the call. */
int vs_tpm_get_info(struct vs_tpm *t, struct vs_tpm_info *ret);

/* ---- PCRs ---- */
struct vs_tpm_pcrs {
        uint16_t bank;               /* TPM2_ALG_SHA256, ... */
        uint16_t size;               /* digest size of the bank */
        uint32_t mask;               /* bit i = PCR i was read */
        uint8_t value[VS_TPM_PCR_COUNT][TPM2_SHA512_DIGEST_SIZE];
};
/* Reads the PCRs in `mask` (bits 0..23) of `bank`; -EOPNOTSUPP if the bank is not allocated. */
int vs_tpm_pcr_read(struct vs_tpm *t, uint16_t bank, uint32_t mask, struct vs_tpm_pcrs *ret);
/* The SHA-256 PCRs of `mask` as this context keeps them for its unseals (a hint the TPM still checks: see
 * vs_tpm_unseal), else one PCR_Read whose values are kept for the run. A caller deciding about a slot the
 * unseal refused thus sees the values the refusal was decided on, without a second PCR_Read.
 * *ret_was_kept (optional): no command was sent. vs_tpm_extend_word() drops the kept values. */
int vs_tpm_pcr_read_kept(struct vs_tpm *t, uint32_t mask, struct vs_tpm_pcrs *ret, bool *ret_was_kept);
/* Extends PCR `pcr` with `word` (the bare bytes, no NUL) into every allocated bank, each with that bank's
 * hash of the word, in one TPM2_PCR_Extend; `ret_digests` (optional) gets the digests extended.
 * If `log_path` is not NULL, appends the RFC 7464 record of docs/pcr.md ("Event logs") there (see vs_measure_log_append);
 * a log that cannot be written is a warning, the extend still happens (a cap must never be skipped). */
int vs_tpm_extend_word(struct vs_tpm *t, uint32_t pcr, const char *word, const char *log_path,
                       TPML_DIGEST_VALUES *ret_digests);

/* ---- SRK (docs/tpm.md "The SRK": ECC P-256 template of policy_srk_template()) ---- */
/* Makes the SRK usable. With `expected` (a token's key_name): VS_TPM_SRK_HANDLE_DEFAULT is read first (one
 * ReadPublic, no GetCapability) and used when its Name equals `expected`; else the other persistent handles
 * are searched; else CreatePrimary, and a Name other than `expected` is -ENOKEY ("the TPM was cleared or
 * replaced"). Without `expected`: CreatePrimary, then a persistent handle with the same Name (the default
 * one first) is preferred and the transient one flushed; nothing is persisted here (vs_tpm_seal does).
 * The SRK stays loaded in `t`. ret_name / ret_handle (0 = transient) optional. */
int vs_tpm_srk(struct vs_tpm *t, const TPM2B_NAME *expected, TPM2B_NAME *ret_name, uint32_t *ret_handle);
/* `volseal tpm setup`: persists the SRK. If a persistent handle already holds it, returns that handle with
 * *ret_created = false. Else into `handle` (0: VS_TPM_SRK_HANDLE_DEFAULT if free, else the first free
 * handle after it); an occupied `handle` is -EEXIST, nothing is ever evicted. */
int vs_tpm_srk_setup(struct vs_tpm *t, uint32_t handle, uint32_t *ret_handle, bool *ret_created);

/* ---- seal / unseal (docs/tpm.md) ---- */
struct vs_tpm_sealed {
        TPM2B_PRIVATE priv;          /* Create's outPrivate */
        TPM2B_PUBLIC pub;            /* Create's outPublic */
        uint8_t policy_hash[32];     /* the object's authPolicy */
        TPM2B_NAME srk_name;         /* Name of the SRK it was sealed under (size 0: not checked) */
        uint32_t pcr_mask;           /* literal SHA-256 PCRs of the policy (after PolicyAuthorize); 0 = none */
};

/* Seals VS_TPM_SECRET_SIZE fresh bytes (getrandom, mixed by SHA-256 with TPM GetRandom read through an
 * encrypted session) under the SRK, which it persists at VS_TPM_SRK_HANDLE_DEFAULT when that handle is free
 * (never evicting; else the SRK stays transient and a warning says so once per context): keyedHash, SHA-256, fixedTPM|fixedParent|noDA, authPolicy =
 * PolicyAuthorize(Name(pcr_key), "") then PolicyPCR(SHA-256, pcr_mask, current values) (none if pcr_mask
 * is 0), computed in software by policy/. Create runs in an SRK-salted HMAC session with AES-128-CFB
 * parameter encryption. pcr_mask may hold PCR 11 (Talos 1.12's options.pcrs [7, 11]): its current value is
 * then bound too, on top of the signed policy. */
int vs_tpm_seal(struct vs_tpm *t, EVP_PKEY *pcr_key, uint32_t pcr_mask, struct vs_secret **ret_secret,
                struct vs_tpm_sealed *ret);
/* The one unseal sequence of docs/tpm.md. PCR_Read(11 + pcr_mask), once per context while nothing moves;
 * the .pcrsig entry for PCR 11 and this key chosen in software (signature checked in software too); the final
 * digest predicted and compared with sealed->policy_hash: a slot that cannot be satisfied is refused here,
 * before the SRK is looked up or created and before any object or session. Then the SRK (checked against
 * sealed->srk_name when set), Load, the context's salted policy session (AES-128-CFB; one per context),
 * LoadExternal (owner), PolicyPCR(11) (TPM_RC_VALUE: PCRs moved, re-read and retry), VerifySignature (its
 * ticket kept for the context; a kept ticket the TPM refuses is made again), PolicyAuthorize,
 * PolicyPCR(pcr_mask), Unseal with response encryption (the session continues), flush. */
int vs_tpm_unseal(struct vs_tpm *t, const struct vs_tpm_sealed *sealed, EVP_PKEY *pcr_key,
                  const struct pcrsig *sig, struct vs_secret **ret_secret);
/* The TPM's own digest of the seal policy, from a trial session (PolicyAuthorize with a NULL ticket, then
 * PolicyPCR over the current values, PolicyGetDigest): for tests and --debug. */
int vs_tpm_policy_trial(struct vs_tpm *t, EVP_PKEY *pcr_key, uint32_t exponent, uint32_t pcr_mask,
                        uint8_t ret[32]);

/* ---- attestation (attest.c; docs/pcr.md "Attestation") ---- */
#define VS_TPM_EK_HANDLE 0x81010001u          /* TCG: the RSA-2048 EK's persistent handle */
#define VS_TPM_AK_HANDLE_DEFAULT 0x81010002u  /* volseal's attestation key, unless --ak-handle */
/* The EK's public area: the key at VS_TPM_EK_HANDLE (it must have the TCG default policy), else a transient
 * EK from the TCG default template L-1 (RSA-2048, AES-128-CFB, PolicySecret(endorsement)), flushed again.
 * *ret_handle (optional) = VS_TPM_EK_HANDLE or 0 (transient). */
int vs_tpm_ek_public(struct vs_tpm *t, TPM2B_PUBLIC *ret, uint32_t *ret_handle);
/* The attestation key at persistent `handle` (owner range): reused when it is volseal's kind (restricted
 * signing ECC P-256, ECDSA-SHA256, fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth); if the handle
 * is free and `create`, a new one is created under the EK (PolicySecret(endorsement) sessions) and
 * persisted there. Another key at the handle is -EEXIST (never evicted); a free handle without `create`
 * is -ENOENT. */
int vs_tpm_ak(struct vs_tpm *t, uint32_t handle, bool create, TPM2B_PUBLIC *ret_pub, bool *ret_created);
/* TPM2_ActivateCredential(AK at ak_handle, EK): the credential the verifier protected with MakeCredential.
 * A challenge made for another EK or another AK Name fails (-EBADMSG/-EKEYREJECTED/-EIO, logged). */
int vs_tpm_activate_credential(struct vs_tpm *t, uint32_t ak_handle, const TPM2B_ID_OBJECT *blob,
                               const TPM2B_ENCRYPTED_SECRET *secret, struct vs_secret **ret);
/* TPM2_Quote of the PCRs in `mask` of `bank` with the AK at ak_handle, `nonce` as qualifyingData. */
int vs_tpm_quote(struct vs_tpm *t, uint32_t ak_handle, uint16_t bank, uint32_t mask, const uint8_t *nonce,
                 size_t nonce_size, TPM2B_ATTEST *ret_quoted, TPMT_SIGNATURE *ret_sig);

/* ---- token blobs (tss2-mu, no TPM) ---- */
/* Size-prefixed TPM2B encodings as the `talos-tpm2` token stores them (before base64). Output malloc()ed. */
int vs_tpm_blob_private(const TPM2B_PRIVATE *p, uint8_t **ret, size_t *ret_len);
int vs_tpm_blob_public(const TPM2B_PUBLIC *p, uint8_t **ret, size_t *ret_len);
int vs_tpm_blob_name(const TPM2B_NAME *n, uint8_t **ret, size_t *ret_len);
/* The reverse; trailing bytes or a short buffer are -EBADMSG. */
int vs_tpm_parse_private(const uint8_t *b, size_t len, TPM2B_PRIVATE *ret);
int vs_tpm_parse_public(const uint8_t *b, size_t len, TPM2B_PUBLIC *ret);
int vs_tpm_parse_name(const uint8_t *b, size_t len, TPM2B_NAME *ret);
