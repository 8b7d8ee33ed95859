/* keys.h: one vtable for every key kind (static, nodeID, tpm, kms; volseal's updatable tpm and recovery) and
 * the per-run context they share.
 * Promise: volume.c never knows how a passphrase is made; a kind never touches the LUKS header. A kind
 * returns the passphrase in a struct vs_secret; lockToSTATE's salt is appended by vs_key_new()/vs_key_get()
 * (the kinds never see it). Expected failures (wrong UUID, PCRs changed, KMS down) are not logged by the
 * kind: it records one sentence with vs_key_reason() and volume.c reports it with the slot. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "config.h"
#include "secret.h"

/* Created once per `volseal unlock`/`status` run, shared by every volume, so a TPM context (SRK, loaded PCR
 * key) or an HTTP/2 connection is made once and reused. Kinds keep their state in kind_state[their kind]
 * and free it in their run_done. Paths are NULL when not given: the kind applies its default. */
struct vs_key_run {
        const char *tcti;                /* --tcti, else $VOLSEAL_TCTI, else NULL (kind's default) */
        const char *pcr_signature_path;  /* --pcr-signature, default /.extra/tpm2-pcr-signature.json */
        const char *pcr_public_key_path; /* --pcr-public-key, default /.extra/tpm2-pcr-public-key.pem */
        const char *product_uuid_file;   /* --product-uuid-file, default /sys/class/dmi/id/product_uuid */
        const char *dmi_dir;             /* SMBIOS tables when the kernel hides product_uuid (all-0/all-FF UUIDs),
                                          * default /sys/firmware/dmi/tables (tests set it) */
        const char *uuid_override;       /* META tag 15 (docs/meta.md); wins over product_uuid_file */
        const char *state_dir;           /* --state-dir: STATE is mounted there (lockToSTATE salt) */
        bool create_salt;                /* unlock: create the salt when STATE is mounted and it is absent */
        bool debug_tpm;                  /* --debug-tpm: let tpm2-tss log (it logs secrets) */
        bool no_reseal;                  /* token plugin: report a failed unseal as it is, without the re-seal
                                          * gate's verdict (there is no sync to act on it) */
        unsigned kms_timeout_ms;         /* 0 = 10 s */
        const char *kms_ca_file;         /* --kms-ca: PEM CA bundle for TLS KMS endpoints; NULL = system store */
        const char *recovery_key_out;    /* --recovery-key-out: where a new recovery key is written (once) */
        const char *recovery_key_file;   /* --recovery-key-file: the recovery key as the operator holds it */
        void *kind_state[_VS_KEY_KIND_MAX];
        void *updatable_state;           /* the updatable tpm kind's (it shares kind_state[VS_KEY_TPM]) */
        struct vs_secret *salt;          /* loaded on first use by vs_key_run_salt() */
        char reason[512];                /* the last vs_key_reason() */
};

/* The volume a key is for. */
struct vs_key_volume {
        const char *id;                  /* volume ID = PARTLABEL: STATE, EPHEMERAL, u-<name> */
        const char *device;              /* block device or image file */
};

struct vs_key_ops {
        enum vs_key_kind kind;
        const char *name;                /* "static", "nodeID", "tpm", "kms" */
        const char *token_type;          /* LUKS2 token type it writes at id = slot ("talos-tpm2", "sideroKMS"),
                                          * NULL = none (a token found at its slot is stale and removed) */
        bool minimal_pbkdf;              /* true: a random high-entropy secret -> argon2id minimum;
                                          * false: low entropy -> benchmarked argon2id */
        bool human_held;                 /* the operator holds the key (recovery): get_key without it is
                                          * -ENOMEDIUM (the slot is not checked, which is no failure); a slot
                                          * its key does not open is never replaced; the key is never part
                                          * of the sync fingerprint */
        /* Whether a key of this kind can be enrolled now: 1 yes; 0 pending (reason in run->reason, e.g.
         * "no signed PCR policy: enrolment waits for a boot of a signed UKI"); <0 error. NULL = always 1. */
        int (*can_enroll)(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key);
        /* Enrolment: makes a new passphrase for keyslot `slot` and, when token_type is set, the token JSON to
         * store at token id `slot` (without "keyslots": volume.c sets it after the keyslot exists). */
        int (*new_key)(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                       unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token);
        /* Unlock/verify: the passphrase for keyslot `slot` given the token found at id `slot`: for a kind with
         * token_type, volume.c calls this only with a token of that type (a missing/foreign token is
         * handled as stale before); for kinds without a token it is NULL or a stale token to ignore.
         * Returns 0; -ENOKEY when the token is missing/foreign or the key can no longer be recovered and the
         * kind allows sync to replace the slot with a new key; any other -errno: the slot failed (reason in
         * run->reason) and sync leaves it alone. */
        int (*get_key)(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                       unsigned slot, struct json_object *token, struct vs_secret **ret_pass);
        /* Frees run->kind_state[kind] (TPM context, connection). NULL = nothing to free. */
        void (*run_done)(struct vs_key_run *run);
};

extern const struct vs_key_ops vs_key_ops_static;
extern const struct vs_key_ops vs_key_ops_nodeid;
extern const struct vs_key_ops vs_key_ops_tpm;
extern const struct vs_key_ops vs_key_ops_kms;
extern const struct vs_key_ops vs_key_ops_tpm_updatable;
extern const struct vs_key_ops vs_key_ops_recovery;

/* tpm: `volseal tpm reseal --force`: every failed unseal in this run asks sync to re-seal the slot (-ENOKEY),
 * bypassing the SecureBoot/PK/KEK/db gate. */
void vs_key_tpm_force_reseal(struct vs_key_run *run);

/* tpm: checks a talos-tpm2 token as get_key would read it (UserData, sealed blobs as TPM2B in base64,
 * policy_hash of 32 bytes, key_name, pcrs), without a TPM. 0, or -EBADMSG with the sentence in run->reason. */
int vs_key_tpm_token_check(struct vs_key_run *run, unsigned slot, struct json_object *token);

/* The node UUID as Talos holds it (META tag 15 when not empty, byte for byte; else the SMBIOS UUID, all-0
 * and all-FF included, "" when the firmware has none): the kms kind sends it as node_uuid, unchecked, as
 * Talos does; the nodeID kind refuses an empty or low-entropy one. Reason recorded on failure. */
int vs_key_node_uuid(struct vs_key_run *run, char *buf, size_t size);
/* The system UUID of an SMBIOS structure table as go-smbios formats it (lower-case 8-4-4-4-12; the first
 * three fields little-endian from SMBIOS 2.6): "" when the table has no system information. Pure. */
int vs_smbios_uuid(const uint8_t *table, size_t len, unsigned major, unsigned minor, char *buf, size_t size);

/* The kind's ops, or NULL when that kind is not built yet. */
const struct vs_key_ops *vs_key_ops_get(enum vs_key_kind kind);
/* The ops of a configured key: its kind's, the updatable tpm kind's for `tpm: {updatable: true}`. */
const struct vs_key_ops *vs_key_ops_for(const struct vs_key_config *key);

/* updatable tpm: after an unlock with --state-dir, retires the states of the node's NV index that are older
 * than the one the machine booted in (docs/tpm-updatable.md "Revocation"): 0 (also when there is no
 * authority yet, or the booted state is not authorized), the count retired, or -errno (logged). */
int vs_key_updatable_settle(struct vs_key_run *run);
/* updatable tpm: the node's authorized set as this run read it (from a slot's token or the authority), for
 * `status` and `unlock` to show; -ENOENT when no index was read in this run. */
struct authnv_set;
int vs_key_updatable_view(struct vs_key_run *run, uint32_t *ret_handle, struct authnv_set *ret);

/* Records why a key could not be made or recovered (one sentence, no secrets), logs it at debug level and
 * returns -abs(err). */
__attribute__((format(printf, 3, 4)))
int vs_key_reason(struct vs_key_run *run, int err, const char *fmt, ...);

/* The wrappers volume.c uses: they dispatch to the kind, and append the lockToSTATE salt. -ENOSYS (reason
 * set) when the kind is not built. */
int vs_key_can_enroll(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key);
int vs_key_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
               unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token);
int vs_key_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
               unsigned slot, struct json_object *token, struct vs_secret **ret_pass);
/* The lockToSTATE salt (loaded, or created when run->create_salt). -EAGAIN when no --state-dir. */
int vs_key_run_salt(struct vs_key_run *run, const struct vs_secret **ret);
/* Ends a run: every kind's run_done, the salt wiped. */
void vs_key_run_done(struct vs_key_run *run);
