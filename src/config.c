/* config.c: see config.h. libyaml's document loader gives every node its position, so every error can
 * name FILE:LINE:COL; the semantic rules live in one function (encryption_check) shared with META. */
#include "config.h"
#include "kms/endpoint.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <yaml.h>

static const char *const system_volumes[] = { "STATE", "EPHEMERAL", "IMAGECACHE", "ETCD", "CRI", "KUBELET", "LOG" };
/* Talos fields of these documents that volseal does not use: accepted so a Talos machine config loads. */
static const char *const ignored_fields[] = { "provisioning", "filesystem", "mount", "volumeType" };

static const struct { const char *name; unsigned flag; } perf_options[] = {
        { "no_read_workqueue", VS_PERF_NO_READ_WORKQUEUE },
        { "no_write_workqueue", VS_PERF_NO_WRITE_WORKQUEUE },
        { "same_cpu_crypt", VS_PERF_SAME_CPU_CRYPT },
};

const char *vs_key_kind_name(enum vs_key_kind kind) {
        static const char *const names[] = { "static", "nodeID", "kms", "tpm" };
        return kind < _VS_KEY_KIND_MAX ? names[kind] : "unknown";
}

bool vs_cipher_is_adiantum(const char *cipher) {
        return cipher && (streq(cipher, "xchacha12") || streq(cipher, "xchacha20"));
}

/* ---- the rules, shared by YAML and META ---- */

typedef void (*report_fn)(void *userdata, int key_index, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int encryption_check(const struct vs_encryption_config *enc, const char *volume_id,
                            report_fn report, void *userdata) {
        int errors = 0;
        if (!enc->provider || !streq(enc->provider, "luks2")) {
                report(userdata, -1, "provider", "unsupported provider \"%s\" (allowed: luks2)",
                       enc->provider ? enc->provider : "");
                errors++;
        }
        if (enc->n_keys == 0) {
                report(userdata, -1, "keys", "at least one key is required (allowed kinds: static, nodeID, kms, tpm)");
                errors++;
        }
        uint32_t seen = 0;
        for (size_t i = 0; i < enc->n_keys; i++) {
                const struct vs_key_config *k = &enc->keys[i];
                if (k->slot >= VS_MAX_SLOTS) {
                        report(userdata, (int) i, "slot", "slot %u is out of range (allowed: 0-31)", k->slot);
                        errors++;
                } else if (seen & (1u << k->slot)) {
                        report(userdata, (int) i, "slot", "slot %u is used by more than one key (slots must be unique)", k->slot);
                        errors++;
                } else
                        seen |= 1u << k->slot;
                if (k->lock_to_state && volume_id && streq(volume_id, "STATE")) {
                        report(userdata, (int) i, "lockToState", "STATE cannot be locked to itself (allowed on other volumes only)");
                        errors++;
                }
                if (k->kind == VS_KEY_STATIC && (!k->passphrase || k->passphrase->len == 0)) {
                        report(userdata, (int) i, "static.passphrase", "a static key needs a non-empty passphrase");
                        errors++;
                }
                if (k->kind == VS_KEY_KMS && (!k->kms_endpoint || !*k->kms_endpoint)) {
                        report(userdata, (int) i, "kms.endpoint", "a kms key needs an endpoint (host:port, grpc://host:port or https://host[:port])");
                        errors++;
                } else if (k->kind == VS_KEY_KMS) {
                        /* The KMS client's own parser: what it would refuse at unlock is refused here. */
                        const char *why = NULL;
                        if (vs_kms_endpoint_parse(k->kms_endpoint, NULL, &why) < 0) {
                                report(userdata, (int) i, "kms.endpoint", "endpoint \"%s\" cannot be used: %s",
                                       k->kms_endpoint, why);
                                errors++;
                        }
                }
                if (k->kind == VS_KEY_TPM && (k->tpm_pcrs >> VS_MAX_PCRS)) {
                        report(userdata, (int) i, "tpm.options.pcrs", "PCRs must be 0-23");
                        errors++;
                }
        }
        const char *cipher = enc->cipher ? enc->cipher : "aes-xts-plain64";
        bool xts = streq(cipher, "aes-xts-plain64"), adiantum = vs_cipher_is_adiantum(cipher);
        if (!xts && !adiantum) {
                report(userdata, -1, "cipher", "unknown cipher \"%s\" (allowed: aes-xts-plain64, xchacha12, xchacha20)", cipher);
                errors++;
        } else if (enc->key_size != 0 && ((xts && enc->key_size != 256 && enc->key_size != 512) ||
                                          (adiantum && enc->key_size != 256))) {
                report(userdata, -1, "keySize", "key size %u does not fit cipher %s (allowed: %s)", enc->key_size,
                       cipher, xts ? "256 or 512" : "256");
                errors++;
        }
        if (enc->block_size != 0 && enc->block_size != 512 && enc->block_size != 1024 &&
            enc->block_size != 2048 && enc->block_size != 4096) {
                report(userdata, -1, "blockSize", "block size %u is not a sector size (allowed: 512, 1024, 2048, 4096)", enc->block_size);
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

struct parser {
        const char *file;
        yaml_document_t *doc;
        const char *kind;
        char *docname;
        int errors;
        /* positions of the keys[] items of the encryption block being checked */
        yaml_node_t **key_nodes;
        size_t n_key_nodes;
        yaml_node_t *encryption_node;
};

__attribute__((format(printf, 4, 0)))
static void vreport_at(struct parser *p, const yaml_node_t *node, const char *field, const char *fmt, va_list ap) {
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        unsigned long line = node ? (unsigned long) node->start_mark.line + 1 : 0;
        unsigned long col = node ? (unsigned long) node->start_mark.column + 1 : 0;
        log_error("%s:%lu:%lu: document %s%s%s: field %s: %s", p->file, line, col, p->kind ? p->kind : "?",
                  p->docname ? " " : "", p->docname ? p->docname : "", field, msg);
        p->errors++;
}

__attribute__((format(printf, 4, 5)))
static void report_at(struct parser *p, const yaml_node_t *node, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vreport_at(p, node, field, fmt, ap);
        va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void report_yaml(void *userdata, int key_index, const char *field, const char *fmt, ...) {
        struct parser *p = userdata;
        const yaml_node_t *node = key_index >= 0 && (size_t) key_index < p->n_key_nodes ? p->key_nodes[key_index]
                                                                                        : p->encryption_node;
        char full[128];
        if (key_index >= 0)
                snprintf(full, sizeof(full), "encryption.keys[%d].%s", key_index, field);
        else
                snprintf(full, sizeof(full), "encryption.%s", field);
        va_list ap;
        va_start(ap, fmt);
        vreport_at(p, node, full, fmt, ap);
        va_end(ap);
}

static yaml_node_t *node_get(struct parser *p, int index) {
        return yaml_document_get_node(p->doc, index);
}

static const char *scalar(const yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static bool is_null(const yaml_node_t *n) {
        const char *s = scalar(n);
        return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
               (!*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL"));
}

static int get_string(struct parser *p, yaml_node_t *n, const char *field, char **ret) {
        const char *s = scalar(n);
        if (!s || is_null(n)) {
                report_at(p, n, field, "expected a string");
                return -EINVAL;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int get_bool(struct parser *p, yaml_node_t *n, const char *field, bool *ret) {
        const char *s = scalar(n);
        if (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE")) { *ret = true; return 0; }
                if (streq(s, "false") || streq(s, "False") || streq(s, "FALSE")) { *ret = false; return 0; }
        }
        report_at(p, n, field, "expected true or false");
        return -EINVAL;
}

static int get_uint(struct parser *p, yaml_node_t *n, const char *field, unsigned long max, unsigned *ret) {
        const char *s = scalar(n);
        if (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && isdigit((unsigned char) *s)) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(s, &end, 10);
                if (!*end && errno == 0 && v <= max) {
                        *ret = (unsigned) v;
                        return 0;
                }
        }
        report_at(p, n, field, "expected a whole number from 0 to %lu", max);
        return -EINVAL;
}

/* Iterates a mapping, refusing duplicate keys and non-scalar keys. */
#define FOREACH_PAIR(p, map, pair) \
        for (yaml_node_pair_t *pair = (map)->data.mapping.pairs.start; pair < (map)->data.mapping.pairs.top; pair++)

static int check_mapping(struct parser *p, yaml_node_t *n, const char *field) {
        if (!n || n->type != YAML_MAPPING_NODE) {
                report_at(p, n, field, is_null(n) ? "expected a mapping ({} for an empty one), got nothing"
                                                  : "expected a mapping");
                return -EINVAL;
        }
        FOREACH_PAIR(p, n, a) {
                yaml_node_t *ka = node_get(p, a->key);
                if (!scalar(ka)) {
                        report_at(p, ka, field, "mapping keys must be plain words");
                        return -EINVAL;
                }
                for (yaml_node_pair_t *b = n->data.mapping.pairs.start; b < a; b++)
                        if (streq(scalar(node_get(p, b->key)), scalar(ka))) {
                                report_at(p, ka, field, "\"%s\" is given twice", scalar(ka));
                                return -EINVAL;
                        }
        }
        return 0;
}

static void join(char *buf, size_t size, const char *a, const char *b) {
        snprintf(buf, size, "%s%s%s", a, *a ? "." : "", b ? b : "");
}

static int parse_pcrs(struct parser *p, yaml_node_t *n, const char *field, uint32_t *ret) {
        *ret = 0;
        if (is_null(n))
                return 0;
        if (n->type != YAML_SEQUENCE_NODE) {
                report_at(p, n, field, "expected a list of PCR numbers (0-23)");
                return -EINVAL;
        }
        bool sorted = true, dup = false;
        int last = -1;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                unsigned v;
                if (get_uint(p, node_get(p, *it), field, 23, &v) < 0)
                        return -EINVAL;
                if ((int) v < last)
                        sorted = false;
                if (*ret & (1u << v))
                        dup = true;
                last = (int) v;
                *ret |= 1u << v;
        }
        if (!sorted || dup)
                log_notice("%s:%lu:%lu: %s: PCR list %s%s%s; using it sorted and de-duplicated", p->file,
                           (unsigned long) n->start_mark.line + 1, (unsigned long) n->start_mark.column + 1, field,
                           sorted ? "" : "was not sorted", !sorted && dup ? " and " : "", dup ? "had duplicates" : "");
        return 0;
}

static int parse_tpm(struct parser *p, yaml_node_t *n, const char *prefix, struct vs_key_config *k) {
        char field[128];
        join(field, sizeof(field), prefix, "tpm");
        if (check_mapping(p, n, field) < 0)
                return -EINVAL;
        k->tpm_pcrs = 1u << 7; /* tpm: {} binds to the SecureBoot state */
        int r = 0;
        FOREACH_PAIR(p, n, pair) {
                const char *name = scalar(node_get(p, pair->key));
                yaml_node_t *v = node_get(p, pair->value);
                char sub[160];
                join(sub, sizeof(sub), field, name);
                if (streq(name, "checkSecurebootStatusOnEnroll")) {
                        if (get_bool(p, v, sub, &k->tpm_check_secureboot) < 0)
                                r = -EINVAL;
                } else if (streq(name, "options")) {
                        if (check_mapping(p, v, sub) < 0) {
                                r = -EINVAL;
                                continue;
                        }
                        k->tpm_pcrs = 0; /* options: {} means no PolicyPCR */
                        FOREACH_PAIR(p, v, opt) {
                                const char *oname = scalar(node_get(p, opt->key));
                                char osub[200];
                                join(osub, sizeof(osub), sub, oname);
                                if (streq(oname, "pcrs")) {
                                        if (parse_pcrs(p, node_get(p, opt->value), osub, &k->tpm_pcrs) < 0)
                                                r = -EINVAL;
                                } else {
                                        report_at(p, node_get(p, opt->key), osub, "unknown field (allowed: pcrs)");
                                        r = -EINVAL;
                                }
                        }
                } else {
                        report_at(p, node_get(p, pair->key), sub,
                                  "unknown field (allowed: checkSecurebootStatusOnEnroll, options)");
                        r = -EINVAL;
                }
        }
        return r;
}

static int parse_key(struct parser *p, yaml_node_t *n, size_t index, struct vs_key_config *k) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "encryption.keys[%zu]", index);
        if (check_mapping(p, n, prefix) < 0)
                return -EINVAL;
        bool has_slot = false;
        unsigned kinds = 0;
        yaml_node_t *kind_nodes[_VS_KEY_KIND_MAX] = {};
        int r = 0;
        FOREACH_PAIR(p, n, pair) {
                yaml_node_t *kn = node_get(p, pair->key), *v = node_get(p, pair->value);
                const char *name = scalar(kn);
                char field[128];
                join(field, sizeof(field), prefix, name);
                if (streq(name, "slot")) {
                        has_slot = true;
                        if (get_uint(p, v, field, 31, &k->slot) < 0)
                                r = -EINVAL;
                } else if (streq(name, "lockToState") || streq(name, "lockToSTATE")) {
                        if (get_bool(p, v, field, &k->lock_to_state) < 0)
                                r = -EINVAL;
                } else if (streq(name, "static") || streq(name, "nodeID") || streq(name, "kms") || streq(name, "tpm")) {
                        enum vs_key_kind kind = streq(name, "static") ? VS_KEY_STATIC : streq(name, "nodeID") ? VS_KEY_NODEID
                                                : streq(name, "kms") ? VS_KEY_KMS : VS_KEY_TPM;
                        kinds |= 1u << kind;
                        kind_nodes[kind] = v;
                } else {
                        report_at(p, kn, field, "unknown field (allowed: slot, static, nodeID, kms, tpm, lockToState)");
                        r = -EINVAL;
                }
        }
        if (!has_slot) {
                report_at(p, n, prefix, "every key needs a slot (0-31)");
                r = -EINVAL;
        }
        if (kinds == 0) {
                report_at(p, n, prefix, "a key needs one kind (allowed: static, nodeID, kms, tpm)");
                return -EINVAL;
        }
        /* Talos resolves a key naming several kinds as static > nodeID > kms > tpm: do the same, loudly. */
        k->kind = (enum vs_key_kind) __builtin_ctz(kinds);
        if (kinds & (kinds - 1))
                log_warning("%s:%lu:%lu: %s names several kinds; using %s as Talos does (static > nodeID > kms > tpm)",
                            p->file, (unsigned long) n->start_mark.line + 1, (unsigned long) n->start_mark.column + 1,
                            prefix, vs_key_kind_name(k->kind));
        yaml_node_t *v = kind_nodes[k->kind];
        char field[128];
        join(field, sizeof(field), prefix, vs_key_kind_name(k->kind));
        switch (k->kind) {
        case VS_KEY_STATIC:
                if (check_mapping(p, v, field) < 0)
                        return -EINVAL;
                FOREACH_PAIR(p, v, pair) {
                        const char *name = scalar(node_get(p, pair->key));
                        yaml_node_t *val = node_get(p, pair->value);
                        char sub[160];
                        join(sub, sizeof(sub), field, name);
                        if (streq(name, "passphrase")) {
                                const char *s = scalar(val);
                                if (!s || is_null(val)) {
                                        report_at(p, val, sub, "expected a string");
                                        r = -EINVAL;
                                } else if (vs_secret_from(s, strlen(s), &k->passphrase) < 0)
                                        return -ENOMEM;
                        } else {
                                report_at(p, node_get(p, pair->key), sub, "unknown field (allowed: passphrase)");
                                r = -EINVAL;
                        }
                }
                break;
        case VS_KEY_NODEID:
                if (check_mapping(p, v, field) < 0)
                        return -EINVAL;
                if (v->data.mapping.pairs.top != v->data.mapping.pairs.start) {
                        report_at(p, v, field, "nodeID takes no fields (write nodeID: {})");
                        r = -EINVAL;
                }
                break;
        case VS_KEY_KMS:
                if (check_mapping(p, v, field) < 0)
                        return -EINVAL;
                FOREACH_PAIR(p, v, pair) {
                        const char *name = scalar(node_get(p, pair->key));
                        char sub[160];
                        join(sub, sizeof(sub), field, name);
                        if (streq(name, "endpoint")) {
                                if (get_string(p, node_get(p, pair->value), sub, &k->kms_endpoint) < 0)
                                        r = -EINVAL;
                        } else {
                                report_at(p, node_get(p, pair->key), sub, "unknown field (allowed: endpoint)");
                                r = -EINVAL;
                        }
                }
                break;
        case VS_KEY_TPM:
                if (parse_tpm(p, v, prefix, k) < 0)
                        r = -EINVAL;
                break;
        default:
                break;
        }
        return r;
}

static int compare_slot(const void *a, const void *b) {
        const struct vs_key_config *x = a, *y = b;
        return (int) x->slot - (int) y->slot;
}

static int parse_encryption(struct parser *p, yaml_node_t *n, struct vs_volume_config *vol) {
        struct vs_encryption_config *enc = &vol->enc;
        if (check_mapping(p, n, "encryption") < 0)
                return -EINVAL;
        p->encryption_node = n;
        int r = 0;
        yaml_node_t *keys = NULL;
        FOREACH_PAIR(p, n, pair) {
                yaml_node_t *kn = node_get(p, pair->key), *v = node_get(p, pair->value);
                const char *name = scalar(kn);
                char field[64];
                join(field, sizeof(field), "encryption", name);
                if (streq(name, "provider")) {
                        free(enc->provider);
                        enc->provider = NULL;
                        if (get_string(p, v, field, &enc->provider) < 0)
                                r = -EINVAL;
                } else if (streq(name, "keys")) {
                        keys = v;
                } else if (streq(name, "cipher")) {
                        char *c = NULL;
                        if (get_string(p, v, field, &c) < 0) {
                                r = -EINVAL;
                                continue;
                        }
                        /* Normalize cryptsetup's spelling to Talos's, so META and Talos agree. */
                        if (streq(c, "xchacha12,aes-adiantum-plain64") || streq(c, "xchacha20,aes-adiantum-plain64"))
                                c[9] = 0;
                        enc->cipher = c;
                } else if (streq(name, "keySize")) {
                        if (get_uint(p, v, field, 4096, &enc->key_size) < 0)
                                r = -EINVAL;
                } else if (streq(name, "blockSize")) {
                        if (get_uint(p, v, field, 65536, &enc->block_size) < 0)
                                r = -EINVAL;
                } else if (streq(name, "allowDiscards")) {
                        if (get_bool(p, v, field, &enc->allow_discards) < 0)
                                r = -EINVAL;
                } else if (streq(name, "options")) {
                        if (is_null(v))
                                continue;
                        if (v->type != YAML_SEQUENCE_NODE) {
                                report_at(p, v, field, "expected a list (allowed: no_read_workqueue, no_write_workqueue, same_cpu_crypt)");
                                r = -EINVAL;
                                continue;
                        }
                        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                                yaml_node_t *o = node_get(p, *it);
                                const char *s = scalar(o);
                                size_t i;
                                for (i = 0; s && i < ELEMENTSOF(perf_options); i++)
                                        if (streq(s, perf_options[i].name))
                                                break;
                                if (!s || i == ELEMENTSOF(perf_options)) {
                                        report_at(p, o, field, "unknown option \"%s\" (allowed: no_read_workqueue, no_write_workqueue, same_cpu_crypt)",
                                                  s ? s : "");
                                        r = -EINVAL;
                                } else
                                        enc->perf_flags |= perf_options[i].flag;
                        }
                } else {
                        report_at(p, kn, field, "unknown field (allowed: provider, keys, cipher, keySize, blockSize, options, allowDiscards)");
                        r = -EINVAL;
                }
        }
        if (!enc->provider && !(enc->provider = strdup("luks2")))
                return -ENOMEM;
        if (!enc->cipher && !(enc->cipher = strdup("aes-xts-plain64")))
                return -ENOMEM;
        if (keys && !is_null(keys)) {
                if (keys->type != YAML_SEQUENCE_NODE) {
                        report_at(p, keys, "encryption.keys", "expected a list of keys");
                        return -EINVAL;
                }
                size_t count = (size_t) (keys->data.sequence.items.top - keys->data.sequence.items.start);
                enc->keys = calloc(count ? count : 1, sizeof(*enc->keys));
                p->key_nodes = calloc(count ? count : 1, sizeof(*p->key_nodes));
                if (!enc->keys || !p->key_nodes)
                        return -ENOMEM;
                for (size_t i = 0; i < count; i++) {
                        yaml_node_t *kn = node_get(p, keys->data.sequence.items.start[i]);
                        p->key_nodes[i] = kn;
                        if (parse_key(p, kn, i, &enc->keys[i]) < 0)
                                r = -EINVAL;
                }
                enc->n_keys = p->n_key_nodes = count;
        }
        if (r < 0)
                return r;
        if (encryption_check(enc, vol->id, report_yaml, p) < 0)
                return -EINVAL;
        if (enc->key_size == 0)
                enc->key_size = vs_cipher_is_adiantum(enc->cipher) ? 256 : 512;
        qsort(enc->keys, enc->n_keys, sizeof(*enc->keys), compare_slot);
        return 0;
}

static bool user_name_ok(const char *s) {
        size_t n = strlen(s);
        if (n < 1 || n > 34)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '-')
                        return false;
        return true;
}

/* Parses one document; returns 0 (added or skipped) or -EINVAL/-ENOMEM. */
static int parse_document(struct parser *p, struct vs_config *cfg) {
        yaml_node_t *root = yaml_document_get_root_node(p->doc);
        if (!root || is_null(root))
                return 0;
        if (root->type != YAML_MAPPING_NODE) {
                report_at(p, root, "(document)", "a config document must be a mapping");
                return -EINVAL;
        }
        yaml_node_t *kind = NULL, *api = NULL, *name = NULL, *encryption = NULL;
        FOREACH_PAIR(p, root, pair) {
                const char *k = scalar(node_get(p, pair->key));
                if (!k)
                        continue;
                if (streq(k, "kind")) kind = node_get(p, pair->value);
                else if (streq(k, "apiVersion")) api = node_get(p, pair->value);
        }
        const char *kind_s = scalar(kind);
        if (!kind_s || (!streq(kind_s, "VolumeConfig") && !streq(kind_s, "UserVolumeConfig")))
                return 0; /* Talos's other documents (and the v1alpha1 machine config) are not ours */
        p->kind = kind_s;
        if (check_mapping(p, root, "(document)") < 0)
                return -EINVAL;
        int r = 0;
        FOREACH_PAIR(p, root, pair) {
                yaml_node_t *kn = node_get(p, pair->key);
                const char *k = scalar(kn);
                if (streq(k, "name"))
                        name = node_get(p, pair->value);
                else if (streq(k, "encryption"))
                        encryption = node_get(p, pair->value);
                else if (streq(k, "kind") || streq(k, "apiVersion"))
                        ;
                else {
                        size_t i;
                        for (i = 0; i < ELEMENTSOF(ignored_fields); i++)
                                if (streq(k, ignored_fields[i]))
                                        break;
                        if (i == ELEMENTSOF(ignored_fields)) {
                                report_at(p, kn, k, "unknown field (allowed: apiVersion, kind, name, encryption, provisioning, filesystem, mount, volumeType)");
                                r = -EINVAL;
                        }
                }
        }
        if (!scalar(name) || is_null(name)) {
                report_at(p, name ? name : root, "name", "a volume name is required");
                return -EINVAL;
        }
        p->docname = strdup(scalar(name));
        if (!p->docname)
                return -ENOMEM;
        if (!api || !scalar(api) || !streq(scalar(api), "v1alpha1")) {
                report_at(p, api ? api : root, "apiVersion", "unsupported apiVersion \"%s\" (allowed: v1alpha1)",
                          scalar(api) ? scalar(api) : "");
                r = -EINVAL;
        }
        struct vs_volume_config vol = { .kind = streq(kind_s, "VolumeConfig") ? VS_VOLUME_SYSTEM : VS_VOLUME_USER };
        const char *n = scalar(name);
        if (vol.kind == VS_VOLUME_SYSTEM) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(system_volumes); i++)
                        if (streq(n, system_volumes[i]))
                                break;
                if (i == ELEMENTSOF(system_volumes)) {
                        report_at(p, name, "name", "unknown system volume \"%s\" (allowed: STATE, EPHEMERAL, IMAGECACHE, ETCD, CRI, KUBELET, LOG)", n);
                        return -EINVAL;
                }
        } else if (!user_name_ok(n)) {
                report_at(p, name, "name", "invalid user volume name \"%s\" (allowed: 1-34 characters of A-Z a-z 0-9 -)", n);
                return -EINVAL;
        }
        vol.name = strdup(n);
        if (asprintf(&vol.id, "%s%s", vol.kind == VS_VOLUME_USER ? "u-" : "", n) < 0)
                vol.id = NULL;
        if (asprintf(&vol.source, "%s:%lu", p->file, (unsigned long) root->start_mark.line + 1) < 0)
                vol.source = NULL;
        if (!vol.name || !vol.id || !vol.source) {
                r = -ENOMEM;
                goto fail;
        }
        if (vs_config_find(cfg, vol.id)) {
                report_at(p, name, "name", "volume %s is configured twice", vol.id);
                r = -EINVAL;
                goto fail;
        }
        if (encryption && !is_null(encryption)) {
                vol.encrypted = true;
                int q = parse_encryption(p, encryption, &vol);
                free(p->key_nodes);
                p->key_nodes = NULL;
                p->n_key_nodes = 0;
                if (q < 0)
                        r = q;
        }
        if (r < 0)
                goto fail;
        struct vs_volume_config *nv = realloc(cfg->volumes, (cfg->n_volumes + 1) * sizeof(*nv));
        if (!nv) {
                r = -ENOMEM;
                goto fail;
        }
        cfg->volumes = nv;
        cfg->volumes[cfg->n_volumes++] = vol;
        return 0;
fail:
        vs_encryption_config_done(&vol.enc);
        free(vol.name);
        free(vol.id);
        free(vol.source);
        return r;
}

static int volume_rank(const struct vs_volume_config *v) {
        if (v->kind == VS_VOLUME_USER)
                return 100;
        for (size_t i = 0; i < ELEMENTSOF(system_volumes); i++)
                if (streq(v->name, system_volumes[i]))
                        return (int) i;
        return 99;
}

static void sort_volumes(struct vs_config *cfg) {
        /* Stable insertion sort: STATE, EPHEMERAL, other system volumes, user volumes in file order. */
        for (size_t i = 1; i < cfg->n_volumes; i++) {
                struct vs_volume_config v = cfg->volumes[i];
                size_t j = i;
                for (; j > 0 && volume_rank(&cfg->volumes[j - 1]) > volume_rank(&v); j--)
                        cfg->volumes[j] = cfg->volumes[j - 1];
                cfg->volumes[j] = v;
        }
}

static int parse_stream(struct vs_config *cfg, const char *name, const unsigned char *buf, size_t len) {
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, buf, len);
        int r = 0;
        for (;;) {
                yaml_document_t doc;
                if (!yaml_parser_load(&parser, &doc)) {
                        log_error("%s:%lu:%lu: YAML syntax error: %s%s%s", name,
                                  (unsigned long) parser.problem_mark.line + 1, (unsigned long) parser.problem_mark.column + 1,
                                  parser.problem ? parser.problem : "unknown problem",
                                  parser.context ? " " : "", parser.context ? parser.context : "");
                        r = -EINVAL;
                        break;
                }
                if (!yaml_document_get_root_node(&doc) && doc.start_implicit && doc.end_implicit &&
                    parser.stream_end_produced) {
                        yaml_document_delete(&doc);
                        break;
                }
                struct parser p = { .file = name, .doc = &doc };
                int q = parse_document(&p, cfg);
                free(p.docname);
                free(p.key_nodes);
                yaml_document_delete(&doc);
                if (q == -ENOMEM) {
                        r = q;
                        break;
                }
                if (q < 0 || p.errors)
                        r = -EINVAL; /* keep going: report every document's errors in one run */
                if (parser.stream_end_produced)
                        break;
        }
        yaml_parser_delete(&parser);
        return r;
}

int vs_config_load_string(struct vs_config *cfg, const char *name, const char *yaml, size_t len) {
        int r = parse_stream(cfg, name, (const unsigned char *) yaml, len);
        if (r < 0) {
                vs_config_free(cfg);
                return r;
        }
        sort_volumes(cfg);
        return 0;
}

static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = streq(path, "-") ? NULL : fopen(path, "re");
        FILE *in = streq(path, "-") ? stdin : f;
        if (!in)
                return log_error_errno(errno, "%s: cannot open config: %s", path, strerror(errno));
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap >= 16u << 20)
                                return log_error_errno(-EFBIG, "%s: config is larger than 16 MiB", path);
                        char *n = realloc(buf, cap *= 2);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                }
                size_t k = fread(buf + len, 1, cap - len, in);
                len += k;
                if (k == 0) {
                        if (ferror(in))
                                return log_error_errno(-EIO, "%s: read error", path);
                        break;
                }
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int vs_config_load(struct vs_config *cfg, const char *const *files, size_t n_files) {
        int r = 0;
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                int q = read_file(files[i], &buf, &len);
                if (q < 0) {
                        vs_config_free(cfg);
                        return q;
                }
                q = parse_stream(cfg, files[i], (const unsigned char *) buf, len);
                explicit_bzero(buf, len); /* config files hold static passphrases */
                if (q == -ENOMEM) {
                        vs_config_free(cfg);
                        return q;
                }
                if (q < 0)
                        r = q;
        }
        if (r < 0) {
                vs_config_free(cfg);
                return r;
        }
        sort_volumes(cfg);
        return 0;
}

void vs_encryption_config_done(struct vs_encryption_config *enc) {
        for (size_t i = 0; i < enc->n_keys; i++) {
                vs_secret_free(enc->keys[i].passphrase);
                free(enc->keys[i].kms_endpoint);
        }
        free(enc->keys);
        free(enc->provider);
        free(enc->cipher);
        memset(enc, 0, sizeof(*enc));
}

void vs_config_free(struct vs_config *cfg) {
        for (size_t i = 0; i < cfg->n_volumes; i++) {
                struct vs_volume_config *v = &cfg->volumes[i];
                vs_encryption_config_done(&v->enc);
                free(v->name);
                free(v->id);
                free(v->source);
        }
        free(cfg->volumes);
        cfg->volumes = NULL;
        cfg->n_volumes = 0;
}

const struct vs_volume_config *vs_config_find(const struct vs_config *cfg, const char *id) {
        for (size_t i = 0; i < cfg->n_volumes; i++)
                if (streq(cfg->volumes[i].id, id))
                        return &cfg->volumes[i];
        return NULL;
}

struct json_object *vs_volume_config_to_json(const struct vs_volume_config *v) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "kind", json_object_new_string(v->kind == VS_VOLUME_SYSTEM ? "VolumeConfig" : "UserVolumeConfig"));
        json_object_object_add(o, "name", json_object_new_string(v->name));
        json_object_object_add(o, "volume", json_object_new_string(v->id));
        json_object_object_add(o, "source", json_object_new_string(v->source));
        if (!v->encrypted) {
                json_object_object_add(o, "encryption", NULL);
                return o;
        }
        const struct vs_encryption_config *e = &v->enc;
        struct json_object *enc = json_object_new_object(), *keys = json_object_new_array();
        json_object_object_add(enc, "provider", json_object_new_string(e->provider));
        for (size_t i = 0; i < e->n_keys; i++) {
                const struct vs_key_config *k = &e->keys[i];
                struct json_object *ko = json_object_new_object();
                json_object_object_add(ko, "slot", json_object_new_int((int) k->slot));
                json_object_object_add(ko, "kind", json_object_new_string(vs_key_kind_name(k->kind)));
                if (k->kind == VS_KEY_STATIC)
                        json_object_object_add(ko, "passphrase", json_object_new_string("<redacted>"));
                if (k->kind == VS_KEY_KMS)
                        json_object_object_add(ko, "endpoint", json_object_new_string(k->kms_endpoint));
                if (k->kind == VS_KEY_TPM) {
                        struct json_object *pcrs = json_object_new_array();
                        for (int pcr = 0; pcr < VS_MAX_PCRS; pcr++)
                                if (k->tpm_pcrs & (1u << pcr))
                                        json_object_array_add(pcrs, json_object_new_int(pcr));
                        json_object_object_add(ko, "pcrs", pcrs);
                        json_object_object_add(ko, "checkSecurebootStatusOnEnroll", json_object_new_boolean(k->tpm_check_secureboot));
                }
                json_object_object_add(ko, "lockToState", json_object_new_boolean(k->lock_to_state));
                json_object_array_add(keys, ko);
        }
        json_object_object_add(enc, "keys", keys);
        json_object_object_add(enc, "cipher", json_object_new_string(e->cipher));
        json_object_object_add(enc, "keySize", json_object_new_int((int) e->key_size));
        json_object_object_add(enc, "blockSize", json_object_new_int((int) e->block_size));
        struct json_object *opts = json_object_new_array();
        for (size_t i = 0; i < ELEMENTSOF(perf_options); i++)
                if (e->perf_flags & perf_options[i].flag)
                        json_object_array_add(opts, json_object_new_string(perf_options[i].name));
        json_object_object_add(enc, "options", opts);
        json_object_object_add(enc, "allowDiscards", json_object_new_boolean(e->allow_discards));
        json_object_object_add(o, "encryption", enc);
        return o;
}
