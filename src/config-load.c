/* config-load.c: see config.h. Loads YAML streams with libyaml's document loader (every node keeps its
 * position, so every error names FILE:LINE:COL), hands each document to its reader (config-volume.c), then
 * resolves what Talos resolves across documents: machine.systemDiskEncryption applies to STATE and EPHEMERAL
 * when no VolumeConfig encrypts them, and both at once is refused as Talos refuses it. */
#include "config.h"
#include "config-internal.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>

static const char *const system_order[] = { "STATE", "EPHEMERAL", "IMAGECACHE", "ETCD", "CRI", "KUBELET", "LOG" };

struct loader {
        struct vs_config *cfg;
        unsigned flags;
        struct vs_volume_config legacy[2];     /* machine.systemDiskEncryption state, ephemeral */
        char *v1alpha1_source;                 /* "FILE:LINE" of the v1alpha1 document */
};

static int append_volume(struct vs_config *cfg, struct vs_volume_config *v) {
        struct vs_volume_config *nv = realloc(cfg->volumes, (cfg->n_volumes + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        cfg->volumes = nv;
        cfg->volumes[cfg->n_volumes++] = *v;
        memset(v, 0, sizeof(*v));
        return 0;
}

/* Talos's document kinds volseal reads; NULL = skip the document. */
static int document_kind(struct cy *p, yaml_node_t *root, enum vs_volume_kind *ret, bool *v1alpha1) {
        static const char *const kinds[] = { "VolumeConfig", "UserVolumeConfig", "RawVolumeConfig", "SwapVolumeConfig" };
        const char *kind = cy_scalar(cy_get(p, root, "kind")), *api = cy_scalar(cy_get(p, root, "apiVersion"));
        *v1alpha1 = false;
        if (!kind || !*kind) {
                /* Talos's decoder: no kind and apiVersion v1alpha1, or a key of the v1alpha1 document. */
                *v1alpha1 = (api && streq(api, "v1alpha1")) || cy_get(p, root, "machine") || cy_get(p, root, "cluster") ||
                            cy_get(p, root, "debug") || cy_get(p, root, "persist");
                return *v1alpha1 ? 1 : 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(kind, kinds[i])) {
                        *ret = (enum vs_volume_kind) i;
                        p->kind = kinds[i];
                        return 1;
                }
        return 0; /* Talos's other documents are not ours */
}

static int v1alpha1_document(struct loader *l, struct cy *p, yaml_node_t *root) {
        p->kind = "v1alpha1";
        if (l->v1alpha1_source) {
                cy_report(p, root, "", "duplicate v1alpha1 document (the first is at %s; Talos allows one)", l->v1alpha1_source);
                return -EINVAL;
        }
        if (asprintf(&l->v1alpha1_source, "%s:%lu", p->file, (unsigned long) root->start_mark.line + 1) < 0) {
                l->v1alpha1_source = NULL;
                return -ENOMEM;
        }
        return cy_v1alpha1_document(p, root, l->legacy);
}

/* Parses one document; returns 0 (added or skipped) or -EINVAL/-ENOMEM. */
static int parse_document(struct loader *l, struct cy *p) {
        yaml_node_t *root = yaml_document_get_root_node(p->doc);
        if (!root || cy_is_null(root))
                return 0;
        if (root->type != YAML_MAPPING_NODE) {
                cy_report(p, root, "", "a config document must be a mapping");
                return -EINVAL;
        }
        enum vs_volume_kind kind = VS_VOLUME_SYSTEM;
        bool v1alpha1 = false;
        if (document_kind(p, root, &kind, &v1alpha1) <= 0)
                return 0;
        if (v1alpha1)
                return v1alpha1_document(l, p, root);
        struct vs_volume_config vol = { .kind = kind };
        int r = cy_volume_document(p, root, &vol);
        if (r > 0 && vs_config_find(l->cfg, vol.id)) {
                cy_report(p, cy_get(p, root, "name"), "name", "volume %s is configured twice (duplicate document)", vol.id);
                r = -EINVAL;
        }
        if (r > 0)
                r = append_volume(l->cfg, &vol);
        vs_volume_config_done(&vol);
        return r < 0 ? r : 0;
}

/* machine.systemDiskEncryption: used for STATE/EPHEMERAL when no VolumeConfig encrypts them; refused when
 * one does (Talos's VolumeConfigV1Alpha1.V1Alpha1ConflictValidate). */
static int merge_legacy(struct loader *l) {
        int r = 0;
        for (int i = 0; i < 2; i++) {
                struct vs_volume_config *lv = &l->legacy[i];
                if (!lv->id)
                        continue;
                struct vs_volume_config *v = NULL;
                for (size_t k = 0; k < l->cfg->n_volumes && !v; k++)
                        if (streq(l->cfg->volumes[k].id, lv->id))
                                v = &l->cfg->volumes[k];
                if (v && v->encrypted) {
                        log_error("%s: machine.systemDiskEncryption.%s: system disk encryption for \"%s\" is configured in "
                                  "both v1alpha1.Config and VolumeConfig (%s); Talos allows one of them", lv->source,
                                  i == 0 ? "state" : "ephemeral", lv->id, v->source);
                        r = -EINVAL;
                } else if (v) {
                        vs_encryption_config_done(&v->enc);
                        v->enc = lv->enc;
                        memset(&lv->enc, 0, sizeof(lv->enc));
                        v->encrypted = lv->encrypted;
                        v->from_v1alpha1 = true;
                } else if (append_volume(l->cfg, lv) < 0)
                        return -ENOMEM;
        }
        return r;
}

static int volume_rank(const struct vs_volume_config *v) {
        if (v->kind != VS_VOLUME_SYSTEM)
                return 100 * (int) v->kind;
        for (size_t i = 0; i < ELEMENTSOF(system_order); i++)
                if (streq(v->name, system_order[i]))
                        return (int) i;
        return 99;
}

static void sort_volumes(struct vs_config *cfg) {
        /* Stable insertion sort: STATE, EPHEMERAL, other system volumes, user, raw, swap in file order. */
        for (size_t i = 1; i < cfg->n_volumes; i++) {
                struct vs_volume_config v = cfg->volumes[i];
                size_t j = i;
                for (; j > 0 && volume_rank(&cfg->volumes[j - 1]) > volume_rank(&v); j--)
                        cfg->volumes[j] = cfg->volumes[j - 1];
                cfg->volumes[j] = v;
        }
}

static int parse_stream(struct loader *l, const char *name, const unsigned char *buf, size_t len) {
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
                struct cy p = { .file = name, .doc = &doc, .flags = l->flags };
                int q = parse_document(l, &p);
                free(p.docname);
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

/* The updatable tpm keys of a node share one NV index, hence one set of literal PCRs (docs/tpm-updatable.md). */
static int check_updatable_pcrs(const struct vs_config *cfg) {
        const struct vs_volume_config *first = NULL;
        uint32_t pcrs = 0;
        int r = 0;
        for (size_t i = 0; i < cfg->n_volumes; i++)
                for (size_t j = 0; cfg->volumes[i].encrypted && j < cfg->volumes[i].enc.n_keys; j++) {
                        const struct vs_key_config *k = &cfg->volumes[i].enc.keys[j];
                        if (k->kind != VS_KEY_TPM || !k->tpm_updatable)
                                continue;
                        if (!first) {
                                first = &cfg->volumes[i];
                                pcrs = k->tpm_pcrs;
                        } else if (k->tpm_pcrs != pcrs) {
                                log_error("%s: volume %s: slot %u: an updatable tpm key with other PCRs (0x%06x) than volume "
                                          "%s's (0x%06x, %s): the updatable slots of a node share one NV index and one set "
                                          "of literal PCRs", cfg->volumes[i].source, cfg->volumes[i].id, k->slot, k->tpm_pcrs,
                                          first->id, pcrs, first->source);
                                r = -EINVAL;
                        }
                }
        return r;
}

static int finish(struct loader *l, int r) {
        if (r >= 0)
                r = merge_legacy(l);
        if (r >= 0)
                r = check_updatable_pcrs(l->cfg);
        for (int i = 0; i < 2; i++)
                vs_volume_config_done(&l->legacy[i]);
        free(l->v1alpha1_source);
        if (r < 0) {
                vs_config_free(l->cfg);
                return r;
        }
        sort_volumes(l->cfg);
        return 0;
}

int vs_config_load_string_flags(struct vs_config *cfg, const char *name, const char *yaml, size_t len, unsigned flags) {
        struct loader l = { .cfg = cfg, .flags = flags };
        return finish(&l, parse_stream(&l, name, (const unsigned char *) yaml, len));
}

int vs_config_load_string(struct vs_config *cfg, const char *name, const char *yaml, size_t len) {
        return vs_config_load_string_flags(cfg, name, yaml, len, 0);
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

int vs_config_load_flags(struct vs_config *cfg, const char *const *files, size_t n_files, unsigned flags) {
        struct loader l = { .cfg = cfg, .flags = flags };
        int r = 0;
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                int q = read_file(files[i], &buf, &len);
                if (q >= 0) {
                        q = parse_stream(&l, files[i], (const unsigned char *) buf, len);
                        explicit_bzero(buf, len); /* config files hold static passphrases */
                }
                if (q == -ENOMEM || (q < 0 && q != -EINVAL))
                        return finish(&l, q);
                if (q < 0)
                        r = q;
        }
        return finish(&l, r);
}

int vs_config_load(struct vs_config *cfg, const char *const *files, size_t n_files) {
        return vs_config_load_flags(cfg, files, n_files, 0);
}
