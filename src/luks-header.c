/* luks-header.c: see luks-header.h. The binary header layout (cryptsetup's docs/on-disk-format-luks2.pdf):
 * magic[6] version(be16) hdr_size(be64) seqid(be64) label[48] checksum_alg[32] salt[64] uuid[40]
 * subsystem[48] hdr_offset(be64) pad[184] csum[64] pad[3584]; the JSON area follows up to hdr_size; the
 * secondary copy starts at hdr_size with magic "SKUL\xba\xbe"; the keyslots area starts at 2 * hdr_size. */
#include "luks-header.h"
#include "cleanup.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const vs_luks_allowed_ciphers[] = {
        "aes-xts-plain64",
        "xchacha12,aes-adiantum-plain64",
        "xchacha20,aes-adiantum-plain64",
        NULL,
};

enum {
        OFF_VERSION = 6, OFF_HDR_SIZE = 8, OFF_SEQID = 16, OFF_LABEL = 24, OFF_CSUM_ALG = 72, OFF_UUID = 168,
        OFF_SUBSYSTEM = 208, OFF_HDR_OFFSET = 256, OFF_CSUM = 448, CSUM_LEN = 64,
};
static const uint8_t magic_primary[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
static const uint8_t magic_secondary[6] = { 'S', 'K', 'U', 'L', 0xba, 0xbe };

static uint64_t be64(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

__attribute__((format(printf, 3, 4)))
static int refuse(char *reason, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, size, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static bool valid_hdr_size(uint64_t s) {
        for (uint64_t v = 16384; v <= 4u * 1024 * 1024; v <<= 1)
                if (s == v)
                        return true;
        return false;
}

struct copy {
        uint64_t off, hdr_size, seqid;
        bool ok;
        char why[96];
};

/* One binary header at `off`: magic, version, size, offset field, sha256 checksum over the copy with the
 * checksum field zeroed. */
static void check_copy(const uint8_t *buf, size_t len, uint64_t off, const uint8_t magic[6], struct copy *c) {
        *c = (struct copy) { .off = off };
        if (off + VS_LUKS_HEADER_BINARY > len) {
                snprintf(c->why, sizeof(c->why), "it lies beyond the bytes read");
                return;
        }
        const uint8_t *h = buf + off;
        if (memcmp(h, magic, 6) != 0) {
                snprintf(c->why, sizeof(c->why), "no LUKS2 magic");
                return;
        }
        if (h[OFF_VERSION] != 0 || h[OFF_VERSION + 1] != 2) {
                snprintf(c->why, sizeof(c->why), "version %u, not 2", (unsigned) (h[OFF_VERSION] << 8 | h[OFF_VERSION + 1]));
                return;
        }
        uint64_t hdr_size = be64(h + OFF_HDR_SIZE);
        if (!valid_hdr_size(hdr_size)) {
                snprintf(c->why, sizeof(c->why), "header size %" PRIu64 " is not 16 KiB-4 MiB, a power of two", hdr_size);
                return;
        }
        c->hdr_size = hdr_size;
        c->seqid = be64(h + OFF_SEQID);
        if (be64(h + OFF_HDR_OFFSET) != off) {
                snprintf(c->why, sizeof(c->why), "its offset field says %" PRIu64 ", it sits at %" PRIu64,
                         be64(h + OFF_HDR_OFFSET), off);
                return;
        }
        if (strncmp((const char *) h + OFF_CSUM_ALG, "sha256", 32) != 0) {
                snprintf(c->why, sizeof(c->why), "checksum algorithm is not sha256");
                return;
        }
        if (off + c->hdr_size > len) {
                snprintf(c->why, sizeof(c->why), "it is truncated");
                return;
        }
        uint8_t zero[CSUM_LEN] = {}, md[32];
        unsigned md_len = 0;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        bool hashed = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, h, OFF_CSUM) == 1 &&
                      EVP_DigestUpdate(ctx, zero, CSUM_LEN) == 1 &&
                      EVP_DigestUpdate(ctx, h + OFF_CSUM + CSUM_LEN, c->hdr_size - OFF_CSUM - CSUM_LEN) == 1 &&
                      EVP_DigestFinal_ex(ctx, md, &md_len) == 1;
        if (!hashed) {
                snprintf(c->why, sizeof(c->why), "its checksum cannot be computed");
                return;
        }
        if (memcmp(md, h + OFF_CSUM, sizeof(md)) != 0) {
                snprintf(c->why, sizeof(c->why), "its checksum does not match");
                return;
        }
        if (!memchr(h + VS_LUKS_HEADER_BINARY, 0, c->hdr_size - VS_LUKS_HEADER_BINARY)) {
                snprintf(c->why, sizeof(c->why), "its JSON area is not NUL-terminated");
                return;
        }
        c->ok = true;
}

/* "123" (LUKS2 writes 64-bit numbers as decimal strings) -> value. */
static bool json_u64(struct json_object *o, const char *key, uint64_t *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return false;
        const char *s = json_object_get_string(v);
        if (!*s || strlen(s) > 20)
                return false;
        for (const char *p = s; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        errno = 0;
        unsigned long long n = strtoull(s, NULL, 10);
        if (errno)
                return false;
        *ret = n;
        return true;
}

static struct json_object *json_obj(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_object) ? v : NULL;
}

static const char *json_str(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool allowed_cipher(const char *c) {
        for (size_t i = 0; vs_luks_allowed_ciphers[i]; i++)
                if (streq(c, vs_luks_allowed_ciphers[i]))
                        return true;
        return false;
}

/* "cipher_null-ecb", "cipher_null" and friends: no encryption at all. */
static bool null_cipher(const char *c) { return strstr(c, "cipher_null") != NULL || streq(c, "null"); }

/* A segment or keyslot entry: a JSON object whose "type" is want. */
static int check_entry_type(const char *what, struct json_object *o, const char *want, char *reason, size_t size) {
        if (!json_object_is_type(o, json_type_object))
                return refuse(reason, size, "%s is not a JSON object", what);
        const char *type = json_str(o, "type");
        if (!type || !streq(type, want))
                return refuse(reason, size, "%s is of type %s, not %s", what, type ? type : "(none)", want);
        return 0;
}

static int check_cipher(const char *what, const char *c, char *reason, size_t size) {
        if (!c)
                return refuse(reason, size, "%s has no encryption field", what);
        if (null_cipher(c))
                return refuse(reason, size, "%s uses cipher_null (%s): no encryption at all", what, c);
        if (!allowed_cipher(c))
                return refuse(reason, size, "%s uses cipher %s, not one of the allowed (aes-xts-plain64, "
                              "xchacha12/xchacha20,aes-adiantum-plain64)", what, c);
        return 0;
}

/* config: json_size matching the binary header, a keyslots area of at most VS_LUKS_METADATA_MAX, no
 * mandatory requirements. Sets info->metadata_size. */
static int check_config(struct json_object *config, uint64_t hdr_size, struct vs_luks_header_info *info, char *reason,
                        size_t size) {
        uint64_t json_size, keyslots_size;
        if (!json_u64(config, "json_size", &json_size) || !json_u64(config, "keyslots_size", &keyslots_size))
                return refuse(reason, size, "config.json_size or config.keyslots_size is not a decimal string");
        if (json_size != hdr_size - VS_LUKS_HEADER_BINARY)
                return refuse(reason, size, "config.json_size %" PRIu64 " does not match the binary header size %" PRIu64,
                              json_size, hdr_size);
        if (keyslots_size % 4096 || keyslots_size > VS_LUKS_METADATA_MAX - 2 * hdr_size)
                return refuse(reason, size, "config.keyslots_size %" PRIu64 " is not a multiple of 4096 up to %u MiB",
                              keyslots_size, VS_LUKS_METADATA_MAX >> 20);
        info->metadata_size = 2 * hdr_size + keyslots_size;
        struct json_object *req = json_obj(config, "requirements"), *mand;
        if (req && json_object_object_get_ex(req, "mandatory", &mand) &&
            (!json_object_is_type(mand, json_type_array) || json_object_array_length(mand) > 0))
                return refuse(reason, size, "the header has mandatory requirements (%s), e.g. an unfinished reencryption",
                              json_object_to_json_string_ext(mand, JSON_C_TO_STRING_PLAIN));
        return 0;
}

/* Segments: exactly one, a crypt segment behind the metadata area, with an allowed cipher. */
static int check_segments(struct json_object *segments, struct vs_luks_header_info *info, char *reason, size_t size) {
        size_t n_segments = (size_t) json_object_object_length(segments);
        if (n_segments != 1)
                return refuse(reason, size, "it has %zu segments (volseal accepts exactly one crypt segment)", n_segments);
        json_object_object_foreach(segments, sid, seg) {
                char what[64];
                snprintf(what, sizeof(what), "segment %.16s", sid);
                int r = check_entry_type(what, seg, "crypt", reason, size);
                if (r < 0)
                        return r;
                const char *enc = json_str(seg, "encryption");
                r = check_cipher(what, enc, reason, size);
                if (r < 0)
                        return r;
                snprintf(info->cipher, sizeof(info->cipher), "%s", enc);
                if (json_obj(seg, "integrity"))
                        return refuse(reason, size, "%s uses dm-integrity, which volseal does not support", what);
                if (!json_u64(seg, "offset", &info->segment_offset))
                        return refuse(reason, size, "%s has no decimal offset", what);
                if (info->segment_offset < info->metadata_size)
                        return refuse(reason, size, "%s starts at %" PRIu64 ", inside the metadata area (which ends at %" PRIu64 ")",
                                      what, info->segment_offset, info->metadata_size);
        }
        return 0;
}

/* One keyslot: luks2, an allowed cipher, its area inside the keyslots area; the area goes into info. */
static int check_keyslot(const char *kid, struct json_object *ks, uint64_t hdr_size, struct vs_luks_header_info *info,
                         char *reason, size_t size) {
        char what[64];
        snprintf(what, sizeof(what), "keyslot %.16s", kid);
        int r = check_entry_type(what, ks, "luks2", reason, size);
        if (r < 0)
                return r;
        struct json_object *area = json_obj(ks, "area");
        const char *atype = area ? json_str(area, "type") : NULL;
        if (!atype || !streq(atype, "raw"))
                return refuse(reason, size, "%s has no raw area", what);
        r = check_cipher(what, json_str(area, "encryption"), reason, size);
        if (r < 0)
                return r;
        uint64_t off, len;
        if (!json_u64(area, "offset", &off) || !json_u64(area, "size", &len))
                return refuse(reason, size, "%s's area has no decimal offset and size", what);
        if (off < 2 * hdr_size || len == 0 || len > info->metadata_size || off > info->metadata_size - len)
                return refuse(reason, size, "%s's area [%" PRIu64 ", +%" PRIu64 ") lies outside the keyslots area", what, off, len);
        char *end;
        errno = 0;
        unsigned long id = strtoul(kid, &end, 10);
        if (errno || *end || !*kid || id >= VS_LUKS_MAX_KEYSLOTS || info->n_areas == VS_LUKS_MAX_KEYSLOTS)
                return refuse(reason, size, "%s is not a keyslot number 0-%u", what, VS_LUKS_MAX_KEYSLOTS - 1);
        info->areas[info->n_areas].offset = off;
        info->areas[info->n_areas].size = len;
        info->n_areas++;
        return 0;
}

/* The JSON area as exactly one JSON document (json-c stops at the first; the rest must be the NULs). */
static int parse_json_area(const uint8_t *json_area, uint64_t area_size, struct json_object **ret, char *reason,
                           size_t size) {
        size_t n = strnlen((const char *) json_area, area_size);
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(64);
        if (!tok)
                return -ENOMEM;
        _cleanup_json_ struct json_object *root = json_tokener_parse_ex(tok, (const char *) json_area, (int) n);
        if (!root || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != n)
                return refuse(reason, size, "its JSON area is not one JSON document");
        if (!json_object_is_type(root, json_type_object))
                return refuse(reason, size, "its JSON area is not a JSON object");
        *ret = TAKE_PTR(root);
        return 0;
}

/* The JSON checks on one copy's JSON area. */
static int check_json(const uint8_t *json_area, uint64_t area_size, uint64_t hdr_size, struct vs_luks_header_info *info,
                      char *reason, size_t size) {
        _cleanup_json_ struct json_object *root = NULL;
        int r = parse_json_area(json_area, area_size, &root, reason, size);
        if (r < 0)
                return r;
        struct json_object *keyslots = json_obj(root, "keyslots"), *segments = json_obj(root, "segments"),
                           *digests = json_obj(root, "digests"), *config = json_obj(root, "config");
        if (!keyslots || !segments || !digests || !config)
                return refuse(reason, size, "its JSON lacks one of the objects keyslots, segments, digests, config");
        r = check_config(config, hdr_size, info, reason, size);
        if (r >= 0)
                r = check_segments(segments, info, reason, size);
        json_object_object_foreach(keyslots, kid, ks) {
                if (r < 0)
                        break;
                r = check_keyslot(kid, ks, hdr_size, info, reason, size);
        }
        return r;
}

int vs_luks_header_size(const uint8_t *buf, size_t len, uint64_t *ret_hdr_size, char *reason, size_t reason_size) {
        struct copy c;
        check_copy(buf, len < VS_LUKS_HEADER_BINARY ? len : VS_LUKS_HEADER_BINARY, 0, magic_primary, &c);
        /* check_copy stops at "truncated" once magic, version and size passed: enough here */
        if (!c.hdr_size)
                return refuse(reason, reason_size, "it is not a LUKS2 header (%s)", c.why);
        *ret_hdr_size = c.hdr_size;
        return 0;
}

int vs_luks_header_validate(const uint8_t *buf, size_t len, struct vs_luks_header_info *info, char *reason,
                            size_t reason_size) {
        *info = (struct vs_luks_header_info) {};
        if (len < VS_LUKS_HEADER_BINARY)
                return refuse(reason, reason_size, "it is shorter than one LUKS2 binary header (%zu bytes)", len);
        if (memcmp(buf, "LUKS\xba\xbe", 6) == 0 && buf[6] == 0 && buf[7] == 1)
                return refuse(reason, reason_size, "it is a LUKS1 header (volseal opens LUKS2 only)");
        struct copy p, s = {};
        check_copy(buf, len, 0, magic_primary, &p);
        if (p.ok)
                check_copy(buf, len, p.hdr_size, magic_secondary, &s);
        else
                /* the primary is damaged: libcryptsetup looks for the secondary at every possible size */
                for (uint64_t off = 16384; off <= 4u * 1024 * 1024 && !s.ok; off <<= 1) {
                        check_copy(buf, len, off, magic_secondary, &s);
                        if (s.ok && s.hdr_size != off)
                                s.ok = false;
                }
        if (!p.ok && !s.ok)
                return refuse(reason, reason_size, "neither LUKS2 header copy is intact (primary: %s)", p.why);
        const struct copy *use = &p;
        if (p.ok && s.ok) {
                const uint8_t *a = buf, *b = buf + p.hdr_size;
                if (s.hdr_size != p.hdr_size)
                        return refuse(reason, reason_size, "the two header copies differ in size (%" PRIu64 " and %" PRIu64 ")",
                                      p.hdr_size, s.hdr_size);
                if (s.seqid > p.seqid)
                        return refuse(reason, reason_size, "the secondary header copy is newer than the primary (seqid %" PRIu64
                                      " > %" PRIu64 "): libcryptsetup would use a copy no write of its own leaves behind",
                                      s.seqid, p.seqid);
                if (p.seqid > s.seqid + 1)
                        return refuse(reason, reason_size, "the two header copies differ by more than one write (seqid %" PRIu64
                                      " and %" PRIu64 ")", p.seqid, s.seqid);
                if (p.seqid == s.seqid) {
                        if (memcmp(a + OFF_LABEL, b + OFF_LABEL, 48) || memcmp(a + OFF_UUID, b + OFF_UUID, 40) ||
                            memcmp(a + OFF_SUBSYSTEM, b + OFF_SUBSYSTEM, 48))
                                return refuse(reason, reason_size, "the two header copies differ (same seqid %" PRIu64
                                              ", different label, UUID or subsystem)", p.seqid);
                        if (memcmp(a + VS_LUKS_HEADER_BINARY, b + VS_LUKS_HEADER_BINARY, p.hdr_size - VS_LUKS_HEADER_BINARY))
                                return refuse(reason, reason_size, "the two header copies differ (same seqid %" PRIu64
                                              ", different JSON metadata)", p.seqid);
                } else
                        info->damaged_copy = 2; /* one write behind: the write of the secondary was interrupted */
        } else if (!p.ok) {
                use = &s;
                info->damaged_copy = 1;
        } else
                info->damaged_copy = 2;

        /* Content checks on every intact copy: whichever libcryptsetup picks has passed them. */
        const struct copy *copies[2] = { &p, &s };
        for (int i = 0; i < 2; i++) {
                const struct copy *c = copies[i];
                if (!c->ok)
                        continue;
                struct vs_luks_header_info ci = {};
                char why[256];
                int r = check_json(buf + c->off + VS_LUKS_HEADER_BINARY, c->hdr_size - VS_LUKS_HEADER_BINARY, c->hdr_size, &ci,
                                   why, sizeof(why));
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return refuse(reason, reason_size, "%s%s", p.ok && s.ok && p.seqid == s.seqid ? "" :
                                      i == 0 ? "primary copy: " : "secondary copy: ", why);
                if (c == use) {
                        ci.damaged_copy = info->damaged_copy;
                        ci.json_offset = c->off + VS_LUKS_HEADER_BINARY;
                        *info = ci;
                }
        }
        info->hdr_size = use->hdr_size;
        info->seqid = use->seqid;
        return 0;
}
