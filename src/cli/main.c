/* main.c: `volseal <command> [options]`: global options, the command table, exit codes. */
#include "cli.h"
#include "log.h"
#include "progress.h"
#include "secret.h"
#include "util.h"
#include "volseal-version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static const struct cli_command commands[] = {
        { "unlock", cmd_unlock, "format empty volumes, open volumes by slot order, sync keyslots, cap PCR 11", true },
        { "status", cmd_status, "show each volume's state, slots, kinds and pending enrolments", true },
        { "config", cmd_config, "validate or show config documents", true },
        { "wipe", cmd_wipe, "destroy a volume's keyslots and signatures so the next unlock formats it", true },
        { "meta", cmd_meta, "read and write the META partition (Talos ADV)", true },
        { "uki", cmd_uki, "inspect, measure, sign and build Unified Kernel Images", true },
        { "pcr", cmd_pcr, "read PCRs, replay event logs, predict PCR 7, extend boot phases", false },
        { "policy", cmd_policy, "compute TPM2 policy digests, verify signed PCR policies", false },
        { "tpm", cmd_tpm, "TPM information, SRK setup, re-seal", true },
        { "attest", cmd_attest, "enrol an attestation key, quote PCRs, verify quotes", true },
        { "token", cmd_token, "LUKS2 token maintenance (adopt Talos tokens)", true },
};

static const char usage[] =
        "Usage: volseal [--verbose|--debug] COMMAND [OPTIONS]\n"
        "       volseal --help | --version\n"
        "\n"
        "Seal and unlock LUKS2 volumes with a TPM 2.0 bound to SecureBoot and a signed UKI.\n"
        "\n"
        "Commands:\n";

static const char exit_codes[] =
        "\n"
        "Exit codes: 0 ok (all volumes open and in sync); 1 usage or config error, nothing touched;\n"
        "2 a volume could not be opened by any key; 3 opened, but some slots failed to sync;\n"
        "4 environment missing (no TPM, no device, no device-mapper).\n"
        "Run 'volseal COMMAND --help' for a command's options; man volseal(8).\n";

static void print_usage(FILE *f) {
        fputs(usage, f);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
        fputs(exit_codes, f);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "volseal %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'volseal %s --help'.\n", cmd);
        return EXIT_USAGE;
}

bool cli_wants_help(int argc, char **argv, const char *text) {
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--"))
                        break;
                if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
                        fputs(text, stdout);
                        return true;
                }
        }
        return false;
}

int cli_parse_pcr_list(const char *s, uint32_t *ret) {
        uint32_t mask = 0;
        const char *p = s;
        do {
                char *end;
                errno = 0;
                long v = strtol(p, &end, 10);
                if (errno || end == p || v < 0 || v > 23 || (*end && *end != ','))
                        return -EINVAL;
                mask |= UINT32_C(1) << v;
                p = *end ? end + 1 : end;
        } while (*p || p[-1] == ',');
        *ret = mask;
        return 0;
}

int cli_exit_from_errno(int r) {
        switch (-r) {
        case 0:
                return EXIT_OK;
        case ENODEV:
        case ENOENT:
        case EOPNOTSUPP:
        case ENXIO:
                return EXIT_ENV;
        default:
                return EXIT_USAGE;
        }
}

int cli_exit_merge(int a, int b) {
        static const int rank[] = { [EXIT_OK] = 0, [EXIT_SYNC] = 1, [EXIT_ENV] = 2, [EXIT_NOT_OPENED] = 3,
                                    [EXIT_USAGE] = 4 };
        if (a < 0 || (size_t) a >= ELEMENTSOF(rank))
                return a;
        if (b < 0 || (size_t) b >= ELEMENTSOF(rank))
                return b;
        return rank[a] >= rank[b] ? a : b;
}

int main(int argc, char **argv) {
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        print_usage(stdout);
                        return EXIT_OK;
                } else if (streq(argv[i], "--version")) {
                        printf("volseal %s\n", VOLSEAL_VERSION);
                        return EXIT_OK;
                } else if (streq(argv[i], "--verbose") || streq(argv[i], "-v"))
                        vs_log_set_level(VS_LOG_INFO);
                else if (streq(argv[i], "--debug"))
                        vs_log_set_level(VS_LOG_DEBUG);
                else {
                        fprintf(stderr, "volseal: unknown option %s\nTry 'volseal --help'.\n", argv[i]);
                        return EXIT_USAGE;
                }
        }
        if (i >= argc) {
                print_usage(stderr);
                return EXIT_USAGE;
        }
        /* Progress lines (long argon2id steps, hashing big UKIs) only for a person at a terminal: never with
         * --json, never into a pipe or file. */
        bool json = false;
        for (int a = i; a < argc && !streq(argv[a], "--"); a++)
                json = json || streq(argv[a], "--json");
        vs_progress_enable(!json && isatty(STDERR_FILENO));
        for (size_t c = 0; c < ELEMENTSOF(commands); c++) {
                if (!streq(argv[i], commands[c].name))
                        continue;
                if (commands[c].touches_secrets) {
                        int r = vs_process_harden();
                        if (r < 0) {
                                log_error("cannot disable core dumps: %s", strerror(-r));
                                return EXIT_ENV;
                        }
                }
                return commands[c].run(argc - i, argv + i);
        }
        fprintf(stderr, "volseal: unknown command '%s'\nTry 'volseal --help'.\n", argv[i]);
        return EXIT_USAGE;
}
