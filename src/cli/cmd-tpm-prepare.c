/* cmd-tpm-prepare.c: `volseal tpm prepare` (docs/tpm-updatable.md "Operator workflow"): on the booted,
 * capped system, authorize the PCR state of the next boot (given, or predicted from the event log and the
 * update's signature lists) and PCR-policy keys to add or remove, in the node's NV index, with the authority
 * on STATE. Unseals nothing; one NV write, or none when nothing changes or anything is refused. */
#include "cli.h"
#include "cli-authorized.h"
#include "cli-file.h"
#include "cli-tpm.h"
#include "cmd-pcr.h"
#include "authorized-set.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "volume-binding.h"
#include "volume.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>

static const char usage[] =
        "Usage: volseal tpm prepare -c CONFIG.yaml [--volume ID=DEVICE]... --state-dir DIR [--tcti T] [--json]\n"
        "              [--pcr N=HEX]... | [--dbx FILE] [--db FILE] [--kek FILE] [--eventlog FILE]\n"
        "              [--add-pcr-public-key PEM]... [--remove-pcr-public-key PEM]...\n"
        "\n"
        "Authorizes, for the node's updatable tpm slots, the PCR state of the next boot and the UKI PCR-policy\n"
        "keys, before the update that changes them is applied (docs/tpm-updatable.md). Runs on the booted\n"
        "system with STATE mounted at DIR; unseals nothing. The state the machine booted in stays authorized;\n"
        "older states are retired (rolling them back no longer unseals).\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE            the config (it must have an updatable tpm key); repeatable\n"
        "      --volume ID=DEVICE       the device of volume ID (else its PARTLABEL), to show its binding\n"
        "      --state-dir DIR          STATE, with the authority of the NV index (volseal-tpm-authority)\n"
        "      --pcr N=HEX              the value literal PCR N will have (a vendor-published PCR 7, say);\n"
        "                               PCRs not given keep their current value; repeatable\n"
        "      --dbx FILE, --db FILE, --kek FILE\n"
        "                               predict PCR 7 from the event log with this update (an ESL or .auth\n"
        "                               file) appended to the variable, as the firmware appends it; an\n"
        "                               \"unknown\" prediction refuses and changes nothing\n"
        "      --eventlog FILE          the firmware event log (default " VS_FIRMWARE_EVENTLOG ")\n"
        "      --add-pcr-public-key PEM authorize UKIs signed with this key (RSA public key, PEM)\n"
        "      --remove-pcr-public-key PEM\n"
        "                               stop authorizing it from the next boot on (never the last key)\n"
        "      --tcti T, --json, --debug-tpm  as for 'volseal tpm info'\n"
        "  -h, --help                   this text\n"
        "\n"
        "Exit codes: 0 done (or nothing to change); 1 usage error or refused (nothing changed); 4 no TPM, or\n"
        "no authority in DIR (STATE not mounted, or no updatable slot enrolled yet).\n";

struct prepare {
        const char *files[64];
        size_t n_files;
        struct vs_volume_override overrides[64];
        size_t n_overrides;
        const char *state_dir;
        struct cli_tpm_options tpm;
        const char *eventlog;
        const char *esl[_PCR_SB_MAX];          /* --db, --dbx, --kek */
        uint32_t pcrs_given;                   /* --pcr N=HEX */
        uint8_t pcr_value[24][32];
        const char *add[AUTHNV_MAX_KEYS], *remove[AUTHNV_MAX_KEYS];
        size_t n_add, n_remove;
};

static int parse_pcr_value(struct prepare *p, char *arg) {
        char *eq = strchr(arg, '=');
        char *end = NULL;
        unsigned long n = eq ? strtoul(arg, &end, 10) : 24;
        if (!eq || end != eq || n > 23 || n == 11)
                return cli_usage_error("tpm prepare", "--pcr wants N=HEX with N a literal PCR (0-23 but 11), got '%s'", arg);
        if (policy_unhex(eq + 1, p->pcr_value[n], 32) < 0)
                return cli_usage_error("tpm prepare", "--pcr %lu: the value must be 64 hex digits (SHA-256)", n);
        p->pcrs_given |= 1u << n;
        return EXIT_OK;
}

static int add_to(const char **list, size_t *n, const char *arg, const char *opt) {
        if (*n == AUTHNV_MAX_KEYS)
                return cli_usage_error("tpm prepare", "%s: at most %d keys", opt, AUTHNV_MAX_KEYS);
        list[(*n)++] = arg;
        return EXIT_OK;
}

static int parse_args(struct prepare *p, int argc, char **argv) {
        enum { O_VOLUME = 256, O_STATE_DIR, O_PCR, O_DBX, O_DB, O_KEK, O_EVENTLOG, O_ADD, O_REMOVE };
        static const struct option opts[] = {
                CLI_TPM_LONG_OPTIONS,
                CLI_JSON_LONG_OPTION,
                { "config", required_argument, NULL, 'c' },
                { "volume", required_argument, NULL, O_VOLUME },
                { "state-dir", required_argument, NULL, O_STATE_DIR },
                { "pcr", required_argument, NULL, O_PCR },
                { "dbx", required_argument, NULL, O_DBX },
                { "db", required_argument, NULL, O_DB },
                { "kek", required_argument, NULL, O_KEK },
                { "eventlog", required_argument, NULL, O_EVENTLOG },
                { "add-pcr-public-key", required_argument, NULL, O_ADD },
                { "remove-pcr-public-key", required_argument, NULL, O_REMOVE },
                {}
        };
        int c, r = EXIT_OK;
        optind = 1;
        opterr = 0;
        while (r == EXIT_OK && (c = cli_tpm_getopt(argc, argv, ":c:", opts, &p->tpm)) != -1) {
                switch (c) {
                case 'c':
                        if (p->n_files == ELEMENTSOF(p->files))
                                return cli_usage_error("tpm prepare", "too many -c files");
                        p->files[p->n_files++] = optarg;
                        break;
                case O_VOLUME: {
                        char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || !eq[1] || p->n_overrides == ELEMENTSOF(p->overrides))
                                return cli_usage_error("tpm prepare", "--volume wants ID=DEVICE, got '%s'", optarg);
                        *eq = 0;
                        p->overrides[p->n_overrides++] = (struct vs_volume_override) { optarg, eq + 1 };
                        break;
                }
                case O_STATE_DIR: p->state_dir = optarg; break;
                case O_PCR: r = parse_pcr_value(p, optarg); break;
                case O_DBX: p->esl[PCR_SB_DBX] = optarg; break;
                case O_DB: p->esl[PCR_SB_DB] = optarg; break;
                case O_KEK: p->esl[PCR_SB_KEK] = optarg; break;
                case O_EVENTLOG: p->eventlog = optarg; break;
                case O_ADD: r = add_to(p->add, &p->n_add, optarg, "--add-pcr-public-key"); break;
                case O_REMOVE: r = add_to(p->remove, &p->n_remove, optarg, "--remove-pcr-public-key"); break;
                case ':': return cli_usage_error("tpm prepare", "option %s needs a value", argv[optind - 1]);
                default: return cli_usage_error("tpm prepare", "unknown option %s", argv[optind - 1]);
                }
        }
        if (r != EXIT_OK)
                return r;
        if (optind < argc)
                return cli_usage_error("tpm prepare", "unexpected argument '%s'", argv[optind]);
        if (p->n_files == 0 || !p->state_dir)
                return cli_usage_error("tpm prepare", "-c CONFIG and --state-dir DIR are required");
        bool predict = p->esl[PCR_SB_DBX] || p->esl[PCR_SB_DB] || p->esl[PCR_SB_KEK];
        if (predict && (p->pcrs_given & (1u << 7)))
                return cli_usage_error("tpm prepare", "--pcr 7 and --dbx/--db/--kek both say what PCR 7 will be: give one");
        if (!predict && !p->pcrs_given && !p->n_add && !p->n_remove)
                return cli_usage_error("tpm prepare", "nothing to prepare: give --pcr, --dbx/--db/--kek, "
                                       "--add-pcr-public-key or --remove-pcr-public-key");
        return EXIT_OK;
}

/* The Name an RSA PCR-policy key in PEM has in the index (exponent 65537, as enrolment writes it). */
static int key_name(const char *path, TPM2B_NAME *ret) {
        char *pem = NULL;
        size_t len = 0;
        EVP_PKEY *key = NULL;
        TPM2B_PUBLIC pub;
        int r = cli_read_text(path, &pem, &len);
        if (r >= 0 && policy_load_public_pem(pem, len, &key) < 0)
                r = log_error_errno(EINVAL, "%s is not an RSA public key in PEM", path);
        if (r >= 0 && (policy_rsa_public(key, 65537, &pub) < 0 || policy_public_name(&pub, ret) < 0))
                r = log_error_errno(EINVAL, "%s: the key cannot be a PCR-policy key (RSA, as systemd-ukify signs)", path);
        EVP_PKEY_free(key);
        free(pem);
        return r;
}

/* PCR 7 of the next boot predicted with the update's signature lists appended; refused when "unknown". */
static int predicted_pcr7(const struct prepare *p, uint8_t ret[32]) {
        struct pcr_values cur, pred;
        _cleanup_free_ char *reason = NULL;
        unsigned append = 1u << PCR_SB_DBX | 1u << PCR_SB_DB | 1u << PCR_SB_KEK;
        int r = vs_predict_pcr7(p->eventlog ?: VS_FIRMWARE_EVENTLOG, p->esl, append, &cur, &pred, &reason);
        if (r == 1)
                return log_error_errno(EKEYREJECTED, "the PCR 7 prediction is unknown (%s): nothing was changed", reason);
        if (r < 0)
                return r;
        for (size_t b = 0; b < pred.n_banks; b++)
                if (pred.banks[b].alg == TPM2_ALG_SHA256) {
                        memcpy(ret, pred.banks[b].v[7], 32);
                        return 0;
                }
        return log_error_errno(EINVAL, "the event log has no SHA-256 bank: PCR 7 cannot be predicted");
}

/* The state to authorize: the literal PCRs' current values with --pcr's, or the predicted PCR 7, over them.
 * 0 when there is none to add. */
static int new_state(const struct prepare *p, struct vs_tpm *t, uint32_t mask, uint8_t out[AUTHNV_STATE_BYTES],
                     size_t *ret_len) {
        bool predict = p->esl[PCR_SB_DBX] || p->esl[PCR_SB_DB] || p->esl[PCR_SB_KEK];
        *ret_len = 0;
        if (!predict && !p->pcrs_given)
                return 0;
        if ((p->pcrs_given & ~mask) || (predict && !(mask & (1u << 7))))
                return log_error_errno(EINVAL, "the updatable slots bind the literal PCRs 0x%06x: a value for another "
                                       "PCR means nothing to them", mask);
        uint8_t pcr7[32];
        int r = predict ? predicted_pcr7(p, pcr7) : 0;
        if (r >= 0)
                r = vs_authset_current_state(t, mask, out, ret_len);
        for (int pcr = 0, k = 0; r >= 0 && pcr < 24; pcr++)
                if (mask & (1u << pcr)) {
                        if (p->pcrs_given & (1u << pcr))
                                memcpy(out + 32 * k, p->pcr_value[pcr], 32);
                        else if (predict && pcr == 7)
                                memcpy(out + 32 * k, pcr7, 32);
                        k++;
                }
        return r < 0 ? r : 1;
}

static int build_edit(const struct prepare *p, struct vs_tpm *t, uint32_t mask, uint8_t state[AUTHNV_STATE_BYTES],
                      struct vs_authset_edit *e) {
        *e = (struct vs_authset_edit) {};
        int r = new_state(p, t, mask, state, &e->state_len);
        if (r > 0)
                e->state = state;
        for (size_t i = 0; r >= 0 && i < p->n_add; i++)
                r = key_name(p->add[i], &e->add[e->n_add++]);
        for (size_t i = 0; r >= 0 && i < p->n_remove; i++)
                r = key_name(p->remove[i], &e->remove[e->n_remove++]);
        return r;
}

/* Each volume with an updatable key: its device and whether its slots are bound to the node's index. */
static void show_volumes(const struct prepare *p, const struct vs_config *cfg, const struct vs_authset *a) {
        struct vs_volume_options o = { .overrides = p->overrides, .n_overrides = p->n_overrides };
        for (size_t i = 0; i < cfg->n_volumes; i++) {
                const struct vs_volume_config *v = &cfg->volumes[i];
                struct vs_config one = { .volumes = (struct vs_volume_config *) v, .n_volumes = 1 };
                if (!vs_config_has_updatable(&one, NULL))
                        continue;
                _cleanup_free_ char *dev = NULL;
                struct vs_volume_binding b = {};
                int r = vs_volume_device(v->id, &o, &dev);
                if (r >= 0)
                        r = vs_volume_binding_read(dev, 0, 0, &b);
                bool bound = r >= 0 && b.n_slots && b.nv_index == a->authority.nv_index &&
                             b.nv_name.size == a->nv_name.size && !memcmp(b.nv_name.name, a->nv_name.name, b.nv_name.size);
                const char *what = r == -ENODEV ? "not found" : r < 0 ? (b.reason[0] ? b.reason : strerror(-r)) :
                                   !b.n_slots ? "no updatable slot enrolled yet" :
                                   bound ? "bound to this index" : "bound to another index (sealed anew at its next unlock with --state-dir)";
                if (p->tpm.json) {
                        struct json_object *o2 = json_object_new_object();
                        json_object_object_add(o2, "volume", json_object_new_string(v->id));
                        json_object_object_add(o2, "device", dev ? json_object_new_string(dev) : NULL);
                        json_object_object_add(o2, "bound", json_object_new_boolean(bound));
                        json_object_object_add(o2, "detail", json_object_new_string(what));
                        json_object_object_add(o2, "authorized", cli_authorized_to_json(a->authority.nv_index, &a->nv.set));
                        puts(json_object_to_json_string_ext(o2, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                        json_object_put(o2);
                } else
                        printf("%s: %s%s%s\n", v->id, dev ? dev : "", dev ? ": " : "", what);
        }
}

static int load_config(const struct prepare *p, struct vs_config *cfg, uint32_t *ret_mask) {
        if (vs_config_load(cfg, p->files, p->n_files) < 0)
                return EXIT_USAGE;
        if (!vs_config_has_updatable(cfg, ret_mask)) {
                log_error("the config has no updatable tpm key (tpm: {updatable: true}): nothing to prepare");
                vs_config_free(cfg);
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

static void print_changes(const struct vs_authset_changes *c, const struct vs_authset *a, struct vs_tpm *t) {
        printf("prepared: %s%s, %zu key%s added, %zu removed, %d superseded state%s retired\n",
               c->state_added ? "a new state authorized" : "no new state",
               !c->state_added && c->retired + c->keys_added + c->keys_removed == 0 ? " (nothing changed)" : "",
               c->keys_added, c->keys_added == 1 ? "" : "s", c->keys_removed, c->retired, c->retired == 1 ? "" : "s");
        uint8_t booted[AUTHNV_STATE_BYTES];
        size_t len = 0;
        bool have = vs_authset_current_state(t, a->nv.set.pcr_mask, booted, &len) >= 0;
        cli_authorized_print(a->authority.nv_index, &a->nv.set, have ? booted : NULL, len);
}

int cmd_tpm_prepare(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        struct prepare p = {};
        int rc = parse_args(&p, argc, argv);
        struct vs_config cfg = {};
        uint32_t mask = 0;
        if (rc == EXIT_OK)
                rc = load_config(&p, &cfg, &mask);
        if (rc != EXIT_OK)
                return rc;
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        struct vs_authset a = {};
        struct vs_authset_edit e;
        struct vs_authset_changes changes;
        uint8_t state[AUTHNV_STATE_BYTES];
        rc = cli_open_tpm(&p.tpm, &t);
        int r = rc == EXIT_OK ? vs_authset_load(t, p.state_dir, &a) : 0;
        if (r == -ENOENT && !a.authority.write_key) {
                log_error("no authority in %s (%s): STATE is not mounted there, or no updatable slot was enrolled "
                          "yet", p.state_dir, VS_AUTHORITY_FILE);
                rc = EXIT_ENV;
        } else if (r < 0)
                rc = r == -ENODEV ? EXIT_ENV : EXIT_USAGE; /* the index is gone or not the authority's: refused */
        if (rc == EXIT_OK && (build_edit(&p, t, mask, state, &e) < 0 || vs_authset_prepare(t, &a, &e, &changes) < 0))
                rc = EXIT_USAGE;
        if (rc == EXIT_OK && !p.tpm.json)
                print_changes(&changes, &a, t);
        if (rc == EXIT_OK)
                show_volumes(&p, &cfg, &a);
        vs_authset_done(t, &a);
        vs_config_free(&cfg);
        return rc;
}
