/* luks-header.h: pure validation of a LUKS2 metadata area (both binary headers, both JSON areas, the
 * keyslots area's bounds) before volseal feeds a TPM- or KMS-derived key to it (the 2025 LUKS2 header
 * attacks: a crafted header with cipher_null, a second segment, or a second header copy that
 * libcryptsetup prefers over the one a checker looked at).
 * Bytes in, verdict out: no disks, no libcryptsetup (luks.c reads the bytes and hands libcryptsetup the
 * validated copy as a detached header). docs/security.md "LUKS2 header validation" lists the checks.
 * Promise: a header this module accepts has one crypt segment placed after the whole metadata area,
 * encrypted with an allowed cipher, keyslots of type luks2 encrypted with an allowed cipher, no pending
 * reencryption, and the copy libcryptsetup will use (the higher seqid) is the copy that was checked. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define VS_LUKS_HEADER_BINARY 4096u
/* The largest metadata area (both headers + keyslots area) volseal reads into memory: 4 MiB headers and
 * a 128 MiB keyslots area are far above anything cryptsetup or Talos writes (16 MiB). */
#define VS_LUKS_METADATA_MAX (136u * 1024u * 1024u)
#define VS_LUKS_MAX_KEYSLOTS 32u

struct vs_luks_header_info {
        uint64_t hdr_size;       /* one binary header + its JSON area */
        uint64_t metadata_size;  /* 2 * hdr_size + keyslots_size: what a detached header copy needs */
        uint64_t segment_offset; /* where the encrypted data starts (bytes from the header's start) */
        uint64_t seqid;          /* of the copy in use */
        uint64_t json_offset;    /* the JSON area of the copy in use (libcryptsetup's choice: higher seqid) */
        int damaged_copy;        /* 0 none, 1 primary, 2 secondary: failed its checksum (interrupted write) */
        char cipher[64];         /* the segment's cipher, "aes-xts-plain64" */
        /* the keyslots' binary areas (offset, size from the header's start), in JSON order */
        struct { uint64_t offset, size; } areas[VS_LUKS_MAX_KEYSLOTS];
        unsigned n_areas;
};

/* The allowed ciphers (segments and keyslot areas), NULL-terminated. */
extern const char *const vs_luks_allowed_ciphers[];

/* From the first 4096 bytes: the primary's hdr_size, so the caller knows how much to read next.
 * -EINVAL with `reason` when the primary is not a LUKS2 binary header. Falls back to nothing: when the
 * primary is damaged the caller reads VS_LUKS_METADATA_MAX and lets vs_luks_header_validate() find the
 * secondary. */
int vs_luks_header_size(const uint8_t *buf, size_t len, uint64_t *ret_hdr_size, char *reason, size_t reason_size);

/* Validates the two binary headers and JSON areas in `buf` (from the device's LUKS2 start: both headers,
 * or up to 8 MiB + 4 KiB when the primary is damaged, so the secondary can be found). The keyslot areas'
 * bytes are not needed: info->areas says where they are (the caller copies exactly those). 0 = valid,
 * `info` filled; -EINVAL = refused, `reason` says which check failed (one clause, no volume name: the
 * caller adds it). */
int vs_luks_header_validate(const uint8_t *buf, size_t len, struct vs_luks_header_info *info, char *reason,
                            size_t reason_size);
