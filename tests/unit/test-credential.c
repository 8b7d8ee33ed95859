/* test-credential.c: pcr/credential.c without a TPM. Known answers for KDFa and the credential blob from
 * tests/tools/credential-vector.py (Python hmac + pyca/cryptography, an independent implementation), an
 * RSA-2048 EK fixture (tests/unit/data/ek-rsa.pem) and ECC P-256 keys made here; the software inverse of
 * ActivateCredential recovers the credential, and refuses another Name or another EK. AK public area checks.
 * The TPM cross-checks (ActivateCredential in swtpm, tpm2_makecredential) are tests/integration/test-attest-tpm.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "credential.h"
#include "log.h"
#include "pcr.h"

static void quiet(enum vs_log_level level, const char *message, void *userdata) {
        (void) level; (void) message; (void) userdata;
}

static void unhex(const char *s, uint8_t *out, size_t n) {
        size_t got = 0;
        assert_int_equal(pcr_unhex(s, out, n, &got), 0);
        assert_int_equal(got, n);
}

static EVP_PKEY *rsa_fixture(void) {
        FILE *f = fopen(SRCDIR "/data/ek-rsa.pem", "re");
        assert_non_null(f);
        EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        assert_non_null(k);
        return k;
}

static EVP_PKEY *ec_key(void) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        assert_non_null(k);
        return k;
}

/* The public half only, as a verifier has it (PEM round trip). */
static EVP_PKEY *public_of(EVP_PKEY *k) {
        char *pem = NULL;
        assert_int_equal(pcr_pkey_to_pem(k, &pem), 0);
        BIO *b = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *p = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
        BIO_free(b);
        free(pem);
        assert_non_null(p);
        return p;
}

static const uint8_t cred[32] = {
        0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
        0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
};

static void test_name(TPM2B_NAME *n) {
        n->size = 34;
        n->name[0] = 0x00;
        n->name[1] = 0x0b;
        unsigned int len;
        EVP_Digest("volseal test AK", 15, n->name + 2, &len, EVP_sha256(), NULL);
}

static void test_kdfa(void **state) {
        (void) state;
        uint8_t seed[32], out[32], want[32];
        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t) i;
        TPM2B_NAME n;
        test_name(&n);
        assert_int_equal(pcr_kdfa(EVP_sha256(), seed, 32, "STORAGE", n.name, n.size, NULL, 0, 128, out), 0);
        unhex("b99634e65b815a2ce8d0cea8fd6ac863", want, 16);
        assert_memory_equal(out, want, 16);
        assert_int_equal(pcr_kdfa(EVP_sha256(), seed, 32, "INTEGRITY", NULL, 0, NULL, 0, 256, out), 0);
        unhex("bacf689f634ece301e1f1b15b072d9c87db6a69585db42b1a0cb8f73ebe2692e", want, 32);
        assert_memory_equal(out, want, 32);
}

static void test_rsa_known_answer(void **state) {
        (void) state;
        EVP_PKEY *priv = rsa_fixture(), *pub = public_of(priv);
        uint8_t seed[32], want[68], got[64];
        size_t got_size = 0;
        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t) i;
        TPM2B_NAME n;
        test_name(&n);
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET secret;
        assert_int_equal(pcr_make_credential(pub, &n, cred, sizeof(cred), seed, &blob, &secret), 0);
        unhex("0020e56c4b79858a08029adc4f746d88909fc7db80441e6eb28075096ad82de6672ff60922d4ef3bb8063daf8c8d8e471b48"
              "162dd42fb7a83504b440cc160c970a5a011f", want, sizeof(want));
        assert_int_equal(blob.size, sizeof(want));
        assert_memory_equal(blob.credential, want, sizeof(want));
        assert_int_equal(secret.size, 256);
        /* What the TPM does: OAEP-decrypt the seed with the EK's private key, check the HMAC, decrypt. */
        assert_int_equal(pcr_activate_credential_soft(priv, &n, &blob, &secret, got, &got_size), 0);
        assert_int_equal(got_size, sizeof(cred));
        assert_memory_equal(got, cred, sizeof(cred));
        /* Another Name: the integrity HMAC fails. */
        TPM2B_NAME other = n;
        other.name[5] ^= 1;
        assert_int_equal(pcr_activate_credential_soft(priv, &other, &blob, &secret, got, &got_size), -EPERM);
        /* Another EK: the seed does not decrypt. */
        EVP_PKEY *other_ek = EVP_RSA_gen(1024);
        assert_non_null(other_ek);
        assert_int_equal(pcr_activate_credential_soft(other_ek, &n, &blob, &secret, got, &got_size), -EPERM);
        /* A modified blob. */
        blob.credential[40] ^= 1;
        assert_int_equal(pcr_activate_credential_soft(priv, &n, &blob, &secret, got, &got_size), -EPERM);
        EVP_PKEY_free(other_ek);
        EVP_PKEY_free(pub);
        EVP_PKEY_free(priv);
}

static void test_rsa_random_seed(void **state) {
        (void) state;
        EVP_PKEY *priv = rsa_fixture(), *pub = public_of(priv);
        TPM2B_NAME n;
        test_name(&n);
        TPM2B_ID_OBJECT b1, b2;
        TPM2B_ENCRYPTED_SECRET s1, s2;
        uint8_t got[64];
        size_t got_size = 0;
        assert_int_equal(pcr_make_credential(pub, &n, cred, 16, NULL, &b1, &s1), 0);
        assert_int_equal(pcr_make_credential(pub, &n, cred, 16, NULL, &b2, &s2), 0);
        assert_int_equal(b1.size, 2 + 32 + 2 + 16);
        assert_memory_not_equal(b1.credential, b2.credential, b1.size); /* fresh seeds */
        assert_int_equal(pcr_activate_credential_soft(priv, &n, &b2, &s2, got, &got_size), 0);
        assert_int_equal(got_size, 16);
        assert_memory_equal(got, cred, 16);
        assert_int_equal(pcr_make_credential(pub, &n, cred, 0, NULL, &b1, &s1), -EINVAL);
        assert_int_equal(pcr_make_credential(pub, &n, cred, 33, NULL, &b1, &s1), -EINVAL);
        EVP_PKEY_free(pub);
        EVP_PKEY_free(priv);
}

static void test_ecc(void **state) {
        (void) state;
        EVP_PKEY *priv = ec_key(), *pub = public_of(priv), *other = ec_key();
        TPM2B_NAME n;
        test_name(&n);
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET secret;
        uint8_t got[64], seed[32] = {};
        size_t got_size = 0;
        assert_int_equal(pcr_make_credential(pub, &n, cred, sizeof(cred), NULL, &blob, &secret), 0);
        assert_int_equal(secret.size, 2 + 32 + 2 + 32); /* TPMS_ECC_POINT of the ephemeral key */
        assert_int_equal(pcr_activate_credential_soft(priv, &n, &blob, &secret, got, &got_size), 0);
        assert_memory_equal(got, cred, sizeof(cred));
        assert_int_equal(pcr_activate_credential_soft(other, &n, &blob, &secret, got, &got_size), -EPERM);
        assert_int_equal(pcr_make_credential(pub, &n, cred, sizeof(cred), seed, &blob, &secret), -EINVAL);
        EVP_PKEY *p384 = EVP_EC_gen("P-384");
        assert_int_equal(pcr_make_credential(p384, &n, cred, sizeof(cred), NULL, &blob, &secret), -EOPNOTSUPP);
        EVP_PKEY_free(p384);
        EVP_PKEY_free(other);
        EVP_PKEY_free(pub);
        EVP_PKEY_free(priv);
}

static void ak_public(TPM2B_PUBLIC *p) {
        *p = (TPM2B_PUBLIC) { .publicArea = {
                .type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT,
                .parameters.eccDetail = { .symmetric.algorithm = TPM2_ALG_NULL,
                                          .scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
                                          .curveID = TPM2_ECC_NIST_P256, .kdf.scheme = TPM2_ALG_NULL },
        } };
}

static void test_ak_checks(void **state) {
        (void) state;
        TPM2B_PUBLIC p;
        ak_public(&p);
        assert_int_equal(pcr_ak_check_public(&p), 0);
        p.publicArea.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
        assert_int_equal(pcr_ak_check_public(&p), -EPERM);
        ak_public(&p);
        p.publicArea.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
        assert_int_equal(pcr_ak_check_public(&p), -EPERM);
        ak_public(&p);
        p.publicArea.objectAttributes |= TPMA_OBJECT_DECRYPT;
        assert_int_equal(pcr_ak_check_public(&p), -EPERM);
        ak_public(&p);
        p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
        assert_int_equal(pcr_ak_check_public(&p), -EPERM);
        ak_public(&p);
        p.publicArea.nameAlg = TPM2_ALG_SHA1;
        assert_int_equal(pcr_ak_check_public(&p), -EPERM);
}

/* TPMT_PUBLIC -> openssl key -> PEM and back gives the same point; the Name is 0x000b || SHA-256(TPMT_PUBLIC). */
static void test_public_conversion(void **state) {
        (void) state;
        EVP_PKEY *k = ec_key();
        BIGNUM *x = NULL, *y = NULL;
        assert_int_equal(EVP_PKEY_get_bn_param(k, "qx", &x), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(k, "qy", &y), 1);
        TPM2B_PUBLIC p;
        ak_public(&p);
        p.publicArea.unique.ecc.x.size = p.publicArea.unique.ecc.y.size = 32;
        BN_bn2binpad(x, p.publicArea.unique.ecc.x.buffer, 32);
        BN_bn2binpad(y, p.publicArea.unique.ecc.y.buffer, 32);
        EVP_PKEY *conv = NULL;
        assert_int_equal(pcr_tpm_public_to_pkey(&p, &conv), 0);
        assert_int_equal(EVP_PKEY_eq(conv, k), 1);
        TPM2B_NAME n;
        assert_int_equal(pcr_public_name(&p, &n), 0);
        assert_int_equal(n.size, 34);
        assert_int_equal(n.name[1], 0x0b);
        p.publicArea.unique.ecc.x.buffer[3] ^= 1;
        TPM2B_NAME n2;
        assert_int_equal(pcr_public_name(&p, &n2), 0);
        assert_memory_not_equal(n.name, n2.name, 34);
        EVP_PKEY_free(conv);
        BN_free(x);
        BN_free(y);
        EVP_PKEY_free(k);
}

int main(void) {
        vs_log_set_sink(quiet, NULL);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kdfa),
                cmocka_unit_test(test_rsa_known_answer),
                cmocka_unit_test(test_rsa_random_seed),
                cmocka_unit_test(test_ecc),
                cmocka_unit_test(test_ak_checks),
                cmocka_unit_test(test_public_conversion),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
