/* seal.c: seal a fresh secret to PolicyAuthorize(PCR key) + PolicyPCR(configured), or to
 * PolicyAuthorizeNV(volseal's NV index) for an updatable slot, and the one unseal sequence for
 * both (docs/tpm.md, docs/tpm-updatable.md). Policy digests come from policy/ (software); the TPM only
 * enforces them. */
#include "tpm-internal.h"
#include "updatable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <openssl/evp.h>

#include "encoding.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#define PCR11 (1u << 11)
#define EXPONENT_DEFAULT 65537u

static int pcr_key_public(struct vs_tpm *t, EVP_PKEY *pkey, uint32_t exponent, TPM2B_PUBLIC *pub, TPM2B_NAME *name) {
        int r = policy_rsa_public(pkey, exponent, pub);
        if (r < 0)
                return tpm_error(t, r, "the PCR public key cannot be used: it must be an RSA key");
        r = policy_public_name(pub, name);
        if (r < 0)
                return tpm_error(t, r, "cannot compute the Name of the PCR public key");
        return 0;
}

/* The digest of the sealed object's policy (docs/policy.md): PolicyAuthorize(key, "") then PolicyPCR(SHA-256, mask, values). */
static int predict(struct vs_tpm *t, const TPM2B_NAME *key_name, uint32_t mask, const struct vs_tpm_pcrs *p,
                   uint8_t ret[POLICY_SHA256_SIZE]) {
        policy_digest_init(ret);
        int r = policy_authorize(ret, key_name, NULL, 0);
        if (r < 0)
                return tpm_error(t, r, "cannot compute the PolicyAuthorize digest");
        if (!mask)
                return 0;
        uint8_t values[VS_TPM_PCR_COUNT * POLICY_SHA256_SIZE];
        size_t n = 0;
        for (uint32_t i = 0; i < VS_TPM_PCR_COUNT; i++)
                if (mask & (1u << i))
                        memcpy(values + POLICY_SHA256_SIZE * n++, p->value[i], POLICY_SHA256_SIZE);
        r = policy_pcr(ret, TPM2_ALG_SHA256, mask, values, POLICY_SHA256_SIZE);
        if (r < 0)
                return tpm_error(t, r, "cannot compute the PolicyPCR digest");
        return 0;
}

/* 32 bytes: SHA-256(getrandom(32) || TPM GetRandom(32)); the TPM's part travels encrypted in `session`. */
static int make_secret(struct vs_tpm *t, ESYS_TR session, struct vs_secret **ret) {
        _cleanup_secret_ struct vs_secret *mix = NULL, *out = NULL;
        int r = vs_secret_new(2 * VS_TPM_SECRET_SIZE, &mix);
        if (r < 0)
                return tpm_error(t, r, "cannot allocate a locked buffer for the secret");
        r = vs_secret_new(VS_TPM_SECRET_SIZE, &out);
        if (r < 0)
                return tpm_error(t, r, "cannot allocate a locked buffer for the secret");
        ssize_t n = getrandom(mix->data, VS_TPM_SECRET_SIZE, 0);
        if (n != VS_TPM_SECRET_SIZE)
                return tpm_error(t, n < 0 ? -errno : -EIO, "getrandom() failed: %s", strerror(n < 0 ? errno : EIO));
        r = tpm_session_attrs(t, session, TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION);
        if (r < 0)
                return r;
        TPM2B_DIGEST *rnd = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_GetRandom(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, VS_TPM_SECRET_SIZE, &rnd));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_GetRandom", "cannot read random bytes from the TPM");
        if (rnd->size != VS_TPM_SECRET_SIZE) {
                unsigned got = rnd->size; /* read before the buffer is freed */
                explicit_bzero(rnd, sizeof(*rnd));
                free(rnd);
                return tpm_error(t, -EIO, "the TPM returned %u random bytes instead of %d", got, VS_TPM_SECRET_SIZE);
        }
        memcpy(mix->data + VS_TPM_SECRET_SIZE, rnd->buffer, VS_TPM_SECRET_SIZE);
        explicit_bzero(rnd, sizeof(*rnd));
        free(rnd);
        mix->len = 2 * VS_TPM_SECRET_SIZE;
        unsigned len = 0;
        if (!EVP_Digest(mix->data, mix->len, out->data, &len, EVP_sha256(), NULL) || len != VS_TPM_SECRET_SIZE)
                return tpm_error(t, -EIO, "SHA-256 failed in OpenSSL");
        out->len = VS_TPM_SECRET_SIZE;
        *ret = TAKE_PTR(out);
        return 0;
}

/* PCR 11 may be listed too: Talos 1.12 seals its value as read then, after PolicyAuthorize (the slot then opens
 * only while PCR 11 holds that value and a signed policy covers it; internal/pkg/secureboot/tpm2/policy.go). */
static int check_literal_pcrs(struct vs_tpm *t, uint32_t pcr_mask) {
        if (pcr_mask >> VS_TPM_PCR_COUNT)
                return tpm_error(t, -EINVAL, "invalid PCR selection 0x%x (PCRs 0-23)", pcr_mask);
        return 0;
}

/* The authPolicy of a new sealed object: the PCR key's PolicyAuthorize, then PolicyPCR over the values the
 * PCRs of `pcr_mask` hold now. */
static int seal_policy(struct vs_tpm *t, EVP_PKEY *pcr_key, uint32_t pcr_mask, uint8_t ret[POLICY_SHA256_SIZE]) {
        TPM2B_PUBLIC kpub;
        TPM2B_NAME kname;
        int r = pcr_key_public(t, pcr_key, EXPONENT_DEFAULT, &kpub, &kname);
        if (r < 0)
                return r;
        struct vs_tpm_pcrs pcrs = {};
        if (pcr_mask) {
                r = vs_tpm_pcr_read(t, TPM2_ALG_SHA256, pcr_mask, &pcrs);
                if (r < 0)
                        return r;
        }
        return predict(t, &kname, pcr_mask, &pcrs, ret);
}

/* TPM2_Create of a keyedHash object holding a fresh secret under the SRK, in a salted HMAC session. */
static int create_sealed(struct vs_tpm *t, const uint8_t policy[POLICY_SHA256_SIZE], struct vs_secret **ret_secret,
                         TPM2B_PRIVATE **ret_priv, TPM2B_PUBLIC **ret_pub) {
        TPM2B_PUBLIC tmpl = {
                .publicArea = {
                        .type = TPM2_ALG_KEYEDHASH,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA,
                        .authPolicy = { .size = POLICY_SHA256_SIZE },
                        .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
                },
        };
        memcpy(tmpl.publicArea.authPolicy.buffer, policy, POLICY_SHA256_SIZE);

        ESYS_TR session = ESYS_TR_NONE;
        _cleanup_secret_ struct vs_secret *secret = NULL;
        TPM2B_SENSITIVE_CREATE sens = {};
        int r = tpm_start_session(t, TPM2_SE_HMAC, &session);
        if (r < 0)
                goto out;
        r = make_secret(t, session, &secret);
        if (r < 0)
                goto out;
        sens.sensitive.data.size = VS_TPM_SECRET_SIZE;
        memcpy(sens.sensitive.data.buffer, secret->data, VS_TPM_SECRET_SIZE);
        /* DECRYPT: inSensitive (the secret) crosses the bus AES-128-CFB encrypted under the salted session. */
        r = tpm_session_attrs(t, session, TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION);
        if (r < 0)
                goto out;
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION creation_pcr = {};
        TSS2_RC rc = TPM_CALL(t, Esys_Create(t->esys, t->srk, session, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                                             &outside, &creation_pcr, ret_priv, ret_pub, NULL, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_Create", "cannot seal the secret under the SRK");
                goto out;
        }
        *ret_secret = TAKE_PTR(secret);
out:
        explicit_bzero(&sens, sizeof(sens));
        tpm_flush(t, &session);
        return r;
}

/* A fresh secret sealed with authPolicy `policy`, as the token records it. */
static int seal_to(struct vs_tpm *t, const uint8_t policy[POLICY_SHA256_SIZE], const TPM2B_NAME *srk_name,
                   uint32_t pcr_mask, struct vs_secret **ret_secret, struct vs_tpm_sealed *ret) {
        _cleanup_secret_ struct vs_secret *secret = NULL;
        _cleanup_free_ TPM2B_PRIVATE *out_priv = NULL;
        _cleanup_free_ TPM2B_PUBLIC *out_pub = NULL;
        int r = create_sealed(t, policy, &secret, &out_priv, &out_pub);
        if (r < 0)
                return r;
        if (out_pub->publicArea.authPolicy.size != POLICY_SHA256_SIZE ||
            memcmp(out_pub->publicArea.authPolicy.buffer, policy, POLICY_SHA256_SIZE) != 0)
                return tpm_error(t, -EIO, "the TPM created the sealed object with another policy than requested");
        *ret = (struct vs_tpm_sealed) {
                .priv = *out_priv,
                .pub = *out_pub,
                .srk_name = *srk_name,
                .pcr_mask = pcr_mask,
        };
        memcpy(ret->policy_hash, policy, POLICY_SHA256_SIZE);
        *ret_secret = TAKE_PTR(secret);
        return 0;
}

int vs_tpm_seal(struct vs_tpm *t, EVP_PKEY *pcr_key, uint32_t pcr_mask, struct vs_secret **ret_secret,
                struct vs_tpm_sealed *ret) {
        tpm_clear_error(t);
        int r = check_literal_pcrs(t, pcr_mask);
        if (r < 0)
                return r;
        TPM2B_NAME srk_name;
        r = vs_tpm_srk(t, NULL, &srk_name, NULL);
        if (r < 0)
                return r;
        (void) tpm_srk_persist_default(t);
        uint8_t policy[POLICY_SHA256_SIZE];
        r = seal_policy(t, pcr_key, pcr_mask, policy);
        if (r < 0)
                return r;
        return seal_to(t, policy, &srk_name, pcr_mask, ret_secret, ret);
}

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
        (void) tpm_srk_persist_default(t);
        return seal_to(t, policy, &srk_name, pcr_mask, ret_secret, ret);
}

/* Loads the PCR public key in the owner hierarchy (a NULL-hierarchy ticket is refused by PolicyAuthorize),
 * reusing the loaded one when its Name is the same. `name` is policy_public_name(pub): Esys_LoadExternal
 * fails (TSS2_ESYS_RC_MALFORMED_RESPONSE) unless the Name the TPM returns is nameAlg || SHA-256(pub), so
 * the TPM agrees with it whenever the load succeeds, and Esys_TR_GetName (which would hash pub again through
 * tpm2-tss's crypto backend, ~3 M instructions) is not needed. */
static int load_pcr_key(struct vs_tpm *t, const TPM2B_PUBLIC *pub, const TPM2B_NAME *name) {
        if (t->pcr_key != ESYS_TR_NONE) {
                if (t->pcr_key_name.size == name->size && memcmp(t->pcr_key_name.name, name->name, name->size) == 0)
                        return 0;
                tpm_flush(t, &t->pcr_key);
        }
        t->ticket_cached = false; /* a ticket names the key it was made with */
        ESYS_TR k = ESYS_TR_NONE;
        TSS2_RC rc = TPM_CALL(t, Esys_LoadExternal(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, pub,
                                                   ESYS_TR_RH_OWNER, &k));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_LoadExternal", "cannot load the PCR public key");
        t->pcr_key_name = *name;
        t->pcr_key = k;
        return 0;
}

/* What the steps of an unseal return besides 0 and -errno: a value kept from an earlier volume (PCRs, ticket)
 * or read a moment ago no longer holds; the attempt ends and the next one reads again. */
#define UNSEAL_AGAIN 1

/* One unseal of one slot: what vs_tpm_unseal() prepares once, and what an attempt learns step by step. */
struct unseal {
        const struct vs_tpm_sealed *sealed;
        const struct vs_tpm_authnv *nv;         /* an updatable slot: the authorized set read from its index */
        uint32_t literal;                       /* the literal PCRs: sealed->pcr_mask, or the set's */
        EVP_PKEY *pcr_key;
        const struct pcrsig *sig;
        uint8_t pkfp[POLICY_SHA256_SIZE];       /* the PCR key's fingerprint, as .pcrsig entries name it */
        TPM2B_PUBLIC kpub[2];                   /* the PCR key with exponent 65537, and as the key states it */
        TPM2B_NAME kname[2];
        char list[96];                          /* literal as "7,14", for messages */
        ESYS_TR obj;                            /* the loaded sealed object, kept across attempts */

        struct vs_tpm_pcrs pcrs;                /* PCR 11 + literal */
        bool cached;                            /* pcrs were kept from an earlier volume */
        uint8_t pol[POLICY_SHA256_SIZE];        /* PolicyPCR(11) over the value read: the approved policy */
        const struct pcrsig_entry *entry;       /* its signed .pcrsig entry */
        int which;                              /* the kpub/kname the slot was sealed with */
};

/* Drops the kept PCR values so the next attempt reads them again. */
static int read_pcrs_again(struct vs_tpm *t) {
        t->pcrs_cached_mask = 0;
        return UNSEAL_AGAIN;
}

/* 1. PCR_Read(11 + configured) once per run: the previous volume's values while nothing was extended. */
static int read_pcrs(struct vs_tpm *t, struct unseal *u) {
        return vs_tpm_pcr_read_kept(t, PCR11 | u->literal, &u->pcrs, &u->cached);
}

/* 2. The .pcrsig entry for PCR 11 = the value read, chosen and verified in software. */
static int find_signed_policy(struct vs_tpm *t, struct unseal *u) {
        policy_digest_init(u->pol);
        int r = policy_pcr(u->pol, TPM2_ALG_SHA256, PCR11, u->pcrs.value[11], POLICY_SHA256_SIZE);
        if (r < 0)
                return tpm_error(t, r, "cannot compute the PolicyPCR digest of PCR 11");
        u->entry = pcrsig_find(u->sig, PCR11, u->pkfp, u->pol);
        if (!u->entry && u->cached) {
                log_debug("no signed policy for the PCR 11 value read for an earlier volume: reading the PCRs again");
                return read_pcrs_again(t);
        }
        if (!u->entry) {
                size_t with_key = 0;
                for (size_t i = 0; i < u->sig->n_entries; i++)
                        with_key += memcmp(u->sig->entries[i].pkfp, u->pkfp, POLICY_SHA256_SIZE) == 0;
                if (with_key == 0)
                        return tpm_error(t, -EKEYREJECTED, "the signed PCR policy has no entry made with this PCR "
                                         "public key (its fingerprint matches none of the %zu entries)",
                                         u->sig->n_entries);
                return tpm_error(t, -EKEYREJECTED, "no signed policy matches PCR 11 (PCR 11 has moved past the "
                                 "signed phase, or the UKI is not the one that was signed?)");
        }
        if (pcrsig_verify(u->entry, u->pcr_key) < 0)
                return tpm_error(t, -EBADMSG, "the signature of the signed PCR policy entry for the current PCR 11 "
                                 "does not verify with the PCR public key");
        return 0;
}

/* 3. The final digest, predicted; a state that cannot match stops before any policy command. */
static int match_sealed_policy(struct vs_tpm *t, struct unseal *u) {
        uint32_t mask = u->sealed->pcr_mask;
        u->which = -1;
        for (int i = 0; i < 2 && u->which < 0; i++) {
                uint8_t d[POLICY_SHA256_SIZE];
                int r = predict(t, &u->kname[i], mask, &u->pcrs, d);
                if (r < 0)
                        return r;
                if (memcmp(d, u->sealed->policy_hash, POLICY_SHA256_SIZE) == 0)
                        u->which = i;
        }
        if (u->which >= 0)
                return 0;
        if (u->cached) {
                log_debug("the PCR values read for an earlier volume do not satisfy this slot: reading them again");
                return read_pcrs_again(t);
        }
        if (mask)
                return tpm_error(t, -EKEYREJECTED, "PCR %s changed since enrolment (or the slot was sealed "
                                 "to another PCR public key): the policy cannot be satisfied", u->list);
        return tpm_error(t, -EKEYREJECTED, "the slot was sealed to another PCR public key: the policy "
                         "cannot be satisfied");
}

/* 3, updatable slot. The booted PCR key and the literal PCRs' state must be in the index's set (the TPM
 * checks the same through PolicyAuthorizeNV): what is missing is said before any policy command. */
static int match_authorized_set(struct vs_tpm *t, struct unseal *u) {
        const struct authnv_set *set = &u->nv->set;
        u->which = -1;
        for (int i = 0; i < 2 && u->which < 0; i++)
                if (authnv_find_key(set, &u->kname[i]) >= 0)
                        u->which = i;
        if (u->which < 0)
                return tpm_error(t, -EKEYREJECTED, "the PCR public key is not one of the %zu keys authorized for "
                                 "updatable slots (a key that was never added, or was removed)", set->n_keys);
        if (!u->literal)
                return 0;
        uint8_t values[AUTHNV_STATE_BYTES];
        size_t n = 0;
        for (uint32_t i = 0; i < VS_TPM_PCR_COUNT && n < AUTHNV_STATE_BYTES / POLICY_SHA256_SIZE; i++)
                if (u->literal & (1u << i))
                        memcpy(values + POLICY_SHA256_SIZE * n++, u->pcrs.value[i], POLICY_SHA256_SIZE);
        if (authnv_find_state(set, values, n * POLICY_SHA256_SIZE) >= 0)
                return 0;
        if (u->cached) {
                log_debug("the PCR values read for an earlier volume are no authorized state: reading them again");
                return read_pcrs_again(t);
        }
        return tpm_error(t, -EKEYREJECTED, "the literal PCRs (%s) hold none of the %zu authorized states: an "
                         "update that was not prepared (volseal tpm prepare), or a state retired since", u->list,
                         set->n_states);
}

/* 4a. The sealed object under the SRK, once for all attempts. */
static int load_sealed(struct vs_tpm *t, struct unseal *u) {
        if (u->obj != ESYS_TR_NONE)
                return 0;
        TSS2_RC rc = TPM_CALL(t, Esys_Load(t->esys, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                           &u->sealed->priv, &u->sealed->pub, &u->obj));
        if (rc != TSS2_RC_SUCCESS) {
                u->obj = ESYS_TR_NONE;
                return tpm_fail(t, rc, "TPM2_Load", "cannot load the sealed object under the SRK");
        }
        return 0;
}

/* 5b. VerifySignature of the entry: its ticket is good for every session of the run, so it is kept in `t`. */
static int verify_signed_policy(struct vs_tpm *t, struct unseal *u) {
        const struct pcrsig_entry *e = u->entry;
        TPM2B_DIGEST hashed = { .size = POLICY_SHA256_SIZE };
        unsigned hlen = 0;
        if (!EVP_Digest(u->pol, POLICY_SHA256_SIZE, hashed.buffer, &hlen, EVP_sha256(), NULL))
                return tpm_error(t, -EIO, "SHA-256 failed in OpenSSL");
        if (e->sig_len > TPM2_MAX_RSA_KEY_BYTES)
                return tpm_error(t, -EBADMSG, "the signed PCR policy's signature is %zu bytes, more than an RSA key has",
                                 e->sig_len);
        TPMT_SIGNATURE s = {
                .sigAlg = TPM2_ALG_RSASSA,
                .signature.rsassa = { .hash = TPM2_ALG_SHA256, .sig.size = (uint16_t) e->sig_len },
        };
        memcpy(s.signature.rsassa.sig.buffer, e->sig, e->sig_len);
        _cleanup_free_ TPMT_TK_VERIFIED *ticket = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_VerifySignature(t->esys, t->pcr_key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                      &hashed, &s, &ticket));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_VerifySignature", "the TPM rejected the signature of the signed PCR policy");
        t->ticket = *ticket;
        memcpy(t->ticket_pol, u->pol, POLICY_SHA256_SIZE);
        t->ticket_cached = true;
        return 0;
}

/* 5c. PolicyAuthorize(approved = PolicyPCR(11)) with the kept ticket, else a fresh one. A kept ticket the
 * TPM refuses is dropped and the signature verified again; the refused command left the session's policy
 * as it was (a failed command changes no TPM state), so PolicyAuthorize is simply sent again. */
static int authorize_signed_policy(struct vs_tpm *t, struct unseal *u, ESYS_TR session) {
        bool reuse = t->ticket_cached && memcmp(t->ticket_pol, u->pol, POLICY_SHA256_SIZE) == 0;
        int r = reuse ? 0 : verify_signed_policy(t, u);
        if (r < 0)
                return r;
        TPM2B_DIGEST approved = { .size = POLICY_SHA256_SIZE };
        memcpy(approved.buffer, u->pol, POLICY_SHA256_SIZE);
        TPM2B_NONCE ref = {};
        TSS2_RC rc = TPM_CALL(t, Esys_PolicyAuthorize(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                      &approved, &ref, &t->pcr_key_name, &t->ticket));
        if (rc != TSS2_RC_SUCCESS && reuse) {
                log_debug("the TPM refused the ticket kept from an earlier volume (%s): verifying the signature again",
                          Tss2_RC_Decode(rc));
                t->ticket_cached = false;
                r = verify_signed_policy(t, u);
                if (r < 0)
                        return r;
                rc = TPM_CALL(t, Esys_PolicyAuthorize(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                      &approved, &ref, &t->pcr_key_name, &t->ticket));
        }
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_PolicyAuthorize", "the TPM refused the signed PCR policy");
        return 0;
}

static void log_session_digest(struct vs_tpm *t, ESYS_TR session) {
        if (vs_log_get_level() < VS_LOG_DEBUG)
                return;
        TPM2B_DIGEST *d = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_PolicyGetDigest(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d));
        if (rc == TSS2_RC_SUCCESS) {
                char hex[VS_HEX_SIZE(POLICY_SHA256_SIZE)];
                vs_hex_encode_to(d->buffer, d->size < POLICY_SHA256_SIZE ? d->size : POLICY_SHA256_SIZE, hex);
                log_debug("policy session digest before Unseal: %s", hex);
        }
        free(d);
}

/* 4b and 5. The PCR key; PolicyPCR(11), VerifySignature, PolicyAuthorize, then PolicyPCR(configured), or
 * for an updatable slot the authorized set's PolicyORs and PolicyAuthorizeNV. */
static int satisfy_policy(struct vs_tpm *t, struct unseal *u, ESYS_TR session) {
        int r = load_pcr_key(t, &u->kpub[u->which], &u->kname[u->which]);
        if (r < 0)
                return r;
        r = tpm_policy_pcr(t, session, &u->pcrs, PCR11);
        if (r < 0)
                return r;
        if (r > 0) {
                log_debug("PCR 11 changed during unseal: reading it again");
                return read_pcrs_again(t);
        }
        r = authorize_signed_policy(t, u, session);
        if (r != 0)
                return r;
        if (u->nv || u->literal) {
                r = u->nv ? tpm_authnv_satisfy(t, session, u->nv, &u->pcrs) :
                            tpm_policy_pcr(t, session, &u->pcrs, u->literal);
                if (r < 0)
                        return r;
                if (r > 0) {
                        log_debug("PCR %s changed during unseal: reading them again", u->list);
                        return read_pcrs_again(t);
                }
        }
        log_session_digest(t, session);
        return 0;
}

static void sensitive_data_freep(TPM2B_SENSITIVE_DATA **p) {
        if (*p)
                explicit_bzero(*p, sizeof(**p));
        free(*p);
}

/* 6. Unseal, the response encrypted under the salted session. continueSession stays set: the TPM resets the
 * session's policy when a policy session authorizes a command and continues (TPM 2.0 Part 1, policy
 * sessions; PolicyRestart is not needed), so the next volume starts from an empty policy in the same
 * session. The sealed object is flushed at once. */
static int unseal_in_session(struct vs_tpm *t, struct unseal *u, ESYS_TR session, struct vs_secret **ret_secret) {
        int r = tpm_session_attrs(t, session, TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION);
        if (r < 0)
                return r;
        _cleanup_(sensitive_data_freep) TPM2B_SENSITIVE_DATA *out = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_Unseal(t->esys, u->obj, session, ESYS_TR_NONE, ESYS_TR_NONE, &out));
        tpm_flush(t, &u->obj);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_Unseal", "the TPM refused to unseal the slot's secret");
        r = vs_secret_from(out->buffer, out->size, ret_secret);
        if (r < 0)
                return tpm_error(t, r, "cannot allocate a locked buffer for the unsealed secret");
        return 0;
}

/* 1-3: the decision in software, from the PCR values read once per run: a slot the current PCRs cannot
 * satisfy is refused here, before the SRK is looked up or created and before any object or session. */
static int predict_slot(struct vs_tpm *t, struct unseal *u) {
        int r = read_pcrs(t, u);
        if (r < 0)
                return r;
        r = find_signed_policy(t, u);
        if (r != 0)
                return r;
        return u->nv ? match_authorized_set(t, u) : match_sealed_policy(t, u);
}

/* One attempt: 0 with the secret, UNSEAL_AGAIN, or -errno. Any end other than a successful Unseal leaves the
 * run's policy session spoilt, so the next attempt or volume restarts it. */
static int unseal_once(struct vs_tpm *t, struct unseal *u, struct vs_secret **ret_secret) {
        int r = predict_slot(t, u);
        if (r != 0)
                return r;
        r = vs_tpm_srk(t, &u->sealed->srk_name, NULL, NULL);
        if (r < 0)
                return r;
        r = load_sealed(t, u);
        if (r < 0)
                return r;
        ESYS_TR session = ESYS_TR_NONE;
        r = tpm_policy_session(t, &session);
        if (r < 0)
                return r;
        r = satisfy_policy(t, u, session);
        if (r == 0)
                r = unseal_in_session(t, u, session, ret_secret);
        if (r != 0)
                tpm_policy_session_spoil(t);
        return r;
}

/* The PCR key's public areas and Names (both exponent encodings), and its fingerprint. */
static int prepare_unseal(struct vs_tpm *t, struct unseal *u) {
        static const uint32_t exponents[2] = { EXPONENT_DEFAULT, 0 };
        for (int i = 0; i < 2; i++) {
                int r = pcr_key_public(t, u->pcr_key, exponents[i], &u->kpub[i], &u->kname[i]);
                if (r < 0)
                        return r;
        }
        /* The fingerprint (DER-encoding through OpenSSL's encoders: ~4% of an unlock's CPU) is the same for
         * every volume of a run: computed once per context, for the key whose Name it was made for. */
        if (t->pkfp_for.size != u->kname[0].size || memcmp(t->pkfp_for.name, u->kname[0].name, u->kname[0].size) != 0) {
                int r = policy_pkfp(u->pcr_key, t->pkfp);
                if (r < 0) {
                        t->pkfp_for.size = 0;
                        return tpm_error(t, r, "cannot compute the fingerprint of the PCR public key");
                }
                t->pkfp_for = u->kname[0];
        }
        memcpy(u->pkfp, t->pkfp, sizeof(u->pkfp));
        tpm_format_pcr_list(u->literal, u->list, sizeof(u->list));
        return 0;
}

/* Up to 3 attempts: a value kept or read a moment ago that no longer holds starts the next one. */
static int unseal_run(struct vs_tpm *t, struct unseal *u, struct vs_secret **ret_secret) {
        if (u->sig->n_entries == 0)
                return tpm_error(t, -EKEYREJECTED, "the signed PCR policy has no sha256 entries");
        int r = prepare_unseal(t, u);
        if (r < 0)
                return r;
        for (int attempt = 0; attempt < 3; attempt++) {
                r = unseal_once(t, u, ret_secret);
                if (r != UNSEAL_AGAIN)
                        break;
        }
        if (r == UNSEAL_AGAIN)
                r = tpm_error(t, -EAGAIN, "the PCRs kept changing while unsealing; giving up after 3 attempts");
        tpm_flush(t, &u->obj);
        return r;
}

int vs_tpm_unseal(struct vs_tpm *t, const struct vs_tpm_sealed *sealed, EVP_PKEY *pcr_key,
                  const struct pcrsig *sig, struct vs_secret **ret_secret) {
        tpm_clear_error(t);
        if (!sealed || !pcr_key || !sig)
                return tpm_error(t, -EINVAL, "unseal needs the sealed object, the PCR public key and the signed PCR policy");
        int r = check_literal_pcrs(t, sealed->pcr_mask);
        if (r < 0)
                return r;
        struct unseal u = {
                .sealed = sealed, .literal = sealed->pcr_mask, .pcr_key = pcr_key, .sig = sig, .obj = ESYS_TR_NONE,
        };
        return unseal_run(t, &u, ret_secret);
}

int vs_tpm_unseal_updatable(struct vs_tpm *t, const struct vs_tpm_sealed *sealed, const struct vs_tpm_authnv *nv,
                            EVP_PKEY *pcr_key, const struct pcrsig *sig, struct vs_secret **ret_secret) {
        tpm_clear_error(t);
        if (!sealed || !nv || !pcr_key || !sig)
                return tpm_error(t, -EINVAL, "unseal needs the sealed object, the authorized set, the PCR public key "
                                 "and the signed PCR policy");
        uint8_t s[POLICY_SHA256_SIZE];
        if (policy_authorize_nv(s, &nv->name) < 0 || memcmp(s, sealed->policy_hash, sizeof(s)) != 0)
                return tpm_error(t, -EKEYREJECTED, "the slot is bound to another NV index than 0x%08x", nv->handle);
        struct unseal u = {
                .sealed = sealed, .nv = nv, .literal = nv->set.pcr_mask, .pcr_key = pcr_key, .sig = sig,
                .obj = ESYS_TR_NONE,
        };
        return unseal_run(t, &u, ret_secret);
}

int vs_tpm_policy_trial(struct vs_tpm *t, EVP_PKEY *pcr_key, uint32_t exponent, uint32_t pcr_mask,
                        uint8_t ret[32]) {
        tpm_clear_error(t);
        TPM2B_PUBLIC kpub;
        TPM2B_NAME kname;
        int r = pcr_key_public(t, pcr_key, exponent, &kpub, &kname);
        if (r < 0)
                return r;
        ESYS_TR session = ESYS_TR_NONE;
        r = tpm_start_session(t, TPM2_SE_TRIAL, &session);
        if (r < 0)
                return r;
        TPM2B_DIGEST approved = {};
        TPM2B_NONCE ref = {};
        TPMT_TK_VERIFIED ticket = { .tag = TPM2_ST_VERIFIED, .hierarchy = TPM2_RH_NULL };
        TSS2_RC rc = TPM_CALL(t, Esys_PolicyAuthorize(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                      &approved, &ref, &kname, &ticket));
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_PolicyAuthorize", "trial policy failed");
                goto out;
        }
        if (pcr_mask) {
                TPM2B_DIGEST empty = {};
                TPML_PCR_SELECTION sel;
                tpm_pcr_selection(TPM2_ALG_SHA256, pcr_mask, &sel);
                rc = TPM_CALL(t, Esys_PolicyPCR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel));
                if (rc != TSS2_RC_SUCCESS) {
                        r = tpm_fail(t, rc, "TPM2_PolicyPCR", "trial policy failed");
                        goto out;
                }
        }
        TPM2B_DIGEST *d = NULL;
        rc = TPM_CALL(t, Esys_PolicyGetDigest(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d));
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_PolicyGetDigest", "trial policy failed");
                goto out;
        }
        if (d->size != POLICY_SHA256_SIZE)
                r = tpm_error(t, -EIO, "the trial policy digest has %u bytes", d->size);
        else
                memcpy(ret, d->buffer, POLICY_SHA256_SIZE);
        free(d);
out:
        tpm_flush(t, &session);
        return r;
}
