/* cmd-pcr-tpm.c: `volseal pcr read` and `volseal pcr extend-phase` (the TPM side of `volseal pcr`; cmd-pcr.c
 * dispatches here with argv[0] = "read" / "extend-phase"). */
#include "cli.h"
#include "cli-tpm.h"
#include "encoding.h"
#include "log.h"
#include "tpm/tpm.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>

static const char read_usage[] =
        "Usage: volseal pcr read [--tcti T] [--bank B] [--pcr LIST] [--json]\n"
        "\n"
        "Reads PCRs from the TPM (default: all 24 of the sha256 bank).\n"
        "\n"
        "Options:\n"
        "      --tcti T      TPM to use (default $VOLSEAL_TCTI, then device:/dev/tpmrm0, then device:/dev/tpm0)\n"
        "      --bank B      sha1, sha256, sha384 or sha512 (default sha256)\n"
        "      --pcr LIST    comma-separated PCR indexes, e.g. 7,11 (default 0-23)\n"
        "      --json        JSON output: {\"bank\":B,\"pcrs\":{\"0\":\"<hex>\",...}}\n"
        "      --debug-tpm   let tpm2-tss log as TSS2_LOG says (never in production)\n"
        "  -h, --help        this text\n"
        "\n"
        "Exit codes: 0 ok; 1 usage error; 4 no TPM, or the bank is not allocated.\n";

static const char extend_usage[] =
        "Usage: volseal pcr extend-phase WORD [--tcti T] [--pcr N] [--log FILE]\n"
        "\n"
        "Extends PCR 11 (or N) with the boot phase WORD as systemd-pcrphase does: each allocated bank gets its\n"
        "own hash of the bare word. The extend is appended to volseal's measurement log as an RFC 7464 JSON-seq\n"
        "record ({\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"<hex>\"},...],\n"
        "\"content_type\":\"systemd\",\"content\":{\"string\":\"WORD\"}}); a log that cannot be written is a warning,\n"
        "the extend still happens. Once PCR 11 moves past the signed phases, tpm slots no longer unseal.\n"
        "\n"
        "Options:\n"
        "      --tcti T      TPM to use (default $VOLSEAL_TCTI, then device:/dev/tpmrm0, then device:/dev/tpm0)\n"
        "      --pcr N       PCR to extend (default 11)\n"
        "      --log FILE    measurement log (default $VOLSEAL_MEASURE_LOG, else " VS_MEASURE_LOG_DEFAULT ")\n"
        "      --debug-tpm   let tpm2-tss log as TSS2_LOG says (never in production)\n"
        "  -h, --help        this text\n"
        "\n"
        "Exit codes: 0 extended; 1 usage error or the TPM refused; 4 no TPM.\n";

int cmd_pcr_read(int argc, char **argv) {
        if (cli_wants_help(argc, argv, read_usage))
                return EXIT_OK;
        static const struct option opts[] = {
                CLI_TPM_LONG_OPTIONS,
                CLI_JSON_LONG_OPTION,
                { "bank", required_argument, NULL, 'b' },
                { "pcr", required_argument, NULL, 'p' },
                {}
        };
        struct cli_tpm_options o = {};
        const char *bank_name = "sha256";
        uint32_t mask = (1u << VS_TPM_PCR_COUNT) - 1;
        int c;
        optind = 1;
        while ((c = cli_tpm_getopt(argc, argv, "", opts, &o)) != -1) {
                switch (c) {
                case 'b':
                        bank_name = optarg;
                        break;
                case 'p':
                        if (cli_parse_pcr_list(optarg, &mask) < 0)
                                return cli_usage_error("pcr read", "--pcr '%s' is not a list of PCRs 0-23", optarg);
                        break;
                default:
                        return cli_usage_error("pcr read", "invalid option");
                }
        }
        if (optind < argc)
                return cli_usage_error("pcr read", "unexpected argument '%s'", argv[optind]);
        uint16_t bank = vs_tpm_alg_from_name(bank_name);
        if (!bank)
                return cli_usage_error("pcr read", "unknown bank '%s' (sha1, sha256, sha384, sha512)", bank_name);

        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = cli_open_tpm(&o, &t);
        if (r != EXIT_OK)
                return r;
        struct vs_tpm_pcrs p;
        r = vs_tpm_pcr_read(t, bank, mask, &p);
        if (r < 0)
                return r == -EOPNOTSUPP ? EXIT_ENV : cli_exit_from_errno(r == -EIO ? -ENODEV : r);
        const char *name = vs_tpm_alg_name(bank);
        bool json = o.json;
        struct json_object *jo = json ? json_object_new_object() : NULL, *vals = json ? json_object_new_object() : NULL;
        if (!json)
                printf("%s:\n", name);
        for (uint32_t i = 0; i < VS_TPM_PCR_COUNT; i++) {
                if (!(p.mask & (1u << i)))
                        continue;
                char h[VS_HEX_SIZE(TPM2_SHA512_DIGEST_SIZE)];
                vs_hex_encode_to(p.value[i], p.size, h);
                if (json) {
                        char key[4];
                        snprintf(key, sizeof(key), "%u", i);
                        json_object_object_add(vals, key, json_object_new_string(h));
                } else
                        printf("  %2u: %s\n", i, h);
        }
        if (json) {
                json_object_object_add(jo, "bank", json_object_new_string(name));
                json_object_object_add(jo, "pcrs", vals);
                puts(json_object_to_json_string_ext(jo, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(jo);
        }
        return EXIT_OK;
}

static bool valid_word(const char *w) {
        if (!*w || strlen(w) > 256)
                return false;
        for (const char *p = w; *p; p++)
                if ((unsigned char) *p < 0x21 || (unsigned char) *p > 0x7e)
                        return false;
        return true;
}

int cmd_pcr_extend_phase(int argc, char **argv) {
        if (cli_wants_help(argc, argv, extend_usage))
                return EXIT_OK;
        static const struct option opts[] = {
                CLI_TPM_LONG_OPTIONS,
                { "pcr", required_argument, NULL, 'p' },
                { "log", required_argument, NULL, 'l' },
                {}
        };
        struct cli_tpm_options o = {};
        const char *log_path = NULL;
        uint32_t pcr = 11;
        int c;
        optind = 1;
        while ((c = cli_tpm_getopt(argc, argv, "", opts, &o)) != -1) {
                switch (c) {
                case 'p': {
                        char *end = NULL;
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || !end || *end || end == optarg || v >= VS_TPM_PCR_COUNT)
                                return cli_usage_error("pcr extend-phase", "--pcr '%s' is not a PCR 0-23", optarg);
                        pcr = (uint32_t) v;
                        break;
                }
                case 'l':
                        log_path = optarg;
                        break;
                default:
                        return cli_usage_error("pcr extend-phase", "invalid option");
                }
        }
        if (optind >= argc)
                return cli_usage_error("pcr extend-phase", "missing the phase WORD");
        if (optind + 1 < argc)
                return cli_usage_error("pcr extend-phase", "unexpected argument '%s'", argv[optind + 1]);
        const char *word = argv[optind];
        if (!valid_word(word))
                return cli_usage_error("pcr extend-phase", "the phase word must be 1-256 printable ASCII characters "
                                       "without blanks");
        if (!log_path)
                log_path = vs_measure_log_path();

        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = cli_open_tpm(&o, &t);
        if (r != EXIT_OK)
                return r;
        r = vs_tpm_extend_word(t, pcr, word, log_path, NULL);
        if (r < 0)
                return cli_exit_from_errno(r == -EIO ? -ENODEV : r);
        log_info("extended PCR %u with '%s' (logged to %s)", pcr, word, log_path);
        return EXIT_OK;
}
