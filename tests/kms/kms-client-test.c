/* kms-client-test: drives src/kms/ against a real KMS (tests/kms/server.py). Test-only; not installed.
 *
 *   kms-client-test [--ca FILE] [--timeout-ms N] [--node-uuid UUID] ENDPOINT seal SECRET_FILE SEALED_OUT
 *   kms-client-test [...] ENDPOINT unseal SEALED_IN PLAIN_OUT
 *   kms-client-test [...] ENDPOINT roundtrip [N]    N x (seal 32 random bytes, unseal, compare) on one client
 *
 * Prints only lengths and "ok" lines; a failure prints "kms-client-test: error kind: KIND" and exits with
 * 10 down, 11 slow, 12 garbage, 13 grpc-error, 14 wrong-size, 15 tls, 16 mismatch, 1 anything else. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kms/kms.h"
#include "secret.h"
#include "util.h"

static int exit_for(const struct vs_kms *k, int r) {
        const char *kind = vs_kms_error_kind(r);
        fprintf(stderr, "kms-client-test: %s\n", vs_kms_last_error(k));
        fprintf(stderr, "kms-client-test: error kind: %s\n", kind);
        static const char *const kinds[] = { "down", "slow", "garbage", "grpc-error", "wrong-size", "tls" };
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(kind, kinds[i]))
                        return 10 + (int) i;
        return 1;
}

static int read_secret_file(const char *path, struct vs_secret **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct vs_secret *s = NULL;
        int r = vs_secret_new(4096, &s);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = read(fd, s->data + s->len, s->cap - s->len);
                if (n < 0) {
                        vs_secret_free(s);
                        return -errno;
                }
                if (n == 0)
                        break;
                s->len += (size_t) n;
                if (s->len == s->cap) {
                        vs_secret_free(s);
                        return -E2BIG;
                }
        }
        *ret = s;
        return 0;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "rbe");
        if (!f)
                return -errno;
        uint8_t *buf = malloc(65536);
        if (!buf)
                return -ENOMEM;
        size_t n = fread(buf, 1, 65536, f);
        *ret = buf;
        *ret_len = n;
        return 0;
}

static int write_file(const char *path, const void *p, size_t len) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, p, len) != (ssize_t) len)
                return -errno;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "ca", required_argument, NULL, 'c' },
                { "timeout-ms", required_argument, NULL, 't' },
                { "node-uuid", required_argument, NULL, 'n' },
                {}
        };
        struct vs_kms_options o = {};
        const char *node_uuid = "3d2e1f00-1c5b-4a7e-9b8d-5f6a7b8c9d0e";
        int c;
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                switch (c) {
                case 'c': o.ca_file = optarg; break;
                case 't': o.timeout_ms = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'n': node_uuid = optarg; break;
                default: return 2;
                }
        }
        if (argc - optind < 2) {
                fprintf(stderr, "usage: kms-client-test [--ca FILE] [--timeout-ms N] [--node-uuid U] ENDPOINT "
                                "seal|unseal|roundtrip ...\n");
                return 2;
        }
        const char *endpoint = argv[optind], *cmd = argv[optind + 1];
        char **args = argv + optind + 2;
        int nargs = argc - optind - 2;
        if (vs_process_harden() < 0)
                return 1;

        struct vs_kms *k = NULL;
        int r = vs_kms_open(endpoint, &o, &k);
        if (r < 0)
                return 3;
        int ret = 0;
        if (streq(cmd, "seal") && nargs == 2) {
                _cleanup_secret_ struct vs_secret *plain = NULL;
                _cleanup_free_ uint8_t *sealed = NULL;
                size_t len = 0;
                r = read_secret_file(args[0], &plain);
                if (r < 0) {
                        fprintf(stderr, "kms-client-test: cannot read %s: %s\n", args[0], strerror(-r));
                        ret = 1;
                } else if ((r = vs_kms_seal(k, node_uuid, plain, &sealed, &len)) < 0)
                        ret = exit_for(k, r);
                else if ((r = write_file(args[1], sealed, len)) < 0) {
                        fprintf(stderr, "kms-client-test: cannot write %s: %s\n", args[1], strerror(-r));
                        ret = 1;
                } else
                        printf("ok: sealed %zu bytes into %zu bytes\n", plain->len, len);
        } else if (streq(cmd, "unseal") && nargs == 2) {
                _cleanup_free_ uint8_t *sealed = NULL;
                _cleanup_secret_ struct vs_secret *plain = NULL;
                size_t len = 0;
                r = read_file(args[0], &sealed, &len);
                if (r < 0) {
                        fprintf(stderr, "kms-client-test: cannot read %s: %s\n", args[0], strerror(-r));
                        ret = 1;
                } else if ((r = vs_kms_unseal(k, node_uuid, sealed, len, &plain)) < 0)
                        ret = exit_for(k, r);
                else if ((r = write_file(args[1], plain->data, plain->len)) < 0) {
                        fprintf(stderr, "kms-client-test: cannot write %s: %s\n", args[1], strerror(-r));
                        ret = 1;
                } else
                        printf("ok: unsealed %zu bytes\n", plain->len);
        } else if (streq(cmd, "roundtrip") && nargs <= 1) {
                unsigned n = nargs ? (unsigned) strtoul(args[0], NULL, 10) : 1;
                for (unsigned i = 0; i < n && ret == 0; i++) {
                        _cleanup_secret_ struct vs_secret *plain = NULL, *back = NULL;
                        _cleanup_free_ uint8_t *sealed = NULL;
                        size_t len = 0;
                        if (vs_secret_new(VS_KMS_SECRET_SIZE, &plain) < 0 ||
                            RAND_bytes(plain->data, VS_KMS_SECRET_SIZE) != 1) {
                                ret = 1;
                                break;
                        }
                        plain->len = VS_KMS_SECRET_SIZE;
                        if ((r = vs_kms_seal(k, node_uuid, plain, &sealed, &len)) < 0 ||
                            (r = vs_kms_unseal(k, node_uuid, sealed, len, &back)) < 0)
                                ret = exit_for(k, r);
                        else if (!vs_secret_equal(plain, back)) {
                                fprintf(stderr, "kms-client-test: unsealed secret differs from the sealed one\n");
                                ret = 16;
                        } else
                                printf("ok: round trip %u (sealed %zu bytes)\n", i + 1, len);
                }
        } else {
                fprintf(stderr, "kms-client-test: unknown command or wrong arguments: %s\n", cmd);
                ret = 2;
        }
        vs_kms_close(k);
        return ret;
}
