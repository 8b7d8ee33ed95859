/* credential.c: TPM2_MakeCredential in software (the verifier's half of AK enrolment), KDFa/KDFe, AK public
 * area checks and TPM public area -> openssl key conversion. See credential.h. */
#include "credential.h"
#include "src/log.h"
#include "src/util.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#define SEED_SIZE 32   /* SHA-256, the EK's nameAlg */
#define SYM_BITS 128   /* AES-128-CFB, the EK's symmetric algorithm */
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static void put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

int pcr_kdfa(const EVP_MD *md, const uint8_t *key, size_t key_size, const char *label, const uint8_t *u,
             size_t u_size, const uint8_t *v, size_t v_size, uint32_t bits, uint8_t *out) {
        size_t want = bits / 8, done = 0, hlen = (size_t) EVP_MD_get_size(md);
        for (uint32_t i = 1; done < want; i++) {
                uint8_t in[4 + 65 + 2 * sizeof(TPMU_NAME) + 4], h[EVP_MAX_MD_SIZE];
                unsigned int n = 0;
                size_t ll = strlen(label), o = 0;
                if (ll > 64 || u_size > sizeof(TPMU_NAME) || v_size > sizeof(TPMU_NAME))
                        return -EINVAL;
                put32(in, i);
                o = 4;
                memcpy(in + o, label, ll + 1);
                o += ll + 1;
                if (u_size)
                        memcpy(in + o, u, u_size);
                o += u_size;
                if (v_size)
                        memcpy(in + o, v, v_size);
                o += v_size;
                put32(in + o, bits);
                o += 4;
                bool ok = HMAC(md, key, (int) key_size, in, o, h, &n) != NULL;
                OPENSSL_cleanse(in, sizeof(in));
                if (!ok)
                        return -ENOMEM;
                size_t k = MIN(hlen, want - done);
                memcpy(out + done, h, k);
                OPENSSL_cleanse(h, sizeof(h));
                done += k;
        }
        return 0;
}

int pcr_kdfe(const EVP_MD *md, const uint8_t *z, size_t z_size, const char *label, const uint8_t *u, size_t u_size,
             const uint8_t *v, size_t v_size, uint32_t bits, uint8_t *out) {
        size_t want = bits / 8, done = 0, hlen = (size_t) EVP_MD_get_size(md);
        for (uint32_t i = 1; done < want; i++) {
                uint8_t ctr[4], h[EVP_MAX_MD_SIZE];
                unsigned int n = 0;
                put32(ctr, i);
                EVP_MD_CTX *c = EVP_MD_CTX_new();
                bool ok = c && EVP_DigestInit_ex(c, md, NULL) == 1 && EVP_DigestUpdate(c, ctr, 4) == 1 &&
                          EVP_DigestUpdate(c, z, z_size) == 1 &&
                          EVP_DigestUpdate(c, label, strlen(label) + 1) == 1 &&
                          EVP_DigestUpdate(c, u, u_size) == 1 && EVP_DigestUpdate(c, v, v_size) == 1 &&
                          EVP_DigestFinal_ex(c, h, &n) == 1;
                EVP_MD_CTX_free(c);
                if (!ok)
                        return -ENOMEM;
                size_t k = MIN(hlen, want - done);
                memcpy(out + done, h, k);
                OPENSSL_cleanse(h, sizeof(h));
                done += k;
        }
        return 0;
}

static const char *curve_name(TPMI_ECC_CURVE c, size_t *ret_size) {
        switch (c) {
        case TPM2_ECC_NIST_P256: *ret_size = 32; return "prime256v1";
        case TPM2_ECC_NIST_P384: *ret_size = 48; return "secp384r1";
        default: return NULL;
        }
}

int pcr_tpm_public_to_pkey(const TPM2B_PUBLIC *pub, EVP_PKEY **ret) {
        const TPMT_PUBLIC *p = &pub->publicArea;
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        BIGNUM *n = NULL, *e = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;
        uint8_t point[1 + 2 * 48]; /* OSSL_PARAM_BLD keeps a pointer to it until OSSL_PARAM_BLD_to_param() */
        int r = -ENOMEM;
        if (!bld)
                return -ENOMEM;
        if (p->type == TPM2_ALG_RSA) {
                n = BN_bin2bn(p->unique.rsa.buffer, p->unique.rsa.size, NULL);
                e = BN_new();
                if (!n || !e || BN_set_word(e, p->parameters.rsaDetail.exponent ?: 65537) != 1 ||
                    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
                    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
                        goto out;
                ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        } else if (p->type == TPM2_ALG_ECC) {
                size_t cs = 0;
                const char *cn = curve_name(p->parameters.eccDetail.curveID, &cs);
                if (!cn || p->unique.ecc.x.size != cs || p->unique.ecc.y.size != cs) {
                        r = log_error_errno(-EOPNOTSUPP, "the key's ECC curve 0x%04x is not supported (NIST P-256 or P-384)",
                                            p->parameters.eccDetail.curveID);
                        goto out;
                }
                point[0] = 4;
                memcpy(point + 1, p->unique.ecc.x.buffer, cs);
                memcpy(point + 1 + cs, p->unique.ecc.y.buffer, cs);
                if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, cn, 0) != 1 ||
                    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * cs) != 1)
                        goto out;
                ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        } else {
                r = log_error_errno(-EOPNOTSUPP, "the TPM key type 0x%04x is not supported (RSA or ECC)", p->type);
                goto out;
        }
        params = OSSL_PARAM_BLD_to_param(bld);
        if (!ctx || !params || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
                r = log_error_errno(-EBADMSG, "the TPM public area does not hold a valid public key");
                goto out;
        }
        *ret = TAKE_PTR(pkey);
        r = 0;
out:
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(n);
        BN_free(e);
        return r;
}

int pcr_pkey_to_pem(EVP_PKEY *pkey, char **ret) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        if (!b || PEM_write_bio_PUBKEY(b, pkey) != 1) {
                BIO_free(b);
                return -ENOMEM;
        }
        long n = BIO_get_mem_data(b, &data);
        char *s = n > 0 ? strndup(data, (size_t) n) : NULL;
        BIO_free(b);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int pcr_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret) {
        uint8_t buf[sizeof(TPMT_PUBLIC)];
        size_t off = 0;
        if (pub->publicArea.nameAlg != TPM2_ALG_SHA256)
                return log_error_errno(-EOPNOTSUPP, "the key's name algorithm 0x%04x is not SHA-256", pub->publicArea.nameAlg);
        if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return log_error_errno(-EBADMSG, "the TPM public area cannot be marshalled");
        ret->name[0] = 0x00;
        ret->name[1] = 0x0b;
        unsigned int n = 0;
        if (EVP_Digest(buf, off, ret->name + 2, &n, EVP_sha256(), NULL) != 1)
                return -ENOMEM;
        ret->size = (UINT16) (2 + n);
        return 0;
}

int pcr_ak_check_public(const TPM2B_PUBLIC *pub) {
        const TPMT_PUBLIC *p = &pub->publicArea;
        const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
        if (p->nameAlg != TPM2_ALG_SHA256)
                return log_error_errno(-EPERM, "the attestation key's name algorithm is not SHA-256");
        if ((p->objectAttributes & need) != need)
                return log_error_errno(-EPERM, "the attestation key is not a restricted signing key that never leaves its TPM "
                                       "(fixedTPM, fixedParent, sensitiveDataOrigin, restricted and sign are required; "
                                       "attributes are 0x%08x)", p->objectAttributes);
        if (p->objectAttributes & TPMA_OBJECT_DECRYPT)
                return log_error_errno(-EPERM, "the attestation key is also a decryption key");
        if (p->type == TPM2_ALG_ECC) {
                if (p->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
                    p->parameters.eccDetail.scheme.scheme != TPM2_ALG_ECDSA ||
                    p->parameters.eccDetail.scheme.details.ecdsa.hashAlg != TPM2_ALG_SHA256)
                        return log_error_errno(-EPERM, "the attestation key is not ECC NIST P-256 with ECDSA-SHA256");
        } else if (p->type == TPM2_ALG_RSA) {
                if (p->parameters.rsaDetail.keyBits < 2048 || p->parameters.rsaDetail.scheme.scheme != TPM2_ALG_RSASSA ||
                    p->parameters.rsaDetail.scheme.details.rsassa.hashAlg != TPM2_ALG_SHA256)
                        return log_error_errno(-EPERM, "the attestation key is not RSA-2048 (or larger) with RSASSA-SHA256");
        } else
                return log_error_errno(-EPERM, "the attestation key is neither ECC nor RSA");
        return 0;
}

static int ec_xy(EVP_PKEY *k, size_t cs, uint8_t *x, uint8_t *y) {
        BIGNUM *bx = NULL, *by = NULL;
        int r = -EBADMSG;
        if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
            EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
            BN_bn2binpad(bx, x, (int) cs) == (int) cs && BN_bn2binpad(by, y, (int) cs) == (int) cs)
                r = 0;
        BN_free(bx);
        BN_free(by);
        return r;
}

static size_t ec_size(EVP_PKEY *k) {
        int bits = EVP_PKEY_get_bits(k);
        return bits == 256 ? 32 : 0; /* the L-2 template: P-256 with SHA-256 and AES-128 */
}

/* Z = x coordinate of priv * peer. */
static int ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *z, size_t cs) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(priv, NULL);
        size_t n = cs;
        int r = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
                EVP_PKEY_derive(c, z, &n) == 1 && n == cs ? 0 : -EBADMSG;
        EVP_PKEY_CTX_free(c);
        return r;
}

/* The seed and the TPM2B_ENCRYPTED_SECRET for `ek`. */
static int make_seed(EVP_PKEY *ek, const uint8_t *given, uint8_t seed[SEED_SIZE], TPM2B_ENCRYPTED_SECRET *out) {
        int type = EVP_PKEY_get_base_id(ek);
        if (type == EVP_PKEY_RSA) {
                if (given)
                        memcpy(seed, given, SEED_SIZE);
                else if (RAND_bytes(seed, SEED_SIZE) != 1)
                        return log_error_errno(-EIO, "no random bytes for the credential seed");
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(ek, NULL);
                unsigned char *label = OPENSSL_memdup("IDENTITY", sizeof("IDENTITY"));
                size_t n = sizeof(out->secret);
                int ok = c && label && EVP_PKEY_encrypt_init(c) == 1 &&
                         EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
                         EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
                         EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1 &&
                         EVP_PKEY_CTX_set0_rsa_oaep_label(c, label, sizeof("IDENTITY")) == 1;
                if (ok)
                        label = NULL;
                ok = ok && EVP_PKEY_encrypt(c, out->secret, &n, seed, SEED_SIZE) == 1;
                OPENSSL_free(label);
                EVP_PKEY_CTX_free(c);
                if (!ok)
                        return log_error_errno(-EBADMSG, "RSA-OAEP encryption of the credential seed to the EK failed");
                out->size = (UINT16) n;
                return 0;
        }
        if (type != EVP_PKEY_EC)
                return log_error_errno(-EOPNOTSUPP, "the EK is neither RSA nor ECC");
        size_t cs = ec_size(ek);
        if (!cs)
                return log_error_errno(-EOPNOTSUPP, "the ECC EK is not NIST P-256 (the TCG default template L-2)");
        if (given)
                return log_error_errno(-EINVAL, "a fixed seed is only possible with an RSA EK");
        EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new(ek, NULL);
        EVP_PKEY *eph = NULL;
        if (!kc || EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &eph) != 1) {
                EVP_PKEY_CTX_free(kc);
                return log_error_errno(-ENOMEM, "cannot generate an ephemeral ECC key");
        }
        EVP_PKEY_CTX_free(kc);
        uint8_t z[32], ex[32], ey[32], kx[32], ky[32];
        int r = ecdh(eph, ek, z, cs);
        if (r == 0)
                r = ec_xy(eph, cs, ex, ey);
        if (r == 0)
                r = ec_xy(ek, cs, kx, ky);
        EVP_PKEY_free(eph);
        if (r == 0)
                r = pcr_kdfe(EVP_sha256(), z, cs, "IDENTITY", ex, cs, kx, cs, SEED_SIZE * 8, seed);
        OPENSSL_cleanse(z, sizeof(z));
        if (r < 0)
                return log_error_errno(r, "ECDH with the EK failed");
        TPMS_ECC_POINT pt = {};
        pt.x.size = pt.y.size = (UINT16) cs;
        memcpy(pt.x.buffer, ex, cs);
        memcpy(pt.y.buffer, ey, cs);
        size_t off = 0;
        if (Tss2_MU_TPMS_ECC_POINT_Marshal(&pt, out->secret, sizeof(out->secret), &off) != TSS2_RC_SUCCESS)
                return -EBADMSG;
        out->size = (UINT16) off;
        return 0;
}

static int cfb(bool enc, const uint8_t key[16], const uint8_t *in, size_t n, uint8_t *out) {
        static const uint8_t iv[16] = {};
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int l1 = 0, l2 = 0;
        int ok = c && EVP_CipherInit_ex(c, EVP_aes_128_cfb128(), NULL, key, iv, enc ? 1 : 0) == 1 &&
                 EVP_CipherUpdate(c, out, &l1, in, (int) n) == 1 && EVP_CipherFinal_ex(c, out + l1, &l2) == 1;
        EVP_CIPHER_CTX_free(c);
        return ok && (size_t) (l1 + l2) == n ? 0 : -ENOMEM;
}

static int outer_hmac(const uint8_t key[32], const uint8_t *enc, size_t n, const TPM2B_NAME *name, uint8_t out[32]) {
        uint8_t in[2 + 64 + sizeof(TPMU_NAME)];
        unsigned int len = 0;
        if (n + name->size > sizeof(in))
                return -EINVAL;
        memcpy(in, enc, n);
        memcpy(in + n, name->name, name->size);
        return HMAC(EVP_sha256(), key, 32, in, n + name->size, out, &len) && len == 32 ? 0 : -ENOMEM;
}

int pcr_make_credential(EVP_PKEY *ek, const TPM2B_NAME *ak_name, const uint8_t *cred, size_t cred_size,
                        const uint8_t *seed_in, TPM2B_ID_OBJECT *ret_blob, TPM2B_ENCRYPTED_SECRET *ret_secret) {
        uint8_t seed[SEED_SIZE], sym[SYM_BITS / 8], hkey[32], plain[2 + 32], mac[32];
        int r;
        if (cred_size == 0 || cred_size > 32)
                return log_error_errno(-EINVAL, "a credential is 1 to 32 bytes, not %zu", cred_size);
        if (ak_name->size < 2)
                return log_error_errno(-EINVAL, "the attestation key's Name is empty");
        memset(ret_secret, 0, sizeof(*ret_secret));
        r = make_seed(ek, seed_in, seed, ret_secret);
        if (r < 0)
                return r;
        size_t n = 2 + cred_size;
        plain[0] = (uint8_t) (cred_size >> 8);
        plain[1] = (uint8_t) cred_size;
        memcpy(plain + 2, cred, cred_size);
        uint8_t *enc = ret_blob->credential + 2 + 32;
        r = pcr_kdfa(EVP_sha256(), seed, sizeof(seed), "STORAGE", ak_name->name, ak_name->size, NULL, 0, SYM_BITS, sym);
        if (r == 0)
                r = pcr_kdfa(EVP_sha256(), seed, sizeof(seed), "INTEGRITY", NULL, 0, NULL, 0, 256, hkey);
        if (r == 0)
                r = cfb(true, sym, plain, n, enc);
        if (r == 0)
                r = outer_hmac(hkey, enc, n, ak_name, mac);
        if (r == 0) {
                ret_blob->credential[0] = 0;
                ret_blob->credential[1] = 32;
                memcpy(ret_blob->credential + 2, mac, 32);
                ret_blob->size = (UINT16) (2 + 32 + n);
        }
        OPENSSL_cleanse(seed, sizeof(seed));
        OPENSSL_cleanse(sym, sizeof(sym));
        OPENSSL_cleanse(hkey, sizeof(hkey));
        OPENSSL_cleanse(plain, sizeof(plain));
        return r;
}

int pcr_activate_credential_soft(EVP_PKEY *ek_priv, const TPM2B_NAME *ak_name, const TPM2B_ID_OBJECT *blob,
                                 const TPM2B_ENCRYPTED_SECRET *secret, uint8_t *ret_cred, size_t *ret_size) {
        uint8_t seed[SEED_SIZE], sym[16], hkey[32], mac[32], plain[2 + 64];
        size_t n = SEED_SIZE;
        int r = -EBADMSG;
        if (EVP_PKEY_get_base_id(ek_priv) == EVP_PKEY_RSA) {
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(ek_priv, NULL);
                unsigned char *label = OPENSSL_memdup("IDENTITY", sizeof("IDENTITY"));
                int ok = c && label && EVP_PKEY_decrypt_init(c) == 1 &&
                         EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
                         EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
                         EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1 &&
                         EVP_PKEY_CTX_set0_rsa_oaep_label(c, label, sizeof("IDENTITY")) == 1;
                if (ok)
                        label = NULL;
                uint8_t out[sizeof(secret->secret)];
                n = sizeof(out);
                ok = ok && EVP_PKEY_decrypt(c, out, &n, secret->secret, secret->size) == 1 && n == SEED_SIZE;
                if (ok)
                        memcpy(seed, out, SEED_SIZE);
                OPENSSL_cleanse(out, sizeof(out));
                OPENSSL_free(label);
                EVP_PKEY_CTX_free(c);
                if (!ok)
                        return log_error_errno(-EPERM, "the credential's secret does not decrypt with this EK");
        } else {
                TPMS_ECC_POINT pt = {};
                size_t off = 0, cs = ec_size(ek_priv);
                if (!cs || Tss2_MU_TPMS_ECC_POINT_Unmarshal(secret->secret, secret->size, &off, &pt) != TSS2_RC_SUCCESS ||
                    pt.x.size != cs || pt.y.size != cs)
                        return -EBADMSG;
                TPM2B_PUBLIC p = { .publicArea = { .type = TPM2_ALG_ECC, .parameters.eccDetail.curveID = TPM2_ECC_NIST_P256 } };
                p.publicArea.unique.ecc = pt;
                EVP_PKEY *eph = NULL;
                uint8_t z[32], kx[32], ky[32];
                r = pcr_tpm_public_to_pkey(&p, &eph);
                if (r == 0)
                        r = ecdh(ek_priv, eph, z, cs);
                EVP_PKEY_free(eph);
                if (r == 0)
                        r = ec_xy(ek_priv, cs, kx, ky);
                if (r == 0)
                        r = pcr_kdfe(EVP_sha256(), z, cs, "IDENTITY", pt.x.buffer, cs, kx, cs, SEED_SIZE * 8, seed);
                if (r < 0)
                        return r;
        }
        if (blob->size < 2 + 32 + 2 || blob->credential[0] != 0 || blob->credential[1] != 32 ||
            blob->size - 34u > sizeof(plain))
                return log_error_errno(-EBADMSG, "the credential blob is malformed");
        const uint8_t *enc = blob->credential + 34;
        size_t en = blob->size - 34u;
        r = pcr_kdfa(EVP_sha256(), seed, sizeof(seed), "STORAGE", ak_name->name, ak_name->size, NULL, 0, 128, sym);
        if (r == 0)
                r = pcr_kdfa(EVP_sha256(), seed, sizeof(seed), "INTEGRITY", NULL, 0, NULL, 0, 256, hkey);
        if (r == 0)
                r = outer_hmac(hkey, enc, en, ak_name, mac);
        if (r == 0 && CRYPTO_memcmp(mac, blob->credential + 2, 32) != 0)
                r = log_error_errno(-EPERM, "the credential's integrity HMAC does not match (other EK or other Name)");
        if (r == 0)
                r = cfb(false, sym, enc, en, plain);
        if (r == 0) {
                size_t cn = (size_t) plain[0] << 8 | plain[1];
                if (cn + 2 != en)
                        r = -EBADMSG;
                else {
                        memcpy(ret_cred, plain + 2, cn);
                        *ret_size = cn;
                }
        }
        OPENSSL_cleanse(seed, sizeof(seed));
        OPENSSL_cleanse(plain, sizeof(plain));
        return r;
}
