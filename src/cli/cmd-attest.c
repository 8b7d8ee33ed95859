/* cmd-attest.c: `volseal attest verify` (offline, pure: quote.json + nonce + enrolled AK in, verdict out).
 * `attest enroll` and `attest quote` need the TPM (src/tpm/) and are not built yet. quote.json: docs/pcr.md. */
#include "cli.h"
#include "cmd-pcr.h"
#include "log.h"
#include "pcr.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <json-c/json.h>
#include <openssl/evp.h>

static const char usage[] =
        "Usage: volseal attest verify QUOTE.json --nonce HEX --ak AK.pem [--expect-pcr [ALG:]N=HEX]... [--json]\n"
        "       volseal attest enroll ...   (not implemented yet: needs the TPM side)\n"
        "       volseal attest quote ...    (not implemented yet: needs the TPM side)\n"
        "\n"
        "verify  checks, offline and with nothing but volseal: the quote's signature with the enrolled\n"
        "        attestation key AK.pem (PEM public key; ECDSA P-256 or RSA), that the TPM generated it, that\n"
        "        it carries NONCE, that the event logs in QUOTE.json replay to the quoted PCR digest, that the\n"
        "        PCR values listed in QUOTE.json are the replayed ones, and every --expect-pcr.\n"
        "        The AK inside QUOTE.json is never trusted: --ak must be the key enrolled for this node.\n"
        "\n"
        "Options:\n"
        "      --nonce HEX             the nonce the verifier sent (hex)\n"
        "      --ak AK.pem             the node's enrolled attestation key (public, PEM)\n"
        "      --expect-pcr [ALG:]N=HEX  PCR N must have this value (bank from ALG, or from HEX's length)\n"
        "      --json                  JSON verdict\n"
        "  -h, --help                  this text\n"
        "\n"
        "Exit codes: 0 verified; 1 usage error or malformed quote.json; 2 refused (signature, nonce, event\n"
        "log, PCR value or expectation does not match); 5 not implemented yet (enroll, quote).\n";

#define EXIT_REFUSED EXIT_NOT_OPENED

static int b64_decode(const char *s, uint8_t **ret, size_t *ret_size) {
        size_t len = strlen(s);
        _cleanup_free_ uint8_t *out = malloc(len / 4 * 3 + 4);
        EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
        int n1 = 0, n2 = 0, r = -EBADMSG;
        if (!out || !ctx) {
                EVP_ENCODE_CTX_free(ctx);
                return -ENOMEM;
        }
        EVP_DecodeInit(ctx);
        if (len <= INT32_MAX && EVP_DecodeUpdate(ctx, out, &n1, (const unsigned char *) s, (int) len) >= 0 &&
            EVP_DecodeFinal(ctx, out + n1, &n2) == 1) {
                *ret_size = (size_t) (n1 + n2);
                *ret = TAKE_PTR(out);
                r = 0;
        }
        EVP_ENCODE_CTX_free(ctx);
        return r;
}

static int hex_field(struct json_object *o, const char *key, uint8_t **ret, size_t *ret_size) {
        struct json_object *j;
        if (!json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_string))
                return log_error_errno(-EBADMSG, "quote.json: \"%s\" is missing or not a string", key);
        const char *s = json_object_get_string(j);
        _cleanup_free_ uint8_t *b = malloc(strlen(s) / 2 + 1);
        if (!b)
                return -ENOMEM;
        if (pcr_unhex(s, b, strlen(s) / 2, ret_size) < 0)
                return log_error_errno(-EBADMSG, "quote.json: \"%s\" is not hex", key);
        *ret = TAKE_PTR(b);
        return 0;
}

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
        if (pcr_unhex(eq + 1, e->v, sizeof(e->v), &e->n) < 0)
                return -EINVAL;
        if (!e->alg)
                e->alg = e->n == 20 ? PCR_ALG_SHA1 : e->n == 32 ? PCR_ALG_SHA256 : e->n == 48 ? PCR_ALG_SHA384 :
                         e->n == 64 ? PCR_ALG_SHA512 : 0;
        if (!e->alg || e->n != pcr_alg_size(e->alg))
                return -EINVAL;
        return 0;
}

static int verify(const char *quote_path, const char *nonce_hex, const char *ak_path, const struct expect *ex,
                  size_t n_ex, bool json) {
        _cleanup_free_ uint8_t *qbuf = NULL, *akbuf = NULL, *attest = NULL, *sig = NULL, *fw = NULL, *ml = NULL;
        size_t qsize, aksize, attest_size, sig_size, fw_size = 0, ml_size = 0;
        uint8_t nonce[128];
        size_t nonce_size;
        struct json_object *q = NULL, *j;
        struct pcr_eventlog log = {};
        struct pcr_quote_result res;
        int r, ret = EXIT_USAGE;

        if (pcr_unhex(nonce_hex, nonce, sizeof(nonce), &nonce_size) < 0 || nonce_size == 0)
                return cli_usage_error("attest", "--nonce must be 1 to %zu bytes of hex", sizeof(nonce));
        if (vs_read_file(quote_path, "quote", &qbuf, &qsize) < 0 || vs_read_file(ak_path, "attestation key", &akbuf, &aksize) < 0)
                return EXIT_USAGE;
        akbuf = realloc(akbuf, aksize + 1);
        if (!akbuf)
                return EXIT_USAGE;
        akbuf[aksize] = 0;
        qbuf = realloc(qbuf, qsize + 1);
        if (!qbuf)
                return EXIT_USAGE;
        qbuf[qsize] = 0;
        q = json_tokener_parse((const char *) qbuf);
        if (!q || !json_object_is_type(q, json_type_object)) {
                log_error("%s: not a JSON object", quote_path);
                goto out;
        }
        if (!json_object_object_get_ex(q, "version", &j) || json_object_get_int(j) != 1) {
                log_error("%s: \"version\" must be 1", quote_path);
                goto out;
        }
        if (hex_field(q, "quoted", &attest, &attest_size) < 0 || hex_field(q, "signature", &sig, &sig_size) < 0)
                goto out;
        if (json_object_object_get_ex(q, "eventlog", &j) && b64_decode(json_object_get_string(j), &fw, &fw_size) < 0) {
                log_error("%s: \"eventlog\" is not base64", quote_path);
                goto out;
        }
        if (json_object_object_get_ex(q, "measure_log", &j) && b64_decode(json_object_get_string(j), &ml, &ml_size) < 0) {
                log_error("%s: \"measure_log\" is not base64", quote_path);
                goto out;
        }
        if (!fw && !ml) {
                log_error("%s: no \"eventlog\" or \"measure_log\": the quoted PCRs cannot be explained", quote_path);
                goto out;
        }
        if ((fw && pcr_eventlog_parse(&log, fw, fw_size, "quote.json eventlog") < 0) ||
            (ml && pcr_eventlog_add_measure_log(&log, (const char *) ml, ml_size, "quote.json measure_log") < 0))
                goto out;

        struct pcr_quote_check c = {
                .attest = attest, .attest_size = attest_size, .signature = sig, .signature_size = sig_size,
                .ak_pem = (const char *) akbuf, .nonce = nonce, .nonce_size = nonce_size, .log = &log,
        };
        r = pcr_quote_verify(&c, &res);
        if (r < 0) {
                ret = r == -EPERM ? EXIT_REFUSED : EXIT_USAGE;
                goto out;
        }
        /* The PCR values quote.json lists must be quoted and equal to the replayed ones. */
        if (json_object_object_get_ex(q, "pcrs", &j)) {
                json_object_object_foreach(j, bank, vals) {
                        uint16_t alg;
                        size_t b;
                        if (pcr_alg_from_name(bank, &alg) < 0) {
                                log_error("%s: \"pcrs\" names an unknown bank '%s'", quote_path, bank);
                                goto out;
                        }
                        for (b = 0; b < res.quoted.n_banks && res.quoted.banks[b].alg != alg; b++)
                                ;
                        json_object_object_foreach(vals, idx, hex) {
                                uint8_t v[PCR_DIGEST_MAX];
                                size_t n;
                                char *end;
                                unsigned long p = strtoul(idx, &end, 10);
                                if (*end || p >= PCR_NUM || pcr_unhex(json_object_get_string(hex), v, sizeof(v), &n) < 0) {
                                        log_error("%s: \"pcrs\".%s.%s is malformed", quote_path, bank, idx);
                                        goto out;
                                }
                                if (b == res.quoted.n_banks || !res.selected[b][p]) {
                                        log_error("%s: PCR %s:%lu is listed but not covered by the quote", quote_path, bank, p);
                                        ret = EXIT_REFUSED;
                                        goto out;
                                }
                                if (n != res.quoted.banks[b].size || memcmp(v, res.quoted.banks[b].v[p], n)) {
                                        log_error("%s: PCR %s:%lu differs from the quoted, replayed value", quote_path, bank, p);
                                        ret = EXIT_REFUSED;
                                        goto out;
                                }
                        }
                }
        }
        for (size_t i = 0; i < n_ex; i++) {
                size_t b;
                for (b = 0; b < res.quoted.n_banks && res.quoted.banks[b].alg != ex[i].alg; b++)
                        ;
                if (b == res.quoted.n_banks || !res.selected[b][ex[i].pcr]) {
                        log_error("expected PCR %s:%u is not covered by the quote", pcr_alg_name(ex[i].alg), ex[i].pcr);
                        ret = EXIT_REFUSED;
                        goto out;
                }
                if (memcmp(res.quoted.banks[b].v[ex[i].pcr], ex[i].v, ex[i].n)) {
                        _cleanup_free_ char *h = pcr_hex(res.quoted.banks[b].v[ex[i].pcr], ex[i].n);
                        log_error("PCR %s:%u is %s, not the expected value", pcr_alg_name(ex[i].alg), ex[i].pcr, h ?: "?");
                        ret = EXIT_REFUSED;
                        goto out;
                }
        }
        if (json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "verified", json_object_new_boolean(1));
                json_object_object_add(o, "pcrs", vs_pcr_values_to_json(&res.quoted, (const bool (*)[PCR_NUM]) res.selected));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                printf("verified: signature by the enrolled AK, nonce, event log replay%s\n", n_ex ? ", expected PCRs" : "");
                for (size_t b = 0; b < res.quoted.n_banks; b++)
                        for (int p = 0; p < PCR_NUM; p++)
                                if (res.selected[b][p]) {
                                        _cleanup_free_ char *h = pcr_hex(res.quoted.banks[b].v[p], res.quoted.banks[b].size);
                                        printf("  %s:%d %s\n", pcr_alg_name(res.quoted.banks[b].alg), p, h ?: "");
                                }
        }
        ret = EXIT_OK;
out:
        if (ret != EXIT_OK && json)
                printf("{\"verified\":false}\n");
        json_object_put(q);
        pcr_eventlog_free(&log);
        return ret;
}

int cmd_attest(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        if (argc < 2)
                return cli_usage_error("attest", "missing subcommand (verify, enroll or quote)");
        if (streq(argv[1], "enroll") || streq(argv[1], "quote"))
                return cli_not_implemented(streq(argv[1], "enroll") ? "attest enroll" : "attest quote");
        if (!streq(argv[1], "verify"))
                return cli_usage_error("attest", "unknown subcommand '%s' (verify, enroll or quote)", argv[1]);
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
