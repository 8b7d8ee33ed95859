/* fuzz-meta.c: libFuzzer target for META (src/meta.c) and tag 9 JSON (src/meta-config.c).
 * The first byte picks what the rest becomes: 0 the entries of a Talos ADV copy (magics and checksum fixed
 * up so the entry parser is reached), 1 the data of a syslinux ADV copy (checksum fixed up), 2 raw bytes at
 * the start of both areas, 3+ tag 9 JSON. Parsed results are re-serialized and parsed again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "config.h"
#include "log.h"
#include "meta-config.h"
#include "meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

static void put(uint8_t *p, uint32_t v, int big) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (big ? v >> (24 - 8 * i) : v >> (8 * i));
}

static void check_meta(const uint8_t *img, size_t n) {
        struct vs_meta m;
        if (vs_meta_parse(&m, img, n, "fuzz") < 0)
                return;
        uint8_t *copy = malloc(VS_META_COPY_SIZE), legacy[VS_META_LEGACY_SIZE];
        if (copy && vs_meta_serialize(&m, copy) == 0)
                vs_meta_serialize_legacy(&m, legacy);
        struct vs_encryption_config enc;
        if (vs_meta_state_config_get(&m, "fuzz", &enc) > 0)
                vs_encryption_config_done(&enc);
        char *uuid = NULL;
        if (vs_meta_uuid_override(&m, &uuid) > 0)
                free(uuid);
        free(copy);
        vs_meta_done(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        if (size < 1)
                return 0;
        uint8_t mode = data[0];
        data++, size--;
        if (mode >= 3) {
                struct vs_encryption_config enc;
                if (vs_meta_config_parse(data, size, "fuzz", &enc) > 0) {
                        struct vs_secret *json = NULL;
                        struct vs_encryption_config back;
                        if (vs_meta_config_format(&enc, VS_META_CONFIG_TALOS_1_14, &json) == 0) {
                                if (vs_meta_config_parse(json->data, json->len, "fuzz", &back) != 1)
                                        abort(); /* what we write must read back */
                                struct vs_secret *again = NULL;
                                if (vs_meta_config_format(&back, VS_META_CONFIG_TALOS_1_14, &again) != 0 || !vs_secret_equal(json, again))
                                        abort(); /* and Go's re-marshal of the decoded value is the same bytes */
                                vs_secret_free(again);
                                vs_encryption_config_done(&back);
                        }
                        vs_secret_free(json);
                        vs_encryption_config_done(&enc);
                }
                return 0;
        }
        const size_t n = VS_META_MIN_SIZE;
        uint8_t *img = calloc(1, n);
        if (!img)
                return 0;
        if (mode == 0) {
                size_t room = VS_META_COPY_SIZE - 40;
                memcpy(img + 4, data, size < room ? size : room);
                put(img, 0x5a4b3c2d, 1);
                put(img + VS_META_COPY_SIZE - 4, 0xa5b4c3d2, 1);
                unsigned int dl = 0;
                uint8_t d[32];
                EVP_Digest(img, VS_META_COPY_SIZE, d, &dl, EVP_sha256(), NULL);
                memcpy(img + VS_META_COPY_SIZE - 36, d, 32);
        } else if (mode == 1) {
                uint8_t *c = img + n - VS_META_LEGACY_SIZE;
                memcpy(c + 8, data, size < 500 ? size : 500);
                put(c, 0x5a2d2fa5, 0);
                put(c + 508, 0xdd28bf64, 0);
                uint32_t sum = 0;
                for (size_t i = 8; i < 508; i += 4)
                        sum += (uint32_t) c[i] | (uint32_t) c[i + 1] << 8 | (uint32_t) c[i + 2] << 16 | (uint32_t) c[i + 3] << 24;
                put(c + 4, 0xa3041767u - sum, 0);
        } else {
                memcpy(img, data, size < VS_META_TALOS_SIZE ? size : VS_META_TALOS_SIZE);
                memcpy(img + n - VS_META_LEGACY_SIZE, data, size < VS_META_LEGACY_SIZE ? size : VS_META_LEGACY_SIZE);
        }
        check_meta(img, n);
        free(img);
        return 0;
}
