/* pcr.h: public header of libvolseal-pcr: TCG event log parse/replay/write, volseal's own measurement log,
 * PCR 7 prediction from EFI variable contents, and offline verification of TPM quotes.
 * Promise: pure functions over bytes; no TPM and no disk I/O (callers read files and pass buffers).
 * Every length read from a log or a file is bounds-checked; a malformed input gives -EBADMSG and one
 * log_error() naming the record (index and byte offset) and the field. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCR_NUM 24
#define PCR_DIGEST_MAX 64
#define PCR_BANKS_MAX 5

/* TCG algorithm ids (TPM2_ALG_*). */
#define PCR_ALG_SHA1   0x0004
#define PCR_ALG_SHA256 0x000B
#define PCR_ALG_SHA384 0x000C
#define PCR_ALG_SHA512 0x000D

/* Event types (TCG PC Client Platform Firmware Profile). */
#define PCR_EV_PREBOOT_CERT                  0x00000000u
#define PCR_EV_POST_CODE                     0x00000001u
#define PCR_EV_NO_ACTION                     0x00000003u
#define PCR_EV_SEPARATOR                     0x00000004u
#define PCR_EV_ACTION                        0x00000005u
#define PCR_EV_EVENT_TAG                     0x00000006u
#define PCR_EV_S_CRTM_CONTENTS               0x00000007u
#define PCR_EV_S_CRTM_VERSION                0x00000008u
#define PCR_EV_CPU_MICROCODE                 0x00000009u
#define PCR_EV_PLATFORM_CONFIG_FLAGS         0x0000000Au
#define PCR_EV_TABLE_OF_DEVICES              0x0000000Bu
#define PCR_EV_COMPACT_HASH                  0x0000000Cu
#define PCR_EV_IPL                           0x0000000Du
#define PCR_EV_IPL_PARTITION_DATA            0x0000000Eu
#define PCR_EV_NONHOST_CODE                  0x0000000Fu
#define PCR_EV_NONHOST_CONFIG                0x00000010u
#define PCR_EV_NONHOST_INFO                  0x00000011u
#define PCR_EV_OMIT_BOOT_DEVICE_EVENTS       0x00000012u
#define PCR_EV_EFI_VARIABLE_DRIVER_CONFIG    0x80000001u
#define PCR_EV_EFI_VARIABLE_BOOT             0x80000002u
#define PCR_EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define PCR_EV_EFI_BOOT_SERVICES_DRIVER      0x80000004u
#define PCR_EV_EFI_RUNTIME_SERVICES_DRIVER   0x80000005u
#define PCR_EV_EFI_GPT_EVENT                 0x80000006u
#define PCR_EV_EFI_ACTION                    0x80000007u
#define PCR_EV_EFI_PLATFORM_FIRMWARE_BLOB    0x80000008u
#define PCR_EV_EFI_HANDOFF_TABLES            0x80000009u
#define PCR_EV_EFI_PLATFORM_FIRMWARE_BLOB2   0x8000000Au
#define PCR_EV_EFI_HANDOFF_TABLES2           0x8000000Bu
#define PCR_EV_EFI_VARIABLE_BOOT2            0x8000000Cu
#define PCR_EV_EFI_HCRTM_EVENT               0x80000010u
#define PCR_EV_EFI_VARIABLE_AUTHORITY        0x800000E0u
#define PCR_EV_EFI_SPDM_FIRMWARE_BLOB        0x800000E1u
#define PCR_EV_EFI_SPDM_FIRMWARE_CONFIG      0x800000E2u
/* Not a TCG type: an extend volseal made itself, read from /run/volseal/tpm2-measure.log. */
#define PCR_EV_VOLSEAL_MEASURE               0xFFFFFFFFu

/* GUIDs in their on-disk (EFI_GUID, mixed-endian) byte order. */
extern const uint8_t pcr_guid_efi_global[16];         /* 8be4df61-93ca-11d2-aa0d-00e098032b8c */
extern const uint8_t pcr_guid_image_security_db[16];  /* d719b2cb-3d3a-4596-a3bc-dad00e67656f */
extern const uint8_t pcr_guid_cert_sha256[16];        /* c1c41626-504c-4092-aca9-41f936934328 */
extern const uint8_t pcr_guid_cert_x509[16];          /* a5c059a1-94e4-4aa7-87b5-ab155c2bf072 */
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" <-> EFI_GUID bytes. */
int pcr_guid_parse(const char *s, uint8_t out[16]);
void pcr_guid_format(const uint8_t guid[16], char out[37]);

struct pcr_digest {
        uint16_t alg;
        uint16_t size;
        uint8_t d[PCR_DIGEST_MAX];
};

enum pcr_event_source {
        PCR_SOURCE_FIRMWARE = 0, /* the TCG binary log (firmware, boot loader, stub) */
        PCR_SOURCE_VOLSEAL = 1,  /* volseal's measurement log */
};

struct pcr_event {
        uint32_t pcr;
        uint32_t type;
        size_t n_digests;
        struct pcr_digest digests[PCR_BANKS_MAX];
        uint8_t *data;       /* owned copy of the event data */
        size_t data_size;
        size_t offset;       /* byte offset of the record in its log (or record number for JSON-seq) */
        enum pcr_event_source source;
        char *text;          /* volseal log: content string (owned); NULL otherwise */
};

enum pcr_log_format {
        PCR_LOG_NONE = 0,       /* no firmware log (only volseal's log was read) */
        PCR_LOG_SHA1 = 1,       /* legacy TCG_PCClientPCREvent records, SHA-1 only */
        PCR_LOG_CRYPTO_AGILE = 2, /* Spec ID Event03 header + TCG_PCR_EVENT2 records */
};

struct pcr_alg {
        uint16_t alg;
        uint16_t size;
};

struct pcr_eventlog {
        enum pcr_log_format format;
        size_t n_algs;
        struct pcr_alg algs[PCR_BANKS_MAX]; /* banks declared by the header (or SHA-1 for legacy) */
        bool has_startup_locality;
        uint8_t startup_locality;           /* from the StartupLocality EV_NO_ACTION event */
        bool hcrtm;                         /* an EV_EFI_HCRTM_EVENT was logged: PCR 0 starts at 4 */
        struct pcr_event *events;
        size_t n_events;
};

struct pcr_bank {
        uint16_t alg;
        uint16_t size;
        uint8_t v[PCR_NUM][PCR_DIGEST_MAX];
        uint32_t n_extends[PCR_NUM];
};

struct pcr_values {
        size_t n_banks;
        struct pcr_bank banks[PCR_BANKS_MAX];
};

/* Algorithms: name ("sha256") <-> id, digest size (0 if unknown), hash (-EOPNOTSUPP if unknown). */
const char *pcr_alg_name(uint16_t alg);
int pcr_alg_from_name(const char *name, uint16_t *ret);
uint16_t pcr_alg_size(uint16_t alg);
int pcr_hash(uint16_t alg, const void *data, size_t size, uint8_t *out);
const char *pcr_event_type_name(uint32_t type); /* "EV_SEPARATOR"; NULL when unknown */
int pcr_event_type_from_name(const char *name, uint32_t *ret);

/* Parses a TCG event log (crypto-agile or legacy SHA-1) into `log` (zeroed by the caller or freshly
 * declared `= {}`). `what` names the source in errors. -EBADMSG on malformed input. */
int pcr_eventlog_parse(struct pcr_eventlog *log, const uint8_t *buf, size_t size, const char *what);
/* Appends the records of volseal's JSON-seq measurement log (RFC 7464: 0x1E JSON '\n' per record) as
 * PCR_EV_VOLSEAL_MEASURE events. A truncated last record (no '\n') is ignored, as systemd does. */
int pcr_eventlog_add_measure_log(struct pcr_eventlog *log, const char *buf, size_t size, const char *what);
void pcr_eventlog_free(struct pcr_eventlog *log);

/* Replays every extend into per-bank PCR values. Banks: those of the firmware log (or those named in
 * volseal's log when there is no firmware log). PCR 0 starts at the startup locality (4 with H-CRTM).
 * Volseal events for a bank the firmware log does not declare are ignored. */
int pcr_eventlog_replay(const struct pcr_eventlog *log, struct pcr_values *out);
const struct pcr_bank *pcr_values_bank(const struct pcr_values *v, uint16_t alg);

/* Decoded views of event data (pointers into the event's data). */
struct pcr_efi_variable {
        uint8_t guid[16];
        char name[128];         /* UTF-16 name as UTF-8 (non-ASCII as '?') */
        const uint8_t *data;
        size_t data_size;
};
int pcr_decode_efi_variable(const uint8_t *buf, size_t size, struct pcr_efi_variable *out);
/* Builds UEFI_VARIABLE_DATA {GUID, u64 name chars, u64 data length, UTF-16 name (no NUL), data}. */
int pcr_efi_variable_data(const uint8_t guid[16], const char *name, const void *data, size_t size,
                          uint8_t **ret, size_t *ret_size);
/* The event as JSON (type name, pcr, digests, and the decoded fields of the kinds listed in pcr.md). */
struct json_object *pcr_event_to_json(const struct pcr_event *ev);
/* One-line human description of the decoded data ("SecureBoot 8be4df61-...: 1 byte", "\"grub\"", ...). */
char *pcr_event_describe(const struct pcr_event *ev);

/* Event log writer (tests, boot simulator): crypto-agile with the given banks, or legacy SHA-1. */
struct pcr_log_writer {
        bool legacy;
        size_t n_algs;
        struct pcr_alg algs[PCR_BANKS_MAX];
        uint8_t *buf;
        size_t size, allocated;
};
int pcr_writer_init(struct pcr_log_writer *w, bool legacy, const uint16_t *algs, size_t n_algs);
/* An EV_NO_ACTION StartupLocality event (crypto-agile only). */
int pcr_writer_startup_locality(struct pcr_log_writer *w, uint8_t locality);
/* One record: digests are each bank's hash of `digest_input` (of `data` when digest_input is NULL);
 * EV_NO_ACTION records get zero digests. `out` (may be NULL) receives the digests. */
int pcr_writer_add(struct pcr_log_writer *w, uint32_t pcr, uint32_t type, const void *data, size_t size,
                   const void *digest_input, size_t digest_input_size, struct pcr_digest out[PCR_BANKS_MAX]);
/* One record with caller-given digests (one per bank, in the writer's bank order). */
int pcr_writer_add_digests(struct pcr_log_writer *w, uint32_t pcr, uint32_t type, const void *data,
                           size_t size, const struct pcr_digest *digests, size_t n_digests);
void pcr_writer_free(struct pcr_log_writer *w);

/* EFI signature lists. */
struct pcr_esl_entry {
        uint8_t type[16];   /* SignatureType GUID */
        uint8_t owner[16];
        const uint8_t *data;
        size_t size;        /* SignatureSize - 16 */
};
/* Validates an EFI_SIGNATURE_LIST sequence; n_entries counts EFI_SIGNATURE_DATA items (may be NULL). */
int pcr_esl_validate(const uint8_t *buf, size_t size, size_t *n_entries, const char *what);
/* Calls `fn` for each EFI_SIGNATURE_DATA; stops and returns fn's value when it is non-zero. */
int pcr_esl_foreach(const uint8_t *buf, size_t size, int (*fn)(const struct pcr_esl_entry *e, void *ud), void *ud);
/* Accepts a bare ESL or an authenticated-variable file (.auth: EFI_VARIABLE_AUTHENTICATION_2 + ESL) and
 * returns the ESL payload (copy). *was_auth says which it was. */
int pcr_esl_from_file_data(const uint8_t *buf, size_t size, const char *what, uint8_t **ret, size_t *ret_size,
                           bool *was_auth);
/* EDK2's append write: `add`'s signatures already in `cur` (same type, size and bytes) are dropped, the
 * rest appended as lists; lists left empty are dropped. */
int pcr_esl_append(const uint8_t *cur, size_t cur_size, const uint8_t *add, size_t add_size,
                   uint8_t **ret, size_t *ret_size);

/* PCR 7 prediction. */
enum pcr_sb_var { PCR_SB_SECUREBOOT, PCR_SB_PK, PCR_SB_KEK, PCR_SB_DB, PCR_SB_DBX, _PCR_SB_MAX };
struct pcr_sb_vars {
        struct {
                bool present;
                uint8_t *data;  /* owned */
                size_t size;
        } v[_PCR_SB_MAX];
};
const char *pcr_sb_var_name(enum pcr_sb_var v);
const uint8_t *pcr_sb_var_guid(enum pcr_sb_var v);
void pcr_sb_vars_free(struct pcr_sb_vars *vars);
/* Replays `log` with every PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG event of SecureBoot/PK/KEK/db/dbx recomputed
 * from `vars`; other events keep their logged digests. Returns 0 with `out` filled, or 1 ("unknown") with
 * *reason set (owned) when a logged db authority is not in the new db, is revoked by the new dbx, or a
 * logged boot application's SHA-256 hash is in the new dbx. */
int pcr_predict_pcr7(const struct pcr_eventlog *log, const struct pcr_sb_vars *vars, struct pcr_values *out,
                     char **reason);

/* Offline verification of a TPM2_Quote (see docs/pcr.md "quote.json"). */
struct pcr_quote_check {
        const uint8_t *attest;      /* TPMS_ATTEST as the TPM marshalled it */
        size_t attest_size;
        const uint8_t *signature;   /* TPMT_SIGNATURE, marshalled */
        size_t signature_size;
        const char *ak_pem;         /* trusted (enrolled) AK public key, PEM SubjectPublicKeyInfo */
        const uint8_t *nonce;
        size_t nonce_size;
        const struct pcr_eventlog *log; /* may be NULL: then only the quoted values are returned */
};
struct pcr_quote_result {
        struct pcr_values quoted;   /* values of the quoted PCRs, from the replayed log */
        bool selected[PCR_BANKS_MAX][PCR_NUM];
};
/* Verifies signature (ECDSA P-256/SHA-256 or RSA), magic, type, nonce, and that the replayed log gives the
 * quoted PCR digest. Returns 0 when all hold, -EBADMSG malformed, -EPERM a check failed (logged once). */
int pcr_quote_verify(const struct pcr_quote_check *c, struct pcr_quote_result *res);

/* hex helpers */
char *pcr_hex(const uint8_t *d, size_t n);
int pcr_unhex(const char *s, uint8_t *out, size_t max, size_t *n);
