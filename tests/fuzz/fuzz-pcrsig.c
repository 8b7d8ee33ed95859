/* fuzz-pcrsig.c: libFuzzer target for the signed PCR policy JSON parser and merger (policy/). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct pcrsig s;
        vs_log_set_sink(drop, NULL);
        if (pcrsig_parse((const char *) data, size, "sha256", &s) < 0)
                return 0;
        uint8_t zero[POLICY_SHA256_SIZE] = {};
        (void) pcrsig_find(&s, UINT32_C(1) << 11, zero, zero);
        /* merging the parsed entries back into the same document must work */
        char *out = NULL;
        if (pcrsig_format(&s, (const char *) data, size, &out) == 0)
                free(out);
        pcrsig_done(&s);
        return 0;
}
