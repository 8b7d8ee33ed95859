/* nv.c: the pieces of policy/ an NV-index authorization needs besides the policy commands: the Name of an
 * NV index, the TPMT_PUBLIC of a software ECC P-256 signing key (loaded with LoadExternal for
 * PolicySigned), the cpHash of TPM2_NV_Write, the digest a PolicySigned authorization signs, and an ECDSA
 * signature in the TPM's form. Pure: bytes in, bytes out (tss2-mu, openssl). */
#include "policy.h"
#include "policy-internal.h"

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "src/log.h"
#include "src/util.h"

int policy_nv_name(const TPMS_NV_PUBLIC *pub, TPM2B_NAME *ret) {
        uint8_t buf[sizeof(TPMS_NV_PUBLIC)];
        size_t off = 0;
        if (!pub || !ret)
                return -EINVAL;
        if (pub->nameAlg != TPM2_ALG_SHA256)
                return log_error_errno(-EOPNOTSUPP, "only SHA-256 NV index Names are supported (nameAlg 0x%04x)",
                                       pub->nameAlg);
        TSS2_RC rc = Tss2_MU_TPMS_NV_PUBLIC_Marshal(pub, buf, sizeof(buf), &off);
        if (rc != TSS2_RC_SUCCESS)
                return log_error_errno(-EINVAL, "the NV public area cannot be marshalled (rc 0x%x)", rc);
        *ret = (TPM2B_NAME) { .size = 2 + POLICY_SHA256_SIZE };
        ret->name[0] = (uint8_t) (TPM2_ALG_SHA256 >> 8);
        ret->name[1] = (uint8_t) TPM2_ALG_SHA256;
        return policy_sha256_parts(ret->name + 2, buf, off, NULL, 0, NULL, 0, NULL, 0);
}

/* The affine coordinates of an EC public key, each padded to 32 bytes. */
static int ecc_point(EVP_PKEY *pkey, uint8_t x[32], uint8_t y[32]) {
        BIGNUM *bx = NULL, *by = NULL;
        char group[64] = "";
        int r = 0;
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) ||
            (!streq(group, "prime256v1") && !streq(group, "P-256")))
                r = log_error_errno(-EOPNOTSUPP, "the key is not an ECC NIST P-256 key (curve '%s')", group);
        else if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) ||
                 !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) ||
                 BN_bn2binpad(bx, x, 32) != 32 || BN_bn2binpad(by, y, 32) != 32)
                r = log_error_errno(-EIO, "cannot read the public point of the ECC key");
        BN_free(bx);
        BN_free(by);
        ERR_clear_error();
        return r;
}

int policy_ecc_public(EVP_PKEY *pkey, TPM2B_PUBLIC *ret) {
        if (!pkey || !ret)
                return -EINVAL;
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
                return log_error_errno(-EINVAL, "the key is not an ECC key");
        *ret = (TPM2B_PUBLIC) {
                .publicArea = {
                        .type = TPM2_ALG_ECC,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT,
                        .parameters.eccDetail = {
                                .symmetric.algorithm = TPM2_ALG_NULL,
                                .scheme.scheme = TPM2_ALG_NULL,
                                .curveID = TPM2_ECC_NIST_P256,
                                .kdf.scheme = TPM2_ALG_NULL,
                        },
                        .unique.ecc = { .x.size = 32, .y.size = 32 },
                },
        };
        return ecc_point(pkey, ret->publicArea.unique.ecc.x.buffer, ret->publicArea.unique.ecc.y.buffer);
}

int policy_cphash(uint32_t command_code, const TPM2B_NAME *names, size_t n_names, const uint8_t *params,
                  size_t params_len, uint8_t ret[POLICY_SHA256_SIZE]) {
        uint8_t cc[4];
        policy_put_be32(cc, command_code);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, cc, sizeof(cc));
        for (size_t i = 0; ok && i < n_names; i++)
                ok = names[i].size <= sizeof(names[i].name) && EVP_DigestUpdate(ctx, names[i].name, names[i].size);
        ok = ok && (!params_len || EVP_DigestUpdate(ctx, params, params_len)) && EVP_DigestFinal_ex(ctx, ret, NULL);
        EVP_MD_CTX_free(ctx);
        return ok ? 0 : log_error_errno(-EIO, "cpHash: SHA-256 failed in openssl");
}

int policy_nv_write_cphash(const TPM2B_NAME *nv_name, const uint8_t *data, size_t len, uint16_t offset,
                           uint8_t ret[POLICY_SHA256_SIZE]) {
        TPM2B_MAX_NV_BUFFER buf = { .size = (uint16_t) len };
        uint8_t params[sizeof(TPM2B_MAX_NV_BUFFER) + 2];
        size_t off = 0;
        if (!nv_name || len > sizeof(buf.buffer) || (len && !data))
                return log_error_errno(-EINVAL, "NV_Write cpHash: %zu bytes of data do not fit one NV_Write", len);
        if (len)
                memcpy(buf.buffer, data, len);
        if (Tss2_MU_TPM2B_MAX_NV_BUFFER_Marshal(&buf, params, sizeof(params), &off) != TSS2_RC_SUCCESS ||
            Tss2_MU_UINT16_Marshal(offset, params, sizeof(params), &off) != TSS2_RC_SUCCESS)
                return log_error_errno(-EINVAL, "NV_Write cpHash: the parameters cannot be marshalled");
        /* authHandle and nvIndex are the same index: its Name twice (TPM 2.0 Part 1, cpHash). */
        const TPM2B_NAME names[2] = { *nv_name, *nv_name };
        return policy_cphash(TPM2_CC_NV_Write, names, 2, params, off, ret);
}

int policy_signed_ahash(const uint8_t *nonce_tpm, size_t nonce_len, int32_t expiration, const uint8_t *cphash,
                        size_t cphash_len, const uint8_t *policy_ref, size_t policy_ref_len,
                        uint8_t ret[POLICY_SHA256_SIZE]) {
        uint8_t exp[4];
        if ((nonce_len && !nonce_tpm) || (cphash_len && !cphash) || (policy_ref_len && !policy_ref))
                return -EINVAL;
        policy_put_be32(exp, (uint32_t) expiration);
        return policy_sha256_parts(ret, nonce_tpm, nonce_len, exp, sizeof(exp), cphash, cphash_len, policy_ref,
                                   policy_ref_len);
}

int policy_sign_ecdsa(EVP_PKEY *key, const uint8_t digest[POLICY_SHA256_SIZE], TPMT_SIGNATURE *ret) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
        uint8_t der[80];
        size_t der_len = sizeof(der);
        ECDSA_SIG *sig = NULL;
        int r = 0;
        if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
            EVP_PKEY_sign(ctx, der, &der_len, digest, POLICY_SHA256_SIZE) <= 0)
                r = log_error_errno(-EIO, "cannot sign with the ECC key in openssl");
        const uint8_t *p = der;
        if (r == 0 && !(sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len)))
                r = log_error_errno(-EIO, "openssl returned an ECDSA signature that does not parse");
        if (r == 0) {
                *ret = (TPMT_SIGNATURE) {
                        .sigAlg = TPM2_ALG_ECDSA,
                        .signature.ecdsa = { .hash = TPM2_ALG_SHA256, .signatureR.size = 32, .signatureS.size = 32 },
                };
                if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), ret->signature.ecdsa.signatureR.buffer, 32) != 32 ||
                    BN_bn2binpad(ECDSA_SIG_get0_s(sig), ret->signature.ecdsa.signatureS.buffer, 32) != 32)
                        r = log_error_errno(-EIO, "the ECDSA signature does not fit P-256");
        }
        ECDSA_SIG_free(sig);
        EVP_PKEY_CTX_free(ctx);
        ERR_clear_error();
        return r;
}
