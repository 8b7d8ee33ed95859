/* meta-config.c: see meta-config.h and docs/meta.md (tag 9). json-c does the JSON; the rules are config.c's
 * (vs_encryption_validate), so META and YAML accept the same configs. */
#include "meta-config.h"
#include "log.h"
#include "meta.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>

static const struct { const char *name; unsigned flag; } perf_options[] = {
        { "no_read_workqueue", VS_PERF_NO_READ_WORKQUEUE },
        { "no_write_workqueue", VS_PERF_NO_WRITE_WORKQUEUE },
        { "same_cpu_crypt", VS_PERF_SAME_CPU_CRYPT },
};

__attribute__((format(printf, 3, 4)))
static int field_error(const char *where, const char *field, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return log_error_errno(-EINVAL, "%s: field %s: %s", where, field, msg);
}

static const char *type_name(struct json_object *o) {
        return o ? json_type_to_name(json_object_get_type(o)) : "null";
}

/* Wipes the bytes of a json-c string object before it is freed (static passphrases). */
static void wipe_string(struct json_object *o) {
        if (o && json_object_is_type(o, json_type_string)) {
                char *s = (char *) json_object_get_string(o);
                explicit_bzero(s, (size_t) json_object_get_string_len(o));
        }
}

static bool is_null(struct json_object *o) {
        return !o || json_object_is_type(o, json_type_null);
}

static int get_bool(struct json_object *parent, const char *key, const char *where, const char *field, bool *ret) {
        struct json_object *o = NULL;
        if (!json_object_object_get_ex(parent, key, &o) || is_null(o))
                return 0;
        if (!json_object_is_type(o, json_type_boolean))
                return field_error(where, field, "expected true, false or null, got %s", type_name(o));
        *ret = json_object_get_boolean(o);
        return 0;
}

static int get_uint(struct json_object *parent, const char *key, const char *where, const char *field,
                    unsigned long max, unsigned *ret) {
        struct json_object *o = NULL;
        if (!json_object_object_get_ex(parent, key, &o) || is_null(o))
                return 0;
        if (!json_object_is_type(o, json_type_int))
                return field_error(where, field, "expected an integer, got %s", type_name(o));
        errno = 0;
        int64_t v = json_object_get_int64(o);
        if (errno || v < 0 || (uint64_t) v > max)
                return field_error(where, field, "%s is out of range (allowed: 0-%lu)", json_object_get_string(o), max);
        *ret = (unsigned) v;
        return 0;
}

/* A string field: absent or null leaves *ret NULL. */
static int get_string(struct json_object *parent, const char *key, const char *where, const char *field,
                      struct json_object **ret) {
        struct json_object *o = NULL;
        *ret = NULL;
        if (!json_object_object_get_ex(parent, key, &o) || is_null(o))
                return 0;
        if (!json_object_is_type(o, json_type_string))
                return field_error(where, field, "expected a string, got %s", type_name(o));
        *ret = o;
        return 0;
}

/* An object field: absent or null -> *ret NULL (the kind is not used). */
static int get_object(struct json_object *parent, const char *key, const char *where, const char *field,
                      struct json_object **ret) {
        struct json_object *o = NULL;
        *ret = NULL;
        if (!json_object_object_get_ex(parent, key, &o) || is_null(o))
                return 0;
        if (!json_object_is_type(o, json_type_object))
                return field_error(where, field, "expected an object or null, got %s", type_name(o));
        *ret = o;
        return 0;
}

/* A PCR list: null/absent -> *present false (Go's nil slice: "not set", PCR 7); [] -> none; [n...] -> bits. */
static int get_pcrs(struct json_object *parent, const char *key, const char *where, const char *field,
                    bool *present, uint32_t *ret) {
        struct json_object *o = NULL;
        *present = false;
        if (!json_object_object_get_ex(parent, key, &o) || is_null(o))
                return 0;
        if (!json_object_is_type(o, json_type_array))
                return field_error(where, field, "expected a list of PCR numbers, got %s", type_name(o));
        uint32_t bits = 0;
        for (size_t i = 0; i < json_object_array_length(o); i++) {
                struct json_object *e = json_object_array_get_idx(o, i);
                char sub[160];
                snprintf(sub, sizeof(sub), "%s[%zu]", field, i);
                if (!json_object_is_type(e, json_type_int))
                        return field_error(where, sub, "expected a PCR number, got %s", type_name(e));
                int64_t v = json_object_get_int64(e);
                if (v < 0 || v >= VS_MAX_PCRS)
                        return field_error(where, sub, "PCR %lld is out of range (allowed: 0-23)", (long long) v);
                bits |= 1u << v;
        }
        *present = true;
        *ret = bits;
        return 0;
}

static int parse_key(struct json_object *ko, size_t index, const char *where, struct vs_key_config *k) {
        char field[64], sub[128];
        snprintf(field, sizeof(field), "EncryptionKeys[%zu]", index);
        if (!json_object_is_type(ko, json_type_object))
                return field_error(where, field, "expected an object, got %s", type_name(ko));
        int r = 0;
        snprintf(sub, sizeof(sub), "%s.KeySlot", field);
        struct json_object *slot = NULL;
        if (!json_object_object_get_ex(ko, "KeySlot", &slot))
                return field_error(where, sub, "missing (every key needs a slot 0-31)");
        if (get_uint(ko, "KeySlot", where, sub, 31, &k->slot) < 0)
                r = -EINVAL;
        snprintf(sub, sizeof(sub), "%s.KeyLockToSTATE", field);
        if (get_bool(ko, "KeyLockToSTATE", where, sub, &k->lock_to_state) < 0)
                r = -EINVAL;

        static const char *const kind_fields[_VS_KEY_KIND_MAX] = { "KeyStatic", "KeyNodeID", "KeyKMS", "KeyTPM" };
        struct json_object *kinds[_VS_KEY_KIND_MAX] = {};
        unsigned n_kinds = 0;
        for (int kind = 0; kind < _VS_KEY_KIND_MAX; kind++) {
                snprintf(sub, sizeof(sub), "%s.%s", field, kind_fields[kind]);
                if (get_object(ko, kind_fields[kind], where, sub, &kinds[kind]) < 0)
                        r = -EINVAL;
                else if (kinds[kind])
                        n_kinds++;
        }
        if (r < 0)
                return r;
        if (n_kinds == 0)
                return field_error(where, field, "a key needs one kind (KeyStatic, KeyNodeID, KeyKMS or KeyTPM)");
        for (int kind = 0; kind < _VS_KEY_KIND_MAX; kind++)
                if (kinds[kind]) {
                        k->kind = (enum vs_key_kind) kind;
                        break;
                }
        if (n_kinds > 1)
                log_warning("%s: %s names several kinds; using %s as Talos does (static > nodeID > kms > tpm)", where, field,
                            vs_key_kind_name(k->kind));
        struct json_object *ko_kind = kinds[k->kind], *s = NULL;
        switch (k->kind) {
        case VS_KEY_STATIC:
                snprintf(sub, sizeof(sub), "%s.KeyStatic.KeyData", field);
                if (get_string(ko_kind, "KeyData", where, sub, &s) < 0)
                        return -EINVAL;
                if (s && vs_secret_from(json_object_get_string(s), (size_t) json_object_get_string_len(s), &k->passphrase) < 0)
                        return log_error_errno(-ENOMEM, "out of memory");
                break;
        case VS_KEY_NODEID:
                break;
        case VS_KEY_KMS:
                snprintf(sub, sizeof(sub), "%s.KeyKMS.KMSEndpoint", field);
                if (get_string(ko_kind, "KMSEndpoint", where, sub, &s) < 0)
                        return -EINVAL;
                if (s && !(k->kms_endpoint = strdup(json_object_get_string(s))))
                        return log_error_errno(-ENOMEM, "out of memory");
                break;
        case VS_KEY_TPM: {
                snprintf(sub, sizeof(sub), "%s.KeyTPM.TPMCheckSecurebootStatusOnEnroll", field);
                if (get_bool(ko_kind, "TPMCheckSecurebootStatusOnEnroll", where, sub, &k->tpm_check_secureboot) < 0)
                        return -EINVAL;
                /* PCRs: TPMOptions.PCRs (design §5), or the flat TPMPCRs some Talos versions wrote; neither = PCR 7. */
                k->tpm_pcrs = 1u << 7;
                struct json_object *opts = NULL;
                bool present = false;
                uint32_t bits = 0;
                snprintf(sub, sizeof(sub), "%s.KeyTPM.TPMOptions", field);
                if (get_object(ko_kind, "TPMOptions", where, sub, &opts) < 0)
                        return -EINVAL;
                if (opts) {
                        snprintf(sub, sizeof(sub), "%s.KeyTPM.TPMOptions.PCRs", field);
                        if (get_pcrs(opts, "PCRs", where, sub, &present, &bits) < 0)
                                return -EINVAL;
                } else {
                        snprintf(sub, sizeof(sub), "%s.KeyTPM.TPMPCRs", field);
                        if (get_pcrs(ko_kind, "TPMPCRs", where, sub, &present, &bits) < 0)
                                return -EINVAL;
                }
                if (present)
                        k->tpm_pcrs = bits;
                break;
        }
        default:
                break;
        }
        return 0;
}

static int compare_slot(const void *a, const void *b) {
        const struct vs_key_config *x = a, *y = b;
        return (int) x->slot - (int) y->slot;
}

/* Wipes every KeyData string of a parsed or built tree before json_object_put frees it. */
static void wipe_key_data(struct json_object *root) {
        struct json_object *keys = NULL;
        if (!root || !json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "EncryptionKeys", &keys) ||
            !json_object_is_type(keys, json_type_array))
                return;
        for (size_t i = 0; i < json_object_array_length(keys); i++) {
                struct json_object *k = json_object_array_get_idx(keys, i), *st = NULL, *d = NULL;
                if (k && json_object_is_type(k, json_type_object) && json_object_object_get_ex(k, "KeyStatic", &st) &&
                    st && json_object_is_type(st, json_type_object) && json_object_object_get_ex(st, "KeyData", &d))
                        wipe_string(d);
        }
}

static int parse_root(struct json_object *root, const char *where, struct vs_encryption_config *enc) {
        if (is_null(root))
                return 0;
        if (!json_object_is_type(root, json_type_object))
                return field_error(where, "(top level)", "expected an object or null, got %s", type_name(root));
        int r = 0;
        struct json_object *o = NULL;

        /* EncryptionProvider: "luks2" (Talos's enum text), or the enum number 1; "none"/0 with no keys = not encrypted. */
        bool provider_none = false;
        if (json_object_object_get_ex(root, "EncryptionProvider", &o) && !is_null(o)) {
                if (json_object_is_type(o, json_type_string)) {
                        const char *s = json_object_get_string(o);
                        if (streq(s, "none") || !*s)
                                provider_none = true;
                        else if (!(enc->provider = strdup(s)))
                                return -ENOMEM;
                } else if (json_object_is_type(o, json_type_int)) {
                        int64_t v = json_object_get_int64(o);
                        if (v == 0)
                                provider_none = true;
                        else if (v == 1) {
                                if (!(enc->provider = strdup("luks2")))
                                        return -ENOMEM;
                        } else
                                return field_error(where, "EncryptionProvider", "unknown provider %lld (allowed: \"luks2\")", (long long) v);
                } else
                        return field_error(where, "EncryptionProvider", "expected a string, got %s", type_name(o));
        }

        struct json_object *keys = NULL;
        if (json_object_object_get_ex(root, "EncryptionKeys", &keys) && !is_null(keys)) {
                if (!json_object_is_type(keys, json_type_array))
                        return field_error(where, "EncryptionKeys", "expected a list of keys, got %s", type_name(keys));
                size_t n = json_object_array_length(keys);
                enc->keys = calloc(n ? n : 1, sizeof(*enc->keys));
                if (!enc->keys)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        enc->n_keys = i + 1;
                        if (parse_key(json_object_array_get_idx(keys, i), i, where, &enc->keys[i]) < 0)
                                r = -EINVAL;
                }
        }
        if (provider_none && enc->n_keys == 0)
                return 0;
        if (provider_none)
                return field_error(where, "EncryptionProvider", "provider none with keys (allowed: \"luks2\")");
        if (!enc->provider && !(enc->provider = strdup("luks2")))
                return -ENOMEM;

        struct json_object *s = NULL;
        if (get_string(root, "EncryptionCipher", where, "EncryptionCipher", &s) < 0)
                r = -EINVAL;
        else if (s && json_object_get_string_len(s) > 0) {
                const char *c = json_object_get_string(s);
                /* Talos may write cryptsetup's spelling; keep config.c's normalized one. */
                if (streq(c, "xchacha12,aes-adiantum-plain64"))
                        c = "xchacha12";
                else if (streq(c, "xchacha20,aes-adiantum-plain64"))
                        c = "xchacha20";
                if (!(enc->cipher = strdup(c)))
                        return -ENOMEM;
        }
        if (!enc->cipher && !(enc->cipher = strdup("aes-xts-plain64")))
                return -ENOMEM;
        if (get_uint(root, "EncryptionKeySize", where, "EncryptionKeySize", 4096, &enc->key_size) < 0)
                r = -EINVAL;
        if (get_uint(root, "EncryptionBlockSize", where, "EncryptionBlockSize", 65536, &enc->block_size) < 0)
                r = -EINVAL;
        if (get_bool(root, "EncryptionAllowDiscards", where, "EncryptionAllowDiscards", &enc->allow_discards) < 0)
                r = -EINVAL;
        if (json_object_object_get_ex(root, "EncryptionPerfOptions", &o) && !is_null(o)) {
                if (!json_object_is_type(o, json_type_array))
                        r = field_error(where, "EncryptionPerfOptions", "expected a list, got %s", type_name(o));
                else
                        for (size_t i = 0; i < json_object_array_length(o); i++) {
                                struct json_object *e = json_object_array_get_idx(o, i);
                                const char *name = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
                                size_t p;
                                for (p = 0; name && p < ELEMENTSOF(perf_options); p++)
                                        if (streq(name, perf_options[p].name))
                                                break;
                                if (!name || p == ELEMENTSOF(perf_options)) {
                                        char sub[64];
                                        snprintf(sub, sizeof(sub), "EncryptionPerfOptions[%zu]", i);
                                        r = field_error(where, sub, "unknown option %s (allowed: no_read_workqueue, no_write_workqueue, same_cpu_crypt)",
                                                        json_object_to_json_string(e));
                                } else
                                        enc->perf_flags |= perf_options[p].flag;
                        }
        }
        json_object_object_foreach(root, key, val) {
                (void) val;
                if (!streq(key, "EncryptionProvider") && !streq(key, "EncryptionKeys") && !streq(key, "EncryptionCipher") &&
                    !streq(key, "EncryptionKeySize") && !streq(key, "EncryptionBlockSize") && !streq(key, "EncryptionPerfOptions") &&
                    !streq(key, "EncryptionAllowDiscards"))
                        log_debug("%s: ignoring unknown field %s (as Talos does)", where, key);
        }
        if (r < 0)
                return r;
        if (vs_encryption_validate(enc, "STATE", where) < 0)
                return -EINVAL;
        if (enc->key_size == 0)
                enc->key_size = vs_cipher_is_adiantum(enc->cipher) ? 256 : 512;
        qsort(enc->keys, enc->n_keys, sizeof(*enc->keys), compare_slot);
        return 1;
}

int vs_meta_config_parse(const void *json, size_t len, const char *where, struct vs_encryption_config *enc) {
        memset(enc, 0, sizeof(*enc));
        if (len > INT32_MAX)
                return log_error_errno(-EINVAL, "%s: value too large", where);
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return log_error_errno(-ENOMEM, "out of memory");
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
        /* Trailing bytes: whitespace and NULs are fine, anything else is not one JSON value. */
        for (const char *p = (const char *) json + end; p < (const char *) json + len; p++)
                if (*p && !strchr(" \t\r\n", *p)) {
                        json_object_put(root);
                        return log_error_errno(-EINVAL, "%s: not valid JSON: unexpected data after the value at byte %zu", where,
                                               (size_t) (p - (const char *) json));
                }
        int r = parse_root(root, where, enc);
        wipe_key_data(root);
        json_object_put(root);
        if (r <= 0)
                vs_encryption_config_done(enc);
        return r == -ENOMEM ? log_error_errno(r, "out of memory") : r;
}

static struct json_object *key_to_json(const struct vs_key_config *k) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "KeySlot", json_object_new_int((int) k->slot));
        struct json_object *st = NULL, *nid = NULL, *kms = NULL, *tpm = NULL;
        switch (k->kind) {
        case VS_KEY_STATIC:
                st = json_object_new_object();
                json_object_object_add(st, "KeyData", json_object_new_string_len((const char *) k->passphrase->data, (int) k->passphrase->len));
                break;
        case VS_KEY_NODEID:
                nid = json_object_new_object();
                break;
        case VS_KEY_KMS:
                kms = json_object_new_object();
                json_object_object_add(kms, "KMSEndpoint", json_object_new_string(k->kms_endpoint ? k->kms_endpoint : ""));
                break;
        case VS_KEY_TPM: {
                tpm = json_object_new_object();
                struct json_object *opts = json_object_new_object(), *pcrs = json_object_new_array();
                for (int pcr = 0; pcr < VS_MAX_PCRS; pcr++)
                        if (k->tpm_pcrs & (1u << pcr))
                                json_object_array_add(pcrs, json_object_new_int(pcr));
                json_object_object_add(opts, "PCRs", pcrs);
                json_object_object_add(tpm, "TPMOptions", opts);
                json_object_object_add(tpm, "TPMCheckSecurebootStatusOnEnroll", json_object_new_boolean(k->tpm_check_secureboot));
                break;
        }
        default:
                break;
        }
        json_object_object_add(o, "KeyStatic", st);
        json_object_object_add(o, "KeyNodeID", nid);
        json_object_object_add(o, "KeyKMS", kms);
        json_object_object_add(o, "KeyTPM", tpm);
        json_object_object_add(o, "KeyLockToSTATE", json_object_new_boolean(k->lock_to_state));
        return o;
}

int vs_meta_config_format(const struct vs_encryption_config *enc, struct vs_secret **ret) {
        if (!enc)
                return vs_secret_from("null", 4, ret);
        for (size_t i = 0; i < enc->n_keys; i++)
                if (enc->keys[i].kind == VS_KEY_STATIC && !enc->keys[i].passphrase)
                        return -EINVAL;
        struct json_object *root = json_object_new_object(), *keys = json_object_new_array();
        json_object_object_add(root, "EncryptionProvider", json_object_new_string(enc->provider ? enc->provider : "luks2"));
        for (size_t i = 0; i < enc->n_keys; i++)
                json_object_array_add(keys, key_to_json(&enc->keys[i]));
        json_object_object_add(root, "EncryptionKeys", keys);
        json_object_object_add(root, "EncryptionCipher", json_object_new_string(enc->cipher ? enc->cipher : "aes-xts-plain64"));
        json_object_object_add(root, "EncryptionKeySize", json_object_new_int((int) enc->key_size));
        json_object_object_add(root, "EncryptionBlockSize", json_object_new_int((int) enc->block_size));
        struct json_object *opts = NULL;
        if (enc->perf_flags) {
                opts = json_object_new_array();
                for (size_t p = 0; p < ELEMENTSOF(perf_options); p++)
                        if (enc->perf_flags & perf_options[p].flag)
                                json_object_array_add(opts, json_object_new_string(perf_options[p].name));
        }
        json_object_object_add(root, "EncryptionPerfOptions", opts);
        json_object_object_add(root, "EncryptionAllowDiscards", json_object_new_boolean(enc->allow_discards));
        size_t len = 0;
        const char *s = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        int r = s ? vs_secret_from(s, len, ret) : -ENOMEM;
        if (s)
                explicit_bzero((char *) s, len);
        wipe_key_data(root);
        json_object_put(root);
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
        if (vs_meta_get(m, VS_META_TAG_STATE_ENCRYPTION_CONFIG, &p, &len) <= 0)
                return -ENOENT;
        char where[512];
        snprintf(where, sizeof(where), "%s: META tag 9 (StateEncryptionConfig)", name);
        return vs_meta_config_parse(p, len, where, enc);
}

int vs_meta_state_config_set(struct vs_meta *m, const char *name, const struct vs_encryption_config *enc) {
        _cleanup_secret_ struct vs_secret *json = NULL;
        int r = vs_meta_config_format(enc, &json);
        if (r < 0)
                return log_error_errno(r, "%s: cannot serialize STATE's encryption config for META tag 9: %s", name, strerror(-r));
        const uint8_t *p;
        size_t len;
        if (vs_meta_get(m, VS_META_TAG_STATE_ENCRYPTION_CONFIG, &p, &len) == 1 && len == json->len &&
            memcmp(p, json->data, len) == 0)
                return 0;
        r = vs_meta_set(m, VS_META_TAG_STATE_ENCRYPTION_CONFIG, json->data, json->len, name);
        return r < 0 ? r : 1;
}

int vs_meta_config_fill_state(struct vs_config *cfg, const struct vs_meta *m, const char *name) {
        if (vs_config_find(cfg, "STATE"))
                return 0;
        struct vs_encryption_config enc;
        int r = vs_meta_state_config_get(m, name, &enc);
        if (r == -ENOENT || r == 0)
                return 0;
        if (r < 0)
                return r;
        struct vs_volume_config *vols = realloc(cfg->volumes, (cfg->n_volumes + 1) * sizeof(*vols));
        if (!vols) {
                vs_encryption_config_done(&enc);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        cfg->volumes = vols;
        struct vs_volume_config v = { .kind = VS_VOLUME_SYSTEM, .encrypted = true, .enc = enc };
        v.name = strdup("STATE");
        v.id = strdup("STATE");
        if (asprintf(&v.source, "%s tag 9", name) < 0)
                v.source = NULL;
        if (!v.name || !v.id || !v.source) {
                free(v.name);
                free(v.id);
                free(v.source);
                vs_encryption_config_done(&v.enc);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        memmove(cfg->volumes + 1, cfg->volumes, cfg->n_volumes * sizeof(*cfg->volumes));
        cfg->volumes[0] = v;
        cfg->n_volumes++;
        log_info("%s: STATE's encryption config comes from META tag 9 (the machine config has no STATE VolumeConfig)", name);
        return 1;
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
        /* Copies that differ were already rewritten when `volseal unlock` began (docs/meta.md). */
        r = vs_meta_state_config_set(&m, meta_path, state->encrypted ? &state->enc : NULL);
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
