/* luks.h: the only module that calls libcryptsetup: LUKS2 format, keyslots at given numbers, tokens with
 * id = slot, check-only and real activation.
 * Promise: every keyslot written is argon2id; a key is only ever tried against the one keyslot named
 * (libcryptsetup never walks every slot); the volume key passes through struct vs_secret only; a
 * device-mapper that is missing is reported as -EOPNOTSUPP. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "secret.h"

struct vs_luks;

/* How a keyslot's argon2id is tuned. `minimal`: libcryptsetup's minimum (4 iterations, 32 KiB, 1 thread,
 * no benchmark) for high-entropy secrets (tpm, kms). Otherwise the benchmarked cryptsetup defaults
 * (~1 GiB, 2 s), unless memory_kib/iterations/time_ms override them (tests: memory_kib + iterations skip
 * the benchmark). */
struct vs_pbkdf {
        bool minimal;
        uint32_t memory_kib;
        uint32_t iterations;
        uint32_t time_ms;
};

struct vs_luks_format_params {
        const char *cipher;      /* VS_CIPHER_*: "aes-xts-plain64" (NULL), "xchacha12,aes-adiantum-plain64", ... */
        unsigned key_bits;       /* 0: 512 for XTS, 256 for Adiantum */
        unsigned sector_size;    /* 0: libcryptsetup's choice */
};

/* Loads a LUKS2 header (both copies are validated by libcryptsetup). -EINVAL when not LUKS2. */
int vs_luks_load(const char *device, struct vs_luks **ret);
/* Reads the LUKS2 metadata area of `device` at byte `offset` (size: the partition's size, 0 = to the end)
 * ONCE into a memfd, validates it (luks-header.h: both copies, one crypt segment, no cipher_null, allowed
 * ciphers) and loads libcryptsetup from that copy as a detached header, with `data_device` (NULL = `device`)
 * as the data device: every key tried and the activation use the copy that was validated, whatever the
 * device says later. -EINVAL = refused, `reason` (one clause, no device name) says which check failed;
 * nothing is ever written to `device`. */
int vs_luks_load_validated(const char *device, uint64_t offset, uint64_t size, const char *data_device,
                           struct vs_luks **ret, char *reason, size_t reason_size);
/* For keyslot writes (sync) on a validated volume: loads the device itself and checks that its header is
 * still the validated one (JSON area and keyslots area); -ESTALE/-EINVAL when it changed (logged). */
int vs_luks_load_for_write(const struct vs_luks *validated, struct vs_luks **ret);
/* True for a handle from vs_luks_load_validated() (reads go to the detached copy). */
bool vs_luks_validated(const struct vs_luks *l);
/* 1 when DEVICE holds what a power cut inside crypt_format leaves before its first header write completed:
 * a primary LUKS2 binary header whose checksum does not verify, no secondary header at any offset LUKS2
 * allows, and no keyslot in the primary JSON area. No key was ever added, so nothing can be stored on the
 * volume: it counts as empty. 0 for anything else (a valid or a damaged real header), negative errno when
 * DEVICE cannot be read. */
int vs_luks_format_interrupted(const char *device);

/* The subsystem field vs_luks_format() writes. The caller clears it once the first keyslot and its token
 * are on disk, before the volume is first activated: a header that still holds it never held data, so a
 * power cut between the first keyslot and its token (a tpm or kms key without its sealed secret) leaves a
 * volume that counts as empty, not one no key opens. */
#define VS_LUKS_FORMATTING "volseal-formatting"
/* Formats `device` as LUKS2 with volume key `vk` (its length must match key_bits/8), a 1000-iteration
 * PBKDF2 volume-key digest and subsystem VS_LUKS_FORMATTING. No keyslot yet. */
int vs_luks_format(const char *device, const struct vs_luks_format_params *p, const struct vs_secret *vk,
                   struct vs_luks **ret);
void vs_luks_free(struct vs_luks *l);
static inline void vs_luks_freep(struct vs_luks **l) { vs_luks_free(*l); *l = NULL; }
#define _cleanup_luks_ __attribute__((cleanup(vs_luks_freep)))

/* Bytes of the volume key (64 for aes-xts-plain64 512). */
size_t vs_luks_volume_key_size(struct vs_luks *l);
/* 1 when keyslot `slot` holds a key, 0 when free. */
int vs_luks_slot_active(struct vs_luks *l, unsigned slot);
/* Is keyslot `slot` active and bound to the data segment (its key is the segment's volume key)? */
bool vs_luks_slot_bound(struct vs_luks *l, unsigned slot);
/* The KDF type of an active keyslot ("argon2id", "pbkdf2", ...), for status. */
int vs_luks_slot_kdf(struct vs_luks *l, unsigned slot, char *buf, size_t size);

/* Derives the volume key from keyslot `slot` only. -EPERM: the passphrase does not open that slot;
 * -ENOENT: the slot is empty. Nothing is logged for those two (the caller reports them). */
int vs_luks_volume_key(struct vs_luks *l, unsigned slot, const struct vs_secret *pass, struct vs_secret **ret_vk);
/* Tests `pass` against keyslot `slot` only, check-only (crypt_activate_by_passphrase with a NULL name). */
int vs_luks_test_passphrase(struct vs_luks *l, unsigned slot, const struct vs_secret *pass);
/* Writes keyslot `slot` (must be free) holding `vk` under `pass`, argon2id tuned by `pbkdf`. */
int vs_luks_add_slot(struct vs_luks *l, unsigned slot, const struct vs_secret *vk, const struct vs_secret *pass,
                     const struct vs_pbkdf *pbkdf);
/* Destroys keyslot `slot` (its key material is overwritten). A free slot is fine. */
int vs_luks_destroy_slot(struct vs_luks *l, unsigned slot);

/* Token `id` as JSON (caller owns it); -ENOENT when there is none. */
int vs_luks_token_get(struct vs_luks *l, unsigned id, struct json_object **ret);
/* Writes token `id` = `token` with "keyslots": ["slot"] set (the keyslot must exist); NULL removes it. */
int vs_luks_token_set(struct vs_luks *l, unsigned id, struct json_object *token, int slot);

/* Activation flags from the config (enum vs_perf_flag of config.h, allowDiscards). */
struct vs_luks_activation {
        unsigned perf_flags;
        bool allow_discards;
};
/* Activates the volume as `name` with the volume key; name NULL = check-only (verifies the key against the
 * header digest, needs no device-mapper). -EEXIST when `name` is already active, -EOPNOTSUPP when
 * device-mapper is not available. */
int vs_luks_activate(struct vs_luks *l, const char *name, const struct vs_secret *vk, const struct vs_luks_activation *a);
/* 1 when a mapping called `name` exists, 0 when not (or device-mapper is unavailable). */
int vs_luks_mapping_active(const char *name);

/* The header's subsystem field (volseal keeps its sync fingerprint there, docs/operations.md). */
const char *vs_luks_subsystem(struct vs_luks *l);
int vs_luks_set_subsystem(struct vs_luks *l, const char *subsystem);

/* `volseal wipe`: loads any LUKS header (1 or 2) on `device` and destroys every keyslot. Returns the
 * number destroyed, or -errno. */
int vs_luks_destroy_all_slots(const char *device);
