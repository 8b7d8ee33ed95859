/* cmd-tpm.c: `volseal tpm info` (what the TPM is and whether volseal can use it) and `volseal tpm setup`
 * (persist volseal's SRK, docs/tpm.md, into a free handle). `tpm reseal` belongs to the tpm key kind (later). */
#include "cli.h"
#include "cli-tpm.h"
#include "cmd-volume.h"
#include "encoding.h"
#include "log.h"
#include "tpm/tpm.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>

static const char usage[] =
        "Usage: volseal tpm info [--tcti T] [--json] [--debug-tpm]\n"
        "       volseal tpm setup [--tcti T] [--handle H] [--json] [--debug-tpm]\n"
        "       volseal tpm reseal --force -c CONFIG.yaml [--volume ID=DEVICE]... [unlock's key options]\n"
        "       volseal tpm prepare -c CONFIG.yaml --state-dir DIR [--pcr 7=HEX | --dbx FILE ...] [...]\n"
        "\n"
        "info   the TPM's manufacturer, firmware, PCR banks and PCR count, AES-128-CFB support, dictionary-\n"
        "       attack lockout state, and the persistent handle holding volseal's SRK (ECC P-256, the\n"
        "       template Talos uses), if any; checks what volseal needs (SHA-256 bank with 24 PCRs,\n"
        "       AES-128-CFB).\n"
        "setup  persist the SRK so unlock skips CreatePrimary: into --handle, else 0x81000001 if free, else the\n"
        "       next free handle. Does nothing when a persistent handle already holds it. Never evicts.\n"
        "reseal the operator's override of the re-seal gate (SecureBoot off, PK/KEK/db replaced, Talos tokens):\n"
        "       opens each volume with its other keys (no activation) and replaces every tpm slot that does not\n"
        "       unseal with a fresh seal to the current PCR 7 and signed policy. Needs --force. Exit codes as\n"
        "       for 'volseal unlock'.\n"
        "prepare authorize the next boot's PCR state and UKI PCR-policy keys for the updatable tpm slots, before\n"
        "       an update changes them ('volseal tpm prepare --help'; docs/tpm-updatable.md).\n"
        "\n"
        "Options:\n"
        "      --tcti T      TPM to use (tctildr string, e.g. device:/dev/tpmrm0 or swtpm:host=H,port=P);\n"
        "                    default $VOLSEAL_TCTI, then device:/dev/tpmrm0, then device:/dev/tpm0\n"
        "      --handle H    setup: persistent handle (0x81000000-0x817fffff); refused if occupied\n"
        "      --json        JSON output\n"
        "      --debug-tpm   let tpm2-tss log as TSS2_LOG says (may print session keys; never in production)\n"
        "  -h, --help        this text\n"
        "\n"
        "Exit codes: 0 ok; 1 usage error, or setup refused (handle occupied, owner password set);\n"
        "4 no TPM, or the TPM lacks what volseal needs (info).\n";

static int popcount_sel(const TPMS_PCR_SELECTION *s) {
        int n = 0;
        for (uint32_t i = 0; i < s->sizeofSelect && i < sizeof(s->pcrSelect); i++)
                n += __builtin_popcount(s->pcrSelect[i]);
        return n;
}

static void print_info(const struct vs_tpm *t, const struct vs_tpm_info *i, bool json) {
        _cleanup_free_ char *name = vs_hex_encode(i->srk_name.name, i->srk_name.size);
        char fw[32], rev[16], handle[16];
        snprintf(fw, sizeof(fw), "%08x.%08x", i->firmware[0], i->firmware[1]);
        snprintf(rev, sizeof(rev), "%u.%02u", i->spec_revision / 100, i->spec_revision % 100);
        snprintf(handle, sizeof(handle), "0x%08x", i->srk_handle);
        bool ok = i->sha256_24 && i->aes128cfb;
        if (json) {
                struct json_object *o = json_object_new_object(), *banks = json_object_new_array();
                json_object_object_add(o, "tcti", json_object_new_string(vs_tpm_tcti(t)));
                json_object_object_add(o, "manufacturer", json_object_new_string(i->manufacturer));
                json_object_object_add(o, "vendor", json_object_new_string(i->vendor));
                json_object_object_add(o, "firmware", json_object_new_string(fw));
                json_object_object_add(o, "spec_revision", json_object_new_string(rev));
                json_object_object_add(o, "spec_year", json_object_new_int((int32_t) i->spec_year));
                json_object_object_add(o, "pcr_count", json_object_new_int((int32_t) i->pcr_count));
                for (uint32_t b = 0; b < i->banks.count; b++) {
                        const TPMS_PCR_SELECTION *s = &i->banks.pcrSelections[b];
                        const char *n = vs_tpm_alg_name(s->hash);
                        struct json_object *jb = json_object_new_object();
                        json_object_object_add(jb, "bank", n ? json_object_new_string(n) : json_object_new_int(s->hash));
                        json_object_object_add(jb, "pcrs", json_object_new_int(popcount_sel(s)));
                        json_object_array_add(banks, jb);
                }
                json_object_object_add(o, "banks", banks);
                json_object_object_add(o, "sha256_24_pcrs", json_object_new_boolean(i->sha256_24));
                json_object_object_add(o, "aes128cfb", json_object_new_boolean(i->aes128cfb));
                json_object_object_add(o, "usable", json_object_new_boolean(ok));
                struct json_object *l = json_object_new_object();
                json_object_object_add(l, "counter", json_object_new_int64(i->lockout_counter));
                json_object_object_add(l, "max_auth_fail", json_object_new_int64(i->max_auth_fail));
                json_object_object_add(l, "interval", json_object_new_int64(i->lockout_interval));
                json_object_object_add(l, "recovery", json_object_new_int64(i->lockout_recovery));
                json_object_object_add(l, "in_lockout", json_object_new_boolean(i->in_lockout));
                json_object_object_add(o, "lockout", l);
                struct json_object *srk = json_object_new_object();
                json_object_object_add(srk, "handle", i->srk_handle ? json_object_new_string(handle) : NULL);
                json_object_object_add(srk, "name", json_object_new_string(name ? name : ""));
                if (i->srk_error[0])
                        json_object_object_add(srk, "error", json_object_new_string(i->srk_error));
                json_object_object_add(o, "srk", srk);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return;
        }
        printf("tcti:          %s\n", vs_tpm_tcti(t));
        printf("manufacturer:  %s\n", i->manufacturer);
        printf("vendor:        %s\n", i->vendor);
        printf("firmware:      %s\n", fw);
        printf("spec:          revision %s (%u)\n", rev, i->spec_year);
        printf("pcr count:     %u\n", i->pcr_count);
        printf("banks:        ");
        for (uint32_t b = 0; b < i->banks.count; b++) {
                const TPMS_PCR_SELECTION *s = &i->banks.pcrSelections[b];
                const char *n = vs_tpm_alg_name(s->hash);
                if (n)
                        printf(" %s(%d)", n, popcount_sel(s));
                else
                        printf(" 0x%04x(%d)", s->hash, popcount_sel(s));
        }
        printf("\n");
        printf("aes-128-cfb:   %s\n", i->aes128cfb ? "yes" : "no");
        printf("lockout:       %s, %u of %u failures, interval %u s, recovery %u s\n",
               i->in_lockout ? "IN LOCKOUT" : "not in lockout", i->lockout_counter, i->max_auth_fail,
               i->lockout_interval, i->lockout_recovery);
        if (i->srk_error[0])
                printf("srk:           cannot be created: %s\n", i->srk_error);
        else if (i->srk_handle)
                printf("srk:           persistent at %s, Name %s\n", handle, name ? name : "");
        else
                printf("srk:           not persistent (created at each use; 'volseal tpm setup' persists it), Name %s\n",
                       name ? name : "");
        if (ok)
                printf("usable:        yes\n");
        else
                printf("usable:        no:%s%s\n", i->sha256_24 ? "" : " no SHA-256 bank with 24 PCRs",
                       i->aes128cfb ? "" : " no AES-128-CFB");
}

int cmd_tpm(int argc, char **argv) {
        /* prepare has a help text of its own (reseal's options are unlock's: this group's text covers it) */
        if (argc >= 2 && streq(argv[1], "prepare"))
                return cmd_tpm_prepare(argc - 1, argv + 1);
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        if (argc < 2)
                return cli_usage_error("tpm", "missing subcommand (info, setup, reseal or prepare)");
        const char *sub = argv[1];
        if (streq(sub, "reseal"))
                return cmd_reseal(argc - 1, argv + 1);
        if (!streq(sub, "info") && !streq(sub, "setup"))
                return cli_usage_error("tpm", "unknown subcommand '%s' (info, setup, reseal or prepare)", sub);
        static const struct option opts[] = {
                CLI_TPM_LONG_OPTIONS,
                CLI_JSON_LONG_OPTION,
                { "handle", required_argument, NULL, 'H' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct cli_tpm_options o = {};
        uint32_t handle = 0;
        int c;
        optind = 1;
        while ((c = cli_tpm_getopt(argc - 1, argv + 1, "h", opts, &o)) != -1) {
                switch (c) {
                case 'H': {
                        char *end = NULL;
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 0);
                        if (!streq(sub, "setup"))
                                return cli_usage_error("tpm", "--handle is an option of 'tpm setup'");
                        if (errno || !end || *end || v < 0x81000000ul || v > 0x817ffffful)
                                return cli_usage_error("tpm", "--handle '%s' is not an owner persistent handle "
                                                       "(0x81000000-0x817fffff)", optarg);
                        handle = (uint32_t) v;
                        break;
                }
                default:
                        return cli_usage_error("tpm", "invalid option");
                }
        }
        if (optind < argc - 1)
                return cli_usage_error("tpm", "unexpected argument '%s'", argv[optind + 1]);

        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = cli_open_tpm(&o, &t);
        if (r != EXIT_OK)
                return r;
        if (streq(sub, "info")) {
                struct vs_tpm_info info;
                r = vs_tpm_get_info(t, &info);
                if (r < 0)
                        return cli_exit_from_errno(r == -EIO ? -ENODEV : r);
                print_info(t, &info, o.json);
                return info.sha256_24 && info.aes128cfb ? EXIT_OK : EXIT_ENV;
        }
        r = vs_tpm_check_caps(t);
        if (r < 0)
                return EXIT_ENV;
        uint32_t got = 0;
        bool created = false;
        r = vs_tpm_srk_setup(t, handle, &got, &created);
        if (r < 0)
                return r == -ENODEV ? EXIT_ENV : EXIT_USAGE;
        TPM2B_NAME name;
        r = vs_tpm_srk(t, NULL, &name, NULL);
        if (r < 0)
                return EXIT_ENV;
        _cleanup_free_ char *hname = vs_hex_encode(name.name, name.size);
        if (o.json) {
                char h[16];
                snprintf(h, sizeof(h), "0x%08x", got);
                struct json_object *jo = json_object_new_object();
                json_object_object_add(jo, "handle", json_object_new_string(h));
                json_object_object_add(jo, "created", json_object_new_boolean(created));
                json_object_object_add(jo, "name", json_object_new_string(hname ? hname : ""));
                puts(json_object_to_json_string_ext(jo, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(jo);
        } else if (created)
                printf("SRK persisted at 0x%08x (Name %s)\n", got, hname ? hname : "");
        else
                printf("SRK already persistent at 0x%08x (Name %s); nothing to do\n", got, hname ? hname : "");
        return EXIT_OK;
}
