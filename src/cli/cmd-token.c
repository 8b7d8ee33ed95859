/* cmd-token.c: `volseal token adopt`: Talos writes its talos-tpm2 and sideroKMS tokens with "keyslots": [],
 * and libcryptsetup hands a token to its plugin only when it references a keyslot. adopt writes the
 * reference ("keyslots": ["<slot>"]) that volseal's own tokens carry, so `cryptsetup open --token-only`
 * (with the volseal token plugins installed) can use Talos-made tokens. The slot is UserData.keyslots
 * (one number, as Talos writes it) or else the token id (Talos and volseal both put a key's token at
 * id = slot); it must agree with the token id and name an existing keyslot. Every token is checked before
 * anything is written: one refusal and nothing is written. Nothing else in the token changes, and Talos
 * reads only "type" and "UserData", so an adopted disk still opens on Talos. */
#include "cli.h"
#include "log.h"
#include "luks.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_TOKENS 32

static const char usage[] =
        "Usage: volseal token adopt DEVICE [--token ID] [--dry-run] [--json]\n"
        "       volseal token adopt --volume ID=DEVICE [--token ID] [--dry-run] [--json]\n"
        "\n"
        "Makes the talos-tpm2 and sideroKMS tokens that Talos wrote (\"keyslots\": []) reference their keyslot\n"
        "(\"keyslots\": [\"N\"]), as the tokens volseal writes do. libcryptsetup hands only such tokens to a\n"
        "token plugin, so afterwards `cryptsetup open --token-only` opens the volume through volseal's\n"
        "libcryptsetup-token-talos-tpm2.so / libcryptsetup-token-sideroKMS.so. The keyslot is the token's\n"
        "UserData.keyslots entry (Talos writes one), else the token id; it must equal the token id and be an\n"
        "existing keyslot. A token whose keyslot cannot be determined, does not exist, or that already\n"
        "references another keyslot is refused, and then nothing is written. Tokens of other types are left\n"
        "alone. Only the \"keyslots\" field changes; Talos ignores it, so the disk still opens on Talos.\n"
        "\n"
        "Options:\n"
        "      --volume ID=DEVICE  the device or image file (the volume ID is not needed: DEVICE alone works)\n"
        "      --token ID          only this token id (0-31)\n"
        "  -n, --dry-run           say what would change, write nothing\n"
        "      --json              one JSON object: device, written (tokens changed), tokens [{token, type,\n"
        "                          slot, status, detail}]; status adopted | unchanged | skipped | refused,\n"
        "                          would-adopt with --dry-run, not-written when another token was refused\n"
        "  -h, --help              this text\n"
        "\n"
        "Exit codes: 0 every talos-tpm2/sideroKMS token references its keyslot (or would, with --dry-run);\n"
        "1 usage error, not a LUKS2 header, or a token refused (nothing written); 4 the device cannot be opened.\n";

enum status { ST_ADOPT, ST_UNCHANGED, ST_SKIPPED, ST_REFUSED };
static const char *const status_name[] = { "adopted", "unchanged", "skipped", "refused" };

struct item {
        unsigned id;
        char type[64];
        int slot;                 /* -1 when unknown */
        enum status status;
        char detail[256];
        struct json_object *token;
};

/* UserData.keyslots as Talos writes it: an array of exactly one keyslot number. 1 and *ret set; 0 when
 * absent; -EBADMSG (detail set) when present but not that. */
static int userdata_slot(struct json_object *token, int *ret, char *detail, size_t size) {
        struct json_object *ud, *ks;
        if (!json_object_object_get_ex(token, "UserData", &ud) || !json_object_is_type(ud, json_type_object) ||
            !json_object_object_get_ex(ud, "keyslots", &ks))
                return 0;
        if (!json_object_is_type(ks, json_type_array) || json_object_array_length(ks) != 1 ||
            !json_object_is_type(json_object_array_get_idx(ks, 0), json_type_int))
                return snprintf(detail, size, "its keyslot cannot be determined: UserData.keyslots is not one keyslot number"), -EBADMSG;
        int64_t v = json_object_get_int64(json_object_array_get_idx(ks, 0));
        if (v < 0 || v >= MAX_TOKENS)
                return snprintf(detail, size, "its keyslot cannot be determined: UserData.keyslots names %lld", (long long) v), -EBADMSG;
        *ret = (int) v;
        return 1;
}

/* Decides what to do with one token; never writes. */
static void classify(struct vs_luks *l, struct item *it) {
        struct json_object *o, *ks;
        it->slot = -1;
        if (!json_object_object_get_ex(it->token, "type", &o) || !json_object_is_type(o, json_type_string)) {
                snprintf(it->type, sizeof(it->type), "?");
                it->status = ST_SKIPPED;
                snprintf(it->detail, sizeof(it->detail), "no type");
                return;
        }
        snprintf(it->type, sizeof(it->type), "%s", json_object_get_string(o));
        if (!streq(it->type, "talos-tpm2") && !streq(it->type, "sideroKMS")) {
                it->status = ST_SKIPPED;
                snprintf(it->detail, sizeof(it->detail), "not a talos-tpm2 or sideroKMS token");
                return;
        }
        it->status = ST_REFUSED;
        int slot = (int) it->id;
        int r = userdata_slot(it->token, &slot, it->detail, sizeof(it->detail));
        if (r < 0)
                return;
        if (r > 0 && slot != (int) it->id) {
                snprintf(it->detail, sizeof(it->detail),
                         "its keyslot cannot be determined: UserData.keyslots names keyslot %d, but the token id is %u", slot, it->id);
                return;
        }
        it->slot = slot;
        r = vs_luks_slot_active(l, (unsigned) slot);
        if (r <= 0) {
                snprintf(it->detail, sizeof(it->detail), "keyslot %d does not exist", slot);
                return;
        }
        if (!json_object_object_get_ex(it->token, "keyslots", &ks) || !json_object_is_type(ks, json_type_array)) {
                snprintf(it->detail, sizeof(it->detail), "the token has no \"keyslots\" array");
                return;
        }
        size_t n = json_object_array_length(ks);
        if (n == 0) {
                it->status = ST_ADOPT;
                snprintf(it->detail, sizeof(it->detail), "keyslots [] -> [\"%d\"]", slot);
                return;
        }
        const char *first = json_object_get_string(json_object_array_get_idx(ks, 0));
        char want[16];
        snprintf(want, sizeof(want), "%d", slot);
        if (n == 1 && first && streq(first, want)) {
                it->status = ST_UNCHANGED;
                snprintf(it->detail, sizeof(it->detail), "already references keyslot %d", slot);
                return;
        }
        snprintf(it->detail, sizeof(it->detail), "it already references other keyslots (%s); not changing them",
                 json_object_to_json_string_ext(ks, JSON_C_TO_STRING_PLAIN));
}

struct adopt {
        const char *device;
        int only;                 /* --token ID, -1 = every token */
        bool dry, json;
        struct item items[MAX_TOKENS];
        size_t n;
        unsigned written;
};

static int parse_adopt(int argc, char **argv, struct adopt *a) {
        enum { O_VOLUME = 256, O_TOKEN, O_JSON };
        static const struct option opts[] = {
                { "volume", required_argument, NULL, O_VOLUME },
                { "token", required_argument, NULL, O_TOKEN },
                { "dry-run", no_argument, NULL, 'n' },
                { "json", no_argument, NULL, O_JSON },
                {}
        };
        int o;
        optind = 1;
        opterr = 0;
        while ((o = getopt_long(argc, argv, ":n", opts, NULL)) != -1) {
                switch (o) {
                case O_VOLUME: {
                        const char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || !eq[1])
                                return cli_usage_error("token adopt", "--volume wants ID=DEVICE, got '%s'", optarg);
                        a->device = eq + 1;
                        break;
                }
                case O_TOKEN: {
                        char *end = NULL;
                        long v = strtol(optarg, &end, 10);
                        if (!*optarg || *end || v < 0 || v >= MAX_TOKENS)
                                return cli_usage_error("token adopt", "--token wants a token id from 0 to 31, got '%s'", optarg);
                        a->only = (int) v;
                        break;
                }
                case 'n': a->dry = true; break;
                case O_JSON: a->json = true; break;
                case ':': return cli_usage_error("token adopt", "option %s needs a value", argv[optind - 1]);
                default: return cli_usage_error("token adopt", "unknown option %s", argv[optind - 1]);
                }
        }
        if (optind < argc) {
                if (a->device || optind != argc - 1)
                        return cli_usage_error("token adopt", "unexpected argument '%s'", argv[argc - 1]);
                a->device = argv[optind];
        }
        if (!a->device)
                return cli_usage_error("token adopt", "missing DEVICE");
        return EXIT_OK;
}

/* Every token (or --token's), classified; *ret_refused when one is refused. -errno when one cannot be read. */
static int classify_tokens(struct vs_luks *l, struct adopt *a, bool *ret_refused) {
        *ret_refused = false;
        for (unsigned id = 0; id < MAX_TOKENS; id++) {
                if (a->only >= 0 && id != (unsigned) a->only)
                        continue;
                struct json_object *t = NULL;
                int r = vs_luks_token_get(l, id, &t);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                a->items[a->n] = (struct item) { .id = id, .token = t };
                classify(l, &a->items[a->n]);
                *ret_refused = *ret_refused || a->items[a->n].status == ST_REFUSED;
                a->n++;
        }
        return 0;
}

/* The adoptable tokens, written in place: vs_luks_token_set replaces "keyslots" with ["slot"]. */
static int write_adopted(struct vs_luks *l, struct adopt *a) {
        int rc = EXIT_OK;
        for (size_t i = 0; i < a->n && rc == EXIT_OK; i++) {
                struct item *it = &a->items[i];
                if (it->status != ST_ADOPT)
                        continue;
                int r = vs_luks_token_set(l, it->id, it->token, it->slot);
                if (r < 0) {
                        snprintf(it->detail, sizeof(it->detail), "cannot write the token: %s", strerror(-r));
                        it->status = ST_REFUSED;
                        rc = EXIT_USAGE;
                } else
                        a->written++;
        }
        return rc;
}

static struct json_object *item_to_json(const struct item *it, const char *status) {
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "token", json_object_new_int((int) it->id));
        json_object_object_add(e, "type", json_object_new_string(it->type));
        json_object_object_add(e, "slot", it->slot >= 0 ? json_object_new_int(it->slot) : NULL);
        json_object_object_add(e, "status", json_object_new_string(status));
        json_object_object_add(e, "detail", json_object_new_string(it->detail));
        return e;
}

static void print_adopt(const struct adopt *a, int rc, bool refused) {
        struct json_object *arr = a->json ? json_object_new_array() : NULL;
        for (size_t i = 0; i < a->n; i++) {
                const struct item *it = &a->items[i];
                const char *st = status_name[it->status];
                if (it->status == ST_ADOPT && (a->dry || rc != EXIT_OK))
                        st = a->dry ? "would-adopt" : "not-written";
                if (a->json)
                        json_object_array_add(arr, item_to_json(it, st));
                else if (it->status == ST_REFUSED)
                        log_error("%s: token %u (%s): refused: %s", a->device, it->id, it->type, it->detail);
                else
                        printf("token %u (%s): %s: %s\n", it->id, it->type, st, it->detail);
        }
        if (refused && !a->json)
                log_error("%s: nothing was written", a->device);
        if (a->json) {
                struct json_object *out = json_object_new_object();
                json_object_object_add(out, "device", json_object_new_string(a->device));
                json_object_object_add(out, "tokens", arr);
                json_object_object_add(out, "written", json_object_new_int((int) a->written));
                puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
                json_object_put(out);
        }
}

int cmd_token(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        if (argc < 2)
                return cli_usage_error("token", "missing subcommand (adopt)");
        if (!streq(argv[1], "adopt"))
                return cli_usage_error("token", "unknown subcommand '%s' (adopt)", argv[1]);
        struct adopt a = { .only = -1 };
        int rc = parse_adopt(argc - 1, argv + 1, &a);
        if (rc != EXIT_OK)
                return rc;
        if (a.json)
                vs_log_set_quiet(1);
        if (access(a.device, R_OK | W_OK) < 0) {
                log_error("cannot use %s: %s", a.device, strerror(errno));
                return EXIT_ENV;
        }
        _cleanup_luks_ struct vs_luks *l = NULL;
        int r = vs_luks_load(a.device, &l);
        if (r < 0)
                return cli_exit_from_errno(r);
        bool refused;
        r = classify_tokens(l, &a, &refused);
        if (r < 0)
                rc = EXIT_USAGE;
        else if (a.only >= 0 && a.n == 0) {
                log_error("%s: there is no token %d", a.device, a.only);
                rc = EXIT_USAGE;
        }
        if (refused)
                rc = EXIT_USAGE;
        if (r >= 0 && rc == EXIT_OK && !a.dry)
                rc = write_adopted(l, &a);
        if (r >= 0)
                print_adopt(&a, rc, refused);
        for (size_t i = 0; i < a.n; i++)
                json_object_put(a.items[i].token);
        return rc;
}
