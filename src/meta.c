/* meta.c: see meta.h and docs/meta.md. The Talos ADV is big-endian (magic 0x5a4b3c2d, entries of tag u32,
 * size u32, value, ending at tag 0, SHA-256 of the copy with the checksum zeroed and magic 0xa5b4c3d2 in its
 * last 36 bytes); the syslinux ADV is little-endian (head 0x5a2d2fa5, checksum word, entries tag u8 len u8,
 * tail 0xdd28bf64; words 4..508 sum to 0xa3041767). */
#include "meta.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>

#define TALOS_MAGIC1 0x5a4b3c2du
#define TALOS_MAGIC2 0xa5b4c3d2u
#define LEGACY_HEAD 0x5a2d2fa5u
#define LEGACY_CSUM 0xa3041767u
#define LEGACY_TAIL 0xdd28bf64u
#define LEGACY_DATA_END (VS_META_LEGACY_COPY - 4u) /* the tail word starts here */

static const char *const tag_names[256] = {
        [3] = "Reserved1",
        [4] = "Reserved2",
        [5] = "Reserved3",
        [6] = "Upgrade",
        [7] = "StagedUpgradeImageRef",
        [8] = "StagedUpgradeInstallOptions",
        [9] = "StateEncryptionConfig",
        [10] = "MetalNetworkPlatformConfig",
        [11] = "DownloadURLCode",
        [12] = "UserReserved1",
        [13] = "UserReserved2",
        [14] = "UserReserved3",
        [15] = "UUIDOverride",
        [16] = "UniqueMachineToken",
        [17] = "DiskImageBootloader",
        [18] = "StagedWipeSelectors",
};

const char *vs_meta_tag_name(unsigned tag) {
        return tag < 256 ? tag_names[tag] : NULL;
}

int vs_meta_tag_parse(const char *s, unsigned *ret) {
        if (!s || !*s)
                return -EINVAL;
        if (isdigit((unsigned char) s[0])) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(s, &end, 0);
                if (errno || *end || v < 1 || v > 255)
                        return -EINVAL;
                *ret = (unsigned) v;
                return 0;
        }
        for (unsigned t = 1; t < 256; t++)
                if (tag_names[t] && strcasecmp(tag_names[t], s) == 0) {
                        *ret = t;
                        return 0;
                }
        return -EINVAL;
}

const char *vs_meta_state_name(enum vs_meta_state s) {
        static const char *const names[] = { "copy1", "copy2", "blank", "invalid" };
        return (unsigned) s < ELEMENTSOF(names) ? names[s] : "unknown";
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[3] << 24 | (uint32_t) p[2] << 16 | (uint32_t) p[1] << 8 | p[0];
}

static void put_le32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
        p[2] = (uint8_t) (v >> 16);
        p[3] = (uint8_t) (v >> 24);
}

static void value_clear(struct vs_meta_value *v) {
        if (v->data)
                explicit_bzero(v->data, v->len); /* tag 9 may hold a static passphrase */
        free(v->data);
        *v = (struct vs_meta_value) {};
}

static int value_set(struct vs_meta_value *v, const void *data, size_t len) {
        uint8_t *copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        if (len)
                memcpy(copy, data, len);
        copy[len] = 0;
        value_clear(v);
        *v = (struct vs_meta_value) { .data = copy, .len = len, .present = true };
        return 0;
}

void vs_meta_done(struct vs_meta *m) {
        for (unsigned t = 0; t < 256; t++) {
                value_clear(&m->tags[t]);
                value_clear(&m->legacy[t]);
        }
        memset(m, 0, sizeof(*m));
}

static int sha256(const uint8_t *p, size_t len, uint8_t out[32]) {
        unsigned int n = 0;
        if (!EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) || n != 32)
                return -EIO;
        return 0;
}

/* Checks one Talos ADV copy and parses its entries into tags[], as go-adv's talos.ADV.Unmarshal does: an
 * entry's tag is stored as a byte (tag 0x109 is tag 9), a later duplicate wins, and entries read before a
 * value that runs past the end stay (go-adv keeps them in its map). Returns 0, or -EBADMSG with `why`. */
static int parse_talos_copy(const uint8_t *copy, struct vs_meta_value tags[256], char *why, size_t why_len) {
        const size_t n = VS_META_COPY_SIZE;
        if (be32(copy) != TALOS_MAGIC1) {
                snprintf(why, why_len, "bad head magic 0x%08x", be32(copy));
                return -EBADMSG;
        }
        if (be32(copy + n - 4) != TALOS_MAGIC2) {
                snprintf(why, why_len, "bad tail magic 0x%08x", be32(copy + n - 4));
                return -EBADMSG;
        }
        _cleanup_free_ uint8_t *tmp = malloc(n);
        if (!tmp)
                return -ENOMEM;
        memcpy(tmp, copy, n);
        memset(tmp + n - 36, 0, 32);
        uint8_t digest[32];
        int r = sha256(tmp, n, digest);
        if (r < 0)
                return r;
        if (memcmp(digest, copy + n - 36, 32) != 0) {
                snprintf(why, why_len, "SHA-256 checksum mismatch");
                return -EBADMSG;
        }
        size_t off = 4;
        const size_t end = n - 36;
        while (end - off >= 8) {
                uint32_t tag = be32(copy + off), size = be32(copy + off + 4);
                if (tag == 0)
                        break;
                if (size > end - off - 8) {
                        snprintf(why, why_len, "tag %u: value of %u bytes runs past the end of the copy", tag, size);
                        return -EBADMSG;
                }
                if ((tag & 0xffu) != 0) { /* a tag that is 0 as a byte would end the list when written back */
                        r = value_set(&tags[tag & 0xffu], copy + off + 8, size);
                        if (r < 0)
                                return r;
                }
                off += 8 + (size_t) size;
        }
        return 0;
}

static bool legacy_copy_valid(const uint8_t *c) {
        if (le32(c) != LEGACY_HEAD || le32(c + LEGACY_DATA_END) != LEGACY_TAIL)
                return false;
        uint32_t sum = 0;
        for (size_t i = 4; i < LEGACY_DATA_END; i += 4)
                sum += le32(c + i);
        return sum == LEGACY_CSUM;
}

/* The syslinux ADV as go-adv's syslinux.ADV reads a tag: the entries of the first 512-byte copy, from
 * byte 8, without checking its head, checksum or tail (legacy_valid records whether they pass); tag 0 ends
 * the list, the first entry of a tag wins, an entry that runs past byte 508 is not readable. */
static int parse_legacy(struct vs_meta *m, const uint8_t *raw, const char *name) {
        memcpy(m->legacy_raw, raw, VS_META_LEGACY_SIZE);
        m->legacy_valid = legacy_copy_valid(raw) || legacy_copy_valid(raw + VS_META_LEGACY_COPY);
        const uint8_t *c = raw;
        size_t i = 8;
        while (i < LEGACY_DATA_END - 2) {
                uint8_t tag = c[i], len = c[i + 1];
                if (tag == 0)
                        break;
                if (i + 2 + len > LEGACY_DATA_END)
                        log_debug("%s: legacy ADV: tag %u runs past the end of the block; it cannot be read", name, tag);
                else if (!m->legacy[tag].present) {
                        int r = value_set(&m->legacy[tag], c + i + 2, len);
                        if (r < 0)
                                return r;
                }
                i += 2 + (size_t) len;
        }
        return 0;
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

int vs_meta_parse(struct vs_meta *m, const uint8_t *image, size_t size, const char *name) {
        memset(m, 0, sizeof(*m));
        m->size = size;
        if (size < VS_META_MIN_SIZE)
                return log_error_errno(-EINVAL, "%s: %zu bytes is too small for META (needs at least %u: two 256 KiB copies and the 1 KiB legacy block)",
                                       name, size, VS_META_MIN_SIZE);
        int r = parse_legacy(m, image + size - VS_META_LEGACY_SIZE, name);
        if (r < 0)
                goto fail;
        r = parse_talos_copy(image, m->tags, m->copy1_error, sizeof(m->copy1_error));
        if (r == 0) {
                m->state = VS_META_COPY1;
                m->copy2_stale = memcmp(image, image + VS_META_COPY_SIZE, VS_META_COPY_SIZE) != 0;
                if (m->copy2_stale)
                        log_debug("%s: META copy 2 differs from copy 1 (an interrupted write); the next write repairs it", name);
                return 0;
        }
        if (r != -EBADMSG)
                goto fail;
        /* go-adv reads copy 2 into the same map: entries copy 1 yielded before its error stay. */
        r = parse_talos_copy(image + VS_META_COPY_SIZE, m->tags, m->copy2_error, sizeof(m->copy2_error));
        if (r == 0) {
                m->state = VS_META_COPY2;
                log_warning("%s: META copy 1 is invalid (%s); using copy 2 (the next write repairs copy 1)", name, m->copy1_error);
                return 0;
        }
        if (r != -EBADMSG)
                goto fail;
        /* Both invalid: Talos goes on with what go-adv read (nothing, unless a copy with a good checksum had a
         * bad entry) as its META. */
        if (all_zero(image, VS_META_TALOS_SIZE)) {
                m->state = VS_META_BLANK;
                log_debug("%s: META was never written (all zero); it is empty", name);
                return 0;
        }
        m->state = VS_META_INVALID;
        log_error("%s: both META copies are invalid (copy 1: %s; copy 2: %s); read as Talos reads it (%zu tags), "
                  "never rewritten without --force", name, m->copy1_error, m->copy2_error, vs_meta_count(m));
        return 0;
fail:
        vs_meta_done(m);
        return r;
}

static int read_full(int fd, void *buf, size_t len, uint64_t off) {
        uint8_t *p = buf;
        while (len > 0) {
                ssize_t n = pread(fd, p, len, (off_t) off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t) n;
                off += (uint64_t) n;
        }
        return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t off) {
        const uint8_t *p = buf;
        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, (off_t) off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
                off += (uint64_t) n;
        }
        return 0;
}

static int write_synced(int fd, const void *buf, size_t len, uint64_t off) {
        int r = write_full(fd, buf, len, off);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        return r;
}

static int lock_fd(int fd, int op) {
        while (flock(fd, op) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

static int device_size(int fd, uint64_t *ret) {
        off_t end = lseek(fd, 0, SEEK_END); /* works for block devices and files alike */
        if (end < 0)
                return -errno;
        *ret = (uint64_t) end;
        return 0;
}

/* META in the `size` bytes at `offset` of fd: the whole device or image, or one partition of a disk image. */
static int load_range(struct vs_meta *m, int fd, uint64_t offset, uint64_t size, const char *name) {
        if (size < VS_META_MIN_SIZE)
                return log_error_errno(-EINVAL, "%s: %llu bytes is too small for META (needs at least %u: two 256 KiB copies and the 1 KiB legacy block)",
                                       name, (unsigned long long) size, VS_META_MIN_SIZE);
        /* Read only what META uses: the two copies and the last 1 KiB, laid out as a minimal image. */
        _cleanup_free_ uint8_t *img = malloc(VS_META_MIN_SIZE);
        if (!img)
                return log_error_errno(-ENOMEM, "out of memory");
        int r = lock_fd(fd, LOCK_SH);
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock META: %s", name, strerror(-r));
        r = read_full(fd, img, VS_META_TALOS_SIZE, offset);
        if (r == 0)
                r = read_full(fd, img + VS_META_TALOS_SIZE, VS_META_LEGACY_SIZE, offset + size - VS_META_LEGACY_SIZE);
        (void) lock_fd(fd, LOCK_UN);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read META: %s", name, strerror(-r));
        r = vs_meta_parse(m, img, VS_META_MIN_SIZE, name);
        if (r == 0)
                m->size = size;
        return r;
}

int vs_meta_load_fd(struct vs_meta *m, int fd, const char *name) {
        uint64_t size = 0;
        int r = device_size(fd, &size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot find the size of META: %s", name, strerror(-r));
        return load_range(m, fd, 0, size, name);
}

int vs_meta_load(struct vs_meta *m, const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "%s: cannot open META: %s", path, strerror(errno));
        return vs_meta_load_fd(m, fd, path);
}

size_t vs_meta_count(const struct vs_meta *m) {
        size_t n = 0;
        for (unsigned t = 1; t < 256; t++)
                n += m->tags[t].present;
        return n;
}

int vs_meta_get_talos(const struct vs_meta *m, unsigned tag, const uint8_t **data, size_t *len) {
        if (tag > 255 || !m->tags[tag].present)
                return 0;
        if (data)
                *data = m->tags[tag].data;
        if (len)
                *len = m->tags[tag].len;
        return 1;
}

int vs_meta_load_range(struct vs_meta *m, const char *path, uint64_t offset, uint64_t size, const char *name) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "%s: cannot open %s: %s", name, path, strerror(errno));
        return load_range(m, fd, offset, size, name);
}

int vs_meta_get(const struct vs_meta *m, unsigned tag, const uint8_t **data, size_t *len) {
        if (tag > 255)
                return 0;
        const struct vs_meta_value *v = m->tags[tag].present ? &m->tags[tag] : m->legacy[tag].present ? &m->legacy[tag] : NULL;
        if (!v)
                return 0;
        if (data)
                *data = v->data;
        if (len)
                *len = v->len;
        return v == &m->tags[tag] ? 1 : 2;
}

size_t vs_meta_payload(const struct vs_meta *m) {
        size_t sum = 0;
        for (unsigned t = 1; t < 256; t++)
                if (m->tags[t].present)
                        sum += 8 + m->tags[t].len;
        return sum;
}

int vs_meta_set(struct vs_meta *m, unsigned tag, const void *data, size_t len, const char *name) {
        if (tag == 0 || tag > 255)
                return log_error_errno(-EINVAL, "%s: tag %u is not a META tag (allowed: 1-255; 0 ends the list)", name, tag);
        size_t others = vs_meta_payload(m) - (m->tags[tag].present ? 8 + m->tags[tag].len : 0);
        if (len > VS_META_MAX_PAYLOAD || others + 8 + len > VS_META_MAX_PAYLOAD)
                return log_error_errno(-E2BIG, "%s: tag %u: a value of %zu bytes does not fit META (%zu bytes free of %u); nothing written",
                                       name, tag, len, others + 8 > VS_META_MAX_PAYLOAD ? 0 : VS_META_MAX_PAYLOAD - others - 8,
                                       VS_META_MAX_PAYLOAD - 8);
        int r = value_set(&m->tags[tag], data, len);
        if (r < 0)
                return log_error_errno(r, "out of memory");
        return 0;
}

int vs_meta_delete(struct vs_meta *m, unsigned tag) {
        if (tag == 0 || tag > 255)
                return 0;
        bool was = m->tags[tag].present || m->legacy[tag].present;
        bool talos = m->tags[tag].present;
        value_clear(&m->tags[tag]);
        if (!talos && m->legacy[tag].present) { /* Talos deletes from the legacy ADV only what the Talos ADV lacks */
                value_clear(&m->legacy[tag]);
                m->legacy_dirty = true;
        }
        return was;
}

int vs_meta_serialize(const struct vs_meta *m, uint8_t *copy) {
        const size_t n = VS_META_COPY_SIZE;
        if (vs_meta_payload(m) > VS_META_MAX_PAYLOAD)
                return -E2BIG;
        memset(copy, 0, n);
        put_be32(copy, TALOS_MAGIC1);
        put_be32(copy + n - 4, TALOS_MAGIC2);
        size_t off = 4;
        for (unsigned t = 1; t < 256; t++) {
                const struct vs_meta_value *v = &m->tags[t];
                if (!v->present)
                        continue;
                put_be32(copy + off, t);
                put_be32(copy + off + 4, (uint32_t) v->len);
                if (v->len)
                        memcpy(copy + off + 8, v->data, v->len);
                off += 8 + v->len;
        }
        uint8_t digest[32];
        int r = sha256(copy, n, digest); /* the checksum field is still zero here */
        if (r < 0)
                return r;
        memcpy(copy + n - 36, digest, 32);
        return 0;
}

void vs_meta_serialize_legacy(const struct vs_meta *m, uint8_t *legacy) {
        if (!m->legacy_dirty) {
                memcpy(legacy, m->legacy_raw, VS_META_LEGACY_SIZE); /* unchanged: the bytes as read */
                return;
        }
        uint8_t *c = legacy;
        memset(c, 0, VS_META_LEGACY_COPY);
        put_le32(c, LEGACY_HEAD);
        size_t i = 8;
        for (unsigned t = 1; t < 256; t++) {
                const struct vs_meta_value *v = &m->legacy[t];
                if (!v->present)
                        continue;
                /* Values came from this block, so they fit again after a delete. */
                c[i] = (uint8_t) t;
                c[i + 1] = (uint8_t) v->len;
                memcpy(c + i + 2, v->data, v->len);
                i += 2 + v->len;
        }
        put_le32(c + LEGACY_DATA_END, LEGACY_TAIL);
        uint32_t sum = 0;
        for (size_t k = 8; k < LEGACY_DATA_END; k += 4)
                sum += le32(c + k);
        put_le32(c + 4, LEGACY_CSUM - sum);
        memcpy(legacy + VS_META_LEGACY_COPY, c, VS_META_LEGACY_COPY);
}

int vs_meta_store_fd(struct vs_meta *m, int fd, const char *name, bool force) {
        m->torn = false;
        if (m->state == VS_META_INVALID && !force)
                return log_error_errno(-EUCLEAN, "%s: both META copies are invalid and the area is not blank; refusing to write (use --force to replace it)", name);
        uint64_t size = 0;
        int r = device_size(fd, &size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot find the size of META: %s", name, strerror(-r));
        if (size < VS_META_MIN_SIZE)
                return log_error_errno(-EINVAL, "%s: %llu bytes is too small for META (needs at least %u)", name,
                                       (unsigned long long) size, VS_META_MIN_SIZE);
        if (m->size && size != m->size)
                return log_error_errno(-ESTALE, "%s: META changed size since it was read; nothing written", name);
        _cleanup_free_ uint8_t *copy = malloc(VS_META_COPY_SIZE);
        uint8_t legacy[VS_META_LEGACY_SIZE];
        if (!copy)
                return log_error_errno(-ENOMEM, "out of memory");
        r = vs_meta_serialize(m, copy);
        if (r < 0)
                return log_error_errno(r, "%s: the values do not fit META (%zu bytes of %u); nothing written", name,
                                       vs_meta_payload(m), VS_META_MAX_PAYLOAD);
        vs_meta_serialize_legacy(m, legacy);

        r = lock_fd(fd, LOCK_EX);
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock META: %s", name, strerror(-r));
        const struct {
                const char *what;
                const void *buf;
                size_t len;
                uint64_t off;
                const char *if_torn; /* what the device holds when this write fails */
        } writes[] = {
                { "copy 1", copy, VS_META_COPY_SIZE, 0,
                  "copy 1 may be torn, copy 2 still holds the old values (readers fall back to it)" },
                { "copy 2", copy, VS_META_COPY_SIZE, VS_META_COPY_SIZE,
                  "copy 1 holds the new values, copy 2 may be torn (the next write repairs it)" },
                { "the legacy block", legacy, VS_META_LEGACY_SIZE, size - VS_META_LEGACY_SIZE,
                  "both copies hold the new values, the legacy block may be torn" },
        };
        size_t i = 0;
        for (; i < ELEMENTSOF(writes); i++) {
                r = write_synced(fd, writes[i].buf, writes[i].len, writes[i].off);
                if (r < 0)
                        break;
        }
        (void) lock_fd(fd, LOCK_UN);
        if (r < 0) {
                m->torn = true;
                return log_error_errno(r, "%s: writing META %s failed: %s; %s", name, writes[i].what, strerror(-r),
                                       writes[i].if_torn);
        }
        memcpy(m->legacy_raw, legacy, sizeof(legacy));
        m->legacy_dirty = false;
        m->state = VS_META_COPY1;
        m->copy1_error[0] = m->copy2_error[0] = 0;
        return 0;
}

int vs_meta_store(struct vs_meta *m, const char *path, bool force) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "%s: cannot open META for writing: %s", path, strerror(errno));
        return vs_meta_store_fd(m, fd, path, force);
}

int vs_meta_uuid_override(const struct vs_meta *m, char **ret) {
        const uint8_t *p;
        size_t len;
        /* Talos's SystemInfoController: the Talos ADV's value when it is not empty, byte for byte. */
        if (vs_meta_get_talos(m, VS_META_TAG_UUID_OVERRIDE, &p, &len) <= 0 || len == 0)
                return 0;
        if (memchr(p, 0, len))
                return log_error_errno(-EINVAL, "META tag 15 (UUIDOverride) holds a NUL byte at offset %zu; volseal cannot "
                                       "pass it as the node UUID", (size_t) ((const uint8_t *) memchr(p, 0, len) - p));
        char *s = strndup((const char *) p, len);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 1;
}
