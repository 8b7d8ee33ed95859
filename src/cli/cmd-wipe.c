/* cmd-wipe.c: `volseal wipe ID`: the key material first (every LUKS keyslot destroyed with libcryptsetup),
 * then every signature (libblkid), so the next `volseal unlock` formats the volume. */
#include "cli.h"
#include "blk.h"
#include "log.h"
#include "util.h"
#include "volume.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

static const char usage[] =
        "Usage: volseal wipe ID (--volume ID=DEVICE | --label ID) [--yes]\n"
        "\n"
        "Destroys volume ID's data for good: on a LUKS volume every keyslot is destroyed first (the key\n"
        "material is gone), then every signature (LUKS headers, filesystems, partition tables) is erased, so\n"
        "the next 'volseal unlock' formats the volume. This is the unencrypted -> encrypted migration.\n"
        "\n"
        "Options:\n"
        "      --volume ID=DEVICE  the device or image file of volume ID\n"
        "      --label ID          find the partition by PARTLABEL ID\n"
        "  -y, --yes               do it; required when stdin is a terminal\n"
        "  -h, --help              this text\n"
        "\n"
        "Exit codes: 0 wiped (or already empty); 1 usage error or not confirmed, nothing touched;\n"
        "4 device not found or not writable; 2 the volume is open (close it first).\n";

int cmd_wipe(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        enum { O_VOLUME = 256, O_LABEL };
        static const struct option opts[] = {
                { "volume", required_argument, NULL, O_VOLUME },
                { "label", required_argument, NULL, O_LABEL },
                { "yes", no_argument, NULL, 'y' },
                {}
        };
        const char *device = NULL, *label = NULL, *vol_id = NULL;
        bool yes = false;
        int o;
        optind = 1;
        opterr = 0;
        while ((o = getopt_long(argc, argv, ":y", opts, NULL)) != -1) {
                switch (o) {
                case O_VOLUME: {
                        char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || !eq[1])
                                return cli_usage_error("wipe", "--volume wants ID=DEVICE, got '%s'", optarg);
                        *eq = 0;
                        vol_id = optarg;
                        device = eq + 1;
                        break;
                }
                case O_LABEL: label = optarg; break;
                case 'y': yes = true; break;
                case ':': return cli_usage_error("wipe", "option %s needs a value", argv[optind - 1]);
                default: return cli_usage_error("wipe", "unknown option %s", argv[optind - 1]);
                }
        }
        if (optind != argc - 1)
                return cli_usage_error("wipe", optind >= argc ? "missing volume ID" : "unexpected argument '%s'", argv[argc - 1]);
        const char *id = argv[optind];
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
        int r = vs_volume_wipe(id, device);
        if (r == -EBUSY)
                return EXIT_NOT_OPENED;
        if (r < 0)
                return EXIT_ENV;
        printf("%s: wiped %s; the next 'volseal unlock' formats it\n", id, device);
        return EXIT_OK;
}
