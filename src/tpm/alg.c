/* alg.c: the table of TPM hash algorithms (id, name, size, OpenSSL name). */
#include "alg.h"

#include <strings.h>
#include <tss2/tss2_tpm2_types.h>

#include "util.h"

static const struct {
        uint16_t alg;
        const char *name;
        size_t size;
        const char *evp;
} algs[] = {
        { TPM2_ALG_SHA1, "sha1", TPM2_SHA1_DIGEST_SIZE, "SHA1" },
        { TPM2_ALG_SHA256, "sha256", TPM2_SHA256_DIGEST_SIZE, "SHA256" },
        { TPM2_ALG_SHA384, "sha384", TPM2_SHA384_DIGEST_SIZE, "SHA384" },
        { TPM2_ALG_SHA512, "sha512", TPM2_SHA512_DIGEST_SIZE, "SHA512" },
        { TPM2_ALG_SM3_256, "sm3_256", TPM2_SM3_256_DIGEST_SIZE, "SM3" },
        { TPM2_ALG_SHA3_256, "sha3_256", TPM2_SHA256_DIGEST_SIZE, "SHA3-256" },
        { TPM2_ALG_SHA3_384, "sha3_384", TPM2_SHA384_DIGEST_SIZE, "SHA3-384" },
        { TPM2_ALG_SHA3_512, "sha3_512", TPM2_SHA512_DIGEST_SIZE, "SHA3-512" },
};

static int find(uint16_t alg) {
        for (size_t i = 0; i < ELEMENTSOF(algs); i++)
                if (algs[i].alg == alg)
                        return (int) i;
        return -1;
}

const char *vs_tpm_alg_name(uint16_t alg) {
        int i = find(alg);
        return i < 0 ? NULL : algs[i].name;
}

uint16_t vs_tpm_alg_from_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(algs); i++)
                if (strcasecmp(algs[i].name, name) == 0)
                        return algs[i].alg;
        return 0;
}

size_t vs_tpm_alg_digest_size(uint16_t alg) {
        int i = find(alg);
        return i < 0 ? 0 : algs[i].size;
}

const EVP_MD *vs_tpm_alg_md(uint16_t alg) {
        int i = find(alg);
        return i < 0 ? NULL : EVP_get_digestbyname(algs[i].evp);
}
