/* luks.c: see luks.h. libcryptsetup's own messages are routed to the debug log: the caller decides what the
 * user sees (one sentence naming the volume and slot). */
#include "luks.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "luks-header.h"
#include "progress.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libcryptsetup.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct vs_luks {
        struct crypt_device *cd;
        char *device;
        /* vs_luks_load_validated(): the memfd holding the validated metadata copy libcryptsetup reads as a
         * detached header, and where its JSON area in use and keyslot areas are: vs_luks_load_for_write()
         * compares exactly those bytes with the device's. */
        int hdr_fd;
        uint64_t offset;
        struct vs_luks_header_info info;
        bool validated;
};

static void luks_log(int level, const char *msg, void *usrptr) {
        size_t n = strlen(msg);
        while (n > 0 && msg[n - 1] == '\n')
                n--;
        log_debug("libcryptsetup: %.*s", (int) n, msg);
}

static int init(const char *device, struct vs_luks **ret) {
        /* libcryptsetup's context-free messages (device-mapper probing) go to the debug log as well. */
        crypt_set_log_callback(NULL, luks_log, NULL);
        struct vs_luks *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->hdr_fd = -1;
        l->device = strdup(device);
        if (!l->device) {
                free(l);
                return -ENOMEM;
        }
        int r = crypt_init(&l->cd, device);
        if (r < 0) {
                free(l->device);
                free(l);
                return log_error_errno(r, "cannot open %s for LUKS2: %s", device, strerror(-r));
        }
        crypt_set_log_callback(l->cd, luks_log, NULL);
        *ret = l;
        return 0;
}

void vs_luks_free(struct vs_luks *l) {
        if (!l)
                return;
        crypt_free(l->cd);
        if (l->hdr_fd >= 0)
                close(l->hdr_fd);
        free(l->device);
        free(l);
}

int vs_luks_load(const char *device, struct vs_luks **ret) {
        struct vs_luks *l;
        int r = init(device, &l);
        if (r < 0)
                return r;
        r = crypt_load(l->cd, CRYPT_LUKS2, NULL);
        if (r < 0) {
                vs_luks_free(l);
                return log_error_errno(r, "cannot read the LUKS2 header of %s: %s", device,
                                       r == -EINVAL ? "not a valid LUKS2 header" : strerror(-r));
        }
        *ret = l;
        return 0;
}

/* crypt_format writes the primary header as binary header (checksum zero), JSON area, binary header again
 * with the checksum, then the secondary header the same way; keyslots come later. A power cut before the
 * primary's checksum is written leaves a header libcryptsetup cannot load and blkid still reports as LUKS,
 * so the volume would be refused at every boot. */
int vs_luks_format_interrupted(const char *device) {
        static const uint8_t magic1[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe }, magic2[6] = { 'S', 'K', 'U', 'L', 0xba, 0xbe };
        enum { BIN = 4096, CSUM_ALG = 72, CSUM = 448 };
        _cleanup_close_ int fd = open(device, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        uint8_t bin[BIN];
        if (pread(fd, bin, BIN, 0) != BIN || memcmp(bin, magic1, 6) != 0 || bin[6] != 0 || bin[7] != 2)
                return 0;
        uint64_t hdr_size = 0;
        for (int i = 8; i < 16; i++)
                hdr_size = hdr_size << 8 | bin[i];
        if (hdr_size < 0x4000 || hdr_size > 0x400000 || (hdr_size & (hdr_size - 1)) || strcmp((char *) bin + CSUM_ALG, "sha256") != 0)
                return 0;
        /* any secondary header magic: a format that got further, or a real volume */
        for (uint64_t off = 0x4000; off <= 0x400000; off <<= 1) {
                uint8_t m[6];
                if (pread(fd, m, sizeof(m), (off_t) off) != (ssize_t) sizeof(m))
                        return 0;
                if (memcmp(m, magic2, 6) == 0)
                        return 0;
        }
        size_t json_len = (size_t) hdr_size - BIN;
        _cleanup_free_ char *json = malloc(json_len + 1);
        if (!json)
                return -ENOMEM;
        if (pread(fd, json, json_len, BIN) != (ssize_t) json_len)
                return 0;
        json[json_len] = 0;
        /* the checksum: SHA-256 over the binary header with its checksum field zeroed, then the JSON area */
        uint8_t want[32], got[32];
        memcpy(want, bin + CSUM, sizeof(want));
        memset(bin + CSUM, 0, 64);
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned got_len = 0;
        int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) && EVP_DigestUpdate(md, bin, BIN) &&
                 EVP_DigestUpdate(md, json, json_len) && EVP_DigestFinal_ex(md, got, &got_len);
        if (!ok)
                return -EIO;
        if (memcmp(want, got, sizeof(got)) == 0)
                return 0; /* a primary header that verifies is not an interrupted format */
        _cleanup_json_ struct json_object *o = json_tokener_parse(json);
        struct json_object *ks = NULL;
        bool keyslots = o && json_object_object_get_ex(o, "keyslots", &ks) &&
                        (!json_object_is_type(ks, json_type_object) || json_object_object_length(ks) > 0);
        return keyslots ? 0 : 1;
}

int vs_luks_format(const char *device, const struct vs_luks_format_params *p, const struct vs_secret *vk,
                   struct vs_luks **ret) {
        const char *cipher = p->cipher ? p->cipher : VS_CIPHER_XTS;
        const char *mode;
        char c[32];
        if (vs_cipher_split(cipher, c, sizeof(c), &mode) < 0)
                return log_error_errno(EINVAL, "cannot format %s: unknown cipher %s", device, cipher);
        unsigned bits = p->key_bits ? p->key_bits : vs_cipher_is_adiantum(cipher) ? 256 : 512;
        if (vk->len * 8 != bits)
                return log_error_errno(EINVAL, "cannot format %s: volume key is %zu bits, cipher wants %u", device,
                                       vk->len * 8, bits);
        struct vs_luks *l;
        int r = init(device, &l);
        if (r < 0)
                return r;
        /* The volume-key digest: the volume key is full-entropy, so the minimum (docs/operations.md). */
        struct crypt_pbkdf_type digest = {
                .type = CRYPT_KDF_PBKDF2, .hash = "sha256", .iterations = 1000, .flags = CRYPT_PBKDF_NO_BENCHMARK,
        };
        r = crypt_set_pbkdf_type(l->cd, &digest);
        if (r < 0)
                goto fail;
        struct crypt_params_luks2 params = { .sector_size = p->sector_size, .subsystem = VS_LUKS_FORMATTING };
        r = crypt_format(l->cd, CRYPT_LUKS2, c, mode, NULL, (const char *) vk->data, vk->len, &params);
        if (r < 0)
                goto fail;
        *ret = l;
        return 0;
fail:
        vs_luks_free(l);
        return log_error_errno(r, "cannot format %s as LUKS2 (%s, %u-bit key): %s", device, cipher, bits, strerror(-r));
}

size_t vs_luks_volume_key_size(struct vs_luks *l) {
        int n = crypt_get_volume_key_size(l->cd);
        return n > 0 ? (size_t) n : 0;
}

int vs_luks_slot_active(struct vs_luks *l, unsigned slot) {
        crypt_keyslot_info i = crypt_keyslot_status(l->cd, (int) slot);
        return i == CRYPT_SLOT_ACTIVE || i == CRYPT_SLOT_ACTIVE_LAST || i == CRYPT_SLOT_UNBOUND;
}

bool vs_luks_slot_bound(struct vs_luks *l, unsigned slot) {
        crypt_keyslot_info i = crypt_keyslot_status(l->cd, (int) slot);
        return i == CRYPT_SLOT_ACTIVE || i == CRYPT_SLOT_ACTIVE_LAST;
}

int vs_luks_slot_kdf(struct vs_luks *l, unsigned slot, char *buf, size_t size) {
        struct crypt_pbkdf_type pbkdf = {};
        int r = crypt_keyslot_get_pbkdf(l->cd, (int) slot, &pbkdf);
        if (r < 0)
                return r;
        snprintf(buf, size, "%s", pbkdf.type ? pbkdf.type : "?");
        return 0;
}

int vs_luks_volume_key(struct vs_luks *l, unsigned slot, const struct vs_secret *pass, struct vs_secret **ret_vk) {
        if (!vs_luks_slot_active(l, slot))
                return -ENOENT;
        _cleanup_secret_ struct vs_secret *vk = NULL;
        size_t size = vs_luks_volume_key_size(l);
        int r = vs_secret_new(size, &vk);
        if (r < 0)
                return r;
        vs_progress_begin("%s: opening keyslot %u (argon2id)", l->device, slot);
        r = crypt_volume_key_get(l->cd, (int) slot, (char *) vk->data, &size, (const char *) pass->data, pass->len);
        vs_progress_end();
        if (r == -EPERM || r == -ENOENT)
                return r;
        if (r < 0)
                return log_error_errno(r, "%s: cannot read keyslot %u: %s", l->device, slot, strerror(-r));
        vk->len = size;
        *ret_vk = TAKE_PTR(vk);
        return 0;
}

int vs_luks_test_passphrase(struct vs_luks *l, unsigned slot, const struct vs_secret *pass) {
        if (!vs_luks_slot_active(l, slot))
                return -ENOENT;
        vs_progress_begin("%s: testing keyslot %u (argon2id)", l->device, slot);
        int r = crypt_activate_by_passphrase(l->cd, NULL, (int) slot, (const char *) pass->data, pass->len, 0);
        vs_progress_end();
        if (r == -EPERM || r == -ENOENT)
                return r;
        if (r < 0)
                return log_error_errno(r, "%s: cannot test keyslot %u: %s", l->device, slot, strerror(-r));
        return 0;
}

static int set_pbkdf(struct vs_luks *l, const struct vs_pbkdf *p) {
        if (p->minimal) {
                /* libcryptsetup's floor for argon2: as cheap as PBKDF2-1000, still argon2id for Talos. */
                static const struct crypt_pbkdf_type minimal = {
                        .type = CRYPT_KDF_ARGON2ID, .hash = "sha256", .iterations = 4, .max_memory_kb = 32,
                        .parallel_threads = 1, .flags = CRYPT_PBKDF_NO_BENCHMARK,
                };
                return crypt_set_pbkdf_type(l->cd, &minimal);
        }
        if (!p->memory_kib && !p->iterations && !p->time_ms)
                return crypt_set_pbkdf_type(l->cd, NULL); /* benchmarked defaults */
        const struct crypt_pbkdf_type *def = crypt_get_pbkdf_default(CRYPT_LUKS2);
        struct crypt_pbkdf_type t = {
                .type = CRYPT_KDF_ARGON2ID, .hash = "sha256",
                .time_ms = p->time_ms ? p->time_ms : def ? def->time_ms : 2000,
                .max_memory_kb = p->memory_kib ? p->memory_kib : def ? def->max_memory_kb : 1048576,
                .parallel_threads = p->iterations ? 1 : def ? def->parallel_threads : 4,
        };
        if (p->iterations) {
                t.iterations = p->iterations;
                t.flags = CRYPT_PBKDF_NO_BENCHMARK;
        }
        return crypt_set_pbkdf_type(l->cd, &t);
}

int vs_luks_add_slot(struct vs_luks *l, unsigned slot, const struct vs_secret *vk, const struct vs_secret *pass,
                     const struct vs_pbkdf *pbkdf) {
        int r = set_pbkdf(l, pbkdf);
        if (r < 0)
                return log_error_errno(r, "%s: cannot set the argon2id parameters for keyslot %u: %s", l->device, slot,
                                       strerror(-r));
        vs_progress_begin("%s: adding keyslot %u (argon2id)", l->device, slot);
        r = crypt_keyslot_add_by_volume_key(l->cd, (int) slot, (const char *) vk->data, vk->len,
                                            (const char *) pass->data, pass->len);
        vs_progress_end();
        if (r < 0)
                return log_error_errno(r, "%s: cannot add keyslot %u: %s", l->device, slot, strerror(-r));
        return 0;
}

int vs_luks_destroy_slot(struct vs_luks *l, unsigned slot) {
        if (!vs_luks_slot_active(l, slot))
                return 0;
        int r = crypt_keyslot_destroy(l->cd, (int) slot);
        if (r < 0)
                return log_error_errno(r, "%s: cannot destroy keyslot %u: %s", l->device, slot, strerror(-r));
        return 0;
}

int vs_luks_token_get(struct vs_luks *l, unsigned id, struct json_object **ret) {
        const char *json = NULL;
        int r = crypt_token_json_get(l->cd, (int) id, &json);
        if (r < 0)
                return -ENOENT;
        struct json_object *o = json_tokener_parse(json);
        if (!o)
                return log_error_errno(EINVAL, "%s: token %u is not valid JSON", l->device, id);
        *ret = o;
        return 0;
}

int vs_luks_token_set(struct vs_luks *l, unsigned id, struct json_object *token, int slot) {
        int r;
        if (!token) {
                const char *json = NULL;
                if (crypt_token_json_get(l->cd, (int) id, &json) < 0)
                        return 0;
                r = crypt_token_json_set(l->cd, (int) id, NULL);
                if (r < 0)
                        return log_error_errno(r, "%s: cannot remove token %u: %s", l->device, id, strerror(-r));
                return 0;
        }
        struct json_object *ks = json_object_new_array();
        if (slot >= 0) {
                char s[16];
                snprintf(s, sizeof(s), "%d", slot);
                json_object_array_add(ks, json_object_new_string(s));
        }
        json_object_object_add(token, "keyslots", ks);
        const char *json = json_object_to_json_string_ext(token, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = crypt_token_json_set(l->cd, (int) id, json);
        if (r < 0)
                return log_error_errno(r, "%s: cannot write token %u: %s", l->device, id, strerror(-r));
        return 0;
}

static uint32_t activation_flags(const struct vs_luks_activation *a) {
        uint32_t f = 0;
        if (a) {
                if (a->perf_flags & VS_PERF_NO_READ_WORKQUEUE)
                        f |= CRYPT_ACTIVATE_NO_READ_WORKQUEUE;
                if (a->perf_flags & VS_PERF_NO_WRITE_WORKQUEUE)
                        f |= CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE;
                if (a->perf_flags & VS_PERF_SAME_CPU_CRYPT)
                        f |= CRYPT_ACTIVATE_SAME_CPU_CRYPT;
                if (a->allow_discards)
                        f |= CRYPT_ACTIVATE_ALLOW_DISCARDS;
        }
        return f;
}

int vs_luks_mapping_active(const char *name) {
        crypt_set_log_callback(NULL, luks_log, NULL);
        crypt_status_info s = crypt_status(NULL, name);
        return s == CRYPT_ACTIVE || s == CRYPT_BUSY;
}

int vs_luks_activate(struct vs_luks *l, const char *name, const struct vs_secret *vk, const struct vs_luks_activation *a) {
        if (name && vs_luks_mapping_active(name))
                return -EEXIST;
        int r = crypt_activate_by_volume_key(l->cd, name, (const char *) vk->data, vk->len, name ? activation_flags(a) : 0);
        if (r == -EEXIST)
                return r;
        if (r < 0 && name && (r == -ENOTSUP || r == -ENODEV || r == -ENOENT))
                return -EOPNOTSUPP; /* the caller reports it: "device-mapper is not available" */
        if (r < 0)
                return log_error_errno(r, "%s: cannot activate%s%s: %s", l->device, name ? " " : "", name ? name : "",
                                       strerror(-r));
        return 0;
}

const char *vs_luks_subsystem(struct vs_luks *l) {
        return crypt_get_subsystem(l->cd);
}

int vs_luks_set_subsystem(struct vs_luks *l, const char *subsystem) {
        /* crypt_get_label() points into the header that crypt_set_label() rewrites: copy it first. */
        const char *label = crypt_get_label(l->cd);
        _cleanup_free_ char *copy = label ? strdup(label) : NULL;
        if (label && !copy)
                return -ENOMEM;
        int r = crypt_set_label(l->cd, copy, subsystem);
        if (r < 0)
                return log_error_errno(r, "%s: cannot write the header's subsystem field: %s", l->device, strerror(-r));
        return 0;
}

int vs_luks_destroy_all_slots(const char *device) {
        struct vs_luks *l;
        int r = init(device, &l);
        if (r < 0)
                return r;
        r = crypt_load(l->cd, CRYPT_LUKS, NULL);
        if (r < 0) {
                vs_luks_free(l);
                return log_error_errno(r, "cannot read the LUKS header of %s: %s", device, strerror(-r));
        }
        int n = 0, max = crypt_keyslot_max(crypt_get_type(l->cd));
        for (int s = 0; s < max; s++) {
                if (!vs_luks_slot_active(l, (unsigned) s))
                        continue;
                r = crypt_keyslot_destroy(l->cd, s);
                if (r < 0) {
                        vs_luks_free(l);
                        return log_error_errno(r, "%s: cannot destroy keyslot %d: %s", device, s, strerror(-r));
                }
                n++;
        }
        vs_luks_free(l);
        return n;
}

/* ---- the validated detached header (docs/security.md, "LUKS2 header validation") ---- */

static int pread_full(int fd, uint8_t *buf, size_t len, uint64_t off, size_t *ret) {
        size_t done = 0;
        while (done < len) {
                ssize_t n = pread(fd, buf + done, len - done, (off_t) (off + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        *ret = done;
        return 0;
}

enum { CHUNK = 64 * 1024 };
static size_t chunk_len(uint64_t left) { return left < CHUNK ? (size_t) left : CHUNK; }

/* Reads both headers of `fd` (`device`) at `offset` once and validates them: *ret_buf holds them (free it).
 * -EINVAL with `reason` = refused. */
static int read_headers(int fd, const char *device, uint64_t offset, uint64_t limit, uint8_t **ret_buf,
                        struct vs_luks_header_info *info, char *reason, size_t reason_size) {
        uint8_t first[VS_LUKS_HEADER_BINARY];
        size_t got;
        int r = pread_full(fd, first, sizeof(first), offset, &got);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %s", device, strerror(-r));
        uint64_t hdr_size = 0;
        /* A damaged primary: read enough for the largest secondary, the validator looks for it. */
        size_t want = vs_luks_header_size(first, got, &hdr_size, reason, reason_size) == 0 ? (size_t) (2 * hdr_size)
                                                                                           : 8u * 1024 * 1024 + VS_LUKS_HEADER_BINARY;
        if (limit && want > limit)
                want = (size_t) limit;
        _cleanup_free_ uint8_t *buf = malloc(want ? want : 1);
        if (!buf)
                return -ENOMEM;
        r = pread_full(fd, buf, want, offset, &got);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %s", device, strerror(-r));
        r = vs_luks_header_validate(buf, got, info, reason, reason_size);
        if (r < 0)
                return r;
        if (limit && info->metadata_size > limit) {
                snprintf(reason, reason_size, "its metadata area (%" PRIu64 " bytes) is larger than the partition", info->metadata_size);
                return -EINVAL;
        }
        *ret_buf = TAKE_PTR(buf);
        return 0;
}

/* Whether `n` bytes at `at` of the validated copy `mfd` equal `bytes`: 0, -ESTALE, or a read error. */
static int copy_equals(int mfd, const char *device, uint64_t at, const uint8_t *bytes, size_t n, uint8_t *scratch) {
        size_t got;
        int r = pread_full(mfd, scratch, n, at, &got);
        if (r < 0 || got < n)
                return log_error_errno(r < 0 ? r : -EIO, "cannot read the in-memory header copy of %s", device);
        return memcmp(bytes, scratch, n) == 0 ? 0 : -ESTALE;
}

/* Keyslot area `i` of `info`, read from `fd` at `offset` in chunks: copied into `mfd` at its offset, or (with
 * `compare`) compared with `mfd`'s bytes there (-ESTALE on the first difference). */
static int pass_area(int fd, const char *device, uint64_t offset, const struct vs_luks_header_info *info, unsigned i,
                     int mfd, bool compare, uint8_t *a, uint8_t *b, char *reason, size_t reason_size) {
        for (uint64_t done = 0; done < info->areas[i].size;) {
                size_t n = chunk_len(info->areas[i].size - done), got;
                uint64_t at = info->areas[i].offset + done;
                int r = pread_full(fd, a, n, offset + at, &got);
                if (r < 0)
                        return log_error_errno(r, "cannot read %s: %s", device, strerror(-r));
                if (got < n) {
                        snprintf(reason, reason_size, "it is truncated: keyslot area [%" PRIu64 ", +%" PRIu64 ") lies beyond the end",
                                 info->areas[i].offset, info->areas[i].size);
                        return -EINVAL;
                }
                errno = 0;
                if (compare) {
                        r = copy_equals(mfd, device, at, a, n, b);
                        if (r < 0)
                                return r;
                } else if (pwrite(mfd, a, n, (off_t) at) != (ssize_t) n)
                        return log_error_errno(errno ? errno : EIO, "cannot write the in-memory header copy of %s", device);
                done += n;
        }
        return 0;
}

/* Reads the LUKS2 metadata of `device` at `offset` once: both headers, validated, then exactly the keyslot
 * areas the validated JSON names, written into `mfd` at their offsets (a sparse detached header: the unused
 * keyslots area stays a hole). -EINVAL with `reason` = refused. */
static int read_metadata(const char *device, uint64_t offset, uint64_t limit, int mfd, struct vs_luks_header_info *info,
                         char *reason, size_t reason_size) {
        _cleanup_close_ int fd = open(device, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "cannot open %s: %s", device, strerror(errno));
        _cleanup_free_ uint8_t *buf = NULL;
        int r = read_headers(fd, device, offset, limit, &buf, info, reason, reason_size);
        if (r < 0)
                return r;
        errno = 0;
        if (ftruncate(mfd, (off_t) info->metadata_size) < 0 ||
            pwrite(mfd, buf, (size_t) (2 * info->hdr_size), 0) != (ssize_t) (2 * info->hdr_size))
                return log_error_errno(errno ? errno : EIO, "cannot write the in-memory header copy of %s", device);
        _cleanup_free_ uint8_t *chunk = malloc(CHUNK);
        if (!chunk)
                return -ENOMEM;
        for (unsigned i = 0; r >= 0 && i < info->n_areas; i++)
                r = pass_area(fd, device, offset, info, i, mfd, false, chunk, NULL, reason, reason_size);
        return r;
}

/* Whether the device's LUKS2 metadata (validated again) has the same JSON area in use and keyslot areas as
 * the validated copy `v` in its memfd: 0 the same, -ESTALE changed, -EINVAL refused (`reason`). Only those
 * regions: libcryptsetup may have rewritten the other (stale or damaged) header copy inside the memfd when
 * it loaded it (its repair); it never writes the copy it uses, nor keyslot areas, on load, and the memfd is
 * sealed against writes once it is loaded. */
static int same_metadata(const struct vs_luks *v, char *reason, size_t reason_size) {
        _cleanup_close_ int fd = open(v->device, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "cannot open %s: %s", v->device, strerror(errno));
        struct vs_luks_header_info info;
        _cleanup_free_ uint8_t *buf = NULL;
        int r = read_headers(fd, v->device, 0, 0, &buf, &info, reason, reason_size);
        if (r < 0)
                return r;
        if (info.hdr_size != v->info.hdr_size)
                return -ESTALE;
        _cleanup_free_ uint8_t *a = malloc(CHUNK), *b = malloc(CHUNK);
        if (!a || !b)
                return -ENOMEM;
        /* the JSON area in use: the device's (already in buf) against the validated one, wherever each lies */
        for (uint64_t done = VS_LUKS_HEADER_BINARY; done < info.hdr_size;) {
                size_t n = chunk_len(info.hdr_size - done);
                r = copy_equals(v->hdr_fd, v->device, v->info.json_offset - VS_LUKS_HEADER_BINARY + done,
                                buf + info.json_offset - VS_LUKS_HEADER_BINARY + done, n, b);
                if (r < 0)
                        return r;
                done += n;
        }
        /* the same JSON names the same keyslot areas */
        if (info.n_areas != v->info.n_areas || memcmp(info.areas, v->info.areas, info.n_areas * sizeof(info.areas[0])) != 0)
                return -ESTALE;
        for (unsigned i = 0; i < info.n_areas; i++) {
                r = pass_area(fd, v->device, 0, &info, i, v->hdr_fd, true, a, b, reason, reason_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vs_luks_load_validated(const char *device, uint64_t offset, uint64_t size, const char *data_device,
                           struct vs_luks **ret, char *reason, size_t reason_size) {
        reason[0] = 0;
        _cleanup_close_ int mfd = memfd_create("volseal-luks2-header", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return log_error_errno(errno, "cannot create the in-memory header copy for %s: %s", device, strerror(errno));
        struct vs_luks_header_info info;
        int r = read_metadata(device, offset, size, mfd, &info, reason, reason_size);
        if (r < 0)
                return r;
        if (info.damaged_copy)
                log_notice("%s: the %s LUKS2 header copy is %s (an interrupted header write): using the other, validated copy",
                           device, info.damaged_copy == 1 ? "primary" : "secondary",
                           info.damaged_copy == 1 ? "damaged" : "one write behind");
        /* The copy's size is fixed; libcryptsetup may still rewrite a stale copy inside it (its repair). */
        (void) fcntl(mfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK);
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
        crypt_set_log_callback(NULL, luks_log, NULL);
        struct vs_luks *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->hdr_fd = -1;
        l->offset = offset;
        l->info = info;
        l->device = strdup(device);
        if (!l->device) {
                free(l);
                return -ENOMEM;
        }
        r = crypt_init_data_device(&l->cd, path, data_device ? data_device : device);
        if (r < 0) {
                vs_luks_free(l);
                return log_error_errno(r, "cannot open %s for LUKS2: %s", device, strerror(-r));
        }
        crypt_set_log_callback(l->cd, luks_log, NULL);
        r = crypt_load(l->cd, CRYPT_LUKS2, NULL);
        if (r < 0) {
                vs_luks_free(l);
                snprintf(reason, reason_size, "libcryptsetup refuses the validated copy: %s", strerror(-r));
                return -EINVAL;
        }
        /* Loaded (and its repair of a stale copy, if any, done): from now on the copy cannot change, so
         * vs_luks_load_for_write() compares the device with exactly the validated bytes. */
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE) < 0)
                log_debug("%s: cannot seal the in-memory header copy against writes: %s", device, strerror(errno));
        l->hdr_fd = TAKE_FD(mfd);
        l->validated = true;
        *ret = l;
        return 0;
}

int vs_luks_load_for_write(const struct vs_luks *validated, struct vs_luks **ret) {
        if (!validated->validated || validated->offset)
                return log_error_errno(EROFS, "%s: this header copy cannot be written", validated->device);
        struct vs_luks *w;
        int r = vs_luks_load(validated->device, &w);
        if (r < 0)
                return r;
        /* What libcryptsetup has just read must still be what was validated. */
        char reason[256] = "";
        r = same_metadata(validated, reason, sizeof(reason));
        if (r < 0) {
                vs_luks_free(w);
                return log_error_errno(r == -EINVAL ? EINVAL : -r, "%s: the LUKS2 header changed after it was validated%s%s; not writing to it",
                                       validated->device, reason[0] ? ": " : "", reason);
        }
        *ret = w;
        return 0;
}

bool vs_luks_validated(const struct vs_luks *l) { return l->validated; }
