/* blob.c: the size-prefixed TPM2B encodings a `talos-tpm2` token stores (sealed_blob_private,
 * sealed_blob_public, key_name), through tss2-mu. No TPM here. */
#include "tpm.h"

#include <errno.h>
#include <stdlib.h>
#include <tss2/tss2_mu.h>

#include "log.h"

#define MARSHAL(type, what)                                                                             \
        int vs_tpm_blob_##what(const type *p, uint8_t **ret, size_t *ret_len) {                         \
                uint8_t *buf = malloc(sizeof(*p) + 2);                                                  \
                size_t off = 0;                                                                         \
                if (!buf)                                                                               \
                        return log_error_errno(-ENOMEM, "out of memory");                               \
                TSS2_RC rc = Tss2_MU_##type##_Marshal(p, buf, sizeof(*p) + 2, &off);                     \
                if (rc != TSS2_RC_SUCCESS) {                                                            \
                        free(buf);                                                                      \
                        return log_error_errno(-EINVAL, "cannot encode a " #type " (0x%x)", rc);        \
                }                                                                                       \
                *ret = buf;                                                                             \
                *ret_len = off;                                                                         \
                return 0;                                                                               \
        }                                                                                               \
        int vs_tpm_parse_##what(const uint8_t *b, size_t len, type *ret) {                               \
                size_t off = 0;                                                                         \
                type v = {};                                                                            \
                TSS2_RC rc = Tss2_MU_##type##_Unmarshal(b, len, &off, &v);                              \
                /* tss2-mu reads a TPM2B_PUBLIC's content without checking it against the size field */   \
                if (rc != TSS2_RC_SUCCESS || off != len || (size_t) v.size + 2 != len)                   \
                        return log_error_errno(-EBADMSG, "malformed " #type " (%zu bytes)", len);       \
                *ret = v;                                                                               \
                return 0;                                                                               \
        }

MARSHAL(TPM2B_PRIVATE, private)
MARSHAL(TPM2B_PUBLIC, public)
MARSHAL(TPM2B_NAME, name)
