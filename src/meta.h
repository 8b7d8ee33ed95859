/* meta.h: the META partition (Talos ADV) and the legacy syslinux ADV in its last 1 KiB.
 * Promise: byte-compatible with Talos. Reading takes copy 1 of the Talos ADV, falls back to copy 2 (and says
 * so); both copies invalid and the Talos area all zero is an empty, writable META (never written);
 * both invalid with other bytes is reported and never rewritten without `force`. Writing serializes
 * everything in memory first (so oversized values and bad tags are refused before any byte is written),
 * then writes copy 1, fsync, copy 2, fsync, then the legacy block, fsync: a torn write leaves one good copy.
 * Tags are 1-255 (0 ends the entry list; a wider tag number is read as its low byte, as go-adv does). Plain
 * pread/pwrite; no other external system. See docs/meta.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VS_META_COPY_SIZE (256u * 1024u)                 /* one Talos ADV copy */
#define VS_META_TALOS_SIZE (2u * VS_META_COPY_SIZE)      /* both copies, at offset 0 */
#define VS_META_LEGACY_COPY 512u                         /* one syslinux ADV copy */
#define VS_META_LEGACY_SIZE (2u * VS_META_LEGACY_COPY)   /* both copies, in the last 1 KiB */
#define VS_META_MIN_SIZE (VS_META_TALOS_SIZE + VS_META_LEGACY_SIZE)
/* go-adv's talos.ADV: the entries (8 + len each) of one copy fit between the head magic and the checksum. */
#define VS_META_MAX_PAYLOAD (VS_META_COPY_SIZE - 40u)
#define VS_META_LEGACY_MAX_VALUE 255u

/* Well-known tags (Talos pkg/machinery/meta). */
enum {
        VS_META_TAG_UPGRADE = 6,
        VS_META_TAG_STATE_ENCRYPTION_CONFIG = 9,
        VS_META_TAG_UUID_OVERRIDE = 15,
};

enum vs_meta_state {
        VS_META_COPY1,      /* copy 1 valid */
        VS_META_COPY2,      /* copy 1 invalid, copy 2 valid: the next write repairs copy 1 */
        VS_META_BLANK,      /* both invalid, the Talos area is all zero: never written, empty and writable */
        VS_META_INVALID,    /* both invalid and not blank: reported; writing needs force */
};

struct vs_meta_value {
        uint8_t *data;      /* NULL when absent; malloc'ed, len bytes (+ a NUL for convenience) */
        size_t len;
        bool present;
};

struct vs_meta {
        struct vs_meta_value tags[256];        /* the Talos ADV */
        struct vs_meta_value legacy[256];      /* the syslinux ADV (read; deletes rewrite it) */
        uint8_t legacy_raw[VS_META_LEGACY_SIZE];
        bool legacy_valid;                     /* a syslinux ADV copy passed its checks */
        bool legacy_dirty;                     /* a legacy tag was deleted: rebuild the legacy block */
        enum vs_meta_state state;
        bool copy2_stale;                      /* copy 1 is valid and copy 2 is not the same bytes (power lost
                                                  between the two writes): the next store repairs it */
        char copy1_error[128];                 /* why copy 1 was rejected (VS_META_COPY2 and worse) */
        char copy2_error[128];
        uint64_t size;                         /* bytes of the device or image */
        bool torn;                             /* the last store failed after its first write: the device
                                                  holds neither exactly the old nor the new META (the error
                                                  said which copy holds what; one copy is always valid) */
};

/* Parses a whole META image held in memory (size >= VS_META_MIN_SIZE). `name` is used in messages.
 * Always fills `m` (an invalid META parses as state VS_META_INVALID with the tags go-adv would keep, normally
 * none: Talos uses it as an empty META) and returns 0, or
 * -EINVAL when the image is too small to be META, -ENOMEM. Logs the fallback to copy 2 (warning) and an
 * invalid META (error). */
int vs_meta_parse(struct vs_meta *m, const uint8_t *image, size_t size, const char *name);
/* Reads META from an open descriptor (shared flock while reading) / a device or image path. */
int vs_meta_load_fd(struct vs_meta *m, int fd, const char *name);
int vs_meta_load(struct vs_meta *m, const char *path);
/* Reads META from the `size` bytes at `offset` of the file `path` (a partition of a disk image, for
 * rescue); `name` is used in messages. */
int vs_meta_load_range(struct vs_meta *m, const char *path, uint64_t offset, uint64_t size, const char *name);
void vs_meta_done(struct vs_meta *m);

/* The value of `tag`: the Talos ADV first, then the legacy ADV (Talos's Meta.ReadTag order, used by
 * `volseal meta get` and when tag 9 is compared before a write). Returns 1 (Talos), 2 (legacy) or 0 when the
 * tag is not set; *data stays owned by `m`. */
int vs_meta_get(const struct vs_meta *m, unsigned tag, const uint8_t **data, size_t *len);
/* The Talos ADV only: what Talos's controllers see (its MetaKey resources come from the Talos ADV), so what
 * unlock reads tag 9 and tag 15 from. 1 or 0. */
int vs_meta_get_talos(const struct vs_meta *m, unsigned tag, const uint8_t **data, size_t *len);
/* Tags set in the Talos ADV. */
size_t vs_meta_count(const struct vs_meta *m);
/* Sets `tag` in the Talos ADV (in memory). -EINVAL for tag 0 or > 255, -E2BIG when all values would no
 * longer fit one copy (logged with the sizes); nothing changes on error. */
int vs_meta_set(struct vs_meta *m, unsigned tag, const void *data, size_t len, const char *name);
/* Removes `tag` from the Talos ADV, or from the legacy ADV when the Talos ADV lacks it (Talos's order).
 * Returns 1 when it was set, 0 when not. */
int vs_meta_delete(struct vs_meta *m, unsigned tag);
/* Bytes the Talos ADV's entries use now (sum of 8 + len), for messages and tests. */
size_t vs_meta_payload(const struct vs_meta *m);

/* Serializes one Talos ADV copy (VS_META_COPY_SIZE bytes) and the legacy block (VS_META_LEGACY_SIZE). */
int vs_meta_serialize(const struct vs_meta *m, uint8_t *copy);
void vs_meta_serialize_legacy(const struct vs_meta *m, uint8_t *legacy);
/* Writes copy 1, fsync, copy 2, fsync, the legacy block, fsync (exclusive flock). Refuses (-EUCLEAN, logged)
 * a META in state VS_META_INVALID unless `force`. Everything is serialized before the first write, so a
 * failure leaves the device untouched unless it sets m->torn (a write or fsync failed). */
int vs_meta_store_fd(struct vs_meta *m, int fd, const char *name, bool force);
int vs_meta_store(struct vs_meta *m, const char *path, bool force);

/* Tag names (Talos's constant names): "StateEncryptionConfig" for 9, NULL for unnamed tags. */
const char *vs_meta_tag_name(unsigned tag);
/* "9", "0x09" or a name (case-insensitive) -> 1..255. -EINVAL otherwise (not logged). */
int vs_meta_tag_parse(const char *s, unsigned *ret);
const char *vs_meta_state_name(enum vs_meta_state s); /* "copy1", "copy2", "blank", "invalid" */

/* Tag 15 (UUIDOverride) of the Talos ADV: when set and not empty, returns 1 and a malloc'ed copy of its
 * bytes, untrimmed, as Talos uses them for the node UUID (nodeID passphrases, the KMS node_uuid); 0 when
 * absent or empty. -EINVAL (logged) when it holds a NUL byte, which a C string cannot carry. */
int vs_meta_uuid_override(const struct vs_meta *m, char **ret);
