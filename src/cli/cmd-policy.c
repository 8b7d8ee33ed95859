/* cmd-policy.c: `volseal policy digest|key-name|srk-name|verify-signature`: TPM2 policy digests computed in
 * software (policy/), and checks of signed PCR policy JSON. No TPM is touched. */
#include "cli.h"
#include "cli-file.h"
#include "encoding.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

static const char usage[] =
        "Usage: volseal policy digest STEP... [--json]\n"
        "       volseal policy key-name PUB.pem [--exponent-zero] [--json]\n"
        "       volseal policy srk-name\n"
        "       volseal policy verify-signature JSON --key PUB.pem [--bank B]... [--pcr11 HEX]\n"
        "\n"
        "digest            the policy digest a TPM session reaches after the steps, applied in the order given,\n"
        "                  starting from 32 zero bytes (or --start HEX). Steps:\n"
        "  --authorize-key PUB.pem   PolicyAuthorize(Name of that RSA key, policyRef from --policy-ref HEX)\n"
        "  --pcrs LIST               PolicyPCR over LIST (e.g. 7,11) of the --bank in force (default sha256);\n"
        "                            each PCR's value comes from --pcr-value N=HEX (required for every PCR)\n"
        "  --auth-value              PolicyAuthValue\n"
        "key-name          the TPM Name (000b || SHA-256 of TPMT_PUBLIC) and pkfp of an RSA public key, as\n"
        "                  LoadExternal makes it (attributes 0x00060040, exponent 65537 or 0).\n"
        "srk-name          the Name of volseal's SRK template (docs/tpm.md).\n"
        "verify-signature  check every entry of a .pcrsig JSON made by this key (pkfp): RSASSA-PKCS1-v1.5\n"
        "                  SHA-256 over pol. With --pcr11 HEX, an entry for that PCR 11 value must exist.\n"
        "\n"
        "Options:\n"
        "  --bank B          sha1, sha256 (default), sha384, sha512\n"
        "  --json            JSON output\n"
        "  -h, --help        this text\n"
        "\n"
        "Exit codes: 0 success (verify-signature: every entry of the key is valid), 1 usage error, bad input\n"
        "or an invalid/missing signature, 4 a file is missing.\n";

static int load_pub(const char *path, EVP_PKEY **ret) {
        _cleanup_free_ char *pem = NULL;
        size_t len;
        int r = cli_read_text(path, &pem, &len);
        if (r < 0)
                return r;
        r = policy_load_public_pem(pem, len, ret);
        if (r < 0)
                return log_error_errno(r, "%s: not a PEM public key", path);
        return 0;
}

enum { OPT_AUTHKEY = 256, OPT_REF, OPT_PCRS, OPT_VALUE, OPT_AUTHVALUE, OPT_BANK, OPT_JSON, OPT_START, OPT_EXPZERO,
       OPT_KEY, OPT_PCR11 };

static const struct option options[] = {
        { "authorize-key", required_argument, NULL, OPT_AUTHKEY },
        { "policy-ref", required_argument, NULL, OPT_REF },
        { "pcrs", required_argument, NULL, OPT_PCRS },
        { "pcr-value", required_argument, NULL, OPT_VALUE },
        { "auth-value", no_argument, NULL, OPT_AUTHVALUE },
        { "bank", required_argument, NULL, OPT_BANK },
        { "json", no_argument, NULL, OPT_JSON },
        { "start", required_argument, NULL, OPT_START },
        { "exponent-zero", no_argument, NULL, OPT_EXPZERO },
        { "key", required_argument, NULL, OPT_KEY },
        { "pcr11", required_argument, NULL, OPT_PCR11 },
        {}
};

/* `policy digest`: the steps in the order given, each extending the digest. */
struct digest_run {
        uint8_t digest[POLICY_SHA256_SIZE];
        uint8_t values[24][64];         /* --pcr-value N=HEX */
        uint32_t have_value;            /* bit N = values[N] given */
        uint8_t ref[64];                /* --policy-ref */
        size_t ref_len;
        uint16_t bank;
        size_t bank_size;
        bool exponent_zero, json;
        json_object *steps;             /* the steps as words, for --json */
        size_t n_steps;
};

static void add_step(struct digest_run *d, const char *step) {
        json_object_array_add(d->steps, json_object_new_string(step));
        d->n_steps++;
}

/* First pass over the options: PCR values, --json, --start. */
static int digest_inputs(int argc, char **argv, struct digest_run *d) {
        int c;
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
                if (c == OPT_VALUE) {
                        char *eq = strchr(optarg, '=');
                        uint32_t mask;
                        size_t len;
                        if (!eq)
                                return cli_usage_error("policy", "--pcr-value %s: expected N=HEX", optarg);
                        *eq = 0;
                        int r = cli_parse_pcr_list(optarg, &mask);
                        *eq = '=';
                        if (r < 0 || __builtin_popcount(mask) != 1)
                                return cli_usage_error("policy", "--pcr-value %s: N must be one PCR 0-23", optarg);
                        if (vs_hex_decode(eq + 1, d->values[__builtin_ctz(mask)], 64, &len) < 0)
                                return cli_usage_error("policy", "--pcr-value %s: the value is not hex", optarg);
                        d->have_value |= mask;
                } else if (c == OPT_JSON)
                        d->json = true;
                else if (c == OPT_START) {
                        size_t len;
                        if (vs_hex_decode(optarg, d->digest, 32, &len) < 0 || len != 32)
                                return cli_usage_error("policy", "--start %s: not 64 hex digits", optarg);
                } else if (c == '?' || c == ':')
                        return cli_usage_error("policy", "invalid option '%s'", argv[optind - 1]);
        }
        if (optind < argc)
                return cli_usage_error("policy", "unexpected argument '%s'", argv[optind]);
        return EXIT_OK;
}

static int step_authorize(struct digest_run *d, const char *path) {
        EVP_PKEY *pk = NULL;
        TPM2B_PUBLIC pub;
        TPM2B_NAME name;
        int r = load_pub(path, &pk);
        if (r >= 0)
                r = policy_rsa_public(pk, d->exponent_zero ? 0 : 65537, &pub);
        if (r >= 0)
                r = policy_public_name(&pub, &name);
        if (r >= 0)
                r = policy_authorize(d->digest, &name, d->ref, d->ref_len);
        EVP_PKEY_free(pk);
        if (r < 0)
                return r;
        char hex[2 * sizeof(name.name) + 1], step[512];
        vs_hex_encode_to(name.name, name.size, hex);
        snprintf(step, sizeof(step), "PolicyAuthorize(keyName=%s,policyRef=%zu bytes)", hex, d->ref_len);
        add_step(d, step);
        return 0;
}

static int step_pcrs(struct digest_run *d, const char *list) {
        uint32_t mask;
        uint8_t buf[24 * 64];
        size_t n = 0;
        if (cli_parse_pcr_list(list, &mask) < 0) {
                cli_usage_error("policy", "--pcrs %s: expected a comma-separated list of PCRs 0-23", list);
                return -EINVAL;
        }
        if (mask & ~d->have_value) {
                cli_usage_error("policy", "--pcrs %s: no --pcr-value for PCR %d", list, __builtin_ctz(mask & ~d->have_value));
                return -EINVAL;
        }
        for (int i = 0; i < 24; i++)
                if (mask & (UINT32_C(1) << i))
                        memcpy(buf + d->bank_size * n++, d->values[i], d->bank_size);
        int r = policy_pcr(d->digest, d->bank, mask, buf, d->bank_size);
        if (r < 0)
                return r;
        char step[512];
        snprintf(step, sizeof(step), "PolicyPCR(%s:%s)", policy_bank_name(d->bank), list);
        add_step(d, step);
        return 0;
}

/* Second pass: the steps in order (--bank, --exponent-zero and --policy-ref apply to the steps after them). */
static int digest_steps(int argc, char **argv, struct digest_run *d) {
        int c, r = 0;
        optind = 1;
        while (r >= 0 && (c = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (c) {
                case OPT_BANK:
                        if (policy_bank_from_name(optarg, &d->bank, &d->bank_size) < 0) {
                                cli_usage_error("policy", "unknown bank '%s' (sha1, sha256, sha384, sha512)", optarg);
                                r = -EINVAL;
                        }
                        break;
                case OPT_EXPZERO:
                        d->exponent_zero = true;
                        break;
                case OPT_REF:
                        if (vs_hex_decode(optarg, d->ref, sizeof(d->ref), &d->ref_len) < 0) {
                                cli_usage_error("policy", "--policy-ref %s: not hex (up to 64 bytes)", optarg);
                                r = -EINVAL;
                        }
                        break;
                case OPT_AUTHKEY:
                        r = step_authorize(d, optarg);
                        break;
                case OPT_PCRS:
                        r = step_pcrs(d, optarg);
                        break;
                case OPT_AUTHVALUE:
                        policy_auth_value(d->digest);
                        add_step(d, "PolicyAuthValue");
                        break;
                default:
                        break;
                }
        }
        if (r >= 0 && d->n_steps == 0) {
                cli_usage_error("policy", "digest: no steps given (--authorize-key, --pcrs, --auth-value)");
                r = -EINVAL;
        }
        return r;
}

static void print_digest(const struct digest_run *d) {
        char hex[2 * POLICY_SHA256_SIZE + 1];
        vs_hex_encode_to(d->digest, POLICY_SHA256_SIZE, hex);
        if (!d->json) {
                puts(hex);
                return;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "digest", json_object_new_string(hex));
        json_object_object_add(o, "steps", json_object_get(d->steps));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static int do_digest(int argc, char **argv) {
        struct digest_run d = { .bank = TPM2_ALG_SHA256, .bank_size = 32 };
        policy_digest_init(d.digest);
        int rc = digest_inputs(argc, argv, &d);
        if (rc != EXIT_OK)
                return rc;
        d.steps = json_object_new_array();
        int r = digest_steps(argc, argv, &d);
        if (r >= 0)
                print_digest(&d);
        json_object_put(d.steps);
        return r < 0 ? (r == -EINVAL ? EXIT_USAGE : cli_exit_from_errno(r)) : EXIT_OK;
}

static int do_key_name(int argc, char **argv) {
        bool json = false, zero = false;
        int c;
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
                if (c == OPT_JSON)
                        json = true;
                else if (c == OPT_EXPZERO)
                        zero = true;
                else
                        return cli_usage_error("policy", "key-name: invalid option '%s'", argv[optind - 1]);
        }
        if (optind != argc - 1)
                return cli_usage_error("policy", "key-name: expected one PEM file");
        EVP_PKEY *pk = NULL;
        TPM2B_PUBLIC pub;
        TPM2B_NAME name;
        uint8_t fp[POLICY_SHA256_SIZE];
        int r = load_pub(argv[optind], &pk);
        if (r >= 0)
                r = policy_rsa_public(pk, zero ? 0 : 65537, &pub);
        if (r >= 0)
                r = policy_public_name(&pub, &name);
        if (r >= 0)
                r = policy_pkfp(pk, fp);
        EVP_PKEY_free(pk);
        if (r < 0)
                return cli_exit_from_errno(r);
        char nhex[2 * sizeof(name.name) + 1], fhex[2 * POLICY_SHA256_SIZE + 1];
        vs_hex_encode_to(name.name, name.size, nhex);
        vs_hex_encode_to(fp, sizeof(fp), fhex);
        if (json)
                printf("{\"name\":\"%s\",\"pkfp\":\"%s\",\"bits\":%u}\n", nhex, fhex,
                       pub.publicArea.parameters.rsaDetail.keyBits);
        else
                printf("name: %s\npkfp: %s\nbits: %u\n", nhex, fhex, pub.publicArea.parameters.rsaDetail.keyBits);
        return EXIT_OK;
}

static int do_srk_name(int argc, char **argv) {
        if (argc != 1)
                return cli_usage_error("policy", "srk-name takes no arguments");
        TPM2B_PUBLIC t;
        TPM2B_NAME name;
        char hex[2 * sizeof(name.name) + 1];
        policy_srk_template(&t);
        int r = policy_public_name(&t, &name);
        if (r < 0)
                return cli_exit_from_errno(r);
        vs_hex_encode_to(name.name, name.size, hex);
        puts(hex);
        return EXIT_OK;
}

static int do_verify(int argc, char **argv) {
        const char *key = NULL, *banks[8];
        size_t n_banks = 0;
        uint8_t pcr11[64];
        size_t pcr11_len = 0;
        int c;
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (c) {
                case OPT_KEY: key = optarg; break;
                case OPT_BANK:
                        if (policy_bank_from_name(optarg, NULL, NULL) < 0)
                                return cli_usage_error("policy", "unknown bank '%s'", optarg);
                        if (n_banks == ELEMENTSOF(banks))
                                return cli_usage_error("policy", "too many --bank options");
                        banks[n_banks++] = optarg;
                        break;
                case OPT_PCR11:
                        if (vs_hex_decode(optarg, pcr11, sizeof(pcr11), &pcr11_len) < 0 || pcr11_len == 0)
                                return cli_usage_error("policy", "--pcr11 %s: not hex", optarg);
                        break;
                default:
                        return cli_usage_error("policy", "verify-signature: invalid option '%s'", argv[optind - 1]);
                }
        }
        if (optind != argc - 1 || !key)
                return cli_usage_error("policy", "verify-signature: expected one JSON file and --key PUB.pem");
        if (n_banks == 0)
                banks[n_banks++] = "sha256";
        const char *file = argv[optind];
        _cleanup_free_ char *json = NULL;
        size_t len;
        EVP_PKEY *pk = NULL;
        uint8_t fp[POLICY_SHA256_SIZE];
        int r = cli_read_text(file, &json, &len);
        if (r >= 0)
                r = load_pub(key, &pk);
        if (r >= 0)
                r = policy_pkfp(pk, fp);
        size_t valid = 0, invalid = 0;
        for (size_t b = 0; b < n_banks && r >= 0; b++) {
                struct pcrsig s = {};
                uint16_t alg;
                size_t bsize;
                (void) policy_bank_from_name(banks[b], &alg, &bsize);
                r = pcrsig_parse(json, len, banks[b], &s); /* logs what is wrong */
                if (r < 0)
                        break;
                for (size_t i = 0; i < s.n_entries; i++) {
                        char pol[2 * POLICY_SHA256_SIZE + 1];
                        vs_hex_encode_to(s.entries[i].pol, POLICY_SHA256_SIZE, pol);
                        if (memcmp(s.entries[i].pkfp, fp, sizeof(fp)) != 0) {
                                printf("skipped: %s[%zu] pol=%s (another key)\n", banks[b], i, pol);
                                continue;
                        }
                        bool ok = pcrsig_verify(&s.entries[i], pk) == 0;
                        printf("%s: %s[%zu] pol=%s\n", ok ? "valid" : "INVALID", banks[b], i, pol);
                        ok ? valid++ : invalid++;
                }
                if (pcr11_len) {
                        uint8_t want[POLICY_SHA256_SIZE];
                        if (pcr11_len != bsize)
                                r = log_error_errno(-EINVAL, "--pcr11 has %zu bytes, bank %s needs %zu", pcr11_len, banks[b], bsize);
                        else if ((r = policy_pcr_signed_pol(alg, UINT32_C(1) << 11, pcr11, bsize, want)) >= 0) {
                                const struct pcrsig_entry *e = pcrsig_find(&s, UINT32_C(1) << 11, fp, want);
                                if (!e || pcrsig_verify(e, pk) < 0) {
                                        char hex[2 * 64 + 1];
                                        vs_hex_encode_to(pcr11, pcr11_len, hex);
                                        log_error("%s: no valid %s entry of this key for PCR 11 = %s", file, banks[b], hex);
                                        invalid++;
                                } else
                                        printf("matched: %s entry for the given PCR 11 value\n", banks[b]);
                        }
                }
                pcrsig_done(&s);
        }
        EVP_PKEY_free(pk);
        if (r < 0)
                return cli_exit_from_errno(r);
        if (invalid || valid == 0) {
                log_error("%s: %zu valid and %zu invalid or missing signatures by %s", file, valid, invalid, key);
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

int cmd_policy(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        if (argc < 2)
                return cli_usage_error("policy", "missing subcommand (digest, key-name, srk-name or verify-signature)");
        const char *sub = argv[1];
        if (streq(sub, "digest"))
                return do_digest(argc - 1, argv + 1);
        if (streq(sub, "key-name"))
                return do_key_name(argc - 1, argv + 1);
        if (streq(sub, "srk-name"))
                return do_srk_name(argc - 1, argv + 1);
        if (streq(sub, "verify-signature"))
                return do_verify(argc - 1, argv + 1);
        return cli_usage_error("policy", "unknown subcommand '%s' (digest, key-name, srk-name or verify-signature)", sub);
}
