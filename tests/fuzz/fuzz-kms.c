/* fuzz-kms.c: libFuzzer target for the KMS answer decoder (gRPC frame + sidero.kms.Response, src/kms/). */
#include <stddef.h>
#include <stdint.h>

#include "kms/kms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vs_secret *s = NULL;
        const char *why = NULL;
        if (vs_kms_decode_response(data, size, &s, &why) == 0) {
                if (s->len > size)
                        __builtin_trap();
                vs_secret_free(s);
        } else if (s || !why)
                __builtin_trap();
        return 0;
}
