/* config-encryption.c: an encryption section of a Talos config -> struct vs_encryption_config, plus the Go
 * value Talos holds for it (config.h talos_value). Two shapes (docs/talos.md "Encryption"):
 *   block EncryptionSpec (VolumeConfig and the other volume documents): provider (required with keys:
 *     Talos refuses "none"), keys (slot, static, nodeID, kms, tpm {options {pcrs}, checkSecurebootStatus
 *     OnEnroll}, lockToState), cipher, keySize, blockSize, options, allowDiscards;
 *   v1alpha1 EncryptionConfig (machine.systemDiskEncryption): provider ("" = luks2, a name Talos cannot
 *     parse = none), keys (static, nodeID, kms, slot, tpm {checkSecurebootStatusOnEnroll}; TPM keys
 *     always bind PCR 7), cipher, keySize, blockSize, options.
 * The semantic rules live in one function (encryption_check) shared with META tag 9. */
#include "config-internal.h"
#include "kms/endpoint.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <strings.h>

/* ---- the rules, shared by YAML and META ---- */

typedef void (*report_fn)(void *userdata, int key_index, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* An updatable slot's literal PCRs are the states its NV index authorizes (docs/tpm-updatable.md): PCR 11
 * is bound through the signed policy only, and at most VS_UPDATABLE_MAX_PCRS fit two states. */
static int check_updatable(const struct vs_key_config *k, int i, report_fn report, void *ud) {
        if (k->tpm_pcrs & (1u << 11)) {
                report(ud, i, "tpm.options.pcrs", "an updatable tpm key binds PCR 11 through the signed policy only: "
                       "its literal PCRs cannot include 11");
                return 1;
        }
        if (__builtin_popcount(k->tpm_pcrs) > VS_UPDATABLE_MAX_PCRS) {
                report(ud, i, "tpm.options.pcrs", "an updatable tpm key binds at most %d literal PCRs (its NV index "
                       "must hold the booted state and a prepared one)", VS_UPDATABLE_MAX_PCRS);
                return 1;
        }
        return 0;
}

static int check_key(const struct vs_key_config *k, int i, const char *volume_id, uint32_t *seen, report_fn report,
                     void *ud) {
        int errors = 0;
        if (k->slot >= VS_MAX_SLOTS) {
                report(ud, i, "slot", "slot %u is out of range (allowed: 0-31, the keyslots of LUKS2; Talos accepts the "
                       "number and fails when cryptsetup refuses it)", k->slot);
                errors++;
        } else if (*seen & (1u << k->slot)) {
                report(ud, i, "slot", "duplicate key slot %u (slots must be unique, as Talos requires)", k->slot);
                errors++;
        } else
                *seen |= 1u << k->slot;
        if (k->lock_to_state && volume_id && streq(volume_id, "STATE")) {
                report(ud, i, "lockToState", "state-locked key is not allowed for the \"STATE\" volume (allowed on other volumes only, as in Talos)");
                errors++;
        }
        if (k->kind == VS_KEY_STATIC && (!k->passphrase || k->passphrase->len == 0)) {
                report(ud, i, "static.passphrase", "a static key needs a non-empty passphrase (Talos accepts an empty one and fails when it formats the volume)");
                errors++;
        }
        if (k->kind == VS_KEY_KMS) {
                const char *why = NULL;
                if (vs_kms_endpoint_parse(k->kms_endpoint ? k->kms_endpoint : "", NULL, &why) < 0) {
                        report(ud, i, "kms.endpoint", "endpoint \"%s\" cannot be used: %s", k->kms_endpoint ? k->kms_endpoint : "", why);
                        errors++;
                }
        }
        if (k->kind == VS_KEY_TPM && (k->tpm_pcrs >> VS_MAX_PCRS)) {
                report(ud, i, "tpm.options.pcrs", "TPM PCRs must be 0-23");
                errors++;
        } else if (k->kind == VS_KEY_TPM && k->tpm_updatable)
                errors += check_updatable(k, i, report, ud);
        if (k->kind == VS_KEY_RECOVERY && k->lock_to_state) {
                report(ud, i, "lockToState", "a recovery key is typed by a human as it was written out: it cannot be "
                       "locked to STATE (allowed: lockToState on the other kinds)");
                errors++;
        }
        return errors;
}

static int encryption_check(const struct vs_encryption_config *enc, const char *volume_id, report_fn report, void *ud) {
        int errors = 0;
        if (!enc->provider || !streq(enc->provider, "luks2")) {
                report(ud, -1, "provider", "unsupported encryption provider \"%s\" (allowed: luks2)", enc->provider ? enc->provider : "");
                errors++;
        }
        if (enc->n_keys == 0) {
                report(ud, -1, "keys", "encryption keys are required (allowed kinds: static, nodeID, kms, tpm, recovery)");
                errors++;
        }
        uint32_t seen = 0;
        for (size_t i = 0; i < enc->n_keys; i++)
                errors += check_key(&enc->keys[i], (int) i, volume_id, &seen, report, ud);
        const char *cipher = enc->cipher && *enc->cipher ? enc->cipher : VS_CIPHER_XTS;
        bool xts = streq(cipher, VS_CIPHER_XTS), adiantum = vs_cipher_is_adiantum(cipher);
        if (!xts && !adiantum) {
                bool short_form = streq(cipher, "xchacha12") || streq(cipher, "xchacha20");
                report(ud, -1, "cipher", "unknown cipher \"%s\" (allowed: " VS_CIPHER_XTS ", " VS_CIPHER_XCHACHA12 ", "
                       VS_CIPHER_XCHACHA20 "%s)", cipher, short_form ? "; Talos does not know the short form and fails "
                       "when it opens the volume" : "");
                errors++;
        } else if (enc->key_size != 0 && ((xts && enc->key_size != 256 && enc->key_size != 512) || (adiantum && enc->key_size != 256))) {
                report(ud, -1, "keySize", "key size %u does not fit cipher %s (allowed: %s)", enc->key_size, cipher,
                       xts ? "256 or 512" : "256");
                errors++;
        }
        if (enc->block_size != 0 && enc->block_size != 512 && enc->block_size != 1024 && enc->block_size != 2048 &&
            enc->block_size != 4096) {
                report(ud, -1, "blockSize", "block size %u is not a sector size (allowed: 512, 1024, 2048, 4096)", enc->block_size);
                errors++;
        }
        return errors ? -EINVAL : 0;
}

struct where_ctx { const char *where; };

__attribute__((format(printf, 4, 5)))
static void report_plain(void *userdata, int key_index, const char *field, const char *fmt, ...) {
        struct where_ctx *w = userdata;
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (key_index >= 0)
                log_error("%s: keys[%d].%s: %s", w->where, key_index, field, msg);
        else
                log_error("%s: %s: %s", w->where, field, msg);
}

int vs_encryption_validate(const struct vs_encryption_config *enc, const char *volume_id, const char *where) {
        struct where_ctx w = { where };
        return encryption_check(enc, volume_id, report_plain, &w);
}

/* ---- YAML ---- */

struct enc_ctx {
        struct cy *p;
        const char *field;          /* "encryption" or "machine.systemDiskEncryption.state" */
        enum enc_shape shape;
        yaml_node_t *node;
        yaml_node_t **key_nodes;    /* per normalized key, for positions */
        size_t *key_index;          /* per normalized key, its index in the YAML list */
};

__attribute__((format(printf, 4, 5)))
static void report_yaml(void *userdata, int key_index, const char *field, const char *fmt, ...) {
        struct enc_ctx *c = userdata;
        char full[256];
        if (key_index >= 0)
                snprintf(full, sizeof(full), "%s.keys[%zu].%s", c->field, c->key_index[key_index], field);
        else
                cy_join(full, sizeof(full), c->field, field);
        va_list ap;
        va_start(ap, fmt);
        cy_vreport(c->p, key_index >= 0 ? c->key_nodes[key_index] : c->node, full, fmt, ap);
        va_end(ap);
}

static int set(struct json_object *o, const char *key, struct json_object *v) {
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

static int parse_pcrs(struct enc_ctx *c, yaml_node_t *n, const char *field, uint32_t *mask, struct json_object *tpm_options) {
        struct cy *p = c->p;
        int r = cy_sequence(p, n, field);
        if (r <= 0)
            return r; /* null: PCRs nil, no literal PCR */
        struct json_object *list = json_object_new_array();
        if (!list || set(tpm_options, "PCRs", list) < 0)
                return -ENOMEM;
        bool sorted = true;
        int last = -1;
        for (size_t i = 0; i < cy_items(n); i++) {
                yaml_node_t *it = cy_item(p, n, i);
                char sub[384];
                snprintf(sub, sizeof(sub), "%.*s[%zu]", (int) sizeof(sub) - 24, field, i);
                int64_t v = 0;
                int q = cy_int(p, it, sub, &v);
                if (q < 0)
                        r = q;
                if (q <= 0)
                        continue; /* yaml drops a null item of a []int */
                json_object_array_add(list, json_object_new_int64(v));
                if (v < 0 || v >= VS_MAX_PCRS) {
                        cy_report(p, it, sub, "TPM PCR %lld is out of range (0-23)", (long long) v);
                        r = -EINVAL;
                        continue;
                }
                sorted &= v > last;
                last = (int) v;
                *mask |= 1u << v;
        }
        if (r > 0 && !sorted)
                cy_warn(p, n, field, "PCRs are bound in ascending order without duplicates; Talos binds the listed "
                        "order and a key sealed from an unsorted list never unseals there");
        return r;
}

/* tpm.updatable (volseal's extension): kept in the Go value as TPMUpdatable, a member Talos's decoder
 * ignores, so META tag 9 carries it for volseal. */
static int parse_updatable(struct enc_ctx *c, yaml_node_t *n, const char *field, struct vs_key_config *k,
                           struct json_object *model) {
        char sub[384];
        cy_join(sub, sizeof(sub), field, "updatable");
        yaml_node_t *v = cy_get(c->p, n, "updatable");
        if (!v)
                return 0;
        cy_extension(c->p, cy_get_key(c->p, n, "updatable"), sub, "volseal's updatable tpm slot (docs/tpm-updatable.md): "
                     "Talos refuses the unknown field");
        bool b = false;
        int q = cy_bool(c->p, v, sub, &b);
        if (q <= 0)
                return q;
        k->tpm_updatable = b;
        return set(model, "TPMUpdatable", json_object_new_boolean(b)) < 0 ? -ENOMEM : 0;
}

static int parse_tpm(struct enc_ctx *c, yaml_node_t *n, const char *field, struct vs_key_config *k, struct json_object *model) {
        static const char *const block_fields[] = { "options", "checkSecurebootStatusOnEnroll", "updatable", NULL };
        static const char *const v1_fields[] = { "checkSecurebootStatusOnEnroll", "updatable", NULL };
        struct cy *p = c->p;
        int r = cy_mapping(p, n, field, c->shape == ENC_BLOCK ? block_fields : v1_fields);
        if (r < 0)
                return r;
        struct json_object *check = NULL, *opts = NULL;
        char sub[384];
        cy_join(sub, sizeof(sub), field, "checkSecurebootStatusOnEnroll");
        bool b = false;
        int q = cy_bool(p, cy_get(p, n, "checkSecurebootStatusOnEnroll"), sub, &b);
        if (q < 0)
                r = q;
        else if (q > 0) {
                k->tpm_check_secureboot = b;
                check = json_object_new_boolean(b);
        }
        k->tpm_pcrs = 1u << 7; /* options not set: the SecureBoot state, PCR 7 (v1alpha1 keys always) */
        yaml_node_t *on = cy_get(p, n, "options");
        cy_join(sub, sizeof(sub), field, "options");
        q = c->shape == ENC_BLOCK ? cy_mapping(p, on, sub, (const char *const[]) { "pcrs", NULL }) : 0;
        if (q < 0)
                r = q;
        else if (q > 0) {
                k->tpm_pcrs = 0; /* options given: only the listed PCRs (none when pcrs is null or []) */
                opts = json_object_new_object();
                if (!opts || set(opts, "PCRs", NULL) < 0)
                        return -ENOMEM;
                char psub[448];
                cy_join(psub, sizeof(psub), sub, "pcrs");
                q = parse_pcrs(c, cy_get(p, on, "pcrs"), psub, &k->tpm_pcrs, opts);
                if (q < 0)
                        r = q;
        }
        if (c->shape == ENC_BLOCK && set(model, "TPMOptions", opts) < 0)
                return -ENOMEM;
        if (set(model, "TPMCheckSecurebootStatusOnEnroll", check) < 0)
                return -ENOMEM;
        q = parse_updatable(c, n, field, k, model);
        return q < 0 ? q : r;
}

/* static {passphrase}, nodeID {}, kms {endpoint}: *ret_model NULL when the field is null (not this kind). */
static int parse_simple_kind(struct enc_ctx *c, yaml_node_t *n, const char *field, enum vs_key_kind kind,
                             struct vs_key_config *k, struct json_object **ret_model) {
        static const char *const none[] = { NULL };
        const char *member = kind == VS_KEY_STATIC ? "passphrase" : kind == VS_KEY_KMS ? "endpoint" : NULL;
        const char *const allowed[] = { member, NULL };
        int r = cy_mapping(c->p, n, field, member ? allowed : none);
        *ret_model = NULL;
        if (r <= 0)
                return r;
        struct json_object *m = json_object_new_object();
        if (!m)
                return -ENOMEM;
        *ret_model = m;
        if (!member)
                return 1;
        char sub[384];
        cy_join(sub, sizeof(sub), field, member);
        yaml_node_t *v = cy_get(c->p, n, member);
        const char *s = "";
        int q = cy_string(c->p, v, sub, &s);
        if (q < 0)
                return q;
        size_t len = q > 0 ? v->data.scalar.length : 0;
        if (set(m, kind == VS_KEY_STATIC ? "KeyData" : "KMSEndpoint", json_object_new_string_len(s, (int) len)) < 0)
                return -ENOMEM;
        if (kind == VS_KEY_STATIC)
                return vs_secret_from(s, len, &k->passphrase) < 0 ? -ENOMEM : 1;
        return (k->kms_endpoint = strndup(s, len)) ? 1 : -ENOMEM;
}

static const char *const kind_fields[_VS_KEY_KIND_MAX] = { "static", "nodeID", "kms", "tpm", "recovery" };
/* KeyRecovery is volseal's: Talos's decoder ignores it (and then finds no kind in that key). */
static const char *const kind_members[_VS_KEY_KIND_MAX] = { "KeyStatic", "KeyNodeID", "KeyKMS", "KeyTPM", "KeyRecovery" };

/* A key's Go value with every member in Go's order, all null. */
struct json_object *vs_talos_key_model(enum enc_shape shape) {
        struct json_object *m = json_object_new_object();
        if (!m)
                return NULL;
        if (shape == ENC_BLOCK)
                set(m, "KeySlot", json_object_new_int(0));
        for (int i = 0; i < VS_KEY_TALOS_KINDS; i++) {
                if (shape == ENC_V1ALPHA1 && i == VS_KEY_TPM)
                        set(m, "KeySlot", json_object_new_int(0));
                set(m, kind_members[i], NULL);
        }
        if (shape == ENC_BLOCK)
                set(m, "KeyLockToSTATE", NULL);
        return m;
}

static int parse_key_kinds(struct enc_ctx *c, yaml_node_t *n, const char *prefix, struct vs_key_config *k,
                           struct json_object *model, unsigned *kinds) {
        int r = 0;
        for (int kind = 0; kind < _VS_KEY_KIND_MAX; kind++) {
                yaml_node_t *v = cy_get(c->p, n, kind_fields[kind]);
                char field[256];
                cy_join(field, sizeof(field), prefix, kind_fields[kind]);
                struct json_object *km = NULL;
                int q;
                if (kind == VS_KEY_TPM) {
                        q = 0;
                        if (!cy_is_null(v) && !(km = json_object_new_object()))
                                return -ENOMEM;
                        if (km)
                                q = parse_tpm(c, v, field, k, km);
                } else
                        q = parse_simple_kind(c, v, field, (enum vs_key_kind) kind, k, &km);
                if (kind == VS_KEY_RECOVERY && km)
                        cy_extension(c->p, cy_get_key(c->p, n, kind_fields[kind]), field, "volseal's recovery key "
                                     "(docs/tpm-updatable.md): Talos refuses the unknown field");
                if (q == -ENOMEM || (km && set(model, kind_members[kind], km) < 0))
                        return -ENOMEM;
                if (q < 0)
                        r = q;
                else if (km)
                        *kinds |= 1u << kind;
        }
        return r;
}

static int parse_key(struct enc_ctx *c, yaml_node_t *n, size_t index, struct vs_key_config *k, struct json_object *model) {
        static const char *const block_fields[] = { "slot", "static", "nodeID", "kms", "tpm", "lockToState", "lockToSTATE",
                                                    "recovery", NULL };
        static const char *const v1_fields[] = { "static", "nodeID", "kms", "slot", "tpm", "recovery", NULL };
        struct cy *p = c->p;
        char prefix[160], field[224];
        snprintf(prefix, sizeof(prefix), "%s.keys[%zu]", c->field, index);
        int r = cy_mapping(p, n, prefix, c->shape == ENC_BLOCK ? block_fields : v1_fields);
        if (r < 0)
                return r;
        int64_t slot = 0;
        cy_join(field, sizeof(field), prefix, "slot");
        int q = cy_int(p, cy_get(p, n, "slot"), field, &slot);
        if (q < 0)
                r = q;
        set(model, "KeySlot", json_object_new_int64(slot));
        if (slot < 0 || slot >= VS_MAX_SLOTS) {
                cy_report(p, cy_get(p, n, "slot"), field, "slot %lld is out of range (allowed: 0-31, the keyslots of LUKS2; "
                          "Talos accepts the number and fails when cryptsetup refuses it)", (long long) slot);
                r = -EINVAL;
        }
        k->slot = slot >= 0 && slot < VS_MAX_SLOTS ? (unsigned) slot : 0;
        for (const char *spelling = "lockToState"; c->shape == ENC_BLOCK && spelling;
             spelling = streq(spelling, "lockToState") ? "lockToSTATE" : NULL) {
                yaml_node_t *v = cy_get(p, n, spelling);
                if (!v)
                        continue;
                cy_join(field, sizeof(field), prefix, spelling);
                if (streq(spelling, "lockToSTATE"))
                        cy_extension(p, cy_get_key(p, n, spelling), field, "volseal's spelling of lockToState: "
                                     "Talos refuses the unknown field (write lockToState)");
                bool b = false;
                q = cy_bool(p, v, field, &b);
                if (q < 0)
                        r = q;
                else if (q > 0) {
                        k->lock_to_state = b;
                        set(model, "KeyLockToSTATE", json_object_new_boolean(b));
                }
        }
        unsigned kinds = 0;
        q = parse_key_kinds(c, n, prefix, k, model, &kinds);
        if (q == -ENOMEM)
                return q;
        if (q < 0)
                r = q;
        else if (kinds == 0) {
                cy_report(p, n, prefix, "at least one encryption key type must be specified for slot %lld (allowed: static, nodeID, kms, tpm; "
                          "volseal: recovery)",
                          (long long) slot);
                return -EINVAL;
        }
        k->kind = kinds ? (enum vs_key_kind) __builtin_ctz(kinds) : VS_KEY_STATIC;
        if (kinds & (kinds - 1))
                cy_warn(p, n, prefix, "the key names several kinds; using %s as Talos does (static > nodeID > kms > tpm > recovery)",
                        vs_key_kind_name(k->kind));
        return r;
}

static int parse_keys(struct enc_ctx *c, yaml_node_t *n, struct vs_encryption_config *enc, struct json_object *model) {
        struct cy *p = c->p;
        char field[160];
        cy_join(field, sizeof(field), c->field, "keys");
        int r = cy_sequence(p, n, field);
        if (r <= 0)
                return r; /* null: Go's nil slice */
        struct json_object *list = json_object_new_array();
        if (!list || set(model, "EncryptionKeys", list) < 0)
                return -ENOMEM;
        size_t count = cy_items(n);
        enc->keys = calloc(count ? count : 1, sizeof(*enc->keys));
        c->key_nodes = calloc(count ? count : 1, sizeof(*c->key_nodes));
        c->key_index = calloc(count ? count : 1, sizeof(*c->key_index));
        if (!enc->keys || !c->key_nodes || !c->key_index)
                return -ENOMEM;
        for (size_t i = 0; i < count; i++) {
                yaml_node_t *kn = cy_item(p, n, i);
                if (cy_is_null(kn)) {
                        if (c->shape == ENC_BLOCK)
                                continue; /* yaml drops a null item of a []EncryptionKey */
                        cy_report(p, kn, field, "keys[%zu] is null (Talos cannot read a null v1alpha1 key)", i);
                        r = -EINVAL;
                        continue;
                }
                struct json_object *km = vs_talos_key_model(c->shape);
                if (!km || json_object_array_add(list, km) < 0)
                        return -ENOMEM;
                c->key_nodes[enc->n_keys] = kn;
                c->key_index[enc->n_keys] = i;
                int q = parse_key(c, kn, i, &enc->keys[enc->n_keys++], km);
                if (q == -ENOMEM)
                        return q;
                if (q < 0)
                        r = q;
        }
        return r;
}

static int parse_options(struct enc_ctx *c, yaml_node_t *n, struct vs_encryption_config *enc, struct json_object *model) {
        struct cy *p = c->p;
        char field[160];
        cy_join(field, sizeof(field), c->field, "options");
        int r = cy_sequence(p, n, field);
        if (r <= 0)
                return r;
        struct json_object *list = json_object_new_array();
        if (!list || set(model, "EncryptionPerfOptions", list) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < cy_items(n); i++) {
                yaml_node_t *it = cy_item(p, n, i);
                char sub[192];
                snprintf(sub, sizeof(sub), "%.*s[%zu]", (int) sizeof(sub) - 24, field, i);
                const char *s = NULL;
                int q = cy_string(p, it, sub, &s);
                if (q < 0)
                        r = q;
                if (q <= 0)
                        continue;
                json_object_array_add(list, json_object_new_string(s));
                unsigned flag = vs_perf_flag_parse(s);
                if (!flag) {
                        cy_report(p, it, sub, "invalid perf option \"%s\" (allowed: no_read_workqueue, no_write_workqueue, "
                                  "same_cpu_crypt; Talos refuses it when it opens the volume)", s);
                        r = -EINVAL;
                }
                enc->perf_flags |= flag;
        }
        return r;
}

/* provider: the block spec's enum (case-insensitive "luks2"/"none"; anything else is an error) or the
 * v1alpha1 string ("" = luks2, a name Talos cannot parse = none). Sets *luks2. */
static int parse_provider(struct enc_ctx *c, yaml_node_t *n, struct json_object *model, bool *luks2) {
        struct cy *p = c->p;
        char field[160];
        cy_join(field, sizeof(field), c->field, "provider");
        const char *s = NULL;
        int r = cy_string(p, n, field, &s);
        *luks2 = c->shape == ENC_V1ALPHA1;
        if (r <= 0)
                return r;
        bool is_luks2 = strcasecmp(s, "luks2") == 0, is_none = strcasecmp(s, "none") == 0;
        if (c->shape == ENC_BLOCK) {
                if (!is_luks2 && !is_none) {
                        cy_report(p, n, field, "%s does not belong to EncryptionProviderType values (allowed: luks2; none with no keys)", s);
                        return -EINVAL;
                }
                *luks2 = is_luks2;
                return set(model, "EncryptionProvider", json_object_new_string(is_luks2 ? "luks2" : "none"));
        }
        *luks2 = !*s || is_luks2;
        if (*s && !is_luks2 && !is_none)
                cy_warn(p, n, field, "Talos cannot parse provider \"%s\" and leaves the volume unencrypted (allowed: luks2)", s);
        return set(model, "EncryptionProvider", json_object_new_string(s));
}

static int parse_scalars(struct enc_ctx *c, yaml_node_t *n, struct vs_encryption_config *enc, struct json_object *model) {
        struct cy *p = c->p;
        char field[160];
        const char *cipher = NULL;
        int r = 0;
        cy_join(field, sizeof(field), c->field, "cipher");
        int q = cy_string(p, cy_get(p, n, "cipher"), field, &cipher);
        if (q < 0)
                r = q;
        if (set(model, "EncryptionCipher", json_object_new_string(q > 0 ? cipher : "")) < 0 ||
            !(enc->cipher = strdup(q > 0 && *cipher ? cipher : VS_CIPHER_XTS)))
                return -ENOMEM;
        uint64_t v = 0;
        cy_join(field, sizeof(field), c->field, "keySize");
        q = cy_uint(p, cy_get(p, n, "keySize"), field, &v);
        if (q < 0 || v > 4096)
                r = q < 0 ? q : (cy_report(p, cy_get(p, n, "keySize"), field, "key size %llu is too large", (unsigned long long) v), -EINVAL);
        enc->key_size = q > 0 && v <= 4096 ? (unsigned) v : 0;
        set(model, "EncryptionKeySize", json_object_new_uint64(q > 0 ? v : 0));
        v = 0;
        cy_join(field, sizeof(field), c->field, "blockSize");
        q = cy_uint(p, cy_get(p, n, "blockSize"), field, &v);
        if (q < 0 || v > 65536)
                r = q < 0 ? q : (cy_report(p, cy_get(p, n, "blockSize"), field, "block size %llu is not a sector size (allowed: 512, 1024, 2048, 4096)", (unsigned long long) v), -EINVAL);
        enc->block_size = v <= 65536 ? (unsigned) v : 0;
        set(model, "EncryptionBlockSize", json_object_new_uint64(v));
        q = parse_options(c, cy_get(p, n, "options"), enc, model);
        if (q < 0)
                r = q;
        if (c->shape == ENC_BLOCK) {
                bool b = false;
                cy_join(field, sizeof(field), c->field, "allowDiscards");
                q = cy_bool(p, cy_get(p, n, "allowDiscards"), field, &b);
                if (q < 0)
                        r = q;
                else if (q > 0) {
                        enc->allow_discards = b;
                        set(model, "EncryptionAllowDiscards", json_object_new_boolean(b));
                }
        }
        return r;
}

struct json_object *vs_talos_spec_model(enum enc_shape shape) {
        struct json_object *m = json_object_new_object();
        if (!m)
                return NULL;
        set(m, "EncryptionProvider", json_object_new_string(shape == ENC_BLOCK ? "none" : ""));
        set(m, "EncryptionKeys", NULL);
        set(m, "EncryptionCipher", json_object_new_string(""));
        set(m, "EncryptionKeySize", json_object_new_int(0));
        set(m, "EncryptionBlockSize", json_object_new_int(0));
        set(m, "EncryptionPerfOptions", NULL);
        if (shape == ENC_BLOCK)
                set(m, "EncryptionAllowDiscards", NULL);
        return m;
}

int vs_key_config_compare_slot(const void *a, const void *b) {
        const struct vs_key_config *x = a, *y = b;
        return (int) x->slot - (int) y->slot;
}

/* What the parsed section means: 1 encrypted (rules checked), 0 unencrypted, -EINVAL. */
static int resolve(struct enc_ctx *c, yaml_node_t *n, bool luks2, bool keys_listed, const char *volume_id,
                   struct vs_encryption_config *enc) {
        char field[160];
        cy_join(field, sizeof(field), c->field, "keys");
        if (c->shape == ENC_V1ALPHA1 && enc->n_keys == 0) {
                cy_report(c->p, n, field, "no encryption keys provided (Talos requires at least one)");
                return -EINVAL;
        }
        if (!luks2 && c->shape == ENC_BLOCK && keys_listed) {
                cy_report(c->p, cy_get(c->p, n, "provider") ? cy_get(c->p, n, "provider") : n, c->field,
                          "unsupported encryption provider: none (allowed: luks2; Talos requires the provider when keys are given)");
                return -EINVAL;
        }
        if (!luks2)
                return 0;
        if (!(enc->provider = strdup("luks2")))
                return -ENOMEM;
        if (encryption_check(enc, volume_id, report_yaml, c) < 0)
                return -EINVAL;
        if (enc->key_size == 0)
                enc->key_size = vs_cipher_is_adiantum(enc->cipher) ? 256 : 512;
        qsort(enc->keys, enc->n_keys, sizeof(*enc->keys), vs_key_config_compare_slot);
        return 1;
}

int cy_encryption(struct cy *p, yaml_node_t *n, const char *field, enum enc_shape shape, const char *volume_id,
                  struct vs_encryption_config *enc) {
        static const char *const block_fields[] = { "provider", "keys", "cipher", "keySize", "blockSize", "options", "allowDiscards", NULL };
        static const char *const v1_fields[] = { "provider", "keys", "cipher", "keySize", "blockSize", "options", NULL };
        struct enc_ctx c = { .p = p, .field = field, .shape = shape, .node = n };
        memset(enc, 0, sizeof(*enc));
        int r = cy_mapping(p, n, field, shape == ENC_BLOCK ? block_fields : v1_fields);
        if (r <= 0)
                return r; /* null: no encryption (a v1alpha1 caller treats null as "not configured") */
        struct json_object *model = vs_talos_spec_model(shape);
        if (!model)
                return -ENOMEM;
        bool luks2 = false;
        int q = parse_provider(&c, cy_get(p, n, "provider"), model, &luks2);
        if (q < 0)
                r = q;
        yaml_node_t *keys = cy_get(p, n, "keys");
        q = parse_keys(&c, keys, enc, model);
        if (q < 0)
                r = q;
        bool keys_listed = enc->n_keys > 0;
        if (q != -ENOMEM && (q = parse_scalars(&c, n, enc, model)) < 0)
                r = q;
        if (r >= 0)
                r = resolve(&c, n, luks2, keys_listed, volume_id, enc);
        free(c.key_nodes);
        free(c.key_index);
        /* Talos writes tag 9 from the value it holds when it reads it as an encryption config: an encrypted
         * block spec, or any v1alpha1 config (also one whose provider it cannot parse). */
        if (r > 0 || (r == 0 && shape == ENC_V1ALPHA1))
                enc->talos_value = model;
        else
                json_object_put(model);
        if (r <= 0) {
                struct json_object *keep = enc->talos_value;
                enc->talos_value = NULL;
                vs_encryption_config_done(enc);
                enc->talos_value = keep;
        }
        return r;
}
