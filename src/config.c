/* config.c: see config.h. The model the config readers fill (config-load.c, config-volume.c,
 * config-encryption.c): names of its values, copying and freeing it, and its `volseal config show --json`
 * form. It uses nothing of the readers. */
#include "config.h"
#include "go-json.h"
#include "util.h"

#include <errno.h>

static const struct { const char *name; unsigned flag; } perf_options[] = {
        { "no_read_workqueue", VS_PERF_NO_READ_WORKQUEUE },
        { "no_write_workqueue", VS_PERF_NO_WRITE_WORKQUEUE },
        { "same_cpu_crypt", VS_PERF_SAME_CPU_CRYPT },
};

const char *vs_perf_flag_name(unsigned flag) {
        for (size_t i = 0; i < ELEMENTSOF(perf_options); i++)
                if (perf_options[i].flag == flag)
                        return perf_options[i].name;
        return NULL;
}

unsigned vs_perf_flag_parse(const char *name) {
        for (size_t i = 0; name && i < ELEMENTSOF(perf_options); i++)
                if (streq(name, perf_options[i].name))
                        return perf_options[i].flag;
        return 0;
}

const char *vs_key_kind_name(enum vs_key_kind kind) {
        static const char *const names[] = { "static", "nodeID", "kms", "tpm", "recovery" };
        return kind < _VS_KEY_KIND_MAX ? names[kind] : "unknown";
}

const char *vs_key_config_name(const struct vs_key_config *k) {
        return k->kind == VS_KEY_TPM && k->tpm_updatable ? "tpm-updatable" : vs_key_kind_name(k->kind);
}

bool vs_config_has_updatable(const struct vs_config *cfg, uint32_t *ret_pcrs) {
        for (size_t i = 0; i < cfg->n_volumes; i++)
                for (size_t j = 0; cfg->volumes[i].encrypted && j < cfg->volumes[i].enc.n_keys; j++) {
                        const struct vs_key_config *k = &cfg->volumes[i].enc.keys[j];
                        if (k->kind == VS_KEY_TPM && k->tpm_updatable) {
                                if (ret_pcrs)
                                        *ret_pcrs = k->tpm_pcrs;
                                return true;
                        }
                }
        return false;
}

bool vs_cipher_is_adiantum(const char *cipher) {
        return cipher && (streq(cipher, VS_CIPHER_XCHACHA12) || streq(cipher, VS_CIPHER_XCHACHA20));
}

int vs_cipher_split(const char *cipher, char *ret_cipher, size_t size, const char **ret_mode) {
        if (!cipher || !*cipher || streq(cipher, VS_CIPHER_XTS)) {
                snprintf(ret_cipher, size, "aes");
                *ret_mode = "xts-plain64";
        } else if (vs_cipher_is_adiantum(cipher)) {
                snprintf(ret_cipher, size, "%.13s", cipher); /* "xchacha12,aes" */
                *ret_mode = "adiantum-plain64";
        } else
                return -EINVAL;
        return 0;
}

const char *vs_volume_kind_name(enum vs_volume_kind kind) {
        static const char *const names[] = { "VolumeConfig", "UserVolumeConfig", "RawVolumeConfig", "SwapVolumeConfig" };
        return (unsigned) kind < ELEMENTSOF(names) ? names[kind] : "?";
}

const char *vs_volume_type_name(enum vs_volume_type type) {
        static const char *const names[] = { "partition", "disk", "directory" };
        return (unsigned) type < ELEMENTSOF(names) ? names[type] : "?";
}

void vs_volume_config_done(struct vs_volume_config *v) {
        vs_encryption_config_done(&v->enc);
        free(v->name);
        free(v->id);
        free(v->source);
        memset(v, 0, sizeof(*v));
}

void vs_encryption_config_done(struct vs_encryption_config *enc) {
        for (size_t i = 0; i < enc->n_keys; i++) {
                vs_secret_free(enc->keys[i].passphrase);
                free(enc->keys[i].kms_endpoint);
        }
        free(enc->keys);
        free(enc->provider);
        free(enc->cipher);
        if (enc->talos_value) {
                vs_json_wipe(enc->talos_value);
                json_object_put(enc->talos_value);
        }
        memset(enc, 0, sizeof(*enc));
}

void vs_config_free(struct vs_config *cfg) {
        for (size_t i = 0; i < cfg->n_volumes; i++)
                vs_volume_config_done(&cfg->volumes[i]);
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

static struct json_object *pcr_list(uint32_t mask) {
        struct json_object *a = json_object_new_array();
        for (int pcr = 0; pcr < VS_MAX_PCRS; pcr++)
                if (mask & (1u << pcr))
                        json_object_array_add(a, json_object_new_int(pcr));
        return a;
}

static struct json_object *key_to_json(const struct vs_key_config *k) {
        struct json_object *ko = json_object_new_object();
        json_object_object_add(ko, "slot", json_object_new_int((int) k->slot));
        json_object_object_add(ko, "kind", json_object_new_string(vs_key_kind_name(k->kind)));
        if (k->kind == VS_KEY_STATIC)
                json_object_object_add(ko, "passphrase", json_object_new_string("<redacted>"));
        if (k->kind == VS_KEY_KMS)
                json_object_object_add(ko, "endpoint", json_object_new_string(k->kms_endpoint ? k->kms_endpoint : ""));
        if (k->kind == VS_KEY_TPM) {
                json_object_object_add(ko, "pcrs", pcr_list(k->tpm_pcrs));
                json_object_object_add(ko, "pubkeyPcrs", pcr_list(1u << 11));
                json_object_object_add(ko, "checkSecurebootStatusOnEnroll", json_object_new_boolean(k->tpm_check_secureboot));
                if (k->tpm_updatable) /* a volseal extension: only shown when set */
                        json_object_object_add(ko, "updatable", json_object_new_boolean(true));
        }
        json_object_object_add(ko, "lockToState", json_object_new_boolean(k->lock_to_state));
        return ko;
}

struct json_object *vs_volume_config_to_json(const struct vs_volume_config *v) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "kind", json_object_new_string(vs_volume_kind_name(v->kind)));
        json_object_object_add(o, "name", json_object_new_string(v->name));
        json_object_object_add(o, "volume", json_object_new_string(v->id));
        json_object_object_add(o, "type", json_object_new_string(vs_volume_type_name(v->type)));
        json_object_object_add(o, "source", json_object_new_string(v->source ? v->source : ""));
        if (v->from_v1alpha1)
                json_object_object_add(o, "encryptionFrom", json_object_new_string("machine.systemDiskEncryption"));
        json_object_object_add(o, "encrypted", json_object_new_boolean(v->encrypted));
        if (!v->encrypted) {
                json_object_object_add(o, "encryption", NULL);
                return o;
        }
        const struct vs_encryption_config *e = &v->enc;
        struct json_object *enc = json_object_new_object(), *keys = json_object_new_array();
        json_object_object_add(enc, "provider", json_object_new_string(e->provider));
        for (size_t i = 0; i < e->n_keys; i++)
                json_object_array_add(keys, key_to_json(&e->keys[i]));
        json_object_object_add(enc, "keys", keys);
        json_object_object_add(enc, "cipher", json_object_new_string(e->cipher));
        json_object_object_add(enc, "keySize", json_object_new_int((int) e->key_size));
        json_object_object_add(enc, "blockSize", json_object_new_int((int) e->block_size));
        struct json_object *opts = json_object_new_array();
        for (unsigned f = 1; f <= VS_PERF_SAME_CPU_CRYPT; f <<= 1)
                if (e->perf_flags & f)
                        json_object_array_add(opts, json_object_new_string(vs_perf_flag_name(f)));
        json_object_object_add(enc, "options", opts);
        json_object_object_add(enc, "allowDiscards", json_object_new_boolean(e->allow_discards));
        json_object_object_add(o, "encryption", enc);
        return o;
}
