/* cmd-meta.c: `volseal meta list|get TAG|set TAG VALUE|delete TAG --meta DEVICE`. */
#include "cli.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "meta-config.h"
#include "meta.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

static const char usage[] =
        "Usage: volseal meta list --meta DEVICE [--json]\n"
        "       volseal meta get TAG --meta DEVICE [-o FILE]\n"
        "       volseal meta set TAG VALUE --meta DEVICE [--force]\n"
        "       volseal meta set TAG --file FILE --meta DEVICE [--force]\n"
        "       volseal meta delete TAG --meta DEVICE [--force]\n"
        "\n"
        "Read and write the META partition (Talos ADV: two 256 KiB copies, and the legacy syslinux ADV in\n"
        "the last 1 KiB). TAG is a number (1-255, decimal or 0x..) or a Talos name, case-insensitive:\n"
        "Upgrade (6), StagedUpgradeImageRef (7), StagedUpgradeInstallOptions (8), StateEncryptionConfig (9),\n"
        "MetalNetworkPlatformConfig (10), DownloadURLCode (11), UserReserved1-3 (12-14), UUIDOverride (15),\n"
        "UniqueMachineToken (16), DiskImageBootloader (17), StagedWipeSelectors (18).\n"
        "\n"
        "list    tags, names, sizes and where each comes from (talos or legacy); values are not printed\n"
        "get     print the value's bytes exactly (no newline added)\n"
        "set     store a value in the Talos ADV; StateEncryptionConfig must be valid tag 9 JSON or null.\n"
        "        A value that does not fit is refused before anything is written. Use --file for values\n"
        "        that hold secrets (a static passphrase in tag 9): argv is visible to other users.\n"
        "delete  remove a tag from the Talos ADV and the legacy ADV\n"
        "\n"
        "Writes go copy 1, fsync, copy 2, fsync, legacy block, fsync. A META whose copies are both\n"
        "invalid is reported and never rewritten without --force; a never-written (all zero) META is empty.\n"
        "\n"
        "Options:\n"
        "  -m, --meta DEVICE   the META partition or an image file (required)\n"
        "  -f, --file FILE     set: read the value from FILE ('-' = stdin)\n"
        "  -o, --output FILE   get: write the value to FILE instead of stdout\n"
        "      --force         write even when both copies are invalid (replaces them); set: skip tag 9 checks\n"
        "      --json          list: JSON output\n"
        "  -h, --help          this text\n"
        "\n"
        "Exit codes: 0 ok; 1 usage error, tag not set (get), invalid META or value, nothing written;\n"
        "4 the device does not exist.\n";

static int exit_for(int r) {
        return r == -ENOENT || r == -ENODEV || r == -ENXIO ? EXIT_ENV : EXIT_USAGE;
}

static int read_value(const char *path, uint8_t **ret, size_t *ret_len) {
        int r = streq(path, "-") ? vs_read_fd(STDIN_FILENO, VS_META_MAX_PAYLOAD, (char **) ret, ret_len)
                                 : vs_read_file(path, 0, VS_META_MAX_PAYLOAD, (char **) ret, ret_len);
        if (r == -EFBIG)
                return log_error_errno(-E2BIG, "%s: more than %u bytes, larger than META can hold; nothing written",
                                       path, VS_META_MAX_PAYLOAD);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read: %m", path);
        return 0;
}

static int do_list(const struct vs_meta *m, const char *dev, bool json) {
        if (json) {
                struct json_object *o = json_object_new_object(), *tags = json_object_new_array();
                json_object_object_add(o, "device", json_object_new_string(dev));
                json_object_object_add(o, "state", json_object_new_string(vs_meta_state_name(m->state)));
                json_object_object_add(o, "legacy", json_object_new_boolean(m->legacy_valid));
                for (unsigned t = 1; t < 256; t++) {
                        size_t len;
                        int src = vs_meta_get(m, t, NULL, &len);
                        if (src <= 0)
                                continue;
                        struct json_object *e = json_object_new_object();
                        json_object_object_add(e, "tag", json_object_new_int((int) t));
                        const char *name = vs_meta_tag_name(t);
                        json_object_object_add(e, "name", name ? json_object_new_string(name) : NULL);
                        json_object_object_add(e, "size", json_object_new_int64((int64_t) len));
                        json_object_object_add(e, "source", json_object_new_string(src == 1 ? "talos" : "legacy"));
                        json_object_array_add(tags, e);
                }
                json_object_object_add(o, "tags", tags);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return EXIT_OK;
        }
        printf("%-4s %-28s %7s  %s\n", "TAG", "NAME", "SIZE", "SOURCE");
        for (unsigned t = 1; t < 256; t++) {
                size_t len;
                int src = vs_meta_get(m, t, NULL, &len);
                if (src <= 0)
                        continue;
                const char *name = vs_meta_tag_name(t);
                printf("%-4u %-28s %7zu  %s\n", t, name ? name : "-", len, src == 1 ? "talos" : "legacy");
        }
        return EXIT_OK;
}

static int do_get(const struct vs_meta *m, const char *dev, unsigned tag, const char *output) {
        const uint8_t *p;
        size_t len;
        if (vs_meta_get(m, tag, &p, &len) <= 0) {
                const char *name = vs_meta_tag_name(tag);
                log_error("%s: tag %u%s%s%s is not set", dev, tag, name ? " (" : "", name ? name : "", name ? ")" : "");
                return EXIT_USAGE;
        }
        _cleanup_fclose_ FILE *f = NULL;
        if (output && !(f = fopen(output, "we"))) {
                log_error("%s: cannot create: %s", output, strerror(errno));
                return EXIT_USAGE;
        }
        FILE *out = f ? f : stdout;
        if (fwrite(p, 1, len, out) != len || fflush(out) != 0) {
                log_error("%s: write error: %s", output ? output : "stdout", strerror(errno));
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

int cmd_meta(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        static const struct option opts[] = {
                { "meta", required_argument, NULL, 'm' },
                { "file", required_argument, NULL, 'f' },
                { "output", required_argument, NULL, 'o' },
                { "force", no_argument, NULL, 'F' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *dev = NULL, *file = NULL, *output = NULL;
        bool force = false, json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "m:f:o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        dev = optarg;
                        break;
                case 'f':
                        file = optarg;
                        break;
                case 'o':
                        output = optarg;
                        break;
                case 'F':
                        force = true;
                        break;
                case 'j':
                        json = true;
                        break;
                default:
                        return cli_usage_error("meta", "invalid option");
                }
        }
        char **args = argv + optind;
        int n_args = argc - optind;
        if (n_args < 1)
                return cli_usage_error("meta", "missing subcommand (list, get, set or delete)");
        const char *sub = args[0];
        int want = streq(sub, "list") ? 1 : streq(sub, "get") || streq(sub, "delete") ? 2 : streq(sub, "set") ? (file ? 2 : 3) : -1;
        if (want < 0)
                return cli_usage_error("meta", "unknown subcommand '%s' (list, get, set or delete)", sub);
        if (n_args < want)
                return cli_usage_error("meta", "%s: missing %s", sub, n_args < 2 && want >= 2 ? "TAG" : "VALUE (or --file FILE)");
        if (n_args > want)
                return cli_usage_error("meta", "%s: unexpected argument '%s'%s", sub, args[want],
                                       streq(sub, "set") && file ? " (VALUE and --file exclude each other)" : "");
        if (file && !streq(sub, "set"))
                return cli_usage_error("meta", "--file is for set only");
        if (output && !streq(sub, "get"))
                return cli_usage_error("meta", "--output is for get only");
        if (json && !streq(sub, "list"))
                return cli_usage_error("meta", "--json is for list only");
        if (!dev)
                return cli_usage_error("meta", "no META device given (--meta DEVICE)");
        unsigned tag = 0;
        if (want >= 2 && vs_meta_tag_parse(args[1], &tag) < 0)
                return cli_usage_error("meta", "'%s' is not a tag (1-255 or a name such as StateEncryptionConfig)", args[1]);

        /* Input first: a bad value is refused before META is even opened for writing. */
        _cleanup_free_ uint8_t *value = NULL;
        size_t value_len = 0;
        int r;
        if (streq(sub, "set")) {
                if (file) {
                        r = read_value(file, &value, &value_len);
                        if (r < 0)
                                return exit_for(r == -ENOENT ? -EINVAL : r);
                } else {
                        value_len = strlen(args[2]);
                        if (!(value = (uint8_t *) strdup(args[2])))
                                return EXIT_USAGE;
                }
                if (tag == VS_META_TAG_STATE_ENCRYPTION_CONFIG && !force) {
                        struct vs_encryption_config enc;
                        r = vs_meta_config_parse(value, value_len, "StateEncryptionConfig value", &enc);
                        if (r < 0) {
                                explicit_bzero(value, value_len);
                                log_error("%s: not written (use --force to store it anyway)", dev);
                                return EXIT_USAGE;
                        }
                        if (r > 0 && vs_meta_config_has_static(&enc))
                                log_warning("%s: tag 9 holds a static passphrase: anyone who can read META can read it", dev);
                        vs_encryption_config_done(&enc);
                }
        }

        bool writes = !streq(sub, "list") && !streq(sub, "get");
        _cleanup_close_ int fd = open(dev, (writes ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                log_error("%s: cannot open META: %s", dev, strerror(errno));
                if (value)
                        explicit_bzero(value, value_len);
                return exit_for(r);
        }
        struct vs_meta m;
        r = vs_meta_load_fd(&m, fd, dev);
        if (r < 0) {
                if (value)
                        explicit_bzero(value, value_len);
                return exit_for(r);
        }
        int ret = EXIT_OK;
        if (m.state == VS_META_INVALID && !force) {
                /* Already reported by the reader. --force shows what is readable / replaces both copies. */
                if (writes)
                        log_error("%s: refusing to write (use --force to replace it)", dev);
                if (value)
                        explicit_bzero(value, value_len);
                ret = EXIT_USAGE;
        } else if (streq(sub, "list"))
                ret = do_list(&m, dev, json);
        else if (streq(sub, "get"))
                ret = do_get(&m, dev, tag, output);
        else if (streq(sub, "set")) {
                r = vs_meta_set(&m, tag, value, value_len, dev);
                explicit_bzero(value, value_len);
                if (r == 0)
                        r = vs_meta_store_fd(&m, fd, dev, force);
                ret = r < 0 ? EXIT_USAGE : EXIT_OK;
        } else {
                if (vs_meta_delete(&m, tag) == 0)
                        log_notice("%s: tag %u is not set; nothing written", dev, tag);
                else
                        ret = vs_meta_store_fd(&m, fd, dev, force) < 0 ? EXIT_USAGE : EXIT_OK;
        }
        vs_meta_done(&m);
        return ret;
}
