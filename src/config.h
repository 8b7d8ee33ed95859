/* config.h: Talos-style YAML documents -> validated volume specs.
 * Promise: vs_config_load() reads every document of every file, keeps VolumeConfig and UserVolumeConfig,
 * skips other kinds, and validates everything before returning; on error nothing is returned and each
 * problem is reported as "FILE:LINE:COL: document KIND NAME: field F: problem (allowed: ...)".
 * Pure: no TPM, no disks; static passphrases are held in struct vs_secret. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "secret.h"

#define VS_MAX_SLOTS 32
#define VS_MAX_PCRS 24

enum vs_key_kind { VS_KEY_STATIC, VS_KEY_NODEID, VS_KEY_KMS, VS_KEY_TPM, _VS_KEY_KIND_MAX };

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
        uint32_t tpm_pcrs;                 /* tpm: bit i = PCR i (SHA-256 bank); 0 = no PolicyPCR */
};

struct vs_encryption_config {
        char *provider;                    /* "luks2" */
        struct vs_key_config *keys;        /* sorted by slot */
        size_t n_keys;
        char *cipher;                      /* "aes-xts-plain64" default */
        unsigned key_size;                 /* bits; 512 for XTS, 256 for Adiantum when not given */
        unsigned block_size;               /* sector size in bytes, 0 = libcryptsetup's choice */
        unsigned perf_flags;               /* enum vs_perf_flag */
        bool allow_discards;
};

enum vs_volume_kind { VS_VOLUME_SYSTEM, VS_VOLUME_USER };

struct vs_volume_config {
        enum vs_volume_kind kind;
        char *name;                        /* STATE, EPHEMERAL, ... or the user volume name */
        char *id;                          /* volume ID = PARTLABEL: STATE, EPHEMERAL, u-<name> */
        bool encrypted;                    /* false: no encryption block */
        struct vs_encryption_config enc;
        char *source;                      /* "FILE:LINE" of the document, for messages */
};

struct vs_config {
        struct vs_volume_config *volumes;  /* STATE first, then EPHEMERAL, other system volumes, user volumes */
        size_t n_volumes;
};

/* Loads and validates. Returns 0, -EINVAL on a config error (already reported), or -errno for I/O. */
int vs_config_load(struct vs_config *cfg, const char *const *files, size_t n_files);
/* Same from a memory buffer, `name` used in messages (tests, META). */
int vs_config_load_string(struct vs_config *cfg, const char *name, const char *yaml, size_t len);
void vs_config_free(struct vs_config *cfg);

const struct vs_volume_config *vs_config_find(const struct vs_config *cfg, const char *id);
/* Validates one encryption config built by another reader (META tag 9): the same rules as YAML. */
int vs_encryption_validate(const struct vs_encryption_config *enc, const char *volume_id, const char *where);
void vs_encryption_config_done(struct vs_encryption_config *enc);

const char *vs_key_kind_name(enum vs_key_kind kind);   /* "static", "nodeID", "kms", "tpm" */
bool vs_cipher_is_adiantum(const char *cipher);

/* Normalized JSON of one volume (passphrases redacted) for `config show`. Caller owns the object. */
struct json_object *vs_volume_config_to_json(const struct vs_volume_config *v);
