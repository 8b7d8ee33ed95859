/* config.h: a Talos machine config (its YAML documents) -> validated volume specs.
 * Promise: vs_config_load() reads every document of every file as Talos does (docs/talos.md): the volume
 * documents VolumeConfig, UserVolumeConfig, RawVolumeConfig and SwapVolumeConfig with every field of
 * Talos's schema, and machine.systemDiskEncryption of the v1alpha1 document for STATE and EPHEMERAL; other
 * documents are skipped. Everything is validated before returning; on error nothing is returned and each
 * problem is reported once as "FILE:LINE:COL: document KIND NAME: field F: problem (allowed: ...)". With
 * VS_CONFIG_TALOS, what volseal accepts beyond Talos (its extensions) is refused the same way.
 * Pure: no TPM, no disks; static passphrases are held in struct vs_secret. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "secret.h"

#define VS_MAX_SLOTS 32
#define VS_MAX_PCRS 24

/* Talos's cipher spellings (go-blockdevice luks.ParseCipherKind); "" in a config means the first. */
#define VS_CIPHER_XTS "aes-xts-plain64"
#define VS_CIPHER_XCHACHA12 "xchacha12,aes-adiantum-plain64"
#define VS_CIPHER_XCHACHA20 "xchacha20,aes-adiantum-plain64"

/* Talos's four kinds in Talos's precedence (static > nodeID > kms > tpm), then volseal's extension: a
 * recovery key (docs/tpm-updatable.md), which Talos does not know. */
enum vs_key_kind { VS_KEY_STATIC, VS_KEY_NODEID, VS_KEY_KMS, VS_KEY_TPM, VS_KEY_RECOVERY, _VS_KEY_KIND_MAX };
/* The kinds Talos's Go value has members for (KeyStatic .. KeyTPM). */
#define VS_KEY_TALOS_KINDS (VS_KEY_TPM + 1)
/* An updatable tpm slot binds at most this many literal PCRs, so that at least two states fit its NV index
 * (the booted one and a prepared one). */
#define VS_UPDATABLE_MAX_PCRS 4

enum vs_perf_flag {
        VS_PERF_NO_READ_WORKQUEUE = 1u << 0,
        VS_PERF_NO_WRITE_WORKQUEUE = 1u << 1,
        VS_PERF_SAME_CPU_CRYPT = 1u << 2,
};

struct vs_key_config {
        unsigned slot;
        enum vs_key_kind kind;
        bool lock_to_state;
        struct vs_secret *passphrase;      /* static */
        char *kms_endpoint;                /* kms */
        bool tpm_check_secureboot;         /* tpm: checkSecurebootStatusOnEnroll */
        uint32_t tpm_pcrs;                 /* tpm: bit i = PCR i (SHA-256 bank) bound with PolicyPCR after the
                                            * signed PCR 11 policy; 0 = none. PCR 11 may be listed too. */
        bool tpm_updatable;                /* tpm: updatable (volseal extension, docs/tpm-updatable.md): the
                                            * authorized PCR keys and states of tpm_pcrs live in volseal's NV
                                            * index and change without a re-seal */
};

struct vs_encryption_config {
        char *provider;                    /* "luks2" */
        struct vs_key_config *keys;        /* sorted by slot */
        size_t n_keys;
        char *cipher;                      /* VS_CIPHER_* */
        unsigned key_size;                 /* bits; 512 for XTS, 256 for Adiantum when not given */
        unsigned block_size;               /* sector size in bytes, 0 = libcryptsetup's choice */
        unsigned perf_flags;               /* enum vs_perf_flag */
        bool allow_discards;
        /* The Go value Talos holds for this config (block EncryptionSpec or v1alpha1 EncryptionConfig): Go
         * field order, nulls for pointers not set, keys in file order. META tag 9 is its json.Marshal
         * (meta-config.c). NULL when the config was built otherwise. */
        struct json_object *talos_value;
};

enum vs_volume_kind { VS_VOLUME_SYSTEM, VS_VOLUME_USER, VS_VOLUME_RAW, VS_VOLUME_SWAP };

/* How Talos backs the volume: a GPT partition labelled with the volume ID, a whole disk that a CEL disk
 * selector picks (no label: unlock needs --volume ID=DEVICE), or a directory under EPHEMERAL (no block
 * device of its own: nothing to unlock). */
enum vs_volume_type { VS_VOLUME_PARTITION, VS_VOLUME_DISK, VS_VOLUME_DIRECTORY };

struct vs_volume_config {
        enum vs_volume_kind kind;
        enum vs_volume_type type;
        char *name;                        /* STATE, EPHEMERAL, ... or the user/raw/swap volume name */
        char *id;                          /* volume ID: STATE, EPHEMERAL, u-<name>, r-<name>, s-<name> */
        bool encrypted;                    /* false: Talos leaves it unencrypted */
        bool from_v1alpha1;                /* encryption from machine.systemDiskEncryption */
        struct vs_encryption_config enc;
        char *source;                      /* "FILE:LINE" of the document, for messages */
};

struct vs_config {
        /* STATE first, then EPHEMERAL, other system volumes, user, raw, swap volumes in file order */
        struct vs_volume_config *volumes;
        size_t n_volumes;
};

enum vs_config_flag {
        VS_CONFIG_TALOS = 1u << 0,         /* refuse volseal's extensions (what Talos would refuse) */
};

/* Loads and validates. Returns 0, -EINVAL on a config error (already reported), or -errno for I/O. */
int vs_config_load(struct vs_config *cfg, const char *const *files, size_t n_files);
int vs_config_load_flags(struct vs_config *cfg, const char *const *files, size_t n_files, unsigned flags);
/* Same from a memory buffer, `name` used in messages (tests, META). */
int vs_config_load_string(struct vs_config *cfg, const char *name, const char *yaml, size_t len);
int vs_config_load_string_flags(struct vs_config *cfg, const char *name, const char *yaml, size_t len, unsigned flags);
/* Frees what a volume holds and zeroes it. */
void vs_volume_config_done(struct vs_volume_config *v);
void vs_config_free(struct vs_config *cfg);

const struct vs_volume_config *vs_config_find(const struct vs_config *cfg, const char *id);
/* Validates one encryption config built by another reader (META tag 9): the same rules as YAML. */
int vs_encryption_validate(const struct vs_encryption_config *enc, const char *volume_id, const char *where);
void vs_encryption_config_done(struct vs_encryption_config *enc);

const char *vs_key_kind_name(enum vs_key_kind kind);   /* "static", "nodeID", "kms", "tpm", "recovery" */
/* A key's name in reports: its kind's, "tpm-updatable" for an updatable tpm key. */
const char *vs_key_config_name(const struct vs_key_config *k);
/* Whether any volume of the config has an updatable tpm key (the node's one set of literal PCRs in
 * *ret_pcrs, optional). */
bool vs_config_has_updatable(const struct vs_config *cfg, uint32_t *ret_pcrs);
const char *vs_volume_kind_name(enum vs_volume_kind kind); /* "VolumeConfig", "UserVolumeConfig", ... */
const char *vs_volume_type_name(enum vs_volume_type type); /* "partition", "disk", "directory" */
bool vs_cipher_is_adiantum(const char *cipher);
/* Splits a VS_CIPHER_* spelling into libcryptsetup's cipher and mode ("aes" + "xts-plain64",
 * "xchacha12,aes" + "adiantum-plain64"); NULL and "" mean aes-xts-plain64. -EINVAL for another cipher. */
int vs_cipher_split(const char *cipher, char *ret_cipher, size_t size, const char **ret_mode);
/* The perf option's name ("no_read_workqueue"), or NULL. */
const char *vs_perf_flag_name(unsigned flag);
/* Parses one perf option name; 0 when unknown. */
unsigned vs_perf_flag_parse(const char *name);

/* Normalized JSON of one volume (passphrases redacted) for `config show`. Caller owns the object. */
struct json_object *vs_volume_config_to_json(const struct vs_volume_config *v);
