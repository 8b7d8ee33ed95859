/* attest.c: the node's half of attestation: the EK (persistent 0x81010001 or the TCG default RSA-2048
 * template), the attestation key (restricted ECC P-256 ECDSA-SHA256 signing key created under the EK and
 * persisted at a free handle, never evicting), TPM2_ActivateCredential with the EK's PolicySecret(endorsement)
 * session, and TPM2_Quote. At most 2 objects (EK, AK) and 1 session are loaded at a time; everything
 * transient is flushed on every path. */
#include "tpm-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define PERSISTENT_FIRST 0x81000000u
#define OWNER_PERSISTENT_LAST 0x817fffffu

/* TCG EK Credential Profile 2.0, template L-1 (RSA-2048) policy: PolicySecret(TPM_RH_ENDORSEMENT). */
static const uint8_t ek_policy[32] = {
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
        0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};
#define EK_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
                  TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)
#define AK_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
                  TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

static void ek_template(TPM2B_PUBLIC *ret) {
        *ret = (TPM2B_PUBLIC) {
                .publicArea = {
                        .type = TPM2_ALG_RSA,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = EK_ATTRS,
                        .authPolicy = { .size = 32 },
                        .parameters.rsaDetail = {
                                .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB },
                                .scheme = { .scheme = TPM2_ALG_NULL },
                                .keyBits = 2048,
                                .exponent = 0,
                        },
                        .unique.rsa = { .size = 256 },
                },
        };
        memcpy(ret->publicArea.authPolicy.buffer, ek_policy, 32);
}

static void ak_template(TPM2B_PUBLIC *ret) {
        *ret = (TPM2B_PUBLIC) {
                .publicArea = {
                        .type = TPM2_ALG_ECC,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = AK_ATTRS,
                        .parameters.eccDetail = {
                                .symmetric = { .algorithm = TPM2_ALG_NULL },
                                .scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
                                .curveID = TPM2_ECC_NIST_P256,
                                .kdf = { .scheme = TPM2_ALG_NULL },
                        },
                },
        };
}

static bool is_our_ak(const TPMT_PUBLIC *p) {
        return p->type == TPM2_ALG_ECC && p->nameAlg == TPM2_ALG_SHA256 && p->objectAttributes == AK_ATTRS &&
               p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 &&
               p->parameters.eccDetail.scheme.scheme == TPM2_ALG_ECDSA &&
               p->parameters.eccDetail.scheme.details.ecdsa.hashAlg == TPM2_ALG_SHA256 &&
               p->parameters.eccDetail.symmetric.algorithm == TPM2_ALG_NULL;
}

static int handle_exists(struct vs_tpm *t, uint32_t handle) {
        TPM2_HANDLE h[128];
        int n = tpm_persistent_handles(t, h, ELEMENTSOF(h));
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++)
                if (h[i] == handle)
                        return 1;
        return 0;
}

/* An ESYS_TR for a persistent handle (Esys_TR_Close it, never flush) and its public area. */
static int open_persistent(struct vs_tpm *t, uint32_t handle, ESYS_TR *ret, TPM2B_PUBLIC *ret_pub) {
        ESYS_TR tr = ESYS_TR_NONE;
        TSS2_RC rc = TPM_CALL(t, Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_ReadPublic", "cannot read the key at persistent handle 0x%08x", handle);
        TPM2B_PUBLIC *pub = NULL;
        rc = TPM_CALL(t, Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS) {
                Esys_TR_Close(t->esys, &tr);
                return tpm_fail(t, rc, "TPM2_ReadPublic", "cannot read the key at persistent handle 0x%08x", handle);
        }
        if (ret_pub)
                *ret_pub = *pub;
        free(pub);
        *ret = tr;
        return 0;
}

struct key {
        ESYS_TR tr;
        bool persistent;
};

static void key_release(struct vs_tpm *t, struct key *k) {
        if (k->tr == ESYS_TR_NONE)
                return;
        if (k->persistent)
                Esys_TR_Close(t->esys, &k->tr);
        else
                tpm_flush(t, &k->tr);
        k->tr = ESYS_TR_NONE;
}

/* The EK: the persistent one at VS_TPM_EK_HANDLE if it is a restricted decryption key with the default
 * policy, else CreatePrimary from the TCG default template L-1 (transient). */
static int ek_open(struct vs_tpm *t, struct key *ret, TPM2B_PUBLIC *ret_pub, uint32_t *ret_handle) {
        int r = handle_exists(t, VS_TPM_EK_HANDLE);
        if (r < 0)
                return r;
        if (r > 0) {
                TPM2B_PUBLIC pub;
                r = open_persistent(t, VS_TPM_EK_HANDLE, &ret->tr, &pub);
                if (r < 0)
                        return r;
                const TPMT_PUBLIC *p = &pub.publicArea;
                if ((p->objectAttributes & EK_ATTRS) != EK_ATTRS || p->nameAlg != TPM2_ALG_SHA256 ||
                    p->authPolicy.size != 32 || memcmp(p->authPolicy.buffer, ek_policy, 32) != 0) {
                        Esys_TR_Close(t->esys, &ret->tr);
                        return tpm_error(t, -EOPNOTSUPP, "the key at 0x%08x is not an endorsement key with the TCG "
                                         "default policy (SHA-256 PolicySecret(endorsement))", VS_TPM_EK_HANDLE);
                }
                ret->persistent = true;
                if (ret_pub)
                        *ret_pub = pub;
                if (ret_handle)
                        *ret_handle = VS_TPM_EK_HANDLE;
                return 0;
        }
        TPM2B_PUBLIC tmpl, *pub = NULL;
        ek_template(&tmpl);
        TPM2B_SENSITIVE_CREATE sens = {};
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION creation_pcr = {};
        TSS2_RC rc = TPM_CALL(t, Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                    ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcr, &ret->tr,
                                                    &pub, NULL, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_CreatePrimary", "cannot create the endorsement key (TCG RSA-2048 template)");
        ret->persistent = false;
        if (ret_pub)
                *ret_pub = *pub;
        free(pub);
        if (ret_handle)
                *ret_handle = 0;
        return 0;
}

/* A policy session satisfying the EK's policy: PolicySecret(TPM_RH_ENDORSEMENT) with the (empty) endorsement
 * authorization. Good for one command. */
static int ek_session(struct vs_tpm *t, ESYS_TR *ret) {
        TPMT_SYM_DEF none = { .algorithm = TPM2_ALG_NULL };
        ESYS_TR s = ESYS_TR_NONE;
        TSS2_RC rc = TPM_CALL(t, Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                       ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &none, TPM2_ALG_SHA256, &s));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_StartAuthSession", "cannot start the endorsement key's policy session");
        rc = TPM_CALL(t, Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, s, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                           ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS) {
                tpm_flush(t, &s);
                return tpm_fail(t, rc, "TPM2_PolicySecret", "cannot satisfy the endorsement key's policy "
                                "(PolicySecret with the endorsement hierarchy's authorization)");
        }
        *ret = s;
        return 0;
}

int vs_tpm_ek_public(struct vs_tpm *t, TPM2B_PUBLIC *ret, uint32_t *ret_handle) {
        tpm_clear_error(t);
        struct key ek = { ESYS_TR_NONE, false };
        int r = ek_open(t, &ek, ret, ret_handle);
        key_release(t, &ek);
        return r;
}

static int check_ak_handle(struct vs_tpm *t, uint32_t handle) {
        if (handle < PERSISTENT_FIRST || handle > OWNER_PERSISTENT_LAST)
                return tpm_error(t, -EINVAL, "0x%08x is not an owner persistent handle (0x81000000-0x817fffff)", handle);
        return 0;
}

/* Opens the AK at `handle`: 1 if it is there and is volseal's kind of AK, 0 if the handle is free,
 * -EEXIST if it holds another key. */
static int ak_open(struct vs_tpm *t, uint32_t handle, struct key *ret, TPM2B_PUBLIC *ret_pub) {
        int r = check_ak_handle(t, handle);
        if (r < 0)
                return r;
        r = handle_exists(t, handle);
        if (r <= 0)
                return r;
        TPM2B_PUBLIC pub;
        r = open_persistent(t, handle, &ret->tr, &pub);
        if (r < 0)
                return r;
        ret->persistent = true;
        if (!is_our_ak(&pub.publicArea)) {
                key_release(t, ret);
                return tpm_error(t, -EEXIST, "persistent handle 0x%08x holds a key that is not an attestation key "
                                 "(restricted ECC P-256 ECDSA-SHA256 signing key); volseal never evicts a persistent "
                                 "object (choose another --ak-handle)", handle);
        }
        if (ret_pub)
                *ret_pub = pub;
        return 1;
}

int vs_tpm_ak(struct vs_tpm *t, uint32_t handle, bool create, TPM2B_PUBLIC *ret_pub, bool *ret_created) {
        tpm_clear_error(t);
        struct key ak = { ESYS_TR_NONE, false }, ek = { ESYS_TR_NONE, false };
        ESYS_TR sess = ESYS_TR_NONE, loaded = ESYS_TR_NONE, pers = ESYS_TR_NONE;
        TPM2B_PRIVATE *priv = NULL;
        TPM2B_PUBLIC *pub = NULL;
        int r = ak_open(t, handle, &ak, ret_pub);
        key_release(t, &ak);
        if (r != 0) {
                if (r > 0 && ret_created)
                        *ret_created = false;
                return r < 0 ? r : 0;
        }
        if (!create)
                return tpm_error(t, -ENOENT, "no attestation key at persistent handle 0x%08x (create it with "
                                 "`volseal attest ak`)", handle);
        r = ek_open(t, &ek, NULL, NULL);
        if (r < 0)
                return r;
        r = ek_session(t, &sess);
        if (r < 0)
                goto out;
        TPM2B_PUBLIC tmpl;
        ak_template(&tmpl);
        TPM2B_SENSITIVE_CREATE sens = {};
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION creation_pcr = {};
        TSS2_RC rc = TPM_CALL(t, Esys_Create(t->esys, ek.tr, sess, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
                                             &creation_pcr, &priv, &pub, NULL, NULL, NULL));
        tpm_flush(t, &sess);
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_Create", "cannot create the attestation key under the endorsement key");
                goto out;
        }
        r = ek_session(t, &sess);
        if (r < 0)
                goto out;
        rc = TPM_CALL(t, Esys_Load(t->esys, ek.tr, sess, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &loaded));
        tpm_flush(t, &sess);
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_Load", "cannot load the attestation key");
                goto out;
        }
        rc = TPM_CALL(t, Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                           ESYS_TR_NONE, handle, &pers));
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_EvictControl", "cannot persist the attestation key at 0x%08x", handle);
                goto out;
        }
        Esys_TR_Close(t->esys, &pers);
        if (ret_pub)
                *ret_pub = *pub;
        if (ret_created)
                *ret_created = true;
        log_debug("attestation key created at persistent handle 0x%08x", handle);
        r = 0;
out:
        tpm_flush(t, &sess);
        tpm_flush(t, &loaded);
        key_release(t, &ek);
        free(priv);
        free(pub);
        return r;
}

int vs_tpm_activate_credential(struct vs_tpm *t, uint32_t ak_handle, const TPM2B_ID_OBJECT *blob,
                               const TPM2B_ENCRYPTED_SECRET *secret, struct vs_secret **ret) {
        tpm_clear_error(t);
        struct key ak = { ESYS_TR_NONE, false }, ek = { ESYS_TR_NONE, false };
        ESYS_TR sess = ESYS_TR_NONE;
        TPM2B_DIGEST *cert = NULL;
        int r = ak_open(t, ak_handle, &ak, NULL);
        if (r == 0)
                r = tpm_error(t, -ENOENT, "no attestation key at persistent handle 0x%08x", ak_handle);
        if (r < 0)
                return r;
        r = ek_open(t, &ek, NULL, NULL);
        if (r < 0)
                goto out;
        r = ek_session(t, &sess);
        if (r < 0)
                goto out;
        TSS2_RC rc = TPM_CALL(t, Esys_ActivateCredential(t->esys, ak.tr, ek.tr, ESYS_TR_PASSWORD, sess, ESYS_TR_NONE,
                                                         blob, secret, &cert));
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_ActivateCredential", "the challenge was not made for this TPM's endorsement "
                             "key and the attestation key at 0x%08x", ak_handle);
                goto out;
        }
        r = vs_secret_from(cert->buffer, cert->size, ret);
out:
        if (cert) {
                explicit_bzero(cert, sizeof(*cert));
                free(cert);
        }
        tpm_flush(t, &sess);
        key_release(t, &ek);
        key_release(t, &ak);
        return r;
}

int vs_tpm_quote(struct vs_tpm *t, uint32_t ak_handle, uint16_t bank, uint32_t mask, const uint8_t *nonce,
                 size_t nonce_size, TPM2B_ATTEST *ret_quoted, TPMT_SIGNATURE *ret_sig) {
        tpm_clear_error(t);
        struct key ak = { ESYS_TR_NONE, false };
        TPM2B_ATTEST *quoted = NULL;
        TPMT_SIGNATURE *sig = NULL;
        TPM2B_DATA q = {};
        if (nonce_size == 0 || nonce_size > sizeof(q.buffer) || mask == 0 || (mask >> VS_TPM_PCR_COUNT))
                return tpm_error(t, -EINVAL, "a quote needs a nonce of 1 to %zu bytes and PCRs between 0 and 23",
                                 sizeof(q.buffer));
        q.size = (UINT16) nonce_size;
        memcpy(q.buffer, nonce, nonce_size);
        int r = ak_open(t, ak_handle, &ak, NULL);
        if (r == 0)
                r = tpm_error(t, -ENOENT, "no attestation key at persistent handle 0x%08x", ak_handle);
        if (r < 0)
                return r;
        TPML_PCR_SELECTION sel;
        tpm_pcr_selection(bank, mask, &sel);
        TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
        TSS2_RC rc = TPM_CALL(t, Esys_Quote(t->esys, ak.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q, &scheme,
                                            &sel, &quoted, &sig));
        key_release(t, &ak);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_Quote", "cannot quote the PCRs with the attestation key at 0x%08x", ak_handle);
        *ret_quoted = *quoted;
        *ret_sig = *sig;
        free(quoted);
        free(sig);
        return 0;
}
