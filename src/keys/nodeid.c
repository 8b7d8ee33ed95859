/* nodeid.c: the `nodeID` kind: the passphrase is the node UUID followed by the volume ID ("<uuid>STATE"),
 * as Talos's NodeIDKeyHandler makes it, so Talos disks open with volseal; and the node UUID itself, which
 * the kms kind sends. The UUID is what Talos's SystemInformation holds: META tag 15 when it is not empty,
 * byte for byte (run->uuid_override), else the SMBIOS system UUID as go-smbios formats it. The kernel's
 * product_uuid is that same text, except that the kernel hides an all-zero or all-FF UUID, which go-smbios
 * still formats ("00000000-...", "ffffffff-..."): then the SMBIOS table is read directly. */
#include "keys.h"
#include "encoding.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#define PRODUCT_UUID "/sys/class/dmi/id/product_uuid"
#define DMI_TABLES "/sys/firmware/dmi/tables"

int vs_smbios_uuid(const uint8_t *table, size_t len, unsigned major, unsigned minor, char *buf, size_t size) {
        buf[0] = 0;
        for (size_t off = 0; off + 4 <= len;) {
                uint8_t type = table[off], flen = table[off + 1];
                if (flen < 4 || off + flen > len)
                        return -EBADMSG;
                if (type == 1 && flen >= 24) {
                        const uint8_t *u = table + off + 8;
                        /* SMBIOS >= 2.6 stores the first three fields little-endian (go-smbios GetUUID). */
                        bool le = major >= 3 || (major == 2 && minor >= 6);
                        static const int order_le[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
                        uint8_t b[16];
                        for (int i = 0; i < 16; i++)
                                b[i] = u[le ? order_le[i] : i];
                        char hex[VS_HEX_SIZE(16)];
                        vs_hex_encode_to(b, sizeof b, hex);
                        snprintf(buf, size, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
                        return 0;
                }
                if (type == 127)
                        break;
                /* Skip the formatted area, then the strings up to their double NUL. */
                size_t s = off + flen;
                while (s + 1 < len && !(table[s] == 0 && table[s + 1] == 0))
                        s++;
                off = s + 2;
        }
        return 0; /* no system information structure: Talos's UUID is "" */
}

static int read_file(const char *path, uint8_t *buf, size_t size, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        *ret_len = fread(buf, 1, size, f);
        return ferror(f) ? -EIO : 0;
}

/* The SMBIOS system UUID from the firmware's tables, as go-smbios reads it. */
static int read_smbios(struct vs_key_run *run, char *buf, size_t size) {
        const char *dir = run->dmi_dir ? run->dmi_dir : DMI_TABLES;
        char path[512];
        uint8_t ep[32] = {};
        size_t n = 0;
        snprintf(path, sizeof(path), "%s/smbios_entry_point", dir);
        int r = read_file(path, ep, sizeof(ep), &n);
        if (r < 0)
                return vs_key_reason(run, -r, "cannot read the machine UUID: %s is missing and %s: %s", PRODUCT_UUID, path, strerror(-r));
        bool v3 = n >= 10 && memcmp(ep, "_SM3_", 5) == 0;
        if (!v3 && (n < 8 || memcmp(ep, "_SM_", 4) != 0))
                return vs_key_reason(run, EBADMSG, "cannot read the machine UUID: %s is not an SMBIOS entry point", path);
        unsigned major = v3 ? ep[7] : ep[6], minor = v3 ? ep[8] : ep[7];
        _cleanup_free_ uint8_t *table = malloc(1u << 20);
        if (!table)
                return vs_key_reason(run, ENOMEM, "out of memory");
        snprintf(path, sizeof(path), "%s/DMI", dir);
        r = read_file(path, table, 1u << 20, &n);
        if (r < 0)
                return vs_key_reason(run, -r, "cannot read the machine UUID from %s: %s", path, strerror(-r));
        if (vs_smbios_uuid(table, n, major, minor, buf, size) < 0)
                return vs_key_reason(run, EBADMSG, "cannot read the machine UUID: %s is not an SMBIOS table", path);
        return 0;
}

static int read_uuid(struct vs_key_run *run, char *buf, size_t size) {
        if (run->uuid_override) {
                snprintf(buf, size, "%s", run->uuid_override);
                return 0;
        }
        const char *path = run->product_uuid_file ? run->product_uuid_file : PRODUCT_UUID;
        size_t n = 0;
        int r = read_file(path, (uint8_t *) buf, size - 1, &n);
        if (r == -ENOENT && (!run->product_uuid_file || run->dmi_dir))
                return read_smbios(run, buf, size);
        if (r < 0)
                return vs_key_reason(run, -r, "cannot read the machine UUID from %s: %s", path, strerror(-r));
        buf[n] = 0;
        while (n > 0 && buf[n - 1] == '\n') /* the kernel ends the attribute with a newline */
                buf[--n] = 0;
        if (memchr(buf, 0, n))
                return vs_key_reason(run, EINVAL, "the machine UUID in %s holds a NUL byte", path);
        return 0;
}

/* The next UTF-8 rune of s as Go's range loop decodes it: an invalid byte is U+FFFD, one byte long. */
static uint32_t next_rune(const unsigned char *s, size_t n, size_t *adv) {
        unsigned char c = s[0];
        size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        uint32_t r = len == 1 ? c : len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
        static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        bool ok = len > 0 && len <= n;
        for (size_t i = 1; ok && i < len; i++) {
                ok = (s[i] & 0xc0) == 0x80;
                r = r << 6 | (s[i] & 0x3fu);
        }
        if (!ok || r < min[len] || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) {
                *adv = 1;
                return 0xfffd;
        }
        *adv = len;
        return r;
}

/* Talos's rule: refuse a UUID in which one rune occurs more than len/2 times (len in bytes), so an
 * all-zero placeholder never becomes a key. */
static int check_entropy(struct vs_key_run *run, const char *uuid) {
        size_t n = strlen(uuid);
        if (n == 0)
                return vs_key_reason(run, EINVAL, "machine UUID is not populated");
        uint32_t runes[256];
        size_t counts[256] = {}, distinct = 0;
        for (size_t i = 0; i < n;) {
                size_t adv;
                uint32_t r = next_rune((const unsigned char *) uuid + i, n - i, &adv);
                i += adv;
                size_t k;
                for (k = 0; k < distinct && runes[k] != r; k++)
                        ;
                if (k == distinct && distinct < ELEMENTSOF(runes))
                        runes[distinct++] = r;
                if (k < ELEMENTSOF(runes) && ++counts[k] > n / 2)
                        return vs_key_reason(run, EINVAL, "machine UUID %s entropy check failed", uuid);
        }
        return 0;
}

int vs_key_node_uuid(struct vs_key_run *run, char *buf, size_t size) {
        return read_uuid(run, buf, size);
}

static int nodeid_key(struct vs_key_run *run, const struct vs_key_volume *vol, struct vs_secret **ret) {
        char uuid[256];
        int r = read_uuid(run, uuid, sizeof(uuid));
        if (r < 0)
                return r;
        r = check_entropy(run, uuid);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *s = NULL;
        r = vs_secret_from(uuid, strlen(uuid), &s);
        if (r < 0)
                return r;
        r = vs_secret_append(s, vol->id, strlen(vol->id));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static int nodeid_can_enroll(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key) {
        _cleanup_secret_ struct vs_secret *s = NULL;
        int r = nodeid_key(run, vol, &s);
        /* A missing or weak UUID is not "pending": it will not fix itself. Report it as an error. */
        return r < 0 ? r : 1;
}

static int nodeid_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                      unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token) {
        *ret_token = NULL;
        return nodeid_key(run, vol, ret_pass);
}

static int nodeid_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                      unsigned slot, struct json_object *token, struct vs_secret **ret_pass) {
        return nodeid_key(run, vol, ret_pass);
}

const struct vs_key_ops vs_key_ops_nodeid = {
        .kind = VS_KEY_NODEID,
        .name = "nodeID",
        .token_type = NULL,
        .minimal_pbkdf = false,
        .can_enroll = nodeid_can_enroll,
        .new_key = nodeid_new,
        .get_key = nodeid_get,
};
