/* policy.c: libvolseal-policy: TPM2 policy digests computed in software (TPM 2.0 Part 3, the
 * "policyDigest update" of each command), TPMT_PUBLIC and Name of RSA keys and the SRK template
 * (marshalled with tss2-mu), and systemd's signed PCR policy JSON (json-c, openssl). */
#include "policy.h"
#include "policy-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "src/cleanup.h"
#include "src/log.h"
#include "src/util.h"

/* ---- helpers ---- */

void policy_put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

int policy_sha256_parts(uint8_t out[POLICY_SHA256_SIZE], const void *a, size_t alen, const void *b, size_t blen,
                        const void *c, size_t clen, const void *d, size_t dlen) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
                 (!alen || EVP_DigestUpdate(ctx, a, alen)) &&
                 (!blen || EVP_DigestUpdate(ctx, b, blen)) &&
                 (!clen || EVP_DigestUpdate(ctx, c, clen)) &&
                 (!dlen || EVP_DigestUpdate(ctx, d, dlen)) &&
                 EVP_DigestFinal_ex(ctx, out, NULL);
        return ok ? 0 : log_error_errno(-EIO, "SHA-256 failed in openssl");
}

static int hexdigit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int policy_unhex(const char *s, uint8_t *out, size_t n) {
        if (!s || strlen(s) != 2 * n)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                int hi = hexdigit(s[2 * i]), lo = hexdigit(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

void policy_hex(const uint8_t *p, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[p[i] >> 4];
                out[2 * i + 1] = digits[p[i] & 15];
        }
        out[2 * n] = 0;
}

/* ---- banks ---- */

static const struct {
        const char *name;
        uint16_t alg;
        size_t size;
} banks[] = {
        { "sha1", TPM2_ALG_SHA1, 20 },
        { "sha256", TPM2_ALG_SHA256, 32 },
        { "sha384", TPM2_ALG_SHA384, 48 },
        { "sha512", TPM2_ALG_SHA512, 64 },
};

int policy_bank_from_name(const char *name, uint16_t *ret_alg, size_t *ret_size) {
        for (size_t i = 0; i < ELEMENTSOF(banks); i++)
                if (name && streq(name, banks[i].name)) {
                        if (ret_alg)
                                *ret_alg = banks[i].alg;
                        if (ret_size)
                                *ret_size = banks[i].size;
                        return 0;
                }
        return -EINVAL;
}

const char *policy_bank_name(uint16_t alg) {
        for (size_t i = 0; i < ELEMENTSOF(banks); i++)
                if (banks[i].alg == alg)
                        return banks[i].name;
        return NULL;
}

/* ---- policy digests ---- */

void policy_digest_init(uint8_t digest[POLICY_SHA256_SIZE]) {
        memset(digest, 0, POLICY_SHA256_SIZE);
}

int policy_pcr_selection(uint8_t digest[POLICY_SHA256_SIZE], const TPML_PCR_SELECTION *sel,
                         const uint8_t pcr_digest[POLICY_SHA256_SIZE]) {
        uint8_t cc[4], buf[sizeof(TPML_PCR_SELECTION)];
        size_t off = 0;
        if (!sel || !pcr_digest)
                return log_error_errno(-EINVAL, "PolicyPCR: no PCR selection or PCR digest given");
        TSS2_RC rc = Tss2_MU_TPML_PCR_SELECTION_Marshal(sel, buf, sizeof(buf), &off);
        if (rc != TSS2_RC_SUCCESS)
                return log_error_errno(-EINVAL, "PolicyPCR: the PCR selection cannot be marshalled (count %u, rc 0x%x)",
                                       sel->count, rc);
        policy_put_be32(cc, TPM2_CC_PolicyPCR);
        return policy_sha256_parts(digest, digest, POLICY_SHA256_SIZE, cc, 4, buf, off, pcr_digest, POLICY_SHA256_SIZE);
}

int policy_pcr(uint8_t digest[POLICY_SHA256_SIZE], uint16_t bank, uint32_t pcr_mask,
               const uint8_t *values, size_t value_size) {
        size_t want;
        const char *name = policy_bank_name(bank);
        if (!name || policy_bank_from_name(name, NULL, &want) < 0)
                return log_error_errno(-EINVAL, "PolicyPCR: unsupported PCR bank 0x%04x", bank);
        if (value_size != want)
                return log_error_errno(-EINVAL, "PolicyPCR: PCR values of bank %s are %zu bytes, not %zu",
                                       name, want, value_size);
        if (pcr_mask == 0 || pcr_mask >> 24)
                return log_error_errno(-EINVAL, "PolicyPCR: PCR mask 0x%x must select PCRs 0-23 only, at least one",
                                       pcr_mask);
        TPML_PCR_SELECTION sel = {
                .count = 1,
                .pcrSelections[0] = { .hash = bank, .sizeofSelect = 3,
                                      .pcrSelect = { (uint8_t) pcr_mask, (uint8_t) (pcr_mask >> 8),
                                                     (uint8_t) (pcr_mask >> 16) } },
        };
        size_t n = (size_t) __builtin_popcount(pcr_mask);
        uint8_t pcr_digest[POLICY_SHA256_SIZE];
        if (!values)
                return log_error_errno(-EINVAL, "PolicyPCR: no PCR values given");
        int r = policy_sha256_parts(pcr_digest, values, n * value_size, NULL, 0, NULL, 0, NULL, 0);
        if (r < 0)
                return r;
        return policy_pcr_selection(digest, &sel, pcr_digest);
}

int policy_authorize(uint8_t digest[POLICY_SHA256_SIZE], const TPM2B_NAME *key_name,
                     const uint8_t *policy_ref, size_t policy_ref_len) {
        uint8_t cc[4], zero[POLICY_SHA256_SIZE] = {};
        if (!key_name || key_name->size == 0 || key_name->size > sizeof(key_name->name))
                return log_error_errno(-EINVAL, "PolicyAuthorize: the key Name is empty or too long");
        if (policy_ref_len > sizeof(((TPM2B_NONCE *) NULL)->buffer) || (policy_ref_len && !policy_ref))
                return log_error_errno(-EINVAL, "PolicyAuthorize: policyRef of %zu bytes is too long", policy_ref_len);
        policy_put_be32(cc, TPM2_CC_PolicyAuthorize);
        /* The TPM resets policyDigest to zero, then PolicyUpdate(CC, keyName, policyRef). */
        int r = policy_sha256_parts(digest, zero, sizeof(zero), cc, 4, key_name->name, key_name->size, NULL, 0);
        if (r < 0)
                return r;
        return policy_sha256_parts(digest, digest, POLICY_SHA256_SIZE, policy_ref, policy_ref_len, NULL, 0, NULL, 0);
}

void policy_auth_value(uint8_t digest[POLICY_SHA256_SIZE]) {
        uint8_t cc[4];
        policy_put_be32(cc, TPM2_CC_PolicyAuthValue);
        (void) policy_sha256_parts(digest, digest, POLICY_SHA256_SIZE, cc, 4, NULL, 0, NULL, 0);
}

int policy_or(uint8_t digest[POLICY_SHA256_SIZE], const uint8_t (*branches)[POLICY_SHA256_SIZE], size_t n) {
        uint8_t cc[4], zero[POLICY_SHA256_SIZE] = {};
        if (!branches || n < 2 || n > 8)
                return log_error_errno(-EINVAL, "PolicyOR takes 2 to 8 branch digests, not %zu", n);
        policy_put_be32(cc, TPM2_CC_PolicyOR);
        /* The TPM resets policyDigest to zero, then hashes CC || the branch digests. */
        return policy_sha256_parts(digest, zero, sizeof(zero), cc, 4, branches, n * POLICY_SHA256_SIZE, NULL, 0);
}

static int check_name(const TPM2B_NAME *name, const char *what) {
        if (!name || name->size < 2 || name->size > sizeof(name->name))
                return log_error_errno(-EINVAL, "%s: the Name is empty or too long", what);
        return 0;
}

int policy_authorize_nv(uint8_t digest[POLICY_SHA256_SIZE], const TPM2B_NAME *nv_name) {
        uint8_t cc[4], zero[POLICY_SHA256_SIZE] = {};
        int r = check_name(nv_name, "PolicyAuthorizeNV");
        if (r < 0)
                return r;
        policy_put_be32(cc, TPM2_CC_PolicyAuthorizeNV);
        /* The TPM resets policyDigest to zero, then PolicyUpdate(CC, nvIndex Name) without a policyRef. */
        return policy_sha256_parts(digest, zero, sizeof(zero), cc, 4, nv_name->name, nv_name->size, NULL, 0);
}

int policy_signed(uint8_t digest[POLICY_SHA256_SIZE], const TPM2B_NAME *key_name, const uint8_t *policy_ref,
                  size_t policy_ref_len) {
        uint8_t cc[4];
        int r = check_name(key_name, "PolicySigned");
        if (r < 0)
                return r;
        if (policy_ref_len > sizeof(((TPM2B_NONCE *) NULL)->buffer) || (policy_ref_len && !policy_ref))
                return log_error_errno(-EINVAL, "PolicySigned: policyRef of %zu bytes is too long", policy_ref_len);
        policy_put_be32(cc, TPM2_CC_PolicySigned);
        /* Unlike PolicyAuthorize, the old digest is kept: PolicyUpdate(CC, authObject Name, policyRef). */
        r = policy_sha256_parts(digest, digest, POLICY_SHA256_SIZE, cc, 4, key_name->name, key_name->size, NULL, 0);
        if (r < 0)
                return r;
        return policy_sha256_parts(digest, digest, POLICY_SHA256_SIZE, policy_ref, policy_ref_len, NULL, 0, NULL, 0);
}

void policy_command_code(uint8_t digest[POLICY_SHA256_SIZE], uint32_t command_code) {
        uint8_t cc[8];
        policy_put_be32(cc, TPM2_CC_PolicyCommandCode);
        policy_put_be32(cc + 4, command_code);
        (void) policy_sha256_parts(digest, digest, POLICY_SHA256_SIZE, cc, sizeof(cc), NULL, 0, NULL, 0);
}

/* ---- keys ---- */

int policy_rsa_public(EVP_PKEY *pkey, uint32_t exponent, TPM2B_PUBLIC *ret) {
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        if (!pkey || !ret)
                return -EINVAL;
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
                return log_error_errno(-EINVAL, "the PCR public key is not an RSA key");
        if (exponent != 0 && exponent != 65537)
                return log_error_errno(-EINVAL, "RSA exponent must be written as 65537 or 0, not %u", exponent);
        if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
            !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e))
                return log_error_errno(-EIO, "cannot read the RSA modulus/exponent from the key");
        if (!BN_is_word(e, 65537))
                return log_error_errno(-EOPNOTSUPP, "the RSA key's public exponent is not 65537");
        int bits = BN_num_bits(n), bytes = BN_num_bytes(n);
        if (bytes <= 0 || (size_t) bytes > sizeof(ret->publicArea.unique.rsa.buffer) || bits % 8 != 0)
                return log_error_errno(-EOPNOTSUPP, "RSA modulus of %d bits is not supported (1024-4096, whole bytes)", bits);
        *ret = (TPM2B_PUBLIC) {
                .publicArea = {
                        .type = TPM2_ALG_RSA,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT,
                        .parameters.rsaDetail = {
                                .symmetric.algorithm = TPM2_ALG_NULL,
                                .scheme.scheme = TPM2_ALG_NULL,
                                .keyBits = (uint16_t) bits,
                                .exponent = exponent,
                        },
                },
        };
        ret->publicArea.unique.rsa.size = (uint16_t) bytes;
        if (BN_bn2binpad(n, ret->publicArea.unique.rsa.buffer, bytes) != bytes)
                return log_error_errno(-EIO, "cannot serialize the RSA modulus");
        return 0;
}

int policy_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret) {
        uint8_t buf[sizeof(TPMT_PUBLIC)];
        size_t off = 0;
        if (!pub || !ret)
                return -EINVAL;
        if (pub->publicArea.nameAlg != TPM2_ALG_SHA256)
                return log_error_errno(-EOPNOTSUPP, "only SHA-256 Names are supported (nameAlg 0x%04x)",
                                       pub->publicArea.nameAlg);
        TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, buf, sizeof(buf), &off);
        if (rc != TSS2_RC_SUCCESS)
                return log_error_errno(-EINVAL, "the public area cannot be marshalled (rc 0x%x)", rc);
        *ret = (TPM2B_NAME) { .size = 2 + POLICY_SHA256_SIZE };
        ret->name[0] = (uint8_t) (TPM2_ALG_SHA256 >> 8);
        ret->name[1] = (uint8_t) TPM2_ALG_SHA256;
        return policy_sha256_parts(ret->name + 2, buf, off, NULL, 0, NULL, 0, NULL, 0);
}

void policy_srk_template(TPM2B_PUBLIC *ret) {
        *ret = (TPM2B_PUBLIC) {
                .publicArea = {
                        .type = TPM2_ALG_ECC,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                            TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
                        .parameters.eccDetail = {
                                .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB },
                                .scheme.scheme = TPM2_ALG_NULL,
                                .curveID = TPM2_ECC_NIST_P256,
                                .kdf.scheme = TPM2_ALG_NULL,
                        },
                        .unique.ecc = { .x.size = 32, .y.size = 32 },
                },
        };
}

/* PKCS#1 RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }: the same ASN.1 template
 * OpenSSL's own RSAPublicKey uses, so the DER is byte for byte what i2d_PublicKey() gives (systemd's pkfp).
 * Encoding (n, e) with it skips i2d_PublicKey()'s OSSL_ENCODER lookup, which costs ~3.7 M instructions on
 * OpenSSL 3.0 for a few hundred bytes of DER. */
typedef struct {
        BIGNUM *n, *e;
} pkcs1_public;
ASN1_SEQUENCE(pkcs1_public) = {
        ASN1_SIMPLE(pkcs1_public, n, BIGNUM),
        ASN1_SIMPLE(pkcs1_public, e, BIGNUM),
} static_ASN1_SEQUENCE_END(pkcs1_public)

int policy_pkfp(EVP_PKEY *pkey, uint8_t ret[POLICY_SHA256_SIZE]) {
        if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
                return log_error_errno(-EINVAL, "pkfp: the key is not an RSA key");
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        unsigned char *der = NULL;
        int len = -1;
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e))
                len = ASN1_item_i2d((ASN1_VALUE *) &(pkcs1_public) { n, e }, &der, ASN1_ITEM_rptr(pkcs1_public));
        if (len <= 0)
                return log_error_errno(-EIO, "pkfp: cannot DER-encode the RSA public key");
        int r = policy_sha256_parts(ret, der, (size_t) len, NULL, 0, NULL, 0, NULL, 0);
        OPENSSL_free(der);
        return r;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }, read
 * without decoding the key (d2i_X509_PUBKEY() would run the OSSL_DECODER lookup on it). */
typedef struct {
        X509_ALGOR *alg;
        ASN1_BIT_STRING *key;
} spki;
ASN1_SEQUENCE(spki) = {
        ASN1_SIMPLE(spki, alg, X509_ALGOR),
        ASN1_SIMPLE(spki, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(spki)

/* The RSA public keys every caller has ("PUBLIC KEY" with rsaEncryption, "RSA PUBLIC KEY"), without
 * OpenSSL 3.0's OSSL_DECODER lookup (~4.4 M instructions): the PEM's first block to DER, then the PKCS#1
 * RSAPublicKey through d2i_PublicKey() (what OpenSSL's own rsaEncryption SPKI decoder does with it). NULL
 * for anything else or any leftover byte: the OSSL_DECODER path decides those, as before. */
static EVP_PKEY *load_rsa_public_pem(const char *pem, size_t len) {
        BIO *bio = BIO_new_mem_buf(pem, (int) len);
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        long der_len = 0;
        EVP_PKEY *pkey = NULL;
        if (bio && PEM_read_bio(bio, &name, &header, &der, &der_len) == 1 && header[0] == 0) {
                const unsigned char *p = der, *pk = NULL;
                long pk_len = 0;
                spki *s = NULL;
                if (streq(name, PEM_STRING_RSA_PUBLIC)) {
                        pk = der;
                        pk_len = der_len;
                } else if (streq(name, PEM_STRING_PUBLIC) &&
                           (s = (spki *) ASN1_item_d2i(NULL, &p, der_len, ASN1_ITEM_rptr(spki))) && p == der + der_len) {
                        const ASN1_OBJECT *obj = NULL;
                        X509_ALGOR_get0(&obj, NULL, NULL, s->alg);
                        if (OBJ_obj2nid(obj) == NID_rsaEncryption) {
                                pk = ASN1_STRING_get0_data(s->key);
                                pk_len = ASN1_STRING_length(s->key);
                        }
                }
                const unsigned char *q = pk;
                if (pk && (pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, pk_len)) && q != pk + pk_len) {
                        EVP_PKEY_free(pkey);
                        pkey = NULL;
                }
                ASN1_item_free((ASN1_VALUE *) s, ASN1_ITEM_rptr(spki));
        }
        BIO_free(bio);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        ERR_clear_error();
        return pkey;
}

int policy_load_public_pem(const char *pem, size_t len, EVP_PKEY **ret) {
        if (!pem || !ret || len > INT_MAX)
                return -EINVAL;
        EVP_PKEY *pkey = load_rsa_public_pem(pem, len);
        static const char *const structures[] = { "SubjectPublicKeyInfo", "type-specific" };
        for (size_t i = 0; i < ELEMENTSOF(structures) && !pkey; i++) {
                OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", structures[i], NULL,
                                                                       EVP_PKEY_PUBLIC_KEY, NULL, NULL);
                if (!dctx)
                        continue;
                const unsigned char *p = (const unsigned char *) pem;
                size_t left = len;
                if (!OSSL_DECODER_from_data(dctx, &p, &left)) {
                        EVP_PKEY_free(pkey);
                        pkey = NULL;
                }
                OSSL_DECODER_CTX_free(dctx);
        }
        ERR_clear_error();
        if (!pkey)
                return -EBADMSG; /* the caller names the file */
        *ret = pkey;
        return 0;
}

int policy_load_private_pem(const char *pem, size_t len, EVP_PKEY **ret) {
        if (!pem || !ret || len > INT_MAX)
                return -EINVAL;
        _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(pem, (int) len);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        ERR_clear_error();
        /* The caller names the file: */
        if (!pkey)
                return -EBADMSG; /* not an unencrypted PEM private key */
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
                return -EINVAL;
        *ret = TAKE_PTR(pkey);
        return 0;
}

/* ---- signed PCR policy JSON ---- */

void pcrsig_done(struct pcrsig *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_entries; i++)
                free(s->entries[i].sig);
        free(s->entries);
        free(s->bank);
        *s = (struct pcrsig) {};
}

static int parse_entry(json_object *o, const char *bank, size_t idx, struct pcrsig_entry *e) {
        json_object *v;
        if (!json_object_is_type(o, json_type_object))
                return log_error_errno(-EBADMSG, "signed PCR policy: %s[%zu] is not an object", bank, idx);

        if (!json_object_object_get_ex(o, "pcrs", &v) || !json_object_is_type(v, json_type_array) ||
            json_object_array_length(v) == 0)
                return log_error_errno(-EBADMSG, "signed PCR policy: %s[%zu].pcrs is missing or not a non-empty array",
                                       bank, idx);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *p = json_object_array_get_idx(v, i);
                int64_t pcr = json_object_get_int64(p);
                if (!json_object_is_type(p, json_type_int) || pcr < 0 || pcr > 23)
                        return log_error_errno(-EBADMSG, "signed PCR policy: %s[%zu].pcrs[%zu] is not a PCR index 0-23",
                                               bank, idx, i);
                e->pcrs |= UINT32_C(1) << pcr;
        }

        static const char *const hexfields[] = { "pkfp", "pol" };
        uint8_t *dst[] = { e->pkfp, e->pol };
        for (size_t i = 0; i < 2; i++)
                if (!json_object_object_get_ex(o, hexfields[i], &v) || !json_object_is_type(v, json_type_string) ||
                    policy_unhex(json_object_get_string(v), dst[i], POLICY_SHA256_SIZE) < 0)
                        return log_error_errno(-EBADMSG, "signed PCR policy: %s[%zu].%s is missing or not 64 hex digits",
                                               bank, idx, hexfields[i]);

        if (!json_object_object_get_ex(o, "sig", &v) || !json_object_is_type(v, json_type_string))
                return log_error_errno(-EBADMSG, "signed PCR policy: %s[%zu].sig is missing or not a string", bank, idx);
        const char *b64 = json_object_get_string(v);
        size_t blen = strlen(b64);
        if (blen == 0 || blen % 4 != 0 || blen > 4096)
                return log_error_errno(-EBADMSG, "signed PCR policy: %s[%zu].sig is not padded base64", bank, idx);
        e->sig = malloc(blen / 4 * 3);
        if (!e->sig)
                return log_error_errno(-ENOMEM, "out of memory");
        int n = EVP_DecodeBlock(e->sig, (const unsigned char *) b64, (int) blen);
        if (n < 0)
                return log_error_errno(-EBADMSG, "signed PCR policy: %s[%zu].sig is not valid base64", bank, idx);
        size_t pad = (b64[blen - 1] == '=') + (b64[blen - 2] == '=');
        e->sig_len = (size_t) n - pad;
        return 0;
}

/* The document as one JSON object (whitespace or NULs may follow it). */
static int parse_document(const char *json, size_t len, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new();
        if (!tok)
                return log_error_errno(-ENOMEM, "out of memory");
        _cleanup_json_ json_object *root = json_tokener_parse_ex(tok, json, (int) len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        if (!root || jerr != json_tokener_success)
                return log_error_errno(-EBADMSG, "signed PCR policy: not valid JSON (%s)",
                                       json_tokener_error_desc(root ? jerr : (jerr == json_tokener_continue ?
                                                                             json_tokener_error_parse_eof : jerr)));
        for (size_t used = json_tokener_get_parse_end(tok); used < len; used++)
                if (!strchr(" \t\r\n", json[used]) && json[used] != 0)
                        return log_error_errno(-EBADMSG, "signed PCR policy: trailing data after the JSON object at byte %zu", used);
        if (!json_object_is_type(root, json_type_object))
                return log_error_errno(-EBADMSG, "signed PCR policy: the top level is not a JSON object");
        *ret = TAKE_PTR(root);
        return 0;
}

/* The entries of one bank's array into s. */
static int parse_entries(json_object *arr, const char *bank, struct pcrsig *s) {
        if (!json_object_is_type(arr, json_type_array))
                return log_error_errno(-EBADMSG, "signed PCR policy: field %s is not an array", bank);
        size_t n = json_object_array_length(arr);
        if (n == 0)
                return 0;
        s->entries = calloc(n, sizeof(*s->entries));
        if (!s->entries)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                s->n_entries++;
                int r = parse_entry(json_object_array_get_idx(arr, i), bank, i, &s->entries[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int pcrsig_parse(const char *json, size_t len, const char *bank, struct pcrsig *ret) {
        if (!json || !bank || !ret || len > INT_MAX)
                return -EINVAL;
        _cleanup_json_ json_object *root = NULL;
        int r = parse_document(json, len, &root);
        if (r < 0)
                return r;
        _cleanup_(pcrsig_done) struct pcrsig s = { .bank = strdup(bank) };
        if (!s.bank)
                return log_error_errno(-ENOMEM, "out of memory");
        json_object *arr;
        if (json_object_object_get_ex(root, bank, &arr)) {
                r = parse_entries(arr, bank, &s);
                if (r < 0)
                        return r;
        }
        *ret = s;
        s = (struct pcrsig) {};
        return 0;
}

const struct pcrsig_entry *pcrsig_find(const struct pcrsig *s, uint32_t pcrs,
                                       const uint8_t pkfp[POLICY_SHA256_SIZE], const uint8_t pol[POLICY_SHA256_SIZE]) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_entries; i++) {
                const struct pcrsig_entry *e = &s->entries[i];
                if (e->pcrs == pcrs && (!pkfp || memcmp(e->pkfp, pkfp, POLICY_SHA256_SIZE) == 0) &&
                    (!pol || memcmp(e->pol, pol, POLICY_SHA256_SIZE) == 0))
                        return e;
        }
        return NULL;
}

int pcrsig_verify(const struct pcrsig_entry *e, EVP_PKEY *pkey) {
        if (!e || !pkey)
                return -EINVAL;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL; /* owned by ctx */
        int ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
                 (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA ||
                  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1) &&
                 EVP_DigestVerify(ctx, e->sig, e->sig_len, e->pol, POLICY_SHA256_SIZE) == 1;
        ERR_clear_error();
        return ok ? 0 : -EBADMSG;
}

int pcrsig_sign(EVP_PKEY *key, uint32_t pcrs, const uint8_t pol[POLICY_SHA256_SIZE], struct pcrsig_entry *ret) {
        struct pcrsig_entry e = { .pcrs = pcrs };
        size_t siglen = 0;
        int r = policy_pkfp(key, e.pkfp);
        if (r < 0)
                return r;
        memcpy(e.pol, pol, POLICY_SHA256_SIZE);
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL; /* owned by ctx */
        int ok = ctx && EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1 &&
                 EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
                 EVP_DigestSign(ctx, NULL, &siglen, pol, POLICY_SHA256_SIZE) == 1 &&
                 (e.sig = malloc(siglen)) &&
                 EVP_DigestSign(ctx, e.sig, &siglen, pol, POLICY_SHA256_SIZE) == 1;
        ERR_clear_error();
        if (!ok) {
                free(e.sig);
                return log_error_errno(-EIO, "signing the PCR policy with the RSA key failed (is it a private key?)");
        }
        e.sig_len = siglen;
        *ret = e;
        return 0;
}

int pcrsig_add(struct pcrsig *s, const struct pcrsig_entry *e) {
        struct pcrsig_entry *old = (struct pcrsig_entry *) pcrsig_find(s, e->pcrs, e->pkfp, e->pol);
        uint8_t *sig = malloc(e->sig_len ? e->sig_len : 1);
        if (!sig)
                return log_error_errno(-ENOMEM, "out of memory");
        memcpy(sig, e->sig, e->sig_len);
        if (old) { /* same pcrs, key and policy: the newer signature replaces the older */
                free(old->sig);
                old->sig = sig;
                old->sig_len = e->sig_len;
                return 0;
        }
        struct pcrsig_entry *n = realloc(s->entries, (s->n_entries + 1) * sizeof(*n));
        if (!n) {
                free(sig);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        s->entries = n;
        n[s->n_entries] = *e;
        n[s->n_entries].sig = sig;
        s->n_entries++;
        return 0;
}

static json_object *entry_to_json(const struct pcrsig_entry *e) {
        char hex[2 * POLICY_SHA256_SIZE + 1];
        json_object *o = json_object_new_object(), *pcrs = json_object_new_array();
        for (int i = 0; i < 24; i++)
                if (e->pcrs & (UINT32_C(1) << i))
                        json_object_array_add(pcrs, json_object_new_int(i));
        json_object_object_add(o, "pcrs", pcrs);
        policy_hex(e->pkfp, POLICY_SHA256_SIZE, hex);
        json_object_object_add(o, "pkfp", json_object_new_string(hex));
        policy_hex(e->pol, POLICY_SHA256_SIZE, hex);
        json_object_object_add(o, "pol", json_object_new_string(hex));
        char *b64 = malloc(4 * ((e->sig_len + 2) / 3) + 1);
        if (b64) {
                EVP_EncodeBlock((unsigned char *) b64, e->sig, (int) e->sig_len);
                json_object_object_add(o, "sig", json_object_new_string(b64));
                free(b64);
        }
        return o;
}

int pcrsig_format(const struct pcrsig *s, const char *existing, size_t existing_len, char **ret) {
        _cleanup_json_ json_object *root = NULL;
        if (!s || !s->bank || !ret)
                return -EINVAL;
        if (existing) {
                /* Validate the existing document first (every entry of our bank), then keep it all. */
                struct pcrsig check = {};
                int r = pcrsig_parse(existing, existing_len, s->bank, &check);
                if (r < 0)
                        return r;
                pcrsig_done(&check);
                _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new();
                root = tok ? json_tokener_parse_ex(tok, existing, (int) existing_len) : NULL;
        } else
                root = json_object_new_object();
        if (!root)
                return log_error_errno(-ENOMEM, "out of memory");
        json_object *arr;
        if (!json_object_object_get_ex(root, s->bank, &arr)) {
                arr = json_object_new_array();
                json_object_object_add(root, s->bank, arr);
        }
        for (size_t i = 0; i < s->n_entries; i++) {
                const struct pcrsig_entry *e = &s->entries[i];
                /* Replace an entry for the same pcrs, key and policy; otherwise append. */
                bool replaced = false;
                for (size_t j = 0; j < json_object_array_length(arr) && !replaced; j++) {
                        struct pcrsig_entry old = {};
                        if (parse_entry(json_object_array_get_idx(arr, j), s->bank, j, &old) == 0 &&
                            old.pcrs == e->pcrs && memcmp(old.pkfp, e->pkfp, POLICY_SHA256_SIZE) == 0 &&
                            memcmp(old.pol, e->pol, POLICY_SHA256_SIZE) == 0) {
                                json_object_array_put_idx(arr, j, entry_to_json(e));
                                replaced = true;
                        }
                        free(old.sig);
                }
                if (!replaced)
                        json_object_array_add(arr, entry_to_json(e));
        }
        const char *str = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        *ret = str ? strdup(str) : NULL;
        return *ret ? 0 : log_error_errno(-ENOMEM, "out of memory");
}

int policy_pcr_signed_pol(uint16_t bank, uint32_t pcrs, const uint8_t *values, size_t value_size,
                          uint8_t ret[POLICY_SHA256_SIZE]) {
        policy_digest_init(ret);
        return policy_pcr(ret, bank, pcrs, values, value_size);
}
