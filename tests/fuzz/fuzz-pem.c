/* fuzz-pem.c: libFuzzer target for the PEM keys volseal reads: the PCR public key (--pcr-public-key, a UKI's
 * .pcrpkey, `policy` commands) through policy_load_public_pem() and what unlock derives from it (pkfp, the
 * TPMT_PUBLIC for LoadExternal and its Name); the PCR signing key (--pcr-sign-key) through
 * policy_load_private_pem() and a .pcrsig signature with it; the attestation key of pcr_quote_verify().
 * Every input goes through all three readers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "log.h"
#include "pcr.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

static void check_public(const char *pem, size_t size) {
        EVP_PKEY *k = NULL;
        if (policy_load_public_pem(pem, size, &k) < 0)
                return;
        uint8_t fp[POLICY_SHA256_SIZE];
        (void) policy_pkfp(k, fp);
        TPM2B_PUBLIC pub;
        TPM2B_NAME name;
        if (policy_rsa_public(k, 0, &pub) == 0 && policy_public_name(&pub, &name) != 0)
                abort(); /* a TPMT_PUBLIC we made must have a Name */
        EVP_PKEY_free(k);
}

static void check_private(const char *pem, size_t size) {
        EVP_PKEY *k = NULL;
        if (policy_load_private_pem(pem, size, &k) < 0)
                return;
        uint8_t pol[POLICY_SHA256_SIZE] = { 1 };
        struct pcrsig_entry e;
        /* signing cost grows with the cube of the modulus: real PCR keys are 2048..4096 bits */
        if (EVP_PKEY_get_bits(k) <= 4096 && pcrsig_sign(k, UINT32_C(1) << 11, pol, &e) == 0)
                free(e.sig);
        EVP_PKEY_free(k);
}

/* A well-formed quote and signatures of both schemes (wrong values): reaches the AK's PEM and the verify. */
static void check_ak(const char *pem) {
        static uint8_t attest[1024], rsa[600], ecdsa[200];
        static size_t attest_n, rsa_n, ecdsa_n;
        if (!attest_n) {
                TPMS_ATTEST a = { .magic = TPM2_GENERATED_VALUE, .type = TPM2_ST_ATTEST_QUOTE };
                (void) Tss2_MU_TPMS_ATTEST_Marshal(&a, attest, sizeof(attest), &attest_n);
                TPMT_SIGNATURE s = { .sigAlg = TPM2_ALG_RSASSA };
                s.signature.rsassa.hash = TPM2_ALG_SHA256;
                s.signature.rsassa.sig.size = 256;
                (void) Tss2_MU_TPMT_SIGNATURE_Marshal(&s, rsa, sizeof(rsa), &rsa_n);
                s = (TPMT_SIGNATURE) { .sigAlg = TPM2_ALG_ECDSA };
                s.signature.ecdsa.hash = TPM2_ALG_SHA256;
                s.signature.ecdsa.signatureR.size = s.signature.ecdsa.signatureS.size = 32;
                s.signature.ecdsa.signatureR.buffer[0] = s.signature.ecdsa.signatureS.buffer[0] = 1;
                (void) Tss2_MU_TPMT_SIGNATURE_Marshal(&s, ecdsa, sizeof(ecdsa), &ecdsa_n);
        }
        const struct { const uint8_t *p; size_t n; } sigs[2] = { { rsa, rsa_n }, { ecdsa, ecdsa_n } };
        for (int i = 0; i < 2; i++) {
                struct pcr_quote_check c = {
                        .attest = attest, .attest_size = attest_n,
                        .signature = sigs[i].p, .signature_size = sigs[i].n,
                        .ak_pem = pem,
                };
                struct pcr_quote_result res;
                if (pcr_quote_verify(&c, &res) == 0)
                        abort(); /* a zero signature never verifies */
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        char *pem = malloc(size + 1);
        if (!pem)
                return 0;
        memcpy(pem, data, size);
        pem[size] = 0; /* the AK reader takes a C string */
        check_public(pem, size);
        check_private(pem, size);
        check_ak(pem);
        free(pem);
        return 0;
}
