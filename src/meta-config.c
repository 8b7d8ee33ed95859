/* meta-config.c: see meta-config.h and docs/meta.md (tag 9). Reading emulates encoding/json.Unmarshal into
 * Talos's Go types: object members match fields case-insensitively (the last one wins), unknown members
 * are ignored, null leaves a value field as it was and a pointer, slice or list nil, a value of the wrong
 * JSON type fails the decode. Talos decodes the block EncryptionSpec first and, when that fails (an empty
 * EncryptionProvider does: Talos issue #11502), the v1alpha1 EncryptionConfig. The rules that follow are
 * config.c's (vs_encryption_validate), so META and YAML accept the same configs. */
#include "meta-config.h"
#include "config-internal.h"
#include "go-json.h"
#include "log.h"
#include "meta.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <strings.h>

struct gdec {
        const char *where;
        char err[320];          /* the first error, as the decode's error */
        bool failed;
        char provider[64];      /* EncryptionProvider as decoded, for messages */
        bool bad_slot_set;      /* the first KeySlot outside 0-31 (Talos fails at use; volseal refuses) */
        int64_t bad_slot;
        size_t bad_slot_index;
};

__attribute__((format(printf, 3, 4)))
static void gfail(struct gdec *d, const char *field, const char *fmt, ...) {
        if (d->failed)
                return;
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(d->err, sizeof(d->err), "field %s: %s", field, msg);
        d->failed = true;
}

static const char *type_name(struct json_object *o) {
        return o ? json_type_to_name(json_object_get_type(o)) : "null";
}

/* The member Go's decoder stores into field `name`: the last one whose key matches case-insensitively.
 * NULL when absent or null. */
static struct json_object *member(struct json_object *obj, const char *name) {
        struct json_object *found = NULL;
        json_object_object_foreach(obj, key, val)
                if (strcasecmp(key, name) == 0)
                        found = val;
        return found;
}

static int set(struct json_object *o, const char *key, struct json_object *v) {
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

/* A string member: 1 with *ret, 0 when absent or null. */
static int gstring(struct gdec *d, struct json_object *obj, const char *name, const char *field, struct json_object **ret) {
        struct json_object *o = member(obj, name);
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_string)) {
                gfail(d, field, "cannot decode %s into a string", type_name(o));
                return -EINVAL;
        }
        *ret = o;
        return 1;
}

/* An integer member (Go int, uint, uint64: a JSON number without fraction or exponent). */
static int gint(struct gdec *d, struct json_object *obj, const char *name, const char *field, bool is_unsigned, int64_t *ret) {
        struct json_object *o = member(obj, name);
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_int) || (is_unsigned && json_object_get_int64(o) < 0)) {
                gfail(d, field, "cannot decode %s %s into %s", type_name(o), json_object_get_string(o), is_unsigned ? "an unsigned integer" : "an integer");
                return -EINVAL;
        }
        *ret = json_object_get_int64(o);
        return 1;
}

static int gbool(struct gdec *d, struct json_object *obj, const char *name, const char *field, bool *ret) {
        struct json_object *o = member(obj, name);
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_boolean)) {
                gfail(d, field, "cannot decode %s into a bool", type_name(o));
                return -EINVAL;
        }
        *ret = json_object_get_boolean(o);
        return 1;
}

/* An object (pointer to a struct) or array member: 1, 0 for absent/null, -EINVAL for another type. */
static int gtyped(struct gdec *d, struct json_object *obj, const char *name, const char *field, enum json_type t,
                  struct json_object **ret) {
        struct json_object *o = member(obj, name);
        *ret = NULL;
        if (!o)
                return 0;
        if (!json_object_is_type(o, t)) {
                gfail(d, field, "cannot decode %s into %s", type_name(o), t == json_type_object ? "an object" : "a list");
                return -EINVAL;
        }
        *ret = o;
        return 1;
}

static int decode_tpm(struct gdec *d, struct json_object *t, const char *field, enum enc_shape shape,
                      struct vs_key_config *k, struct json_object *model) {
        char sub[256];
        bool b = false;
        snprintf(sub, sizeof(sub), "%s.TPMCheckSecurebootStatusOnEnroll", field);
        if (gbool(d, t, "TPMCheckSecurebootStatusOnEnroll", sub, &b) > 0) {
                k->tpm_check_secureboot = b;
                set(model, "TPMCheckSecurebootStatusOnEnroll", json_object_new_boolean(b));
        }
        snprintf(sub, sizeof(sub), "%s.TPMUpdatable", field);
        if (gbool(d, t, "TPMUpdatable", sub, &b) > 0) { /* volseal's extension (Talos's decoder ignores it) */
                k->tpm_updatable = b;
                set(model, "TPMUpdatable", json_object_new_boolean(b));
        }
        k->tpm_pcrs = 1u << 7; /* no TPMOptions (and every v1alpha1 key): PCR 7 */
        struct json_object *opts = NULL, *pcrs = NULL;
        snprintf(sub, sizeof(sub), "%s.TPMOptions", field);
        if (shape == ENC_V1ALPHA1 || gtyped(d, t, "TPMOptions", sub, json_type_object, &opts) <= 0)
                return 0;
        k->tpm_pcrs = 0; /* TPMOptions set: the listed PCRs, none when PCRs is null or [] */
        struct json_object *mo = json_object_new_object();
        if (!mo || set(model, "TPMOptions", mo) < 0 || set(mo, "PCRs", NULL) < 0)
                return -ENOMEM;
        snprintf(sub, sizeof(sub), "%s.TPMOptions.PCRs", field);
        if (gtyped(d, opts, "PCRs", sub, json_type_array, &pcrs) <= 0)
                return 0;
        struct json_object *list = json_object_new_array();
        if (!list || set(mo, "PCRs", list) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(pcrs); i++) {
                struct json_object *e = json_object_array_get_idx(pcrs, i);
                int64_t v = 0; /* a null item decodes as 0 */
                if (e && !json_object_is_type(e, json_type_int)) {
                        gfail(d, sub, "item %zu: cannot decode %s into an integer", i, type_name(e));
                        return -EINVAL;
                }
                if (e)
                        v = json_object_get_int64(e);
                json_object_array_add(list, json_object_new_int64(v));
                k->tpm_pcrs |= v >= 0 && v < VS_MAX_PCRS ? 1u << v : 1u << VS_MAX_PCRS; /* out of range: refused by the rules */
        }
        return 0;
}

/* KeyRecovery is volseal's extension: Talos's decoder ignores it. */
static const char *const kind_members[_VS_KEY_KIND_MAX] = { "KeyStatic", "KeyNodeID", "KeyKMS", "KeyTPM", "KeyRecovery" };

/* One key: *kinds gets a bit per kind that is set (the first one wins, as Talos's ApplyEncryptionConfig). */
static int decode_key(struct gdec *d, struct json_object *ko, size_t index, enum enc_shape shape,
                      struct vs_key_config *k, struct json_object *model, unsigned *kinds) {
        char field[40], sub[96];
        snprintf(field, sizeof(field), "EncryptionKeys[%zu]", index);
        int64_t slot = 0;
        snprintf(sub, sizeof(sub), "%s.KeySlot", field);
        gint(d, ko, "KeySlot", sub, false, &slot);
        set(model, "KeySlot", json_object_new_int64(slot));
        if ((slot < 0 || slot >= VS_MAX_SLOTS) && !d->bad_slot_set) {
                d->bad_slot_set = true;
                d->bad_slot = slot;
                d->bad_slot_index = index;
        }
        k->slot = slot >= 0 && slot < VS_MAX_SLOTS ? (unsigned) slot : 0;
        bool b = false;
        snprintf(sub, sizeof(sub), "%s.KeyLockToSTATE", field);
        if (shape == ENC_BLOCK && gbool(d, ko, "KeyLockToSTATE", sub, &b) > 0) {
                k->lock_to_state = b;
                set(model, "KeyLockToSTATE", json_object_new_boolean(b));
        }
        for (int kind = 0; kind < _VS_KEY_KIND_MAX; kind++) {
                struct json_object *o = NULL, *s = NULL;
                snprintf(sub, sizeof(sub), "%s.%s", field, kind_members[kind]);
                if (gtyped(d, ko, kind_members[kind], sub, json_type_object, &o) <= 0)
                        continue;
                struct json_object *km = json_object_new_object();
                if (!km || set(model, kind_members[kind], km) < 0)
                        return -ENOMEM;
                *kinds |= 1u << kind;
                bool first = __builtin_ctz(*kinds) == kind;
                if (kind == VS_KEY_TPM) {
                        if (set(km, "TPMOptions", NULL) < 0 || set(km, "TPMCheckSecurebootStatusOnEnroll", NULL) < 0)
                                return -ENOMEM;
                        if (shape == ENC_V1ALPHA1)
                                json_object_object_del(km, "TPMOptions");
                        if (decode_tpm(d, o, sub, shape, k, km) < 0 && !d->failed)
                                return -ENOMEM;
                        continue;
                }
                const char *mname = kind == VS_KEY_STATIC ? "KeyData" : kind == VS_KEY_KMS ? "KMSEndpoint" : NULL;
                if (!mname)
                        continue;
                char msub[128];
                snprintf(msub, sizeof(msub), "%s.%s", sub, mname);
                int q = gstring(d, o, mname, msub, &s);
                const char *v = q > 0 ? json_object_get_string(s) : "";
                size_t len = q > 0 ? (size_t) json_object_get_string_len(s) : 0;
                if (set(km, mname, json_object_new_string_len(v, (int) len)) < 0)
                        return -ENOMEM;
                if (first && kind == VS_KEY_STATIC && vs_secret_from(v, len, &k->passphrase) < 0)
                        return -ENOMEM;
                if (first && kind == VS_KEY_KMS && !(k->kms_endpoint = strndup(v, len)))
                        return -ENOMEM;
        }
        k->kind = *kinds ? (enum vs_key_kind) __builtin_ctz(*kinds) : VS_KEY_STATIC;
        return 0;
}

static int decode_keys(struct gdec *d, struct json_object *root, enum enc_shape shape, struct vs_encryption_config *enc,
                       struct json_object *model, int *kindless) {
        struct json_object *keys = NULL;
        *kindless = -1;
        if (gtyped(d, root, "EncryptionKeys", "EncryptionKeys", json_type_array, &keys) <= 0)
                return 0;
        struct json_object *list = json_object_new_array();
        size_t n = json_object_array_length(keys);
        if (!list || set(model, "EncryptionKeys", list) < 0 || !(enc->keys = calloc(n ? n : 1, sizeof(*enc->keys))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *ko = json_object_array_get_idx(keys, i);
                if (ko && !json_object_is_type(ko, json_type_object)) {
                        char f[48];
                        snprintf(f, sizeof(f), "EncryptionKeys[%zu]", i);
                        gfail(d, f, "cannot decode %s into a key object", type_name(ko));
                        return -EINVAL;
                }
                if (!ko && shape == ENC_V1ALPHA1) {
                        char f[48];
                        snprintf(f, sizeof(f), "EncryptionKeys[%zu]", i);
                        gfail(d, f, "a null v1alpha1 key (Talos cannot use it)");
                        return -EINVAL;
                }
                struct json_object *km = vs_talos_key_model(shape);
                if (!km || json_object_array_add(list, km) < 0)
                        return -ENOMEM;
                unsigned kinds = 0;
                enc->n_keys = i + 1;
                int r = ko ? decode_key(d, ko, i, shape, &enc->keys[i], km, &kinds) : 0;
                if (r == -ENOMEM)
                        return r;
                if (!kinds && *kindless < 0)
                        *kindless = (int) i;
        }
        return 0;
}

/* The scalar members. */
static int decode_scalars(struct gdec *d, struct json_object *root, enum enc_shape shape, struct vs_encryption_config *enc,
                          struct json_object *model) {
        struct json_object *s = NULL;
        if (gstring(d, root, "EncryptionCipher", "EncryptionCipher", &s) > 0 &&
            set(model, "EncryptionCipher", json_object_new_string(json_object_get_string(s))) < 0)
                return -ENOMEM;
        if (!(enc->cipher = strdup(s && json_object_get_string_len(s) > 0 ? json_object_get_string(s) : VS_CIPHER_XTS)))
                return -ENOMEM;
        int64_t v = 0;
        if (gint(d, root, "EncryptionKeySize", "EncryptionKeySize", true, &v) > 0) {
                set(model, "EncryptionKeySize", json_object_new_int64(v));
                enc->key_size = v <= 4096 ? (unsigned) v : 1; /* 1: fits no cipher, refused by the rules */
        }
        v = 0;
        if (gint(d, root, "EncryptionBlockSize", "EncryptionBlockSize", true, &v) > 0) {
                set(model, "EncryptionBlockSize", json_object_new_int64(v));
                enc->block_size = v <= 65536 ? (unsigned) v : 1;
        }
        struct json_object *opts = NULL;
        if (gtyped(d, root, "EncryptionPerfOptions", "EncryptionPerfOptions", json_type_array, &opts) > 0) {
                struct json_object *list = json_object_new_array();
                if (!list || set(model, "EncryptionPerfOptions", list) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < json_object_array_length(opts); i++) {
                        struct json_object *e = json_object_array_get_idx(opts, i);
                        if (e && !json_object_is_type(e, json_type_string)) {
                                gfail(d, "EncryptionPerfOptions", "item %zu: cannot decode %s into a string", i, type_name(e));
                                return -EINVAL;
                        }
                        const char *name = e ? json_object_get_string(e) : "";
                        json_object_array_add(list, json_object_new_string(name));
                        unsigned flag = vs_perf_flag_parse(name);
                        if (!flag) {
                                gfail(d, "EncryptionPerfOptions", "invalid perf option \"%s\" (allowed: no_read_workqueue, "
                                      "no_write_workqueue, same_cpu_crypt)", name);
                                return -EINVAL;
                        }
                        enc->perf_flags |= flag;
                }
        }
        bool b = false;
        if (shape == ENC_BLOCK && gbool(d, root, "EncryptionAllowDiscards", "EncryptionAllowDiscards", &b) > 0) {
                enc->allow_discards = b;
                set(model, "EncryptionAllowDiscards", json_object_new_boolean(b));
        }
        return 0;
}

/* json.Unmarshal of tag 9 into one shape. 0 decoded (*luks2 says whether Talos encrypts), -EINVAL the
 * decode failed (d->err), -ENOMEM. */
static int decode_shape(struct gdec *d, struct json_object *root, enum enc_shape shape, struct vs_encryption_config *enc,
                        struct json_object *model, bool *luks2, int *kindless) {
        struct json_object *p = NULL;
        int r = gstring(d, root, "EncryptionProvider", "EncryptionProvider", &p);
        const char *prov = r > 0 ? json_object_get_string(p) : "";
        snprintf(d->provider, sizeof(d->provider), "%s", prov);
        if (shape == ENC_BLOCK) {
                if (r > 0 && strcasecmp(prov, "luks2") != 0 && strcasecmp(prov, "none") != 0)
                        gfail(d, "EncryptionProvider", "\"%s\" does not belong to EncryptionProviderType values", prov);
                *luks2 = strcasecmp(prov, "luks2") == 0;
                set(model, "EncryptionProvider", json_object_new_string(*luks2 ? "luks2" : "none"));
        } else {
                *luks2 = !*prov || strcasecmp(prov, "luks2") == 0; /* v1alpha1: "" is luks2, what Talos cannot parse is none */
                set(model, "EncryptionProvider", json_object_new_string(prov));
        }
        if (d->failed)
                return -EINVAL;
        r = decode_keys(d, root, shape, enc, model, kindless);
        if (r == -ENOMEM)
                return r;
        if (!d->failed && decode_scalars(d, root, shape, enc, model) == -ENOMEM)
                return -ENOMEM;
        return d->failed ? -EINVAL : 0;
}

/* What Talos makes of the decoded value: 1 encrypted (volseal's rules checked), 0 not, -EINVAL. */
static int resolve(const char *where, const struct gdec *d, bool luks2, int kindless, struct vs_encryption_config *enc) {
        const char *provider = d->provider;
        if (!luks2) {
                if (enc->n_keys > 0)
                        log_warning("%s: EncryptionProvider \"%s\": Talos leaves STATE unencrypted and ignores the %zu key(s) "
                                    "(allowed: luks2)", where, provider, enc->n_keys);
                return 0;
        }
        if (kindless >= 0)
                return log_error_errno(-EINVAL, "%s: field EncryptionKeys[%d]: no key kind is set (Talos: unsupported encryption "
                                       "key type; allowed: KeyStatic, KeyNodeID, KeyKMS, KeyTPM; volseal: KeyRecovery)",
                                       where, kindless);
        if (d->bad_slot_set)
                return log_error_errno(-EINVAL, "%s: field EncryptionKeys[%zu].KeySlot: slot %lld is out of range (allowed: 0-31, "
                                       "the keyslots of LUKS2)", where, d->bad_slot_index, (long long) d->bad_slot);
        if (!(enc->provider = strdup("luks2")))
                return -ENOMEM;
        if (vs_encryption_validate(enc, "STATE", where) < 0)
                return -EINVAL;
        if (enc->key_size == 0)
                enc->key_size = vs_cipher_is_adiantum(enc->cipher) ? 256 : 512;
        qsort(enc->keys, enc->n_keys, sizeof(*enc->keys), vs_key_config_compare_slot);
        return 1;
}


static int parse_root(struct json_object *root, const char *where, struct vs_encryption_config *enc) {
        if (!root)
                return 0; /* null: Talos decodes an empty EncryptionSpec, provider none */
        if (!json_object_is_type(root, json_type_object))
                return log_error_errno(-EINVAL, "%s: cannot decode %s into an encryption config", where, type_name(root));
        struct gdec modern = { .where = where }, legacy = { .where = where };
        struct gdec *used = &modern;
        bool luks2 = false;
        int kindless = -1;
        struct json_object *model = vs_talos_spec_model(ENC_BLOCK);
        if (!model)
                return -ENOMEM;
        int r = decode_shape(&modern, root, ENC_BLOCK, enc, model, &luks2, &kindless);
        if (r == -EINVAL) {
                /* Talos falls back to the v1alpha1 shape (an empty EncryptionProvider lands here). */
                used = &legacy;
                vs_json_wipe(model);
                json_object_put(model);
                vs_encryption_config_done(enc);
                if (!(model = vs_talos_spec_model(ENC_V1ALPHA1)))
                        return -ENOMEM;
                r = decode_shape(&legacy, root, ENC_V1ALPHA1, enc, model, &luks2, &kindless);
                if (r == -EINVAL)
                        log_error("%s: %s (Talos cannot decode it as the block EncryptionSpec nor as the v1alpha1 EncryptionConfig)",
                                  where, modern.err);
                else if (r == 0)
                        vs_log(modern.provider[0] || member(root, "EncryptionProvider") == NULL ? VS_LOG_WARN : VS_LOG_DEBUG,
                               "%s: %s; read as the v1alpha1 EncryptionConfig as Talos does (it ignores TPMOptions, "
                               "KeyLockToSTATE and EncryptionAllowDiscards: TPM keys bind PCR 7)", where, modern.err);
        }
        if (r >= 0)
                r = resolve(where, used, luks2, kindless, enc);
        if (r > 0)
                enc->talos_value = model;
        else {
                vs_json_wipe(model);
                json_object_put(model);
        }
        return r;
}

int vs_meta_config_parse(const void *json, size_t len, const char *where, struct vs_encryption_config *enc) {
        memset(enc, 0, sizeof(*enc));
        if (len > INT32_MAX)
                return log_error_errno(-EINVAL, "%s: value too large", where);
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return log_error_errno(-ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        struct json_object *root = json_tokener_parse_ex(tok, json, (int) len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        if (jerr == json_tokener_continue && end == len && len > 0) {
                /* A bare literal ("null", a number) is complete only once the tokener sees the end. */
                root = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
        }
        json_tokener_free(tok);
        if (jerr != json_tokener_success) {
                json_object_put(root);
                return log_error_errno(-EINVAL, "%s: not valid JSON at byte %zu: %s", where, end,
                                       jerr == json_tokener_continue ? "unexpected end of data" : json_tokener_error_desc(jerr));
        }
        /* Go's decoder allows only JSON whitespace after the value. */
        for (const char *p = (const char *) json + end; p < (const char *) json + len; p++)
                if (!strchr(" \t\r\n", *p) || !*p) {
                        json_object_put(root);
                        return log_error_errno(-EINVAL, "%s: not valid JSON: data after the value at byte %zu", where,
                                               (size_t) (p - (const char *) json));
                }
        int r = parse_root(root, where, enc);
        if (root)
                vs_json_wipe(root);
        json_object_put(root);
        if (r <= 0)
                vs_encryption_config_done(enc);
        return r == -ENOMEM ? log_error_errno(r, "out of memory") : r;
}

/* ---- writing ---- */

static struct json_object *key_model_from_fields(const struct vs_key_config *k) {
        struct json_object *m = vs_talos_key_model(ENC_BLOCK), *km = json_object_new_object();
        if (!m || !km) {
                json_object_put(m);
                json_object_put(km);
                return NULL;
        }
        set(m, "KeySlot", json_object_new_int((int) k->slot));
        if (k->kind == VS_KEY_STATIC)
                set(km, "KeyData", json_object_new_string_len((const char *) k->passphrase->data, (int) k->passphrase->len));
        if (k->kind == VS_KEY_KMS)
                set(km, "KMSEndpoint", json_object_new_string(k->kms_endpoint ? k->kms_endpoint : ""));
        if (k->kind == VS_KEY_TPM) {
                struct json_object *opts = json_object_new_object(), *pcrs = json_object_new_array();
                for (int pcr = 0; pcr < VS_MAX_PCRS; pcr++)
                        if (k->tpm_pcrs & (1u << pcr))
                                json_object_array_add(pcrs, json_object_new_int(pcr));
                set(opts, "PCRs", pcrs);
                set(km, "TPMOptions", opts);
                set(km, "TPMCheckSecurebootStatusOnEnroll", json_object_new_boolean(k->tpm_check_secureboot));
                if (k->tpm_updatable)
                        set(km, "TPMUpdatable", json_object_new_boolean(true));
        }
        set(m, kind_members[k->kind], km);
        set(m, "KeyLockToSTATE", json_object_new_boolean(k->lock_to_state));
        return m;
}

/* The block EncryptionSpec of a config that has no Go value of its own (every pointer set). */
static struct json_object *model_from_fields(const struct vs_encryption_config *enc) {
        struct json_object *m = vs_talos_spec_model(ENC_BLOCK), *keys = json_object_new_array();
        if (!m || !keys) {
                json_object_put(m);
                json_object_put(keys);
                return NULL;
        }
        set(m, "EncryptionProvider", json_object_new_string("luks2"));
        for (size_t i = 0; i < enc->n_keys; i++)
                json_object_array_add(keys, key_model_from_fields(&enc->keys[i]));
        set(m, "EncryptionKeys", keys);
        set(m, "EncryptionCipher", json_object_new_string(enc->cipher ? enc->cipher : VS_CIPHER_XTS));
        set(m, "EncryptionKeySize", json_object_new_int((int) enc->key_size));
        set(m, "EncryptionBlockSize", json_object_new_int((int) enc->block_size));
        if (enc->perf_flags) {
                struct json_object *opts = json_object_new_array();
                for (unsigned f = 1; f <= VS_PERF_SAME_CPU_CRYPT; f <<= 1)
                        if (enc->perf_flags & f)
                                json_object_array_add(opts, json_object_new_string(vs_perf_flag_name(f)));
                set(m, "EncryptionPerfOptions", opts);
        }
        set(m, "EncryptionAllowDiscards", json_object_new_boolean(enc->allow_discards));
        return m;
}

int vs_meta_config_format(const struct vs_encryption_config *enc, enum vs_meta_config_shape shape, struct vs_secret **ret) {
        if (!enc)
                return shape == VS_META_CONFIG_TALOS_1_14 ? vs_secret_from("null", 4, ret) : -ENOENT;
        for (size_t i = 0; i < enc->n_keys && !enc->talos_value; i++)
                if (enc->keys[i].kind == VS_KEY_STATIC && !enc->keys[i].passphrase)
                        return -EINVAL;
        struct json_object *built = enc->talos_value ? NULL : model_from_fields(enc);
        struct json_object *model = enc->talos_value ? enc->talos_value : built;
        if (!model)
                return -ENOMEM;
        struct json_object *ad = NULL;
        bool has_ad = json_object_object_get_ex(model, "EncryptionAllowDiscards", &ad);
        int r = 0;
        if (shape == VS_META_CONFIG_TALOS_1_11 && (!has_ad || ad))
                r = -ENOENT; /* a v1alpha1 value, or one that sets allowDiscards: Talos 1.11-1.13 cannot hold it */
        if (r == 0)
                r = vs_go_json_marshal(model, ret);
        if (built) {
                vs_json_wipe(built);
                json_object_put(built);
        }
        static const char tail[] = ",\"EncryptionAllowDiscards\":null}";
        if (r == 0 && shape == VS_META_CONFIG_TALOS_1_11) {
                /* Talos 1.11-1.13's EncryptionSpec ends before the member 1.14 added. */
                struct vs_secret *s = *ret;
                if (s->len < sizeof(tail) - 1 || memcmp(s->data + s->len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0) {
                        vs_secret_free(s);
                        return -EIO;
                }
                s->len -= sizeof(tail) - 1;
                s->data[s->len++] = '}';
                s->data[s->len] = 0;
        }
        return r;
}

bool vs_meta_config_has_static(const struct vs_encryption_config *enc) {
        for (size_t i = 0; enc && i < enc->n_keys; i++)
                if (enc->keys[i].kind == VS_KEY_STATIC)
                        return true;
        return false;
}

int vs_meta_state_config_get(const struct vs_meta *m, const char *name, struct vs_encryption_config *enc) {
        const uint8_t *p;
        size_t len;
        if (vs_meta_get_talos(m, VS_META_TAG_STATE_ENCRYPTION_CONFIG, &p, &len) <= 0)
                return -ENOENT;
        char where[512];
        snprintf(where, sizeof(where), "%s: META tag 9 (StateEncryptionConfig)", name);
        return vs_meta_config_parse(p, len, where, enc);
}

static bool stored_equals(const struct vs_meta *m, const struct vs_secret *json) {
        const uint8_t *p;
        size_t len;
        return vs_meta_get(m, VS_META_TAG_STATE_ENCRYPTION_CONFIG, &p, &len) > 0 && len == json->len &&
               memcmp(p, json->data, len) == 0;
}

int vs_meta_state_config_set(struct vs_meta *m, const char *name, const struct vs_encryption_config *enc) {
        _cleanup_secret_ struct vs_secret *json = NULL, *older = NULL;
        int r = vs_meta_config_format(enc, VS_META_CONFIG_TALOS_1_14, &json);
        if (r < 0)
                return log_error_errno(r, "%s: cannot serialize STATE's encryption config for META tag 9: %s", name, strerror(-r));
        /* Talos 1.11-1.13 write the same config without EncryptionAllowDiscards: that is current too, so a node
         * booting Talos and volseal in turn does not rewrite META every boot. */
        if (stored_equals(m, json) ||
            (vs_meta_config_format(enc, VS_META_CONFIG_TALOS_1_11, &older) == 0 && stored_equals(m, older)))
                return 0;
        r = vs_meta_set(m, VS_META_TAG_STATE_ENCRYPTION_CONFIG, json->data, json->len, name);
        return r < 0 ? r : 1;
}

int vs_meta_config_persist_state(const char *meta_path, const struct vs_volume_config *state) {
        if (!state)
                return 0;
        struct vs_meta m;
        int r = vs_meta_load(&m, meta_path);
        if (r < 0)
                return r;
        if (m.state == VS_META_INVALID) {
                vs_meta_done(&m);
                return log_error_errno(-EUCLEAN, "%s: META is invalid; STATE's encryption config was not saved in tag 9", meta_path);
        }
        /* Talos stores the value it holds: the config of an encrypted STATE, a v1alpha1 config even when its
         * provider leaves STATE unencrypted, else null. Copies that differ were already rewritten when
         * `volseal unlock` began (docs/meta.md). */
        bool value = state->encrypted || state->enc.talos_value;
        r = vs_meta_state_config_set(&m, meta_path, value ? &state->enc : NULL);
        if (r > 0) {
                r = vs_meta_store(&m, meta_path, false);
                if (r == 0) {
                        log_info("%s: saved STATE's encryption config in META tag 9", meta_path);
                        r = 1;
                }
        }
        vs_meta_done(&m);
        return r;
}

int vs_meta_state_static_slot(const struct vs_meta *m, const char *name) {
        struct vs_encryption_config enc;
        if (vs_meta_state_config_get(m, name, &enc) <= 0)
                return -1;
        int slot = -1;
        for (size_t i = 0; i < enc.n_keys && slot < 0; i++) /* keys are sorted by slot */
                if (enc.keys[i].kind == VS_KEY_STATIC)
                        slot = (int) enc.keys[i].slot;
        vs_encryption_config_done(&enc);
        return slot;
}
