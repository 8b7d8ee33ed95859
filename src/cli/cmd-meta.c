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
        "4 the device does not exist, or a write to it failed (the message says which copy holds the\n"
        "new values; one copy is always valid).\n";

static int exit_for(int r) {
        return r == -ENOENT || r == -ENODEV || r == -ENXIO ? EXIT_ENV : EXIT_USAGE;
}

/* A refused store wrote nothing (exit 1); one that failed while writing (m->torn) is the device's fault. */
static int store_exit(const struct vs_meta *m, int r) {
        return r >= 0 ? EXIT_OK : m->torn ? EXIT_ENV : EXIT_USAGE;
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

struct meta_args {
        const char *dev, *file, *output, *sub;
        char **args;              /* args[0] = sub, then TAG, VALUE */
        bool force, json;
        unsigned tag;
};

static int parse_meta_args(int argc, char **argv, struct meta_args *m) {
        static const struct option opts[] = {
                { "meta", required_argument, NULL, 'm' },
                { "file", required_argument, NULL, 'f' },
                { "output", required_argument, NULL, 'o' },
                { "force", no_argument, NULL, 'F' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "m:f:o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'm': m->dev = optarg; break;
                case 'f': m->file = optarg; break;
                case 'o': m->output = optarg; break;
                case 'F': m->force = true; break;
                case 'j': m->json = true; break;
                default: return cli_usage_error("meta", "invalid option");
                }
        }
        m->args = argv + optind;
        int n_args = argc - optind;
        if (n_args < 1)
                return cli_usage_error("meta", "missing subcommand (list, get, set or delete)");
        const char *sub = m->sub = m->args[0];
        int want = streq(sub, "list") ? 1 : streq(sub, "get") || streq(sub, "delete") ? 2 : streq(sub, "set") ? (m->file ? 2 : 3) : -1;
        if (want < 0)
                return cli_usage_error("meta", "unknown subcommand '%s' (list, get, set or delete)", sub);
        if (n_args < want)
                return cli_usage_error("meta", "%s: missing %s", sub, n_args < 2 && want >= 2 ? "TAG" : "VALUE (or --file FILE)");
        if (n_args > want)
                return cli_usage_error("meta", "%s: unexpected argument '%s'%s", sub, m->args[want],
                                       streq(sub, "set") && m->file ? " (VALUE and --file exclude each other)" : "");
        if (m->file && !streq(sub, "set"))
                return cli_usage_error("meta", "--file is for set only");
        if (m->output && !streq(sub, "get"))
                return cli_usage_error("meta", "--output is for get only");
        if (m->json && !streq(sub, "list"))
                return cli_usage_error("meta", "--json is for list only");
        if (!m->dev)
                return cli_usage_error("meta", "no META device given (--meta DEVICE)");
        if (want >= 2 && vs_meta_tag_parse(m->args[1], &m->tag) < 0)
                return cli_usage_error("meta", "'%s' is not a tag (1-255 or a name such as StateEncryptionConfig)", m->args[1]);
        return EXIT_OK;
}

/* set: the value, from VALUE or --file; tag 9 must be a valid StateEncryptionConfig unless --force. Input
 * first: a bad value is refused before META is even opened for writing. */
static int read_set_value(const struct meta_args *m, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *value = NULL;
        size_t len = 0;
        if (m->file) {
                int r = read_value(m->file, &value, &len);
                if (r < 0)
                        return exit_for(r == -ENOENT ? -EINVAL : r);
        } else {
                len = strlen(m->args[2]);
                if (!(value = (uint8_t *) strdup(m->args[2])))
                        return EXIT_USAGE;
        }
        if (m->tag == VS_META_TAG_STATE_ENCRYPTION_CONFIG && !m->force) {
                struct vs_encryption_config enc;
                int r = vs_meta_config_parse(value, len, "StateEncryptionConfig value", &enc);
                if (r < 0) {
                        explicit_bzero(value, len);
                        log_error("%s: not written (use --force to store it anyway)", m->dev);
                        return EXIT_USAGE;
                }
                if (r > 0 && vs_meta_config_has_static(&enc))
                        log_warning("%s: tag 9 holds a static passphrase: anyone who can read META can read it", m->dev);
                vs_encryption_config_done(&enc);
        }
        *ret = TAKE_PTR(value);
        *ret_len = len;
        return EXIT_OK;
}

/* The subcommand on META read from fd (opened read-write for set and delete). */
static int run_meta(const struct meta_args *m, int fd, struct vs_meta *meta, uint8_t *value, size_t value_len) {
        bool writes = streq(m->sub, "set") || streq(m->sub, "delete");
        if (meta->state == VS_META_INVALID && !m->force) {
                /* Already reported by the reader. --force shows what is readable / replaces both copies. */
                if (writes)
                        log_error("%s: refusing to write (use --force to replace it)", m->dev);
                return EXIT_USAGE;
        }
        if (streq(m->sub, "list"))
                return do_list(meta, m->dev, m->json);
        if (streq(m->sub, "get"))
                return do_get(meta, m->dev, m->tag, m->output);
        if (streq(m->sub, "set")) {
                int r = vs_meta_set(meta, m->tag, value, value_len, m->dev);
                if (r == 0)
                        r = vs_meta_store_fd(meta, fd, m->dev, m->force);
                return store_exit(meta, r);
        }
        if (vs_meta_delete(meta, m->tag) == 0) {
                log_notice("%s: tag %u is not set; nothing written", m->dev, m->tag);
                return EXIT_OK;
        }
        return store_exit(meta, vs_meta_store_fd(meta, fd, m->dev, m->force));
}

int cmd_meta(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        struct meta_args m = {};
        int rc = parse_meta_args(argc, argv, &m);
        if (rc != EXIT_OK)
                return rc;
        _cleanup_free_ uint8_t *value = NULL;
        size_t value_len = 0;
        if (streq(m.sub, "set") && (rc = read_set_value(&m, &value, &value_len)) != EXIT_OK)
                return rc;
        bool writes = streq(m.sub, "set") || streq(m.sub, "delete");
        _cleanup_close_ int fd = open(m.dev, (writes ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                log_error("%s: cannot open META: %s", m.dev, strerror(errno));
                rc = exit_for(r);
        } else {
                struct vs_meta meta;
                int r = vs_meta_load_fd(&meta, fd, m.dev);
                if (r < 0)
                        rc = exit_for(r);
                else {
                        rc = run_meta(&m, fd, &meta, value, value_len);
                        vs_meta_done(&meta);
                }
        }
        if (value)
                explicit_bzero(value, value_len);
        return rc;
}
