/* tpm-helper: drives src/tpm (libvolseal) directly for the integration tests, until the tpm key kind has a
 * CLI. Test-only: it writes the sealed secret to a file so the tests can compare it and look for it in the
 * TPM traffic; volseal itself never does that.
 *
 *   tpm-helper seal   --pcr-key PUB.pem [--pcrs 7,14] --dir D     writes D/{priv,pub,srkname,policy,secret,pcrs}
 *   tpm-helper unseal --pcr-key PUB.pem --pcrsig SIG.json --dir D [--count N] [--no-srk-check]
 *                                                                 unseals N times in one context; writes
 *                                                                 D/unsealed; prints "unsealed N"
 *   tpm-helper trial  --pcr-key PUB.pem [--pcrs 7] [--exponent E]   prints the TPM's trial policy digest
 *   tpm-helper srk                                                prints the SRK Name and handle
 * Common: --debug-tpm (VS_TPM_DEBUG_LOG), --debug (volseal's debug log level). The TPM comes from VOLSEAL_TCTI. Exit 0 ok, 1 failure (the
 * failure sentence is on stderr, and "error: <errno name>" on stdout for the tests to match). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper-files.h"
#include "log.h"
#include "policy.h"
#include "secret.h"
#include "tpm/tpm.h"
#include "util.h"

static int read_in(const char *dir, const char *name, char **ret, size_t *ret_len) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return helper_read_file(path, ret, ret_len);
}

static uint32_t parse_mask(const char *s) {
        uint32_t m = 0;
        char *copy = strdup(s), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                m |= 1u << atoi(t);
        free(copy);
        return m;
}

static const char *errname(int r) {
        switch (-r) {
        case ENODEV: return "ENODEV";
        case EOPNOTSUPP: return "EOPNOTSUPP";
        case ENOKEY: return "ENOKEY";
        case EKEYREJECTED: return "EKEYREJECTED";
        case EBADMSG: return "EBADMSG";
        case EACCES: return "EACCES";
        case EEXIST: return "EEXIST";
        case EINVAL: return "EINVAL";
        default: return "EIO";
        }
}

static void hexprint(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                printf("%02x", p[i]);
        printf("\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: tpm-helper seal|unseal|trial|srk ...\n");
                return 2;
        }
        const char *cmd = argv[1];
        static const struct option opts[] = {
                { "pcr-key", required_argument, NULL, 'k' },
                { "pcrsig", required_argument, NULL, 's' },
                { "pcrs", required_argument, NULL, 'p' },
                { "dir", required_argument, NULL, 'd' },
                { "count", required_argument, NULL, 'n' },
                { "exponent", required_argument, NULL, 'e' },
                { "no-srk-check", no_argument, NULL, 'S' },
                { "debug-tpm", no_argument, NULL, 'D' },
                { "debug", no_argument, NULL, 'v' },
                {}
        };
        const char *key_path = NULL, *sig_path = NULL, *dir = NULL;
        uint32_t mask = 1u << 7, exponent = 65537;
        int count = 1, c;
        bool srk_check = true;
        unsigned flags = 0;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
                switch (c) {
                case 'k': key_path = optarg; break;
                case 's': sig_path = optarg; break;
                case 'p': mask = streq(optarg, "none") ? 0 : parse_mask(optarg); break;
                case 'd': dir = optarg; break;
                case 'n': count = atoi(optarg); break;
                case 'e': exponent = (uint32_t) strtoul(optarg, NULL, 0); break;
                case 'S': srk_check = false; break;
                case 'D': flags |= VS_TPM_DEBUG_LOG; break;
                case 'v': vs_log_set_level(VS_LOG_DEBUG); break;
                default: return 2;
                }
        }
        EVP_PKEY *pkey = NULL;
        if (key_path) {
                char *pem = NULL;
                size_t len = 0;
                if (helper_read_file(key_path, &pem, &len) < 0 || policy_load_public_pem(pem, len, &pkey) < 0) {
                        fprintf(stderr, "cannot read %s\n", key_path);
                        return 2;
                }
                free(pem);
        }
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = vs_tpm_open(NULL, flags, &t);
        if (r < 0)
                goto fail;

        if (streq(cmd, "srk")) {
                TPM2B_NAME name;
                uint32_t handle;
                r = vs_tpm_srk(t, NULL, &name, &handle);
                if (r < 0)
                        goto fail;
                hexprint(name.name, name.size);
                printf("0x%08x\n", handle);
        } else if (streq(cmd, "trial")) {
                uint8_t d[32];
                r = vs_tpm_policy_trial(t, pkey, exponent, mask, d);
                if (r < 0)
                        goto fail;
                hexprint(d, sizeof(d));
        } else if (streq(cmd, "seal")) {
                _cleanup_secret_ struct vs_secret *secret = NULL;
                struct vs_tpm_sealed s;
                r = vs_tpm_seal(t, pkey, mask, &secret, &s);
                if (r < 0)
                        goto fail;
                _cleanup_free_ uint8_t *priv = NULL, *pub = NULL, *name = NULL;
                size_t priv_len, pub_len, name_len;
                if (vs_tpm_blob_private(&s.priv, &priv, &priv_len) < 0 || vs_tpm_blob_public(&s.pub, &pub, &pub_len) < 0 ||
                    vs_tpm_blob_name(&s.srk_name, &name, &name_len) < 0)
                        return 1;
                char hex[65], m[16];
                for (int i = 0; i < 32; i++)
                        snprintf(hex + 2 * i, 3, "%02x", s.policy_hash[i]);
                snprintf(m, sizeof(m), "%u", s.pcr_mask);
                if (helper_write_file(dir, "priv", priv, priv_len) < 0 || helper_write_file(dir, "pub", pub, pub_len) < 0 ||
                    helper_write_file(dir, "srkname", name, name_len) < 0 || helper_write_file(dir, "policy", hex, 64) < 0 ||
                    helper_write_file(dir, "pcrs", m, strlen(m)) < 0 || helper_write_file(dir, "secret", secret->data, secret->len) < 0)
                        return 1;
                printf("sealed policy %s\n", hex);
        } else if (streq(cmd, "unseal")) {
                struct vs_tpm_sealed s = {};
                _cleanup_free_ char *priv = NULL, *pub = NULL, *name = NULL, *pol = NULL, *pcrs = NULL, *sigjs = NULL;
                size_t priv_len, pub_len, name_len, pol_len, pcrs_len, sig_len;
                if (read_in(dir, "priv", &priv, &priv_len) < 0 || read_in(dir, "pub", &pub, &pub_len) < 0 ||
                    read_in(dir, "srkname", &name, &name_len) < 0 || read_in(dir, "policy", &pol, &pol_len) < 0 ||
                    read_in(dir, "pcrs", &pcrs, &pcrs_len) < 0 || helper_read_file(sig_path, &sigjs, &sig_len) < 0)
                        return 2;
                if (vs_tpm_parse_private((uint8_t *) priv, priv_len, &s.priv) < 0 ||
                    vs_tpm_parse_public((uint8_t *) pub, pub_len, &s.pub) < 0 ||
                    vs_tpm_parse_name((uint8_t *) name, name_len, &s.srk_name) < 0 ||
                    policy_unhex(pol, s.policy_hash, 32) < 0)
                        return 2;
                if (!srk_check)
                        s.srk_name.size = 0;
                s.pcr_mask = (uint32_t) strtoul(pcrs, NULL, 10);
                struct pcrsig sig = {};
                if (pcrsig_parse(sigjs, sig_len, "sha256", &sig) < 0)
                        return 2;
                int ok = 0;
                for (int i = 0; i < count; i++) {
                        _cleanup_secret_ struct vs_secret *out = NULL;
                        r = vs_tpm_unseal(t, &s, pkey, &sig, &out);
                        if (r < 0)
                                break;
                        if (helper_write_file(dir, "unsealed", out->data, out->len) < 0)
                                return 1;
                        ok++;
                }
                pcrsig_done(&sig);
                if (r < 0)
                        goto fail;
                printf("unsealed %d\n", ok);
        } else {
                fprintf(stderr, "unknown command %s\n", cmd);
                return 2;
        }
        EVP_PKEY_free(pkey);
        return 0;
fail:
        printf("error: %s\n", errname(r));
        EVP_PKEY_free(pkey);
        return 1;
}
