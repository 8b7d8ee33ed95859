/* test-quote.c: pcr_quote_verify() on quotes made here: TPMS_ATTEST marshalled with tss2-mu and signed with
 * openssl software keys (ECDSA P-256 and RSASSA-PKCS1v1.5, both SHA-256), against a log written with the
 * writer. The TPM-made case is tests/integration/test-attest-verify.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include "log.h"
#include "pcr.h"

static void quiet(enum vs_log_level level, const char *message, void *userdata) {
        (void) level; (void) message; (void) userdata;
}

struct fixture {
        struct pcr_log_writer w;
        struct pcr_eventlog log;
        uint8_t pcr_digest[32];
};

static void make_log(struct fixture *f) {
        uint16_t algs[] = { PCR_ALG_SHA1, PCR_ALG_SHA256 };
        assert_int_equal(pcr_writer_init(&f->w, false, algs, 2), 0);
        assert_int_equal(pcr_writer_add(&f->w, 0, PCR_EV_S_CRTM_VERSION, "v1", 2, NULL, 0, NULL), 0);
        assert_int_equal(pcr_writer_add(&f->w, 7, PCR_EV_SEPARATOR, "\0\0\0\0", 4, NULL, 0, NULL), 0);
        f->log = (struct pcr_eventlog) {};
        assert_int_equal(pcr_eventlog_parse(&f->log, f->w.buf, f->w.size, "quote"), 0);
        struct pcr_values v;
        assert_int_equal(pcr_eventlog_replay(&f->log, &v), 0);
        const struct pcr_bank *b = pcr_values_bank(&v, PCR_ALG_SHA256);
        uint8_t cat[64];
        memcpy(cat, b->v[0], 32);
        memcpy(cat + 32, b->v[7], 32);
        unsigned int n;
        EVP_Digest(cat, 64, f->pcr_digest, &n, EVP_sha256(), NULL);
}

/* Marshals a quote of sha256:0,7 and signs it; returns the attest and signature buffers. */
static void make_quote(EVP_PKEY *key, const uint8_t *nonce, size_t nonce_size, const uint8_t digest[32], uint32_t magic,
                       uint16_t type, uint8_t *attest, size_t *attest_size, uint8_t *sig, size_t *sig_size) {
        TPMS_ATTEST a = {};
        a.magic = magic;
        a.type = type;
        a.extraData.size = (UINT16) nonce_size;
        memcpy(a.extraData.buffer, nonce, nonce_size);
        a.attested.quote.pcrSelect.count = 1;
        a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
        a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
        a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[0] = 0x81; /* PCR 0 and 7 */
        a.attested.quote.pcrDigest.size = 32;
        memcpy(a.attested.quote.pcrDigest.buffer, digest, 32);
        size_t off = 0;
        assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(&a, attest, 2048, &off), TSS2_RC_SUCCESS);
        *attest_size = off;

        unsigned char raw[1024];
        size_t raw_size = sizeof(raw);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
        assert_int_equal(EVP_DigestSign(ctx, raw, &raw_size, attest, *attest_size), 1);
        EVP_MD_CTX_free(ctx);
        TPMT_SIGNATURE s = {};
        if (EVP_PKEY_base_id(key) == EVP_PKEY_EC) {
                const unsigned char *p = raw;
                ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long) raw_size);
                const BIGNUM *r, *sv;
                ECDSA_SIG_get0(es, &r, &sv);
                s.sigAlg = TPM2_ALG_ECDSA;
                s.signature.ecdsa.hash = TPM2_ALG_SHA256;
                s.signature.ecdsa.signatureR.size = (UINT16) BN_bn2binpad(r, s.signature.ecdsa.signatureR.buffer, 32);
                s.signature.ecdsa.signatureS.size = (UINT16) BN_bn2binpad(sv, s.signature.ecdsa.signatureS.buffer, 32);
                ECDSA_SIG_free(es);
        } else {
                s.sigAlg = TPM2_ALG_RSASSA;
                s.signature.rsassa.hash = TPM2_ALG_SHA256;
                s.signature.rsassa.sig.size = (UINT16) raw_size;
                memcpy(s.signature.rsassa.sig.buffer, raw, raw_size);
        }
        off = 0;
        assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, 1024, &off), TSS2_RC_SUCCESS);
        *sig_size = off;
}

static char *pem_of(EVP_PKEY *key) {
        BIO *b = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_PUBKEY(b, key), 1);
        char *data;
        long n = BIO_get_mem_data(b, &data);
        char *s = strndup(data, (size_t) n);
        BIO_free(b);
        return s;
}

static void run_key(EVP_PKEY *key, EVP_PKEY *other) {
        struct fixture f;
        make_log(&f);
        uint8_t nonce[16] = "fresh nonce 1234", attest[2048], sig[1024];
        size_t attest_size, sig_size;
        char *pem = pem_of(key), *other_pem = pem_of(other);
        struct pcr_quote_result res;
        struct pcr_quote_check c = { .ak_pem = pem, .nonce = nonce, .nonce_size = 16, .log = &f.log };

        make_quote(key, nonce, 16, f.pcr_digest, TPM2_GENERATED_VALUE, TPM2_ST_ATTEST_QUOTE, attest, &attest_size, sig, &sig_size);
        c.attest = attest; c.attest_size = attest_size; c.signature = sig; c.signature_size = sig_size;
        assert_int_equal(pcr_quote_verify(&c, &res), 0);
        assert_true(res.selected[0][0] && res.selected[0][7] && !res.selected[0][1]);
        assert_int_equal(res.quoted.banks[0].alg, PCR_ALG_SHA256);

        vs_log_set_sink(quiet, NULL);
        uint8_t wrong[16] = "fresh nonce 1235";
        c.nonce = wrong;
        assert_int_equal(pcr_quote_verify(&c, &res), -EPERM);
        c.nonce = nonce;
        c.ak_pem = other_pem;
        assert_int_equal(pcr_quote_verify(&c, &res), -EPERM);
        c.ak_pem = pem;
        attest[attest_size - 1] ^= 1; /* any change to the signed bytes */
        assert_int_equal(pcr_quote_verify(&c, &res), -EPERM);
        attest[attest_size - 1] ^= 1;
        c.attest_size--; /* truncated structure */
        assert_int_equal(pcr_quote_verify(&c, &res), -EBADMSG);
        c.attest_size++;
        c.signature_size = 3;
        assert_int_equal(pcr_quote_verify(&c, &res), -EBADMSG);
        c.signature_size = sig_size;

        /* Correctly signed, but not a TPM-made quote, or for other PCR values. */
        uint8_t other_digest[32] = { 1 };
        make_quote(key, nonce, 16, f.pcr_digest, 0x12345678, TPM2_ST_ATTEST_QUOTE, attest, &attest_size, sig, &sig_size);
        c.attest_size = attest_size; c.signature_size = sig_size;
        assert_int_equal(pcr_quote_verify(&c, &res), -EPERM);
        make_quote(key, nonce, 16, f.pcr_digest, TPM2_GENERATED_VALUE, TPM2_ST_ATTEST_CERTIFY, attest, &attest_size, sig, &sig_size);
        c.attest_size = attest_size; c.signature_size = sig_size;
        assert_int_equal(pcr_quote_verify(&c, &res), -EPERM); /* a certify, not a quote */
        make_quote(key, nonce, 16, other_digest, TPM2_GENERATED_VALUE, TPM2_ST_ATTEST_QUOTE, attest, &attest_size, sig, &sig_size);
        c.attest_size = attest_size; c.signature_size = sig_size;
        assert_int_equal(pcr_quote_verify(&c, &res), -EPERM);
        c.ak_pem = "not a key";
        assert_int_equal(pcr_quote_verify(&c, &res), -EBADMSG);
        vs_log_set_sink(NULL, NULL);

        free(pem);
        free(other_pem);
        pcr_eventlog_free(&f.log);
        pcr_writer_free(&f.w);
}

static void test_ecdsa(void **state) {
        (void) state;
        EVP_PKEY *k = EVP_EC_gen("P-256"), *o = EVP_EC_gen("P-256");
        run_key(k, o);
        EVP_PKEY_free(k);
        EVP_PKEY_free(o);
}

static void test_rsa(void **state) {
        (void) state;
        EVP_PKEY *k = EVP_RSA_gen(2048), *o = EVP_EC_gen("P-256");
        run_key(k, o);
        EVP_PKEY_free(k);
        EVP_PKEY_free(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ecdsa),
                cmocka_unit_test(test_rsa),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
