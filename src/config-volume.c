/* config-volume.c: the volume documents of a Talos config (VolumeConfig, UserVolumeConfig,
 * RawVolumeConfig, SwapVolumeConfig) with every field of Talos's schema and Talos's rules for them, and
 * machine.systemDiskEncryption of the v1alpha1 document. Fields volseal does not act on (provisioning,
 * filesystem, mount, trim, scrub) are checked as Talos checks them; a CEL disk selector is only required to
 * be a string (volseal does not evaluate CEL). docs/talos.md lists each rule with the Talos source. */
#include "config-internal.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>

static const char *const system_volumes[] = { "STATE", "EPHEMERAL", "IMAGECACHE", "ETCD", "CRI", "KUBELET", "LOG", NULL };
/* ETCD, CRI, KUBELET, LOG: a directory under EPHEMERAL unless provisioning asks for a dedicated partition. */
static const char *const promotable_volumes[] = { "ETCD", "CRI", "KUBELET", "LOG", NULL };

static bool in_list(const char *s, const char *const *list) {
        for (size_t i = 0; list[i]; i++)
                if (streq(s, list[i]))
                        return true;
        return false;
}

/* ---- provisioning ---- */

struct prov {
        yaml_node_t *node, *selector, *grow, *min, *max;
        bool has_selector, has_grow, has_min, has_max;
        uint64_t min_v, max_v;
        bool min_neg, max_neg, max_rel;
};

static int parse_size(struct cy *p, yaml_node_t *n, const char *field, bool bytes_only, bool *set, uint64_t *v,
                      bool *neg, bool *rel) {
        const char *s = NULL;
        int r = cy_string(p, n, field, &s);
        *set = false;
        if (r <= 0 || !*s)
                return r;
        *rel = false;
        r = bytes_only ? vs_talos_parse_bytes(s, v, neg) : vs_talos_parse_size(s, v, rel, neg);
        if (r < 0) {
                cy_report(p, n, field, "\"%s\" is not a size (allowed: bytes with an optional unit such as 10GiB or 2.5TB%s)",
                          s, bytes_only ? "" : ", or a percentage such as 80%");
                return -EINVAL;
        }
        *set = true;
        return 1;
}

static int parse_provisioning(struct cy *p, yaml_node_t *n, struct prov *pv) {
        static const char *const fields[] = { "diskSelector", "grow", "minSize", "maxSize", NULL };
        memset(pv, 0, sizeof(*pv));
        pv->node = n;
        int r = cy_mapping(p, n, "provisioning", fields);
        if (r <= 0)
                return r;
        pv->selector = cy_get(p, n, "diskSelector");
        int q = cy_mapping(p, pv->selector, "provisioning.diskSelector", (const char *const[]) { "match", NULL });
        const char *match = NULL;
        if (q > 0 && (q = cy_string(p, cy_get(p, pv->selector, "match"), "provisioning.diskSelector.match", &match)) > 0)
                pv->has_selector = *match != 0;
        if (q < 0)
                r = q;
        bool grow = false;
        pv->grow = cy_get(p, n, "grow");
        if ((q = cy_bool(p, pv->grow, "provisioning.grow", &grow)) < 0)
                r = q;
        pv->has_grow = q > 0;
        bool unused;
        pv->min = cy_get(p, n, "minSize");
        if (parse_size(p, pv->min, "provisioning.minSize", true, &pv->has_min, &pv->min_v, &pv->min_neg, &unused) < 0)
                r = -EINVAL;
        pv->max = cy_get(p, n, "maxSize");
        if (parse_size(p, pv->max, "provisioning.maxSize", false, &pv->has_max, &pv->max_v, &pv->max_neg, &pv->max_rel) < 0)
                r = -EINVAL;
        return r;
}

static bool prov_requested(const struct prov *pv) {
        return pv->has_selector || pv->has_grow || pv->has_min || pv->has_max;
}

/* Talos's ProvisioningSpec.Validate(required, sizeSupported). What volseal does not need (a disk selector
 * and a size, to create the partition) is an extension: volseal opens volumes that exist. */
static void provisioning_validate(struct cy *p, yaml_node_t *doc, const struct prov *pv, bool required, bool size_supported) {
        yaml_node_t *at = pv->node ? pv->node : doc;
        if (!pv->has_selector && required)
                cy_extension(p, at, "provisioning.diskSelector", "disk selector is required (Talos creates the volume on "
                             "the disk it selects; volseal opens a volume that exists)");
        if (size_supported) {
                if (pv->has_min && pv->has_max && !pv->max_rel && !pv->max_neg) {
                        if (pv->min_v > pv->max_v)
                                cy_report(p, pv->min, "provisioning.minSize", "min size is greater than max size");
                } else if (required && !pv->has_min && !pv->has_max)
                        cy_extension(p, at, "provisioning", "min size or max size is required (Talos needs a size to "
                                     "create the partition; volseal opens a volume that exists)");
                if (pv->has_min && pv->min_neg)
                        cy_report(p, pv->min, "provisioning.minSize", "min size cannot be negative");
        } else if (pv->has_min || pv->has_max || pv->has_grow)
                cy_report(p, at, "provisioning", "min size, max size and grow are not supported for a whole-disk volume");
}

/* ---- filesystem, mount, trim, scrub ---- */

static int parse_xfs(struct cy *p, yaml_node_t *n, const char *field, bool *set) {
        char sub[96];
        cy_join(sub, sizeof(sub), field, "xfs");
        yaml_node_t *x = cy_get(p, n, "xfs");
        int r = cy_mapping(p, x, sub, (const char *const[]) { "minAllocationGroupSize", NULL });
        *set = r > 0;
        if (r <= 0)
                return r;
        bool has, neg, rel;
        uint64_t v;
        cy_join(sub, sizeof(sub), field, "xfs.minAllocationGroupSize");
        return parse_size(p, cy_get(p, x, "minAllocationGroupSize"), sub, true, &has, &v, &neg, &rel) < 0 ? -EINVAL : 1;
}

/* A user volume's filesystem: type (Talos's FilesystemType names), projectQuotaSupport, xfs. *set when
 * not zero. */
static int parse_user_filesystem(struct cy *p, yaml_node_t *n, bool *set) {
        static const char *const types[] = { "none", "xfs", "vfat", "ext4", "iso9660", "swapi", "virtiofs", "btrfs", NULL };
        int r = cy_mapping(p, n, "filesystem", (const char *const[]) { "type", "projectQuotaSupport", "xfs", NULL });
        *set = false;
        if (r <= 0)
                return r;
        const char *type = "none";
        yaml_node_t *tn = cy_get(p, n, "type");
        int q = cy_string(p, tn, "filesystem.type", &type);
        size_t t;
        for (t = 0; q >= 0 && types[t] && strcasecmp(types[t], type) != 0; t++)
                ;
        if (q > 0 && !types[t]) {
                cy_report(p, tn, "filesystem.type", "%s does not belong to FilesystemType values (allowed: xfs, ext4, btrfs)", type);
                return -EINVAL;
        }
        bool xfs = q <= 0 || t <= 1; /* none means xfs */
        if (q > 0 && t > 1 && !streq(types[t], "ext4") && !streq(types[t], "btrfs")) {
                cy_report(p, tn, "filesystem.type", "unsupported filesystem type: %s (allowed: xfs, ext4, btrfs)", types[t]);
                r = -EINVAL;
        }
        bool quota = false, xfs_set = false;
        yaml_node_t *qn = cy_get(p, n, "projectQuotaSupport");
        int qq = cy_bool(p, qn, "filesystem.projectQuotaSupport", &quota);
        if (qq < 0 || (q = parse_xfs(p, n, "filesystem", &xfs_set)) < 0)
                return -EINVAL;
        if (quota && !xfs)
                cy_report(p, qn, "filesystem.projectQuotaSupport", "project quota support is only available for xfs filesystem");
        if (xfs_set && !xfs)
                cy_report(p, cy_get(p, n, "xfs"), "filesystem.xfs", "xfs options are only available for xfs filesystem");
        *set = (q > 0 && t > 0) || qq > 0 || xfs_set;
        return r;
}

static int parse_mount(struct cy *p, yaml_node_t *n, bool *any, bool *disable_atime) {
        int r = cy_mapping(p, n, "mount", (const char *const[]) { "secure", "disableAccessTime", NULL });
        *any = *disable_atime = false;
        if (r <= 0)
                return r;
        bool b;
        int q1 = cy_bool(p, cy_get(p, n, "secure"), "mount.secure", &b);
        int q2 = cy_bool(p, cy_get(p, n, "disableAccessTime"), "mount.disableAccessTime", &b);
        *any = q1 > 0 || q2 > 0;
        *disable_atime = q2 > 0;
        return q1 < 0 || q2 < 0 ? -EINVAL : 1;
}

/* trim/scrub: {enabled, interval}; Talos refuses a negative trim interval and a scrub interval under 10 s. */
static int parse_schedule(struct cy *p, yaml_node_t *doc, const char *name) {
        yaml_node_t *n = cy_get(p, doc, name);
        int r = cy_mapping(p, n, name, (const char *const[]) { "enabled", "interval", NULL });
        if (r <= 0)
                return r;
        char field[32];
        bool b;
        cy_join(field, sizeof(field), name, "enabled");
        if (cy_bool(p, cy_get(p, n, "enabled"), field, &b) < 0)
                r = -EINVAL;
        cy_join(field, sizeof(field), name, "interval");
        yaml_node_t *in = cy_get(p, n, "interval");
        const char *s = cy_scalar(in);
        int64_t ns = 0;
        bool plain_zero = s && in->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && streq(s, "0");
        if (cy_is_null(in) || plain_zero)
                return r;
        if (!s || vs_talos_parse_duration(s, &ns) < 0) {
                cy_report(p, in, field, "\"%s\" is not a duration (allowed: Go durations such as 168h or 30m)", s ? s : "");
                return -EINVAL;
        }
        if (streq(name, "trim") && ns < 0)
                cy_report(p, in, field, "trim interval cannot be negative");
        if (streq(name, "scrub") && ns != 0 && ns < 10000000000LL)
                cy_report(p, in, field, "scrub interval: minimum value is 10s");
        return r;
}

/* ---- documents ---- */

static bool name_ok(const char *s) {
        size_t n = strlen(s);
        if (n < 1 || n > 34)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '-')
                        return false;
        return true;
}

static int check_name(struct cy *p, yaml_node_t *root, enum vs_volume_kind kind, const char **ret) {
        yaml_node_t *n = cy_get(p, root, "name");
        const char *name = "";
        if (cy_string(p, n, "name", &name) < 0)
                return -EINVAL;
        if (!*name) {
                cy_report(p, n ? n : root, "name", "name is required");
                return -EINVAL;
        }
        if (!(p->docname = strdup(name)))
                return -ENOMEM;
        if (kind == VS_VOLUME_SYSTEM && !in_list(name, system_volumes)) {
                cy_report(p, n, "name", "only [\"STATE\" \"EPHEMERAL\" \"IMAGECACHE\" \"ETCD\" \"CRI\" \"KUBELET\" \"LOG\"] volumes are supported");
                return -EINVAL;
        }
        if (kind != VS_VOLUME_SYSTEM && !name_ok(name)) {
                cy_report(p, n, "name", "invalid name \"%s\" (allowed: 1-34 characters of A-Z a-z 0-9 -: the volume ID "
                          "with its 2-character prefix is a GPT partition label of at most 36)", name);
                return -EINVAL;
        }
        *ret = name;
        return 0;
}

/* validateVolumeConstraints of Talos's VolumeConfig: which sections each system volume allows. */
static void system_constraints(struct cy *p, yaml_node_t *root, const char *name, const struct prov *pv, bool mount,
                               bool filesystem) {
        bool requested = prov_requested(pv);
        if (streq(name, "STATE") && requested)
                cy_report(p, pv->node, "provisioning", "provisioning config is not allowed for the \"STATE\" volume");
        if ((streq(name, "STATE") || streq(name, "IMAGECACHE")) && mount)
                cy_report(p, cy_get(p, root, "mount"), "mount", "mount config is not allowed for the \"%s\" volume", name);
        if (streq(name, "IMAGECACHE") && filesystem)
                cy_report(p, cy_get(p, root, "filesystem"), "filesystem", "filesystem config is not allowed for the \"IMAGECACHE\" volume");
        if (in_list(name, promotable_volumes) && mount && !requested)
                cy_report(p, cy_get(p, root, "mount"), "mount", "mount config for the \"%s\" volume is only supported when "
                          "it is provisioned onto a dedicated partition", name);
}

static int system_document(struct cy *p, yaml_node_t *root, const char *name, struct vs_volume_config *vol) {
        struct prov pv;
        int r = parse_provisioning(p, cy_get(p, root, "provisioning"), &pv);
        provisioning_validate(p, root, &pv, false, true);
        bool xfs = false, mount = false, atime;
        yaml_node_t *fs = cy_get(p, root, "filesystem");
        if (cy_mapping(p, fs, "filesystem", (const char *const[]) { "xfs", NULL }) < 0 || parse_xfs(p, fs, "filesystem", &xfs) < 0)
                r = -EINVAL;
        if (parse_mount(p, cy_get(p, root, "mount"), &mount, &atime) < 0 || parse_schedule(p, root, "trim") < 0 ||
            parse_schedule(p, root, "scrub") < 0)
                r = -EINVAL;
        system_constraints(p, root, name, &pv, mount, xfs);
        int q = cy_encryption(p, cy_get(p, root, "encryption"), "encryption", ENC_BLOCK, name, &vol->enc);
        if (q < 0)
                return q;
        vol->encrypted = q > 0;
        vol->type = in_list(name, promotable_volumes) && !prov_requested(&pv) ? VS_VOLUME_DIRECTORY : VS_VOLUME_PARTITION;
        if (vol->type == VS_VOLUME_DIRECTORY && vol->encrypted) {
                cy_warn(p, cy_get(p, root, "encryption"), "encryption", "without provisioning Talos keeps %s in a directory "
                        "under EPHEMERAL and does not use this encryption (add provisioning for a dedicated partition)", name);
                vol->encrypted = false;
        }
        return r;
}

static int parse_volume_type(struct cy *p, yaml_node_t *root, enum vs_volume_type *ret) {
        static const char *const types[] = { "partition", "disk", "tmpfs", "directory", "symlink", "overlay", "external", NULL };
        yaml_node_t *n = cy_get(p, root, "volumeType");
        const char *s = NULL;
        int r = cy_string(p, n, "volumeType", &s);
        *ret = VS_VOLUME_PARTITION;
        if (r <= 0)
                return r;
        size_t t;
        for (t = 0; types[t] && strcasecmp(types[t], s) != 0; t++)
                ;
        if (!types[t] || (t != 0 && t != 1 && t != 3)) {
                cy_report(p, n, "volumeType", "%s \"%s\" (allowed: partition, disk, directory)",
                          types[t] ? "unsupported volume type" : "unknown volume type", s);
                return -EINVAL;
        }
        *ret = t == 0 ? VS_VOLUME_PARTITION : t == 1 ? VS_VOLUME_DISK : VS_VOLUME_DIRECTORY;
        return 1;
}

/* Talos's EncryptionSpec.IsZero on the YAML: no provider other than none and no key. */
static bool encryption_zero(struct cy *p, yaml_node_t *n) {
        const char *prov = cy_scalar(cy_get(p, n, "provider"));
        yaml_node_t *keys = cy_get(p, n, "keys");
        bool has_key = false;
        for (size_t i = 0; i < cy_items(keys); i++)
                has_key |= !cy_is_null(cy_item(p, keys, i));
        return cy_is_null(n) || (n->type == YAML_MAPPING_NODE && (cy_is_null(cy_get(p, n, "provider")) ||
                                 (prov && strcasecmp(prov, "none") == 0)) && !has_key);
}

static int directory_document(struct cy *p, yaml_node_t *root, const struct prov *pv, bool fs, bool atime) {
        if (prov_requested(pv))
                cy_report(p, pv->node, "provisioning", "provisioning spec is invalid for volumeType directory");
        if (!encryption_zero(p, cy_get(p, root, "encryption")))
                cy_report(p, cy_get(p, root, "encryption"), "encryption", "encryption spec is invalid for volumeType "
                          "directory (a directory has no block device to encrypt)");
        if (fs)
                cy_report(p, cy_get(p, root, "filesystem"), "filesystem", "filesystem spec is invalid for volumeType directory");
        if (atime)
                cy_report(p, cy_get(p, root, "mount"), "mount.disableAccessTime", "mount.disableAccessTime is invalid for volumeType directory");
        return 0;
}

static int user_document(struct cy *p, yaml_node_t *root, struct vs_volume_config *vol) {
        int r = parse_volume_type(p, root, &vol->type) < 0 ? -EINVAL : 0;
        struct prov pv;
        bool fs = false, mount, atime = false;
        if (parse_provisioning(p, cy_get(p, root, "provisioning"), &pv) < 0 ||
            parse_user_filesystem(p, cy_get(p, root, "filesystem"), &fs) < 0 || parse_mount(p, cy_get(p, root, "mount"), &mount, &atime) < 0 ||
            parse_schedule(p, root, "trim") < 0 || parse_schedule(p, root, "scrub") < 0)
                r = -EINVAL;
        if (vol->type == VS_VOLUME_DIRECTORY)
                return directory_document(p, root, &pv, fs, atime) < 0 ? -EINVAL : r;
        provisioning_validate(p, root, &pv, true, vol->type == VS_VOLUME_PARTITION);
        int q = cy_encryption(p, cy_get(p, root, "encryption"), "encryption", ENC_BLOCK, vol->id, &vol->enc);
        if (q < 0)
                return q;
        vol->encrypted = q > 0;
        return r;
}

static int raw_swap_document(struct cy *p, yaml_node_t *root, struct vs_volume_config *vol) {
        struct prov pv;
        int r = parse_provisioning(p, cy_get(p, root, "provisioning"), &pv) < 0 ? -EINVAL : 0;
        provisioning_validate(p, root, &pv, true, true);
        int q = cy_encryption(p, cy_get(p, root, "encryption"), "encryption", ENC_BLOCK, vol->id, &vol->enc);
        if (q < 0)
                return q;
        vol->encrypted = q > 0;
        return r;
}

int cy_volume_document(struct cy *p, yaml_node_t *root, struct vs_volume_config *vol) {
        static const char *const system_fields[] = { "apiVersion", "kind", "name", "provisioning", "filesystem", "encryption", "mount", "trim", "scrub", NULL };
        static const char *const user_fields[] = { "apiVersion", "kind", "name", "volumeType", "provisioning", "filesystem", "encryption", "mount", "trim", "scrub", NULL };
        static const char *const raw_fields[] = { "apiVersion", "kind", "name", "provisioning", "encryption", NULL };
        static const char *const prefixes[] = { "", "u-", "r-", "s-" };
        enum vs_volume_kind kind = vol->kind;
        const char *const *fields = kind == VS_VOLUME_SYSTEM ? system_fields : kind == VS_VOLUME_USER ? user_fields : raw_fields;
        int r = cy_mapping(p, root, "", fields) < 0 ? -EINVAL : 0;
        const char *api = cy_scalar(cy_get(p, root, "apiVersion"));
        if (!api || !streq(api, "v1alpha1")) {
                cy_report(p, cy_get(p, root, "apiVersion") ? cy_get(p, root, "apiVersion") : root, "apiVersion",
                          "unsupported apiVersion \"%s\" (allowed: v1alpha1)", api ? api : "");
                r = -EINVAL;
        }
        const char *name = NULL;
        int q = check_name(p, root, kind, &name);
        if (q < 0)
                return q;
        if (asprintf(&vol->id, "%s%s", prefixes[kind], name) < 0 || !(vol->name = strdup(name))) {
                vol->id = NULL;
                return -ENOMEM;
        }
        if (asprintf(&vol->source, "%s:%lu", p->file, (unsigned long) root->start_mark.line + 1) < 0) {
                vol->source = NULL;
                return -ENOMEM;
        }
        q = kind == VS_VOLUME_SYSTEM ? system_document(p, root, name, vol) : kind == VS_VOLUME_USER ? user_document(p, root, vol)
                                                                                           : raw_swap_document(p, root, vol);
        if (q < 0)
                return q;
        return r < 0 || p->errors ? -EINVAL : 1;
}

int cy_v1alpha1_document(struct cy *p, yaml_node_t *root, struct vs_volume_config vols[2]) {
        static const char *const labels[2] = { "STATE", "EPHEMERAL" };
        yaml_node_t *machine = cy_get(p, root, "machine");
        if (!machine || machine->type != YAML_MAPPING_NODE)
                return 0; /* volseal reads nothing else of the v1alpha1 document */
        yaml_node_t *sde = cy_get(p, machine, "systemDiskEncryption");
        int r = cy_mapping(p, sde, "machine.systemDiskEncryption", (const char *const[]) { "state", "ephemeral", NULL });
        if (r <= 0)
                return r;
        for (int i = 0; i < 2; i++) {
                char field[64];
                snprintf(field, sizeof(field), "machine.systemDiskEncryption.%s", i == 0 ? "state" : "ephemeral");
                yaml_node_t *n = cy_get(p, sde, i == 0 ? "state" : "ephemeral");
                if (cy_is_null(n))
                        continue;
                struct vs_volume_config *v = &vols[i];
                *v = (struct vs_volume_config) { .kind = VS_VOLUME_SYSTEM, .type = VS_VOLUME_PARTITION, .from_v1alpha1 = true };
                int q = cy_encryption(p, n, field, ENC_V1ALPHA1, labels[i], &v->enc);
                if (q == -ENOMEM)
                        return q;
                if (q < 0) {
                        r = q;
                        continue;
                }
                v->encrypted = q > 0;
                if (!(v->id = strdup(labels[i])) || !(v->name = strdup(labels[i])) ||
                    asprintf(&v->source, "%s:%lu", p->file, (unsigned long) n->start_mark.line + 1) < 0)
                        return -ENOMEM;
        }
        return r < 0 ? r : 0;
}
