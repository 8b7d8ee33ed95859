/* cmd-attest.c: `volseal attest`: the node's side (ek, ak, enroll activate, quote: src/tpm/attest.c) and the
 * verifier's side (enroll make-credential, enroll verify-response: pcr/credential.c; verify: pcr/quote.c,
 * offline). Formats (quote.json, challenge.json, the state file): docs/pcr.md. */
#include "cli.h"
#include "cli-file.h"
#include "cli-tpm.h"
#include "cleanup.h"
#include "cmd-pcr.h"
#include "log.h"
#include "credential.h"
#include "encoding.h"
#include "fileio.h"
#include "pcr.h"
#include "secret.h"
#include "tpm/tpm.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

static const char usage[] =
        "Usage: volseal attest ek [-o EK.pem] [--tcti T]\n"
        "       volseal attest ak [--ak-handle H] [--tcti T] -o AK.pub [--pem AK.pem]\n"
        "       volseal attest enroll make-credential --ek EK.pem --ak AK.pub [--ak-name HEX] --state STATE.json\n"
        "                                             -o CHALLENGE.json\n"
        "       volseal attest enroll activate CHALLENGE.json [--ak-handle H] [--tcti T] -o RESPONSE\n"
        "       volseal attest enroll verify-response RESPONSE --state STATE.json -o AK.pem\n"
        "       volseal attest quote --nonce HEX [--pcrs 0,7,11] [--bank sha256] [--ak-handle H] [--tcti T]\n"
        "                            [--eventlog FILE | --no-eventlog] [--measure-log FILE | --no-measure-log] -o QUOTE.json\n"
        "       volseal attest verify QUOTE.json --nonce HEX --ak AK.pem [--expect-pcr [ALG:]N=HEX]... [--json]\n"
        "\n"
        "Node (N) and verifier (V); the flow is in docs/pcr.md \"Attestation\".\n"
        "ek       N: prints the endorsement key's public part (PEM): the key at persistent handle 0x81010001, else\n"
        "         one made from the TCG default RSA-2048 template. V must trust it (EK certificate, inventory).\n"
        "ak       N: creates the attestation key (restricted ECC P-256 ECDSA-SHA256 signing key under the EK) at\n"
        "         persistent handle H (default 0x81010002), or reuses volseal's AK there; another key at H is\n"
        "         never evicted (exit 1). Writes its public area (TPM2B_PUBLIC, tpm2-tools \"tss\" format).\n"
        "enroll make-credential\n"
        "         V: checks that AK.pub is a restricted, fixedTPM signing key, draws a 32-byte secret and runs\n"
        "         TPM2_MakeCredential in software against EK.pem (RSA-2048 or ECC P-256) for the AK's Name.\n"
        "         STATE.json (mode 0600) keeps the secret and the AK for verify-response; CHALLENGE.json goes to N.\n"
        "enroll activate\n"
        "         N: TPM2_ActivateCredential with the AK at H and the EK; only the TPM holding both recovers the\n"
        "         secret, which is written (hex, mode 0600) to RESPONSE for V.\n"
        "enroll verify-response\n"
        "         V: compares RESPONSE with the secret in STATE.json; only when they match is AK.pem written: the\n"
        "         enrolled AK that `verify --ak` needs.\n"
        "quote    N: TPM2_Quote of the PCRs with the AK at H (created if the handle is free) and NONCE as\n"
        "         qualifyingData; QUOTE.json holds the AK (PEM), the quote, its signature, the PCR values and the\n"
        "         event logs: the firmware log (default " VS_FIRMWARE_EVENTLOG ",\n"
        "         skipped when absent) and volseal's measurement log ($VOLSEAL_MEASURE_LOG, else\n"
        "         " VS_MEASURE_LOG_DEFAULT "). At least one log is required.\n"
        "verify   V: checks, offline and with nothing but volseal: the quote's signature with the enrolled\n"
        "         attestation key AK.pem (PEM public key; ECDSA P-256 or RSA), that the TPM generated it, that\n"
        "         it carries NONCE, that the event logs in QUOTE.json replay to the quoted PCR digest, that the\n"
        "         PCR values listed in QUOTE.json are the replayed ones, and every --expect-pcr.\n"
        "         The AK inside QUOTE.json is never trusted: --ak must be the key enrolled for this node.\n"
        "\n"
        "Options:\n"
        "      --tcti T                TPM to use (default $VOLSEAL_TCTI, then device:/dev/tpmrm0, then /dev/tpm0)\n"
        "      --ak-handle H           persistent handle of the AK (default 0x81010002)\n"
        "      --nonce HEX             the nonce the verifier sent (hex, 1 to 64 bytes for quote)\n"
        "      --pcrs LIST             PCRs to quote (default 0,7,11)\n"
        "      --bank B                PCR bank to quote (default sha256)\n"
        "      --eventlog FILE         firmware event log to include; --no-eventlog: none\n"
        "      --measure-log FILE      volseal's measurement log to include; --no-measure-log: none\n"
        "      --ak AK.pem / AK.pub    verify: the enrolled AK (PEM); make-credential: the AK's public area\n"
        "      --ak-name HEX           make-credential: the AK Name the node reported; must be AK.pub's Name\n"
        "      --ek EK.pem             the node's endorsement key (PEM)\n"
        "      --state STATE.json      the verifier's enrolment state (keep it private)\n"
        "      --expect-pcr [ALG:]N=HEX  PCR N must have this value (bank from ALG, or from HEX's length)\n"
        "  -o, --output FILE           output file (ek: default stdout)\n"
        "      --json                  JSON verdict (verify)\n"
        "      --debug-tpm             let tpm2-tss log as TSS2_LOG says (never in production)\n"
        "  -h, --help                  this text\n"
        "\n"
        "Exit codes: 0 done / verified / enrolled; 1 usage error, malformed input, or the TPM failed; 2 refused\n"
        "(verify: signature, nonce, event log, PCR value or expectation does not match; activate: the challenge is\n"
        "not for this TPM's EK and AK; verify-response: wrong secret); 4 no TPM, or no attestation key at H.\n";

#define EXIT_REFUSED EXIT_NOT_OPENED
/* The enrolment secret is 32 bytes (TPM2B_DIGEST holds up to 64); its hex response is a line. */
#define CREDENTIAL_MAX 64
#define RESPONSE_FILE_MAX 65536

struct expect {
        uint16_t alg; /* 0: from the hex length */
        unsigned int pcr;
        uint8_t v[PCR_DIGEST_MAX];
        size_t n;
};

static int parse_expect(const char *arg, struct expect *e) {
        const char *p = arg, *colon = strchr(arg, ':'), *eq = strchr(arg, '=');
        e->alg = 0;
        if (!eq)
                return -EINVAL;
        if (colon && colon < eq) {
                char alg[16];
                size_t n = (size_t) (colon - arg);
                if (n >= sizeof(alg))
                        return -EINVAL;
                memcpy(alg, arg, n);
                alg[n] = 0;
                if (pcr_alg_from_name(alg, &e->alg) < 0)
                        return -EINVAL;
                p = colon + 1;
        }
        char *end;
        unsigned long pcr = strtoul(p, &end, 10);
        if (end != eq || end == p || pcr >= PCR_NUM)
                return -EINVAL;
        e->pcr = (unsigned int) pcr;
        if (vs_hex_decode(eq + 1, e->v, sizeof(e->v), &e->n) < 0)
                return -EINVAL;
        if (!e->alg)
                e->alg = e->n == 20 ? PCR_ALG_SHA1 : e->n == 32 ? PCR_ALG_SHA256 : e->n == 48 ? PCR_ALG_SHA384 :
                         e->n == 64 ? PCR_ALG_SHA512 : 0;
        if (!e->alg || e->n != pcr_alg_size(e->alg))
                return -EINVAL;
        return 0;
}

static int hex_field(struct json_object *o, const char *key, uint8_t **ret, size_t *ret_size) {
        struct json_object *j;
        if (!json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_string))
                return log_error_errno(-EBADMSG, "quote.json: \"%s\" is missing or not a string", key);
        const char *s = json_object_get_string(j);
        _cleanup_free_ uint8_t *b = malloc(strlen(s) / 2 + 1);
        if (!b)
                return -ENOMEM;
        if (vs_hex_decode(s, b, strlen(s) / 2, ret_size) < 0)
                return log_error_errno(-EBADMSG, "quote.json: \"%s\" is not hex", key);
        *ret = TAKE_PTR(b);
        return 0;
}

/* An optional base64 field of quote.json (the event logs). */
static int base64_field(struct json_object *o, const char *path, const char *key, uint8_t **ret, size_t *ret_size) {
        struct json_object *j;
        if (!json_object_object_get_ex(o, key, &j))
                return 0;
        const char *s = json_object_get_string(j);
        if (!s || vs_base64_decode(s, CLI_FILE_MAX, ret, ret_size) < 0)
                return log_error_errno(-EBADMSG, "%s: \"%s\" is not base64", path, key);
        return 0;
}

/* What a quote.json holds, decoded: the quote, its signature and the event logs replayed. */
struct quote_file {
        struct json_object *json;
        uint8_t *attest, *sig;
        size_t attest_size, sig_size;
        struct pcr_eventlog log;
};

static void quote_file_done(struct quote_file *f) {
        json_object_put(f->json);
        free(f->attest);
        free(f->sig);
        pcr_eventlog_free(&f->log);
}

/* quote.json's text (NUL-terminated) decoded into f. */
static int quote_file_parse(const char *path, const char *text, struct quote_file *f) {
        _cleanup_free_ uint8_t *fw = NULL, *ml = NULL;
        size_t fw_size = 0, ml_size = 0;
        struct json_object *j;
        f->json = json_tokener_parse(text);
        if (!f->json || !json_object_is_type(f->json, json_type_object))
                return log_error_errno(-EBADMSG, "%s: not a JSON object", path);
        if (!json_object_object_get_ex(f->json, "version", &j) || json_object_get_int(j) != 1)
                return log_error_errno(-EBADMSG, "%s: \"version\" must be 1", path);
        int r = hex_field(f->json, "quoted", &f->attest, &f->attest_size);
        if (r >= 0)
                r = hex_field(f->json, "signature", &f->sig, &f->sig_size);
        if (r >= 0)
                r = base64_field(f->json, path, "eventlog", &fw, &fw_size);
        if (r >= 0)
                r = base64_field(f->json, path, "measure_log", &ml, &ml_size);
        if (r < 0)
                return r;
        if (!fw && !ml)
                return log_error_errno(-EBADMSG, "%s: no \"eventlog\" or \"measure_log\": the quoted PCRs cannot be explained", path);
        if (fw && (r = pcr_eventlog_parse(&f->log, fw, fw_size, "quote.json eventlog")) < 0)
                return r;
        if (ml && (r = pcr_eventlog_add_measure_log(&f->log, (const char *) ml, ml_size, "quote.json measure_log")) < 0)
                return r;
        return 0;
}

/* The bank index of alg among the quoted banks (n_banks when it was not quoted). */
static size_t quoted_bank(const struct pcr_quote_result *res, uint16_t alg) {
        size_t b = 0;
        while (b < res->quoted.n_banks && res->quoted.banks[b].alg != alg)
                b++;
        return b;
}

/* The PCR values quote.json lists must be quoted and equal to the replayed ones. EXIT_OK or the exit code. */
static int check_listed_pcrs(const char *path, struct json_object *q, const struct pcr_quote_result *res) {
        struct json_object *j;
        if (!json_object_object_get_ex(q, "pcrs", &j))
                return EXIT_OK;
        json_object_object_foreach(j, bank, vals) {
                uint16_t alg;
                if (pcr_alg_from_name(bank, &alg) < 0) {
                        log_error("%s: \"pcrs\" names an unknown bank '%s'", path, bank);
                        return EXIT_USAGE;
                }
                size_t b = quoted_bank(res, alg);
                json_object_object_foreach(vals, idx, hex) {
                        uint8_t v[PCR_DIGEST_MAX];
                        size_t n;
                        char *end;
                        const char *h = json_object_get_string(hex);
                        unsigned long p = strtoul(idx, &end, 10);
                        if (*end || p >= PCR_NUM || !h || vs_hex_decode(h, v, sizeof(v), &n) < 0) {
                                log_error("%s: \"pcrs\".%s.%s is malformed", path, bank, idx);
                                return EXIT_USAGE;
                        }
                        if (b == res->quoted.n_banks || !res->selected[b][p]) {
                                log_error("%s: PCR %s:%lu is listed but not covered by the quote", path, bank, p);
                                return EXIT_REFUSED;
                        }
                        if (n != res->quoted.banks[b].size || memcmp(v, res->quoted.banks[b].v[p], n)) {
                                log_error("%s: PCR %s:%lu differs from the quoted, replayed value", path, bank, p);
                                return EXIT_REFUSED;
                        }
                }
        }
        return EXIT_OK;
}

/* Every --expect-pcr must be quoted with that value. EXIT_OK or EXIT_REFUSED. */
static int check_expected_pcrs(const struct expect *ex, size_t n_ex, const struct pcr_quote_result *res) {
        for (size_t i = 0; i < n_ex; i++) {
                size_t b = quoted_bank(res, ex[i].alg);
                if (b == res->quoted.n_banks || !res->selected[b][ex[i].pcr]) {
                        log_error("expected PCR %s:%u is not covered by the quote", pcr_alg_name(ex[i].alg), ex[i].pcr);
                        return EXIT_REFUSED;
                }
                if (memcmp(res->quoted.banks[b].v[ex[i].pcr], ex[i].v, ex[i].n)) {
                        _cleanup_free_ char *h = vs_hex_encode(res->quoted.banks[b].v[ex[i].pcr], ex[i].n);
                        log_error("PCR %s:%u is %s, not the expected value", pcr_alg_name(ex[i].alg), ex[i].pcr, h ?: "?");
                        return EXIT_REFUSED;
                }
        }
        return EXIT_OK;
}

static void print_verified(const struct pcr_quote_result *res, bool expected, bool json) {
        if (json) {
                _cleanup_json_ struct json_object *o = json_object_new_object();
                json_object_object_add(o, "verified", json_object_new_boolean(1));
                json_object_object_add(o, "pcrs", vs_pcr_values_to_json(&res->quoted, (const bool (*)[PCR_NUM]) res->selected));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                return;
        }
        printf("verified: signature by the enrolled AK, nonce, event log replay%s\n", expected ? ", expected PCRs" : "");
        for (size_t b = 0; b < res->quoted.n_banks; b++)
                for (int p = 0; p < PCR_NUM; p++)
                        if (res->selected[b][p]) {
                                _cleanup_free_ char *h = vs_hex_encode(res->quoted.banks[b].v[p], res->quoted.banks[b].size);
                                printf("  %s:%d %s\n", pcr_alg_name(res->quoted.banks[b].alg), p, h ?: "");
                        }
}

/* The checks of `attest verify` on the files' contents, in order; EXIT_OK or the exit code. */
static int verify_quote(const char *quote_path, const char *quote, const uint8_t *nonce, size_t nonce_size,
                        const char *ak, const struct expect *ex, size_t n_ex, struct pcr_quote_result *res) {
        _cleanup_(quote_file_done) struct quote_file f = {};
        if (quote_file_parse(quote_path, quote, &f) < 0)
                return EXIT_USAGE;
        struct pcr_quote_check c = {
                .attest = f.attest, .attest_size = f.attest_size, .signature = f.sig, .signature_size = f.sig_size,
                .ak_pem = ak, .nonce = nonce, .nonce_size = nonce_size, .log = &f.log,
        };
        int r = pcr_quote_verify(&c, res);
        if (r < 0)
                return r == -EPERM ? EXIT_REFUSED : EXIT_USAGE;
        r = check_listed_pcrs(quote_path, f.json, res);
        if (r == EXIT_OK)
                r = check_expected_pcrs(ex, n_ex, res);
        return r;
}

static int verify(const char *quote_path, const char *nonce_hex, const char *ak_path, const struct expect *ex,
                  size_t n_ex, bool json) {
        uint8_t nonce[128];
        size_t nonce_size;
        if (vs_hex_decode(nonce_hex, nonce, sizeof(nonce), &nonce_size) < 0 || nonce_size == 0)
                return cli_usage_error("attest", "--nonce must be 1 to %zu bytes of hex", sizeof(nonce));
        /* Unreadable files are a usage error without a verdict; everything after gives one. */
        _cleanup_free_ uint8_t *quote = NULL, *ak = NULL;
        size_t quote_size, ak_size;
        if (cli_read_file(quote_path, "quote", &quote, &quote_size) < 0 ||
            cli_read_file(ak_path, "attestation key", &ak, &ak_size) < 0)
                return EXIT_USAGE;
        struct pcr_quote_result res;
        /* cli_read_file ends the bytes with a NUL: both are text */
        int ret = verify_quote(quote_path, (const char *) quote, nonce, nonce_size, (const char *) ak, ex, n_ex, &res);
        if (ret == EXIT_OK)
                print_verified(&res, n_ex > 0, json);
        else if (json)
                printf("{\"verified\":false}\n");
        return ret;
}

/* ---- shared helpers of the TPM and enrolment commands ---- */

static int write_file(const char *path, const void *data, size_t size, mode_t mode, const char *what) {
        int r = vs_write_file(path, data, size, mode);
        if (r < 0)
                return log_error_errno(r, "cannot write %s %s: %m", what, path);
        return 0;
}

static int write_json(const char *path, struct json_object *o, mode_t mode, const char *what) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        _cleanup_free_ char *t = NULL;
        if (asprintf(&t, "%s\n", s) < 0)
                return -ENOMEM;
        return write_file(path, t, strlen(t), mode, what);
}

static int read_json(const char *path, const char *what, struct json_object **ret) {
        _cleanup_free_ uint8_t *b = NULL;
        size_t n;
        int r = cli_read_file(path, what, &b, &n);
        if (r < 0)
                return r;
        _cleanup_json_ struct json_object *o = json_tokener_parse((const char *) b); /* b ends with a NUL */
        if (!o || !json_object_is_type(o, json_type_object))
                return log_error_errno(-EBADMSG, "%s %s is not a JSON object", what, path);
        struct json_object *v;
        if (!json_object_object_get_ex(o, "version", &v) || json_object_get_int(v) != 1)
                return log_error_errno(-EBADMSG, "%s %s: \"version\" must be 1", what, path);
        *ret = TAKE_PTR(o);
        return 0;
}

static void add_hex(struct json_object *o, const char *key, const uint8_t *b, size_t n) {
        _cleanup_free_ char *h = vs_hex_encode(b, n);
        json_object_object_add(o, key, json_object_new_string(h ?: ""));
}

static int parse_handle(const char *s, uint32_t *ret) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 0);
        if (errno || !end || *end || end == s || v < 0x81000000ul || v > 0x817ffffful)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* Marshalled TPM2B_PUBLIC (tpm2-tools "tss" format) from a file. */
static int read_public(const char *path, TPM2B_PUBLIC *ret) {
        _cleanup_free_ uint8_t *b = NULL;
        size_t n;
        int r = cli_read_file(path, "attestation key public area", &b, &n);
        if (r < 0)
                return r;
        if (vs_tpm_parse_public(b, n, ret) < 0)
                return log_error_errno(-EBADMSG, "%s is not a marshalled TPM2B_PUBLIC (tpm2-tools \"tss\" format)", path);
        return 0;
}

/* The PEM SubjectPublicKeyInfo of a TPM public area. */
static int public_pem(const TPM2B_PUBLIC *pub, char **ret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        int r = pcr_tpm_public_to_pkey(pub, &pkey);
        if (r < 0)
                return r;
        return pcr_pkey_to_pem(pkey, ret);
}

enum {
        OPT_AK_HANDLE = 0x100, OPT_PEM, OPT_EK, OPT_AK, OPT_STATE, OPT_NONCE, OPT_PCRS, OPT_BANK,
        OPT_EVENTLOG, OPT_NO_EVENTLOG, OPT_MEASURE_LOG, OPT_NO_MEASURE_LOG, OPT_AK_NAME,
};

struct opts {
        struct cli_tpm_options tpm; /* --tcti, --debug-tpm */
        const char *output, *pem, *ek, *ak, *ak_name, *state, *nonce, *pcrs, *bank, *eventlog, *measure_log;
        bool no_eventlog, no_measure_log;
        uint32_t ak_handle;
};

/* Parses the options of the TPM and enrolment subcommands; ret_args, ret_n: the positional arguments. */
static int parse_opts(const char *cmd, int argc, char **argv, struct opts *o, char ***ret_args, int *ret_n) {
        static const struct option opts[] = {
                CLI_TPM_LONG_OPTIONS,
                { "ak-handle", required_argument, NULL, OPT_AK_HANDLE },
                { "output", required_argument, NULL, 'o' },
                { "pem", required_argument, NULL, OPT_PEM },
                { "ek", required_argument, NULL, OPT_EK },
                { "ak", required_argument, NULL, OPT_AK },
                { "ak-name", required_argument, NULL, OPT_AK_NAME },
                { "state", required_argument, NULL, OPT_STATE },
                { "nonce", required_argument, NULL, OPT_NONCE },
                { "pcrs", required_argument, NULL, OPT_PCRS },
                { "bank", required_argument, NULL, OPT_BANK },
                { "eventlog", required_argument, NULL, OPT_EVENTLOG },
                { "no-eventlog", no_argument, NULL, OPT_NO_EVENTLOG },
                { "measure-log", required_argument, NULL, OPT_MEASURE_LOG },
                { "no-measure-log", no_argument, NULL, OPT_NO_MEASURE_LOG },
                {}
        };
        *o = (struct opts) { .ak_handle = VS_TPM_AK_HANDLE_DEFAULT, .pcrs = "0,7,11", .bank = "sha256" };
        int c;
        optind = 1;
        while ((c = cli_tpm_getopt(argc, argv, "o:", opts, &o->tpm)) != -1) {
                switch (c) {
                case OPT_AK_HANDLE:
                        if (parse_handle(optarg, &o->ak_handle) < 0)
                                return cli_usage_error(cmd, "--ak-handle '%s' is not an owner persistent handle "
                                                       "(0x81000000-0x817fffff)", optarg);
                        break;
                case 'o': o->output = optarg; break;
                case OPT_PEM: o->pem = optarg; break;
                case OPT_EK: o->ek = optarg; break;
                case OPT_AK: o->ak = optarg; break;
                case OPT_AK_NAME: o->ak_name = optarg; break;
                case OPT_STATE: o->state = optarg; break;
                case OPT_NONCE: o->nonce = optarg; break;
                case OPT_PCRS: o->pcrs = optarg; break;
                case OPT_BANK: o->bank = optarg; break;
                case OPT_EVENTLOG: o->eventlog = optarg; break;
                case OPT_NO_EVENTLOG: o->no_eventlog = true; break;
                case OPT_MEASURE_LOG: o->measure_log = optarg; break;
                case OPT_NO_MEASURE_LOG: o->no_measure_log = true; break;
                default: return cli_usage_error(cmd, "invalid option");
                }
        }
        *ret_args = argv + optind;
        *ret_n = argc - optind;
        return EXIT_OK;
}

#define PARSE(cmd, argc, argv, o, args, n, want)                                                      \
        do {                                                                                          \
                int _e = parse_opts(cmd, argc, argv, o, args, n);                                     \
                if (_e != EXIT_OK)                                                                    \
                        return _e;                                                                    \
                if (*(n) != (want))                                                                   \
                        return cli_usage_error(cmd, "needs %s file argument(s), got %d", (want) ? "one" : "no", *(n)); \
        } while (0)

/* ---- ek, ak ---- */

static int cmd_ek(int argc, char **argv) {
        struct opts o;
        char **args;
        int n;
        PARSE("attest ek", argc, argv, &o, &args, &n, 0);
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = cli_open_tpm(&o.tpm, &t);
        if (r != EXIT_OK)
                return r;
        TPM2B_PUBLIC pub;
        uint32_t handle = 0;
        r = vs_tpm_ek_public(t, &pub, &handle);
        if (r < 0)
                return cli_exit_from_errno(r);
        _cleanup_free_ char *pem = NULL;
        if (public_pem(&pub, &pem) < 0)
                return EXIT_USAGE;
        if (handle)
                log_info("endorsement key at persistent handle 0x%08x", handle);
        else
                log_info("no endorsement key at 0x%08x: this is the one the TCG default RSA-2048 template gives",
                         VS_TPM_EK_HANDLE);
        if (!o.output) {
                fputs(pem, stdout);
                return EXIT_OK;
        }
        return write_file(o.output, pem, strlen(pem), 0644, "endorsement key") < 0 ? EXIT_USAGE : EXIT_OK;
}

static int write_ak(const struct opts *o, const TPM2B_PUBLIC *pub) {
        _cleanup_free_ uint8_t *b = NULL;
        size_t n;
        if (vs_tpm_blob_public(pub, &b, &n) < 0 || write_file(o->output, b, n, 0644, "attestation key") < 0)
                return -EIO;
        if (o->pem) {
                _cleanup_free_ char *pem = NULL;
                if (public_pem(pub, &pem) < 0 || write_file(o->pem, pem, strlen(pem), 0644, "attestation key") < 0)
                        return -EIO;
        }
        return 0;
}

static int cmd_ak(int argc, char **argv) {
        struct opts o;
        char **args;
        int n;
        PARSE("attest ak", argc, argv, &o, &args, &n, 0);
        if (!o.output)
                return cli_usage_error("attest ak", "needs -o AK.pub");
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = cli_open_tpm(&o.tpm, &t);
        if (r != EXIT_OK)
                return r;
        TPM2B_PUBLIC pub;
        bool created = false;
        r = vs_tpm_ak(t, o.ak_handle, true, &pub, &created);
        if (r < 0)
                return r == -EEXIST ? EXIT_USAGE : cli_exit_from_errno(r);
        if (write_ak(&o, &pub) < 0)
                return EXIT_USAGE;
        printf("attestation key %s at persistent handle 0x%08x\n", created ? "created" : "reused", o.ak_handle);
        return EXIT_OK;
}

/* ---- enroll ---- */

static int load_ek(const char *path, EVP_PKEY **ret) {
        _cleanup_free_ uint8_t *pem = NULL;
        size_t n;
        if (cli_read_file(path, "endorsement key", &pem, &n) < 0)
                return -EIO;
        _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(pem, (int) n);
        *ret = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        if (!*ret)
                return log_error_errno(-EBADMSG, "%s is not a PEM public key", path);
        return 0;
}

/* The AK of --ak, its Name, checked against --ak-name and as a key that never leaves its TPM. EXIT_*. */
static int load_ak_checked(const struct opts *o, TPM2B_PUBLIC *ret_pub, TPM2B_NAME *ret_name) {
        if (read_public(o->ak, ret_pub) < 0 || pcr_public_name(ret_pub, ret_name) < 0)
                return EXIT_USAGE;
        if (o->ak_name) {
                uint8_t want[sizeof(ret_name->name)];
                size_t wn = 0;
                if (vs_hex_decode(o->ak_name, want, sizeof(want), &wn) < 0)
                        return cli_usage_error("attest enroll make-credential", "--ak-name '%s' is not hex", o->ak_name);
                if (wn != ret_name->size || memcmp(want, ret_name->name, wn) != 0) {
                        log_error("%s: the AK's Name is not %s (the node's AK.pub and the Name it reported differ)",
                                  o->ak, o->ak_name);
                        return EXIT_REFUSED;
                }
        }
        if (pcr_ak_check_public(ret_pub) < 0) /* logs why the key is refused */
                return EXIT_REFUSED;
        return EXIT_OK;
}

/* A fresh credential for the AK, sealed to the EK: the verifier's state (with the credential) and the
 * node's challenge, written to --state and -o. */
static int write_challenge(const struct opts *o, EVP_PKEY *ek, const TPM2B_PUBLIC *akpub, const TPM2B_NAME *name) {
        _cleanup_secret_ struct vs_secret *cred = NULL;
        if (vs_secret_new(32, &cred) < 0 || RAND_bytes(cred->data, 32) != 1)
                return -EIO;
        cred->len = 32;
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET secret;
        if (pcr_make_credential(ek, name, cred->data, cred->len, NULL, &blob, &secret) < 0)
                return -EIO;
        uint8_t bb[sizeof(blob)], sb[sizeof(secret)], pb[sizeof(*akpub)];
        size_t bo = 0, so = 0, po = 0;
        if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&blob, bb, sizeof(bb), &bo) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&secret, sb, sizeof(sb), &so) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPM2B_PUBLIC_Marshal(akpub, pb, sizeof(pb), &po) != TSS2_RC_SUCCESS)
                return -EIO;
        _cleanup_json_ struct json_object *st = json_object_new_object(), *ch = json_object_new_object();
        json_object_object_add(st, "version", json_object_new_int(1));
        add_hex(st, "ak_public", pb, po);
        add_hex(st, "ak_name", name->name, name->size);
        add_hex(st, "credential", cred->data, cred->len);
        json_object_object_add(ch, "version", json_object_new_int(1));
        add_hex(ch, "ak_name", name->name, name->size);
        add_hex(ch, "credential_blob", bb, bo);
        add_hex(ch, "encrypted_secret", sb, so);
        int r = write_json(o->state, st, 0600, "enrolment state");
        if (r >= 0)
                r = write_json(o->output, ch, 0644, "challenge");
        return r;
}

static int cmd_make_credential(int argc, char **argv) {
        struct opts o;
        char **args;
        int n;
        PARSE("attest enroll make-credential", argc, argv, &o, &args, &n, 0);
        if (!o.ek || !o.ak || !o.state || !o.output)
                return cli_usage_error("attest enroll make-credential", "needs --ek EK.pem, --ak AK.pub, --state STATE.json and -o CHALLENGE.json");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ek = NULL;
        if (load_ek(o.ek, &ek) < 0)
                return EXIT_USAGE;
        TPM2B_PUBLIC akpub;
        TPM2B_NAME name;
        int r = load_ak_checked(&o, &akpub, &name);
        if (r != EXIT_OK)
                return r;
        if (write_challenge(&o, ek, &akpub, &name) < 0)
                return EXIT_USAGE;
        _cleanup_free_ char *nh = vs_hex_encode(name.name, name.size);
        printf("challenge for the attestation key %s written to %s; keep %s private\n", nh ?: "", o.output, o.state);
        return EXIT_OK;
}

/* The string field `key` of o, or NULL (logged, naming file) when it is missing or not a string. */
static const char *string_field(struct json_object *o, const char *file, const char *key) {
        struct json_object *j;
        if (!json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_string)) {
                log_error("%s: \"%s\" is missing or not hex", file, key);
                return NULL;
        }
        return json_object_get_string(j);
}

static int unhex_field(struct json_object *o, const char *file, const char *key, uint8_t *buf, size_t max, size_t *n) {
        const char *s = string_field(o, file, key);
        if (!s)
                return -EBADMSG;
        if (vs_hex_decode(s, buf, max, n) < 0)
                return log_error_errno(-EBADMSG, "%s: \"%s\" is missing or not hex", file, key);
        return 0;
}

static int unhex_field_secret(struct json_object *o, const char *file, const char *key, size_t max, struct vs_secret **ret) {
        const char *s = string_field(o, file, key);
        if (!s)
                return -EBADMSG;
        int r = vs_hex_decode_secret(s, max, ret);
        if (r == -ENOMEM)
                return log_error_errno(r, "out of memory");
        if (r < 0)
                return log_error_errno(-EBADMSG, "%s: \"%s\" is missing or not hex", file, key);
        return 0;
}

static int cmd_activate(int argc, char **argv) {
        struct opts o;
        char **args;
        int n;
        PARSE("attest enroll activate", argc, argv, &o, &args, &n, 1);
        if (!o.output)
                return cli_usage_error("attest enroll activate", "needs -o RESPONSE");
        _cleanup_json_ struct json_object *ch = NULL;
        if (read_json(args[0], "challenge", &ch) < 0)
                return EXIT_USAGE;
        uint8_t bb[sizeof(TPM2B_ID_OBJECT)], sb[sizeof(TPM2B_ENCRYPTED_SECRET)];
        size_t bn, sn, off = 0, off2 = 0;
        TPM2B_ID_OBJECT blob = {};
        TPM2B_ENCRYPTED_SECRET secret = {};
        int r = unhex_field(ch, args[0], "credential_blob", bb, sizeof(bb), &bn);
        if (r == 0)
                r = unhex_field(ch, args[0], "encrypted_secret", sb, sizeof(sb), &sn);
        if (r < 0)
                return EXIT_USAGE;
        if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(bb, bn, &off, &blob) != TSS2_RC_SUCCESS || off != bn ||
            Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(sb, sn, &off2, &secret) != TSS2_RC_SUCCESS || off2 != sn) {
                log_error("%s: the credential blob or the encrypted secret is malformed", args[0]);
                return EXIT_USAGE;
        }
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        r = cli_open_tpm(&o.tpm, &t);
        if (r != EXIT_OK)
                return r;
        _cleanup_secret_ struct vs_secret *cred = NULL;
        r = vs_tpm_activate_credential(t, o.ak_handle, &blob, &secret, &cred);
        if (r == -ENOENT || r == -ENODEV)
                return EXIT_ENV;
        if (r == -EEXIST || r == -EACCES || r == -EINVAL || r == -ENOMEM)
                return EXIT_USAGE;
        if (r < 0)
                return EXIT_REFUSED; /* the TPM would not activate: not this TPM's EK, or not this AK's Name */
        _cleanup_secret_ struct vs_secret *hex = NULL;
        if (vs_hex_encode_secret(cred, &hex) < 0 || vs_secret_append(hex, "\n", 1) < 0)
                return EXIT_USAGE;
        if (write_file(o.output, hex->data, hex->len, 0600, "response") < 0)
                return EXIT_USAGE;
        printf("credential activated with the attestation key at 0x%08x; send %s to the verifier\n", o.ak_handle, o.output);
        return EXIT_OK;
}

/* The verifier's enrolment state: the AK's public area and the credential it must return. */
static int read_enrolment(const char *path, TPM2B_PUBLIC *ret_pub, struct vs_secret **ret_cred) {
        _cleanup_json_ struct json_object *st = NULL;
        if (read_json(path, "enrolment state", &st) < 0)
                return -EBADMSG;
        uint8_t pb[sizeof(TPM2B_PUBLIC)];
        size_t pn, off = 0;
        if (unhex_field(st, path, "ak_public", pb, sizeof(pb), &pn) < 0 ||
            unhex_field_secret(st, path, "credential", CREDENTIAL_MAX, ret_cred) < 0)
                return -EBADMSG;
        *ret_pub = (TPM2B_PUBLIC) {};
        if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(pb, pn, &off, ret_pub) != TSS2_RC_SUCCESS || off != pn)
                return log_error_errno(-EBADMSG, "%s: \"ak_public\" is malformed", path);
        return 0;
}

/* The node's response: the credential in hex on one line, read and decoded in locked memory only. */
static int read_response(const char *path, struct vs_secret **ret) {
        _cleanup_secret_ struct vs_secret *text = NULL;
        int r = vs_read_file_secret(path, 0, RESPONSE_FILE_MAX, &text);
        if (r < 0)
                return log_error_errno(r, "cannot read response %s: %m", path);
        while (text->len > 0 && (text->data[text->len - 1] == '\n' || text->data[text->len - 1] == ' '))
                text->data[--text->len] = 0;
        if (vs_hex_decode_secret((const char *) text->data, RESPONSE_FILE_MAX, ret) < 0)
                return log_error_errno(-EBADMSG, "%s: the response is not hex", path);
        return 0;
}

static int cmd_verify_response(int argc, char **argv) {
        struct opts o;
        char **args;
        int n;
        PARSE("attest enroll verify-response", argc, argv, &o, &args, &n, 1);
        if (!o.state || !o.output)
                return cli_usage_error("attest enroll verify-response", "needs --state STATE.json and -o AK.pem");
        TPM2B_PUBLIC akpub;
        _cleanup_secret_ struct vs_secret *want = NULL, *got = NULL;
        if (read_enrolment(o.state, &akpub, &want) < 0 || read_response(args[0], &got) < 0)
                return EXIT_USAGE;
        if (want->len != got->len || !vs_secret_equal(want, got)) {
                log_error("%s: the response does not match the enrolment secret: the attestation key is not bound "
                          "to the TPM of that endorsement key; not enrolled", args[0]);
                return EXIT_REFUSED;
        }
        _cleanup_free_ char *pem = NULL;
        if (pcr_ak_check_public(&akpub) < 0 || public_pem(&akpub, &pem) < 0 ||
            write_file(o.output, pem, strlen(pem), 0644, "enrolled attestation key") < 0)
                return EXIT_USAGE;
        printf("attestation key enrolled: %s\n", o.output);
        return EXIT_OK;
}

/* ---- quote ---- */

static int cmd_quote(int argc, char **argv) {
        struct opts o;
        char **args;
        int n;
        PARSE("attest quote", argc, argv, &o, &args, &n, 0);
        uint8_t nonce[64];
        size_t nonce_size = 0;
        uint32_t mask;
        if (!o.nonce || vs_hex_decode(o.nonce, nonce, sizeof(nonce), &nonce_size) < 0 || nonce_size == 0)
                return cli_usage_error("attest quote", "needs --nonce HEX, 1 to %zu bytes", sizeof(nonce));
        if (!o.output)
                return cli_usage_error("attest quote", "needs -o QUOTE.json");
        if (cli_parse_pcr_list(o.pcrs, &mask) < 0)
                return cli_usage_error("attest quote", "--pcrs '%s' is not a list of PCRs 0-23", o.pcrs);
        uint16_t bank = vs_tpm_alg_from_name(o.bank);
        if (!bank)
                return cli_usage_error("attest quote", "unknown bank '%s' (sha1, sha256, sha384, sha512)", o.bank);
        if (o.eventlog && o.no_eventlog)
                return cli_usage_error("attest quote", "--eventlog and --no-eventlog exclude each other");
        if (o.measure_log && o.no_measure_log)
                return cli_usage_error("attest quote", "--measure-log and --no-measure-log exclude each other");

        /* The logs first: bad input is refused before the TPM is touched. A default path that does not exist
         * is skipped; a named one must exist. */
        _cleanup_free_ uint8_t *fw = NULL, *ml = NULL;
        size_t fw_size = 0, ml_size = 0;
        const char *fw_path = o.no_eventlog ? NULL : o.eventlog ?: VS_FIRMWARE_EVENTLOG;
        const char *ml_path = o.no_measure_log ? NULL : o.measure_log ?: vs_measure_log_path();
        if (fw_path && (o.eventlog || access(fw_path, F_OK) == 0) &&
            cli_read_file(fw_path, "event log", &fw, &fw_size) < 0)
                return EXIT_USAGE;
        if (ml_path && (o.measure_log || access(ml_path, F_OK) == 0) &&
            cli_read_file(ml_path, "measurement log", &ml, &ml_size) < 0)
                return EXIT_USAGE;
        if (!fw && !ml) {
                log_error("no event log to send: neither %s nor %s exists, so the quoted PCRs cannot be explained",
                          fw_path ?: "(no firmware log)", ml_path ?: "(no measurement log)");
                return EXIT_USAGE;
        }

        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = cli_open_tpm(&o.tpm, &t);
        if (r != EXIT_OK)
                return r;
        TPM2B_PUBLIC akpub;
        bool created = false;
        r = vs_tpm_ak(t, o.ak_handle, true, &akpub, &created);
        if (r < 0)
                return r == -EEXIST ? EXIT_USAGE : cli_exit_from_errno(r);
        if (created)
                log_notice("created a new attestation key at 0x%08x: it must be enrolled before a verifier accepts "
                           "its quotes", o.ak_handle);
        TPM2B_ATTEST quoted;
        TPMT_SIGNATURE sig;
        r = vs_tpm_quote(t, o.ak_handle, bank, mask, nonce, nonce_size, &quoted, &sig);
        if (r < 0)
                return cli_exit_from_errno(r);
        struct vs_tpm_pcrs pcrs;
        r = vs_tpm_pcr_read(t, bank, mask, &pcrs);
        if (r < 0)
                return cli_exit_from_errno(r);

        uint8_t sb[sizeof(sig)];
        size_t so = 0;
        if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sb, sizeof(sb), &so) != TSS2_RC_SUCCESS)
                return EXIT_USAGE;
        _cleanup_free_ char *pem = NULL, *fw64 = NULL, *ml64 = NULL;
        if (public_pem(&akpub, &pem) < 0)
                return EXIT_USAGE;
        _cleanup_json_ struct json_object *q = json_object_new_object();
        struct json_object *pv = json_object_new_object(), *bv = json_object_new_object();
        json_object_object_add(q, "version", json_object_new_int(1));
        json_object_object_add(q, "ak", json_object_new_string(pem));
        add_hex(q, "quoted", quoted.attestationData, quoted.size);
        add_hex(q, "signature", sb, so);
        for (uint32_t i = 0; i < VS_TPM_PCR_COUNT; i++)
                if (pcrs.mask & (1u << i)) {
                        char key[4];
                        snprintf(key, sizeof(key), "%u", i);
                        add_hex(bv, key, pcrs.value[i], pcrs.size);
                }
        json_object_object_add(pv, vs_tpm_alg_name(bank), bv);
        json_object_object_add(q, "pcrs", pv);
        if (fw) {
                fw64 = vs_base64_encode(fw, fw_size);
                json_object_object_add(q, "eventlog", json_object_new_string(fw64 ?: ""));
        }
        if (ml) {
                ml64 = vs_base64_encode(ml, ml_size);
                json_object_object_add(q, "measure_log", json_object_new_string(ml64 ?: ""));
        }
        r = (fw && !fw64) || (ml && !ml64) ? -ENOMEM : write_json(o.output, q, 0644, "quote");
        if (r < 0)
                return EXIT_USAGE;
        printf("quoted %s PCRs %s with the attestation key at 0x%08x into %s\n", o.bank, o.pcrs, o.ak_handle, o.output);
        return EXIT_OK;
}

int cmd_attest(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        if (argc < 2)
                return cli_usage_error("attest", "missing subcommand (ek, ak, enroll, quote or verify)");
        if (streq(argv[1], "ek"))
                return cmd_ek(argc - 1, argv + 1);
        if (streq(argv[1], "ak"))
                return cmd_ak(argc - 1, argv + 1);
        if (streq(argv[1], "quote"))
                return cmd_quote(argc - 1, argv + 1);
        if (streq(argv[1], "enroll")) {
                if (argc < 3)
                        return cli_usage_error("attest", "enroll needs make-credential, activate or verify-response");
                if (streq(argv[2], "make-credential"))
                        return cmd_make_credential(argc - 2, argv + 2);
                if (streq(argv[2], "activate"))
                        return cmd_activate(argc - 2, argv + 2);
                if (streq(argv[2], "verify-response"))
                        return cmd_verify_response(argc - 2, argv + 2);
                return cli_usage_error("attest", "unknown enroll step '%s' (make-credential, activate or verify-response)", argv[2]);
        }
        if (!streq(argv[1], "verify"))
                return cli_usage_error("attest", "unknown subcommand '%s' (ek, ak, enroll, quote or verify)", argv[1]);
        static const struct option opts[] = {
                { "nonce", required_argument, NULL, 'n' },
                { "ak", required_argument, NULL, 'a' },
                { "expect-pcr", required_argument, NULL, 'e' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *nonce = NULL, *ak = NULL;
        struct expect ex[PCR_NUM * PCR_BANKS_MAX];
        size_t n_ex = 0;
        bool json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'n': nonce = optarg; break;
                case 'a': ak = optarg; break;
                case 'j': json = true; break;
                case 'e':
                        if (n_ex == ELEMENTSOF(ex))
                                return cli_usage_error("attest", "too many --expect-pcr");
                        if (parse_expect(optarg, &ex[n_ex]) < 0)
                                return cli_usage_error("attest", "--expect-pcr '%s' is not [ALG:]N=HEX with a digest of that bank's size", optarg);
                        n_ex++;
                        break;
                default: return cli_usage_error("attest", "invalid option");
                }
        }
        if (optind + 1 != argc - 1)
                return cli_usage_error("attest", "verify needs exactly one QUOTE.json");
        if (!nonce)
                return cli_usage_error("attest", "verify needs --nonce HEX");
        if (!ak)
                return cli_usage_error("attest", "verify needs --ak AK.pem, the node's enrolled attestation key: an AK taken from the quote itself proves nothing");
        if (json)
                vs_log_set_quiet(1);
        return verify(argv[optind + 1], nonce, ak, ex, n_ex, json);
}
