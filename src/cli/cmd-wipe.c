/* cmd-wipe.c: `volseal wipe ID`: the key material first (every LUKS keyslot destroyed with libcryptsetup),
 * then every signature (libblkid), so the next `volseal unlock` formats the volume; then, when the volume
 * was STATE or the last one bound to the node's NV index of updatable tpm slots, that index (only when it is
 * exactly the one the volume was bound to) and the authority (docs/tpm-updatable.md "The NV index"). */
#include "cli.h"
#include "authority.h"
#include "blk.h"
#include "config.h"
#include "log.h"
#include "tpm/updatable.h"
#include "util.h"
#include "volume-binding.h"
#include "volume.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

static const char usage[] =
        "Usage: volseal wipe ID (--volume ID=DEVICE | --label ID) [--yes] [-c CONFIG] [--state-dir DIR] [--tcti T]\n"
        "\n"
        "Destroys volume ID's data for good: on a LUKS volume every keyslot is destroyed first (the key\n"
        "material is gone), then every signature (LUKS headers, filesystems, partition tables) is erased, so\n"
        "the next 'volseal unlock' formats the volume. This is the unencrypted -> encrypted migration.\n"
        "A volume with updatable tpm slots: when it is STATE, or -c CONFIG shows no other volume bound to the\n"
        "same NV index, the index is removed too (only when it is exactly the one the slots were bound to), and\n"
        "with --state-dir the authority file there; otherwise both are kept.\n"
        "\n"
        "Options:\n"
        "      --volume ID=DEVICE  the device or image file of volume ID\n"
        "      --label ID          find the partition by PARTLABEL ID\n"
        "  -y, --yes               do it; required when stdin is a terminal\n"
        "  -c, --config FILE       the config: the other volumes it names are checked for the NV index (found\n"
        "                          by PARTLABEL, or by more --volume ID=DEVICE); one that cannot be read keeps it\n"
        "      --state-dir DIR     STATE is mounted at DIR: the authority there goes with the index\n"
        "      --tcti T            the TPM (default $VOLSEAL_TCTI, then device:/dev/tpmrm0)\n"
        "  -h, --help              this text\n"
        "\n"
        "Exit codes: 0 wiped (or already empty); 1 usage error or not confirmed, nothing touched;\n"
        "4 device not found or not writable; 2 the volume is open (close it first).\n";

struct wipe_index {
        const char *id, *config, *state_dir, *tcti;
        struct vs_volume_override others[16];  /* --volume of the config's other volumes */
        size_t n_others;
};

/* Whether another volume of the config with an updatable key is bound to the same index: 1, 0, or -1 when
 * that cannot be told (no config, or such a volume cannot be read). */
static int others_bound(const struct wipe_index *w, const struct vs_volume_binding *b) {
        if (!w->config)
                return -1;
        struct vs_config cfg = {};
        if (vs_config_load(&cfg, &w->config, 1) < 0)
                return -1;
        struct vs_volume_options opts = { .overrides = w->others, .n_overrides = w->n_others };
        int found = 0;
        for (size_t i = 0; i < cfg.n_volumes && found == 0; i++) {
                struct vs_config one = { .volumes = &cfg.volumes[i], .n_volumes = 1 };
                _cleanup_free_ char *dev = NULL;
                struct vs_volume_binding o = {};
                if (streq(cfg.volumes[i].id, w->id) || !vs_config_has_updatable(&one, NULL))
                        continue;
                if (vs_volume_device(cfg.volumes[i].id, &opts, &dev) < 0 || vs_volume_binding_read(dev, 0, 0, &o) < 0)
                        found = -1;
                else
                        found = o.n_slots && o.nv_index == b->nv_index && o.nv_name.size == b->nv_name.size &&
                                memcmp(o.nv_name.name, b->nv_name.name, o.nv_name.size) == 0;
        }
        vs_config_free(&cfg);
        return found;
}

/* After wiping a volume with updatable slots: its NV index (exactly the one it was bound to) and the
 * authority go when it was STATE or the last volume bound to them. */
static int release_index(const struct wipe_index *w, const struct vs_volume_binding *b) {
        int others = streq(w->id, "STATE") ? 0 : others_bound(w, b);
        if (others != 0) {
                printf("%s: NV index 0x%08x kept: %s\n", w->id, b->nv_index,
                       others > 0 ? "another volume is bound to it" :
                       w->config ? "a volume of the config could not be read (give --volume ID=DEVICE)" :
                       "other volumes may be bound to it (-c CONFIG checks)");
                return EXIT_OK;
        }
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        if (vs_tpm_open(w->tcti, 0, &t) < 0)
                return EXIT_ENV;
        int r = vs_tpm_nv_undefine_named(t, b->nv_index, &b->nv_name);
        if (r == -ENOENT)
                printf("%s: NV index 0x%08x was gone already\n", w->id, b->nv_index);
        else if (r < 0)
                return r == -EEXIST ? EXIT_OK : EXIT_ENV; /* another index there: left alone (logged) */
        else
                printf("%s: removed NV index 0x%08x\n", w->id, b->nv_index);
        struct vs_authority a = {};
        if (!w->state_dir || vs_authority_load(w->state_dir, &a) < 0)
                return EXIT_OK;
        bool ours = a.nv_index == b->nv_index;
        vs_authority_done(&a);
        if (ours && vs_authority_remove(w->state_dir) < 0)
                return EXIT_ENV;
        if (ours)
                printf("%s: removed the authority %s/%s\n", w->id, w->state_dir, VS_AUTHORITY_FILE);
        return EXIT_OK;
}

int cmd_wipe(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        enum { O_VOLUME = 256, O_LABEL, O_STATE_DIR, O_TCTI };
        static const struct option opts[] = {
                { "volume", required_argument, NULL, O_VOLUME },
                { "label", required_argument, NULL, O_LABEL },
                { "yes", no_argument, NULL, 'y' },
                { "config", required_argument, NULL, 'c' },
                { "state-dir", required_argument, NULL, O_STATE_DIR },
                { "tcti", required_argument, NULL, O_TCTI },
                {}
        };
        const char *device = NULL, *label = NULL, *vol_id = NULL;
        struct wipe_index w = { .tcti = getenv("VOLSEAL_TCTI") };
        bool yes = false;
        int o;
        optind = 1;
        opterr = 0;
        while ((o = getopt_long(argc, argv, ":yc:", opts, NULL)) != -1) {
                switch (o) {
                case O_VOLUME: {
                        char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || !eq[1])
                                return cli_usage_error("wipe", "--volume wants ID=DEVICE, got '%s'", optarg);
                        *eq = 0;
                        if (vol_id && w.n_others < ELEMENTSOF(w.others)) /* the wiped volume comes first */
                                w.others[w.n_others++] = (struct vs_volume_override) { optarg, eq + 1 };
                        else if (!vol_id) {
                                vol_id = optarg;
                                device = eq + 1;
                        }
                        break;
                }
                case O_LABEL: label = optarg; break;
                case 'c': w.config = optarg; break;
                case O_STATE_DIR: w.state_dir = optarg; break;
                case O_TCTI: w.tcti = optarg; break;
                case 'y': yes = true; break;
                case ':': return cli_usage_error("wipe", "option %s needs a value", argv[optind - 1]);
                default: return cli_usage_error("wipe", "unknown option %s", argv[optind - 1]);
                }
        }
        if (optind != argc - 1)
                return cli_usage_error("wipe", optind >= argc ? "missing volume ID" : "unexpected argument '%s'", argv[argc - 1]);
        const char *id = w.id = argv[optind];
        if (w.n_others && !w.config)
                return cli_usage_error("wipe", "more than one --volume: the others are for -c CONFIG's volumes");
        if (device && label)
                return cli_usage_error("wipe", "give either --volume or --label, not both");
        if (vol_id && !streq(vol_id, id))
                return cli_usage_error("wipe", "--volume names %s, but the volume to wipe is %s", vol_id, id);
        if (label && !streq(label, id))
                return cli_usage_error("wipe", "--label %s does not match the volume ID %s", label, id);
        if (!device && !label)
                return cli_usage_error("wipe", "say where volume %s is: --volume %s=DEVICE or --label %s", id, id, id);
        if (!yes && isatty(STDIN_FILENO)) {
                fprintf(stderr, "volseal wipe: this destroys every key and signature of volume %s; run again with --yes\n", id);
                return EXIT_USAGE;
        }
        _cleanup_free_ char *found = NULL;
        if (label) {
                if (vs_blk_find_by_partlabel(label, &found) < 0) {
                        log_error("volume %s: no partition labelled %s", id, label);
                        return EXIT_ENV;
                }
                device = found;
        }
        struct vs_volume_binding b = {};
        (void) vs_volume_binding_read(device, 0, 0, &b); /* not LUKS2, or refused: no binding to release */
        int r = vs_volume_wipe(id, device);
        if (r == -EBUSY)
                return EXIT_NOT_OPENED;
        if (r < 0)
                return EXIT_ENV;
        printf("%s: wiped %s; the next 'volseal unlock' formats it\n", id, device);
        return b.n_slots ? release_index(&w, &b) : EXIT_OK;
}
