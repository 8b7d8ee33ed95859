/* fuzz-luks-header.c: libFuzzer target for the LUKS2 header validator (src/luks-header.c).
 * The first byte picks what the rest becomes: 0 raw bytes as the whole metadata area; 1+ JSON text placed
 * into both copies of a 16 KiB-header pair with valid magics, sizes and checksums (so the JSON checks are
 * reached; byte 1's low bit gives the secondary a different seqid). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "luks-header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 16384u

static void put_be64(uint8_t *p, uint64_t v) {
        for (int i = 7; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t) v;
}

static void encode(uint8_t *h, uint64_t off, int secondary, uint64_t seqid, const uint8_t *json, size_t n) {
        memset(h, 0, HDR);
        memcpy(h, secondary ? "SKUL\xba\xbe" : "LUKS\xba\xbe", 6);
        h[7] = 2;
        put_be64(h + 8, HDR);
        put_be64(h + 16, seqid);
        memcpy(h + 72, "sha256", 6);
        put_be64(h + 256, off);
        memcpy(h + 4096, json, n);
        unsigned md = 0;
        EVP_Digest(h, HDR, h + 448, &md, EVP_sha256(), NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vs_luks_header_info info;
        char reason[512];
        if (size < 2)
                return 0;
        if (data[0] == 0) {
                (void) vs_luks_header_validate(data + 1, size - 1, &info, reason, sizeof(reason));
                uint64_t hs;
                (void) vs_luks_header_size(data + 1, size - 1, &hs, reason, sizeof(reason));
                return 0;
        }
        size_t n = size - 2;
        if (n > HDR - 4096 - 1)
                n = HDR - 4096 - 1;
        uint8_t *buf = calloc(1, 2 * HDR);
        if (!buf)
                return 0;
        encode(buf, 0, 0, 7, data + 2, n);
        encode(buf + HDR, HDR, 1, (data[1] & 1) ? 6 : 7, data + 2, n);
        if (vs_luks_header_validate(buf, 2 * HDR, &info, reason, sizeof(reason)) == 0) {
                /* an accepted header keeps the promise of luks-header.h */
                if (info.segment_offset < info.metadata_size || info.n_areas > VS_LUKS_MAX_KEYSLOTS)
                        abort();
                for (unsigned i = 0; i < info.n_areas; i++)
                        if (info.areas[i].offset < 2 * HDR || info.areas[i].offset + info.areas[i].size > info.metadata_size)
                                abort();
        }
        free(buf);
        return 0;
}
