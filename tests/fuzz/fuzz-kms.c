/* fuzz-kms.c: libFuzzer target for a KMS answer as the unlock path reads it (src/kms/): the body through the
 * decoder (gRPC frame + sidero.kms.Response, into a locked buffer), and the same bytes cut at '\n' as the
 * header and trailer lines libcurl hands over (grpc-status, grpc-message, content-type). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kms/kms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_headers(const uint8_t *data, size_t size) {
        struct vs_kms_answer_meta m;
        vs_kms_answer_meta_init(&m);
        const char *p = (const char *) data, *end = p + size;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) + 1 : (size_t) (end - p);
                vs_kms_answer_header(&m, p, n);
                p += n;
        }
        if (m.grpc_status < -1 || m.grpc_status > 1000 || (m.content_type_grpc && !m.content_type_seen))
                __builtin_trap();
        size_t len = strnlen(m.grpc_message, sizeof(m.grpc_message));
        if (len == sizeof(m.grpc_message))
                __builtin_trap(); /* always terminated */
        for (size_t i = 0; i < len; i++)
                if (m.grpc_message[i] < 0x20 || m.grpc_message[i] > 0x7e)
                        __builtin_trap(); /* printable only: it goes into an error sentence */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vs_secret *s = NULL;
        const char *why = NULL;
        if (vs_kms_decode_response(data, size, &s, &why) == 0) {
                if (s->len > size)
                        __builtin_trap();
                vs_secret_free(s);
        } else if (s || !why)
                __builtin_trap();
        check_headers(data, size);
        return 0;
}
