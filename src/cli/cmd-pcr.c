/* cmd-pcr.c: `volseal pcr eventlog|predict` (pure: logs and EFI variables in, digests out); `pcr read` and
 * `pcr extend-phase` are dispatched to cmd-pcr-tpm.c. */
#include "cli.h"
#include "cli-file.h"
#include "cmd-pcr.h"
#include "efi.h"
#include "encoding.h"
#include "log.h"
#include "pcr.h"
#include "tpm/tpm.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <json-c/json.h>

static const char usage[] =
        "Usage: volseal pcr read [--tcti T] [--bank B] [--json]\n"
        "       volseal pcr eventlog [FILE] [--measure-log F | --no-measure-log] [--tcti T | --no-tpm] [--json]\n"
        "       volseal pcr predict --pcr 7 [--eventlog F] [--db F] [--dbx F] [--kek F] [--pk F] [--replace] [--json]\n"
        "       volseal pcr extend-phase WORD [--tcti T]\n"
        "\n"
        "eventlog  parse a TCG event log (crypto-agile or legacy SHA-1; default\n"
        "          " VS_FIRMWARE_EVENTLOG "), then volseal's own\n"
        "          measurement log (as `pcr extend-phase` writes it, if present), print the events and\n"
        "          the replayed PCR values of every bank. Without FILE (this machine's log) or with --tcti,\n"
        "          each replayed PCR is compared with the TPM, when one is reachable.\n"
        "predict   predict PCR 7 for the next boot: the event log's PCR 7 events with the SecureBoot, PK, KEK,\n"
        "          db and dbx events recomputed from the EFI variables (EFIVARFS_PATH, or the system's), with\n"
        "          replacements given as EFI signature lists or .auth files. --dbx is an append (duplicates\n"
        "          dropped, as the firmware does) unless --replace; --db, --kek and --pk replace.\n"
        "          The prediction is \"unknown\" (exit 3) when the db entry that verified a logged boot image\n"
        "          leaves db, or the new dbx revokes it or a logged boot application.\n"
        "\n"
        "Options:\n"
        "      --measure-log F   volseal's JSON-seq measurement log (default $VOLSEAL_MEASURE_LOG, else\n"
        "                        " VS_MEASURE_LOG_DEFAULT ")\n"
        "      --no-measure-log  replay the firmware log only\n"
        "      --tcti T          eventlog: compare with this TPM (default without FILE: $VOLSEAL_TCTI,\n"
        "                        then device:/dev/tpmrm0, then device:/dev/tpm0)\n"
        "      --no-tpm          eventlog: do not compare with a TPM\n"
        "      --eventlog F      predict: the firmware event log to follow (default as for eventlog)\n"
        "      --pcr 7           predict: the PCR to predict (only 7 is predictable)\n"
        "      --db/--dbx/--kek/--pk F   new contents (ESL or .auth)\n"
        "      --replace         predict: --dbx replaces dbx instead of appending to it\n"
        "      --json            JSON output\n"
        "  -h, --help            this text\n"
        "\n"
        "Exit codes: 0 ok; 1 usage error or malformed log/file; 3 prediction unknown, or a replayed PCR\n"
        "differs from the TPM;\n"
        "4 environment missing (no event log, no EFI variables).\n";

int vs_load_eventlogs(const char *fw_path, const char *measure_path, bool measure_optional, struct pcr_eventlog *log) {
        int r;
        if (fw_path) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t size;
                r = cli_read_file(fw_path, "event log", &buf, &size);
                if (r < 0)
                        return r;
                r = pcr_eventlog_parse(log, buf, size, fw_path);
                if (r < 0)
                        return r;
        }
        if (measure_path) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t size;
                if (measure_optional && access(measure_path, F_OK) < 0 && errno == ENOENT)
                        return 0;
                r = cli_read_file(measure_path, "measurement log", &buf, &size);
                if (r < 0)
                        return r;
                r = pcr_eventlog_add_measure_log(log, (const char *) buf, size, measure_path);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct json_object *vs_pcr_values_to_json(const struct pcr_values *v, const bool (*only)[PCR_NUM]) {
        struct json_object *o = json_object_new_object();
        for (size_t b = 0; b < v->n_banks; b++) {
                struct json_object *bank = json_object_new_object();
                for (int p = 0; p < PCR_NUM; p++) {
                        if (only ? !only[b][p] : (p != 0 && v->banks[b].n_extends[p] == 0))
                                continue;
                        char key[4];
                        snprintf(key, sizeof(key), "%d", p);
                        char *h = vs_hex_encode(v->banks[b].v[p], v->banks[b].size);
                        json_object_object_add(bank, key, json_object_new_string(h ?: ""));
                        free(h);
                }
                json_object_object_add(o, pcr_alg_name(v->banks[b].alg) ?: "unknown", bank);
        }
        return o;
}

static const char *format_name(enum pcr_log_format f) {
        return f == PCR_LOG_CRYPTO_AGILE ? "crypto-agile" : f == PCR_LOG_SHA1 ? "sha1" : "none";
}

/* The TPM's values of the replayed PCRs, per bank: 1 = read, 0 = bank not allocated. */
struct tpm_view {
        bool reachable;
        char tcti[256];
        char error[512];
        bool have[PCR_BANKS_MAX];
        struct vs_tpm_pcrs pcrs[PCR_BANKS_MAX];
};

static bool replayed(const struct pcr_bank *b, int p) {
        return p == 0 || b->n_extends[p] > 0;
}

static void read_tpm(const char *tcti, const struct pcr_values *vals, struct tpm_view *tv) {
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        memset(tv, 0, sizeof(*tv));
        int r = vs_tpm_open(tcti, 0, &t);
        for (size_t b = 0; r >= 0 && b < vals->n_banks; b++) {
                uint32_t mask = 0;
                for (int p = 0; p < PCR_NUM; p++)
                        if (replayed(&vals->banks[b], p))
                                mask |= 1u << p;
                int k = vs_tpm_pcr_read(t, vals->banks[b].alg, mask, &tv->pcrs[b]);
                if (k == -EOPNOTSUPP)
                        continue; /* bank not allocated in this TPM */
                if (k < 0)
                        r = k;
                else
                        tv->have[b] = true;
        }
        if (r < 0) {
                snprintf(tv->error, sizeof(tv->error), "%s", t ? vs_tpm_last_error(t) : "no TPM could be opened");
                return;
        }
        tv->reachable = true;
        snprintf(tv->tcti, sizeof(tv->tcti), "%s", vs_tpm_tcti(t));
}

static bool tpm_matches(const struct tpm_view *tv, const struct pcr_values *vals, size_t b, int p) {
        return tv->have[b] && (tv->pcrs[b].mask & (1u << p)) &&
               memcmp(tv->pcrs[b].value[p], vals->banks[b].v[p], vals->banks[b].size) == 0;
}

static int do_eventlog(const char *file, const char *measure, bool compare, const char *tcti, bool json) {
        struct pcr_eventlog log = {};
        struct pcr_values vals;
        struct tpm_view tv = {};
        size_t mismatches = 0;
        int r = vs_load_eventlogs(file, measure, true, &log);
        if (r < 0) {
                pcr_eventlog_free(&log);
                return r == -EBADMSG ? EXIT_USAGE : cli_exit_from_errno(r);
        }
        r = pcr_eventlog_replay(&log, &vals);
        if (r < 0) {
                pcr_eventlog_free(&log);
                return log_error_errno(r, "cannot replay the event log: %s", strerror(-r)), EXIT_USAGE;
        }
        if (compare)
                read_tpm(tcti, &vals, &tv);
        for (size_t b = 0; tv.reachable && b < vals.n_banks; b++)
                for (int p = 0; p < PCR_NUM; p++)
                        if (tv.have[b] && replayed(&vals.banks[b], p) && !tpm_matches(&tv, &vals, b, p))
                                mismatches++;
        if (json) {
                struct json_object *o = json_object_new_object(), *evs = json_object_new_array(), *banks = json_object_new_array();
                json_object_object_add(o, "format", json_object_new_string(format_name(log.format)));
                for (size_t b = 0; b < vals.n_banks; b++)
                        json_object_array_add(banks, json_object_new_string(pcr_alg_name(vals.banks[b].alg)));
                json_object_object_add(o, "banks", banks);
                if (log.has_startup_locality)
                        json_object_object_add(o, "startup_locality", json_object_new_int(log.startup_locality));
                json_object_object_add(o, "hcrtm", json_object_new_boolean(log.hcrtm));
                for (size_t i = 0; i < log.n_events; i++)
                        json_object_array_add(evs, pcr_event_to_json(&log.events[i]));
                json_object_object_add(o, "events", evs);
                json_object_object_add(o, "pcrs", vs_pcr_values_to_json(&vals, NULL));
                if (compare && tv.reachable) {
                        /* "tpm": {"tcti": T, "matches": bool, "sha256": {"7": {"value": hex, "match": bool}}} */
                        struct json_object *jt = json_object_new_object();
                        json_object_object_add(jt, "tcti", json_object_new_string(tv.tcti));
                        json_object_object_add(jt, "matches", json_object_new_boolean(mismatches == 0));
                        for (size_t b = 0; b < vals.n_banks; b++) {
                                if (!tv.have[b])
                                        continue;
                                struct json_object *jb = json_object_new_object();
                                for (int p = 0; p < PCR_NUM; p++) {
                                        if (!replayed(&vals.banks[b], p))
                                                continue;
                                        struct json_object *e = json_object_new_object();
                                        char key[4], *h = vs_hex_encode(tv.pcrs[b].value[p], vals.banks[b].size);
                                        json_object_object_add(e, "value", json_object_new_string(h ?: ""));
                                        json_object_object_add(e, "match", json_object_new_boolean(tpm_matches(&tv, &vals, b, p)));
                                        free(h);
                                        snprintf(key, sizeof(key), "%d", p);
                                        json_object_object_add(jb, key, e);
                                }
                                json_object_object_add(jt, pcr_alg_name(vals.banks[b].alg), jb);
                        }
                        json_object_object_add(o, "tpm", jt);
                } else if (compare) {
                        json_object_object_add(o, "tpm", NULL);
                        json_object_object_add(o, "tpm_error", json_object_new_string(tv.error));
                }
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                printf("format: %s, banks:", format_name(log.format));
                for (size_t b = 0; b < vals.n_banks; b++)
                        printf(" %s", pcr_alg_name(vals.banks[b].alg));
                if (log.has_startup_locality)
                        printf(", startup locality %u", log.startup_locality);
                if (log.hcrtm)
                        printf(", H-CRTM");
                printf("\n");
                for (size_t i = 0; i < log.n_events; i++) {
                        const struct pcr_event *ev = &log.events[i];
                        _cleanup_free_ char *desc = pcr_event_describe(ev);
                        const char *tn = pcr_event_type_name(ev->type);
                        char tbuf[16];
                        if (!tn) {
                                snprintf(tbuf, sizeof(tbuf), "0x%08x", ev->type);
                                tn = tbuf;
                        }
                        printf("%4zu %2u %-34s %s\n", i, ev->pcr, tn, desc ?: "");
                }
                printf("replayed PCRs%s:\n", tv.reachable ? " (compared with the TPM)" : "");
                for (size_t b = 0; b < vals.n_banks; b++)
                        for (int p = 0; p < PCR_NUM; p++) {
                                if (!replayed(&vals.banks[b], p))
                                        continue;
                                _cleanup_free_ char *h = vs_hex_encode(vals.banks[b].v[p], vals.banks[b].size);
                                const char *verdict = !tv.reachable ? "" : !tv.have[b] ? " (bank not in the TPM)" :
                                                      tpm_matches(&tv, &vals, b, p) ? " matches the TPM" : " DIFFERS from the TPM";
                                printf("  %s:%d %s%s\n", pcr_alg_name(vals.banks[b].alg), p, h ?: "", verdict);
                        }
                if (compare && !tv.reachable)
                        printf("TPM not compared: %s\n", tv.error);
                else if (mismatches)
                        printf("%zu replayed PCR value%s differ%s from the TPM: the logs do not explain this TPM's state\n",
                               mismatches, mismatches == 1 ? "" : "s", mismatches == 1 ? "s" : "");
        }
        pcr_eventlog_free(&log);
        return mismatches ? EXIT_SYNC : EXIT_OK;
}

static int load_replacement(const char *path, const char *var, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        char what[64];
        int r = cli_read_file(path, "signature list", &buf, &size);
        if (r < 0)
                return r;
        snprintf(what, sizeof(what), "%s (new %s)", path, var);
        return pcr_esl_from_file_data(buf, size, what, ret, ret_size, NULL);
}

/* One variable of vars replaced by the ESL in `path`, or that ESL appended to it (EDK2's append write). */
static int replace_var(struct pcr_sb_vars *vars, enum pcr_sb_var k, const char *path, bool append) {
        uint8_t *esl = NULL;
        size_t esl_size;
        int r = load_replacement(path, pcr_sb_var_name(k), &esl, &esl_size);
        if (r < 0)
                return -EINVAL;
        if (append && vars->v[k].present) {
                uint8_t *merged = NULL;
                size_t merged_size;
                r = pcr_esl_append(vars->v[k].data, vars->v[k].size, esl, esl_size, &merged, &merged_size);
                free(esl);
                if (r < 0)
                        return log_error_errno(EINVAL, "cannot append %s to the current %s: %s", path,
                                               pcr_sb_var_name(k), strerror(-r));
                esl = merged;
                esl_size = merged_size;
        }
        free(vars->v[k].data);
        vars->v[k].data = esl;
        vars->v[k].size = esl_size;
        vars->v[k].present = esl_size > 0;
        return 0;
}

int vs_predict_pcr7(const char *eventlog, const char *const files[_PCR_SB_MAX], unsigned append, struct pcr_values *cur,
                    struct pcr_values *pred, char **reason) {
        struct pcr_eventlog log = {};
        struct pcr_sb_vars vars = {};
        int r = vs_load_eventlogs(eventlog, NULL, false, &log);
        if (r >= 0)
                r = vs_efi_read_secureboot_vars(&vars);
        for (int k = PCR_SB_PK; r >= 0 && k < _PCR_SB_MAX; k++)
                if (files[k])
                        r = replace_var(&vars, (enum pcr_sb_var) k, files[k], append & (1u << k));
        if (r >= 0)
                r = pcr_eventlog_replay(&log, cur);
        if (r >= 0)
                r = pcr_predict_pcr7(&log, &vars, pred, reason);
        pcr_sb_vars_free(&vars);
        pcr_eventlog_free(&log);
        return r;
}

static int do_predict(const char *eventlog, const char *files[_PCR_SB_MAX], bool replace, bool json) {
        struct pcr_values cur, pred;
        _cleanup_free_ char *reason = NULL;
        int ret = EXIT_OK;
        int r = vs_predict_pcr7(eventlog, files, replace ? 0 : 1u << PCR_SB_DBX, &cur, &pred, &reason);
        if (r < 0)
                return r == -EBADMSG || r == -EINVAL ? EXIT_USAGE : cli_exit_from_errno(r);
        if (json) {
                struct json_object *o = json_object_new_object(), *jc = json_object_new_object();
                json_object_object_add(o, "pcr", json_object_new_int(7));
                json_object_object_add(o, "status", json_object_new_string(r == 1 ? "unknown" : "predicted"));
                for (size_t b = 0; b < cur.n_banks; b++) {
                        char *h = vs_hex_encode(cur.banks[b].v[7], cur.banks[b].size);
                        json_object_object_add(jc, pcr_alg_name(cur.banks[b].alg), json_object_new_string(h ?: ""));
                        free(h);
                }
                json_object_object_add(o, "current", jc);
                if (r == 1)
                        json_object_object_add(o, "reason", json_object_new_string(reason));
                else {
                        struct json_object *jp = json_object_new_object();
                        for (size_t b = 0; b < pred.n_banks; b++) {
                                char *h = vs_hex_encode(pred.banks[b].v[7], pred.banks[b].size);
                                json_object_object_add(jp, pcr_alg_name(pred.banks[b].alg), json_object_new_string(h ?: ""));
                                free(h);
                        }
                        json_object_object_add(o, "predicted", jp);
                }
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (r == 1) {
                printf("pcr 7: unknown: %s\n", reason);
        } else {
                for (size_t b = 0; b < pred.n_banks; b++) {
                        _cleanup_free_ char *h = vs_hex_encode(pred.banks[b].v[7], pred.banks[b].size);
                        _cleanup_free_ char *c = vs_hex_encode(cur.banks[b].v[7], cur.banks[b].size);
                        printf("%s:7 %s%s\n", pcr_alg_name(pred.banks[b].alg), h ?: "",
                               c && h && streq(c, h) ? " (unchanged)" : " (changes)");
                }
        }
        if (r == 1)
                ret = EXIT_SYNC;
        return ret;
}

static const char *opt_name(const struct option *opts, int c) {
        for (; opts->name; opts++)
                if (opts->val == c)
                        return opts->name;
        return "?";
}

int cmd_pcr(int argc, char **argv) {
        if (argc >= 2 && streq(argv[1], "read"))
                return cmd_pcr_read(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "extend-phase"))
                return cmd_pcr_extend_phase(argc - 1, argv + 1);
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        if (argc < 2)
                return cli_usage_error("pcr", "missing subcommand (read, eventlog, predict or extend-phase)");
        const char *sub = argv[1];
        if (!streq(sub, "eventlog") && !streq(sub, "predict"))
                return cli_usage_error("pcr", "unknown subcommand '%s' (read, eventlog, predict or extend-phase)", sub);

        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "measure-log", required_argument, NULL, 'm' },
                { "no-measure-log", no_argument, NULL, 'M' },
                { "tcti", required_argument, NULL, 't' },
                { "no-tpm", no_argument, NULL, 'T' },
                { "eventlog", required_argument, NULL, 'e' },
                { "pcr", required_argument, NULL, 'p' },
                { "db", required_argument, NULL, 'd' },
                { "dbx", required_argument, NULL, 'x' },
                { "kek", required_argument, NULL, 'k' },
                { "pk", required_argument, NULL, 'K' },
                { "replace", no_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        bool json = false, replace = false, no_tpm = false, eventlog_sub = streq(sub, "eventlog");
        const char *tcti = NULL;
        const char *measure = vs_measure_log_path(), *eventlog = VS_FIRMWARE_EVENTLOG, *pcr = NULL;
        const char *files[_PCR_SB_MAX] = {};
        int c;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
                bool predict_only = c == 'e' || c == 'p' || c == 'd' || c == 'x' || c == 'k' || c == 'K' || c == 'r';
                bool eventlog_only = c == 'm' || c == 'M' || c == 't' || c == 'T';
                if ((predict_only && eventlog_sub) || (eventlog_only && !eventlog_sub))
                        return cli_usage_error("pcr", "option --%s does not apply to 'pcr %s'", opt_name(opts, c), sub);
                switch (c) {
                case 'j': json = true; break;
                case 'm': measure = optarg; break;
                case 'M': measure = NULL; break;
                case 't': tcti = optarg; break;
                case 'T': no_tpm = true; break;
                case 'e': eventlog = optarg; break;
                case 'p': pcr = optarg; break;
                case 'd': files[PCR_SB_DB] = optarg; break;
                case 'x': files[PCR_SB_DBX] = optarg; break;
                case 'k': files[PCR_SB_KEK] = optarg; break;
                case 'K': files[PCR_SB_PK] = optarg; break;
                case 'r': replace = true; break;
                default: return cli_usage_error("pcr", "invalid option");
                }
        }
        if (json)
                vs_log_set_quiet(1);
        int rest = argc - 1 - optind;
        if (eventlog_sub) {
                if (rest > 1)
                        return cli_usage_error("pcr", "unexpected argument '%s'", argv[optind + 2]);
                /* Compare with the TPM when the log is this machine's own (no FILE) or a TPM is named. */
                bool compare = !no_tpm && (rest == 0 || tcti);
                return do_eventlog(rest == 1 ? argv[optind + 1] : VS_FIRMWARE_EVENTLOG, measure, compare, tcti, json);
        }
        if (rest > 0)
                return cli_usage_error("pcr", "unexpected argument '%s'", argv[optind + 1]);
        if (!pcr)
                return cli_usage_error("pcr", "predict needs --pcr 7");
        if (!streq(pcr, "7"))
                return cli_usage_error("pcr", "only PCR 7 can be predicted from EFI variables (--pcr %s); PCR 11 is predicted by 'volseal uki measure'", pcr);
        if (replace && !files[PCR_SB_DBX])
                return cli_usage_error("pcr", "--replace only applies to --dbx");
        return do_predict(eventlog, files, replace, json);
}
