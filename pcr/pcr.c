/* pcr.c: shared helpers of libvolseal-pcr: algorithms, hashing, GUIDs, hex, event type names. */
#include "pcr.h"
#include "src/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

const uint8_t pcr_guid_efi_global[16] = {
        0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
const uint8_t pcr_guid_image_security_db[16] = {
        0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f };
const uint8_t pcr_guid_cert_sha256[16] = {
        0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28 };
const uint8_t pcr_guid_cert_x509[16] = {
        0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72 };

static const struct {
        uint16_t alg;
        uint16_t size;
        const char *name;
        const char *evp;
} algs[] = {
        { PCR_ALG_SHA1, 20, "sha1", "SHA1" },
        { PCR_ALG_SHA256, 32, "sha256", "SHA256" },
        { PCR_ALG_SHA384, 48, "sha384", "SHA384" },
        { PCR_ALG_SHA512, 64, "sha512", "SHA512" },
};

const char *pcr_alg_name(uint16_t alg) {
        for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
                if (algs[i].alg == alg)
                        return algs[i].name;
        return NULL;
}

int pcr_alg_from_name(const char *name, uint16_t *ret) {
        for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
                if (strcasecmp(algs[i].name, name) == 0) {
                        *ret = algs[i].alg;
                        return 0;
                }
        return -EINVAL;
}

uint16_t pcr_alg_size(uint16_t alg) {
        for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
                if (algs[i].alg == alg)
                        return algs[i].size;
        return 0;
}

int pcr_hash(uint16_t alg, const void *data, size_t size, uint8_t *out) {
        for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
                if (algs[i].alg == alg) {
                        unsigned int n = 0;
                        if (EVP_Digest(data, size, out, &n, EVP_get_digestbyname(algs[i].evp), NULL) != 1)
                                return -EIO;
                        return 0;
                }
        return -EOPNOTSUPP;
}

int pcr_guid_parse(const char *s, uint8_t out[16]) {
        unsigned int a, b, c, d[8];
        int n = 0;
        if (strlen(s) != 36 ||
            sscanf(s, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x%n", &a, &b, &c, &d[0], &d[1], &d[2], &d[3], &d[4],
                   &d[5], &d[6], &d[7], &n) != 11 || n != 36)
                return -EINVAL;
        for (size_t i = 0; i < 36; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
                        return -EINVAL;
        out[0] = (uint8_t) a; out[1] = (uint8_t) (a >> 8); out[2] = (uint8_t) (a >> 16); out[3] = (uint8_t) (a >> 24);
        out[4] = (uint8_t) b; out[5] = (uint8_t) (b >> 8);
        out[6] = (uint8_t) c; out[7] = (uint8_t) (c >> 8);
        for (size_t i = 0; i < 8; i++)
                out[8 + i] = (uint8_t) d[i];
        return 0;
}

void pcr_guid_format(const uint8_t g[16], char out[37]) {
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

char *pcr_hex(const uint8_t *d, size_t n) {
        char *s = malloc(n * 2 + 1);
        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++)
                snprintf(s + 2 * i, 3, "%02x", d[i]);
        s[2 * n] = 0;
        return s;
}

int pcr_unhex(const char *s, uint8_t *out, size_t max, size_t *n) {
        size_t len = strlen(s);
        if (len % 2 || len / 2 > max)
                return -EINVAL;
        for (size_t i = 0; i < len / 2; i++) {
                unsigned int v;
                if (!isxdigit((unsigned char) s[2 * i]) || !isxdigit((unsigned char) s[2 * i + 1]) ||
                    sscanf(s + 2 * i, "%2x", &v) != 1)
                        return -EINVAL;
                out[i] = (uint8_t) v;
        }
        if (n)
                *n = len / 2;
        return 0;
}

static const struct {
        uint32_t type;
        const char *name;
} types[] = {
        { PCR_EV_PREBOOT_CERT, "EV_PREBOOT_CERT" },
        { PCR_EV_POST_CODE, "EV_POST_CODE" },
        { PCR_EV_NO_ACTION, "EV_NO_ACTION" },
        { PCR_EV_SEPARATOR, "EV_SEPARATOR" },
        { PCR_EV_ACTION, "EV_ACTION" },
        { PCR_EV_EVENT_TAG, "EV_EVENT_TAG" },
        { PCR_EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS" },
        { PCR_EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION" },
        { PCR_EV_CPU_MICROCODE, "EV_CPU_MICROCODE" },
        { PCR_EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS" },
        { PCR_EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES" },
        { PCR_EV_COMPACT_HASH, "EV_COMPACT_HASH" },
        { PCR_EV_IPL, "EV_IPL" },
        { PCR_EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA" },
        { PCR_EV_NONHOST_CODE, "EV_NONHOST_CODE" },
        { PCR_EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG" },
        { PCR_EV_NONHOST_INFO, "EV_NONHOST_INFO" },
        { PCR_EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS" },
        { PCR_EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
        { PCR_EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT" },
        { PCR_EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION" },
        { PCR_EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER" },
        { PCR_EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
        { PCR_EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT" },
        { PCR_EV_EFI_ACTION, "EV_EFI_ACTION" },
        { PCR_EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
        { PCR_EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES" },
        { PCR_EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
        { PCR_EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2" },
        { PCR_EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2" },
        { PCR_EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT" },
        { PCR_EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY" },
        { PCR_EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB" },
        { PCR_EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
        { PCR_EV_VOLSEAL_MEASURE, "VOLSEAL_MEASURE" },
};

const char *pcr_event_type_name(uint32_t type) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                if (types[i].type == type)
                        return types[i].name;
        return NULL;
}

int pcr_event_type_from_name(const char *name, uint32_t *ret) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                if (strcmp(types[i].name, name) == 0) {
                        *ret = types[i].type;
                        return 0;
                }
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(name, &end, 0);
        if (errno || !end || *end || end == name || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}
