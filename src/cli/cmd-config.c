/* cmd-config.c: `volseal config validate|show -c FILE... [--talos]`. */
#include "cli.h"
#include "config.h"
#include "log.h"
#include "slot-order.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>

static const char usage[] =
        "Usage: volseal config validate -c CONFIG.yaml [-c MORE.yaml]... [--talos] [-q]\n"
        "       volseal config show -c CONFIG.yaml [-c MORE.yaml]... [--talos] [--json]\n"
        "\n"
        "Reads a Talos machine config as Talos does: the VolumeConfig, UserVolumeConfig, RawVolumeConfig and\n"
        "SwapVolumeConfig documents with every field of Talos's schema, and machine.systemDiskEncryption of\n"
        "the v1alpha1 document (STATE, EPHEMERAL); other documents are skipped.\n"
        "\n"
        "validate  check it; errors name FILE:LINE:COL, the document, the field and what is allowed. Warns\n"
        "          (the config stays valid) when a nodeID or static key is in a lower slot than a tpm or kms key.\n"
        "show      print what each volume means as JSON: volume ID, kind, type (partition, disk, directory),\n"
        "          encryption (provider, cipher, sizes, keys with slot, kind, PCRs; passphrases redacted).\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE   a YAML file of config documents ('-' = stdin); repeatable\n"
        "      --talos         also refuse what only volseal accepts (lockToSTATE, a user, raw or swap volume\n"
        "                      without a disk selector or size): the config is then one Talos accepts\n"
        "      --json          JSON output (show always prints JSON)\n"
        "  -q, --quiet         validate: print nothing on success\n"
        "  -h, --help          this text\n"
        "\n"
        "Exit codes: 0 valid, 1 invalid or usage error.\n";

int cmd_config(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        if (argc < 2)
                return cli_usage_error("config", "missing subcommand (validate or show)");
        const char *sub = argv[1];
        if (!streq(sub, "validate") && !streq(sub, "show"))
                return cli_usage_error("config", "unknown subcommand '%s' (validate or show)", sub);
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, 'j' },
                { "talos", no_argument, NULL, 'T' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *files[64];
        size_t n_files = 0;
        bool quiet = false;
        unsigned flags = 0;
        int c;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "c:qh", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        if (n_files == ELEMENTSOF(files))
                                return cli_usage_error("config", "too many -c files (at most %zu)", ELEMENTSOF(files));
                        files[n_files++] = optarg;
                        break;
                case 'j':
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'T':
                        flags |= VS_CONFIG_TALOS;
                        break;
                default:
                        return cli_usage_error("config", "invalid option");
                }
        }
        if (optind < argc - 1)
                return cli_usage_error("config", "unexpected argument '%s'", argv[optind + 1]);
        if (n_files == 0)
                return cli_usage_error("config", "no config file given (-c FILE)");

        struct vs_config cfg = {};
        int r = vs_config_load_flags(&cfg, files, n_files, flags);
        if (r < 0)
                return EXIT_USAGE;
        if (streq(sub, "validate")) {
                for (size_t i = 0; i < cfg.n_volumes; i++)
                        vs_slot_order_warn(&cfg.volumes[i]);
                if (!quiet) {
                        printf("valid: %zu volume%s", cfg.n_volumes, cfg.n_volumes == 1 ? "" : "s");
                        for (size_t i = 0; i < cfg.n_volumes; i++) {
                                const struct vs_volume_config *v = &cfg.volumes[i];
                                printf("%s%s%s%s", i ? ", " : " (", v->id, v->encrypted ? "" : " unencrypted",
                                       v->type == VS_VOLUME_DISK ? " whole-disk" : v->type == VS_VOLUME_DIRECTORY ? " directory" : "");
                        }
                        printf("%s\n", cfg.n_volumes ? ")" : "");
                }
        } else {
                struct json_object *arr = json_object_new_array();
                for (size_t i = 0; i < cfg.n_volumes; i++)
                        json_object_array_add(arr, vs_volume_config_to_json(&cfg.volumes[i]));
                puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        }
        vs_config_free(&cfg);
        return EXIT_OK;
}
