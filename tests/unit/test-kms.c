/* test-kms.c: the pure parts of src/kms/: gRPC response framing and Response decoding (vectors), endpoint
 * parsing (vs_kms_open makes no connection), and the error kinds. The wire itself is tested against a real
 * HTTP/2 peer in tests/integration/test-kms-client.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "kms/endpoint.h"
#include "kms/kms.h"
#include "kms/proxy.h"
#include "log.h"

static void quiet(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

/* frame(flag, protobuf bytes) -> buf; returns the length. */
static size_t frame(uint8_t *buf, uint8_t flag, const uint8_t *pb, size_t n) {
        buf[0] = flag;
        buf[1] = (uint8_t) (n >> 24);
        buf[2] = (uint8_t) (n >> 16);
        buf[3] = (uint8_t) (n >> 8);
        buf[4] = (uint8_t) n;
        if (n > 0)
                memcpy(buf + 5, pb, n);
        return 5 + n;
}

static void test_decode_ok(void **state) {
        uint8_t pb[2 + 32], buf[64];
        pb[0] = 0x0a; /* field 1, length-delimited */
        pb[1] = 32;
        for (int i = 0; i < 32; i++)
                pb[2 + i] = (uint8_t) (0xa0 + i);
        size_t n = frame(buf, 0, pb, sizeof(pb));
        struct vs_secret *s = NULL;
        const char *why = "unset";
        assert_int_equal(vs_kms_decode_response(buf, n, &s, &why), 0);
        assert_null(why);
        assert_int_equal(s->len, 32);
        assert_memory_equal(s->data, pb + 2, 32);
        vs_secret_free(s);
}

static void test_decode_empty_and_unknown_fields(void **state) {
        uint8_t buf[32];
        struct vs_secret *s = NULL;
        const char *why;
        /* an empty Response: data is empty */
        assert_int_equal(vs_kms_decode_response(buf, frame(buf, 0, NULL, 0), &s, &why), 0);
        assert_int_equal(s->len, 0);
        vs_secret_free(s);
        /* unknown field 7 (varint 150) before data = "hi": skipped, as proto3 demands */
        const uint8_t pb[] = { 0x38, 0x96, 0x01, 0x0a, 0x02, 'h', 'i' };
        assert_int_equal(vs_kms_decode_response(buf, frame(buf, 0, pb, sizeof(pb)), &s, &why), 0);
        assert_int_equal(s->len, 2);
        assert_memory_equal(s->data, "hi", 2);
        vs_secret_free(s);
}

static void test_decode_garbage(void **state) {
        uint8_t buf[64];
        struct vs_secret *s = NULL;
        const char *why;
        const uint8_t pb[] = { 0x0a, 0x02, 'h', 'i' };
        size_t n = frame(buf, 0, pb, sizeof(pb));

        assert_int_equal(vs_kms_decode_response(buf, 4, &s, &why), -EBADMSG);
        assert_string_equal(why, "the answer is shorter than a gRPC message header");
        assert_int_equal(vs_kms_decode_response(buf, n - 1, &s, &why), -EBADMSG);
        assert_string_equal(why, "the answer's message is truncated");
        buf[n] = 0;
        assert_int_equal(vs_kms_decode_response(buf, n + 1, &s, &why), -EBADMSG);
        assert_string_equal(why, "the answer holds more than one message");
        frame(buf, 1, pb, sizeof(pb));
        assert_int_equal(vs_kms_decode_response(buf, n, &s, &why), -EBADMSG);
        assert_string_equal(why, "the answer's message is compressed or has an unknown flag");

        const uint8_t short_field[] = { 0x0a, 0x64, 1, 2, 3 };   /* length 100, 3 bytes follow */
        const uint8_t wrong_type[] = { 0x0d, 1, 2, 3, 4 };       /* field 1 as fixed32 */
        const uint8_t bad_varint[] = { 0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
        const struct { const uint8_t *p; size_t n; } bad[] = {
                { short_field, sizeof(short_field) }, { wrong_type, sizeof(wrong_type) },
                { bad_varint, sizeof(bad_varint) },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                s = NULL;
                assert_int_equal(vs_kms_decode_response(buf, frame(buf, 0, bad[i].p, bad[i].n), &s, &why), -EBADMSG);
                assert_string_equal(why, "the answer is not a sidero.kms.Response message");
                assert_null(s);
        }
}

struct ep_case { const char *endpoint; int tls; const char *host; unsigned port; };

/* Talos's internal/pkg/endpoint/endpoint_test.go cases, then Go's url.Parse and grpc-go's dns target
 * rules: no scheme = grpc://, only "grpc" is plaintext, path/query/user info ignored, 443 by default. */
static void test_endpoints(void **state) {
        static const struct ep_case good[] = {
                { "grpc://10.5.0.2:3445?jointoken=ttt", 0, "10.5.0.2", 3445 },
                { "https://10.5.0.2:3445?jointoken=ttt&jointoken=xxx", 1, "10.5.0.2", 3445 },
                { "https://10.5.0.2?jointoken=ttt&jointoken=xxx", 1, "10.5.0.2", 443 },
                { "10.5.0.2:3445?jointoken=ttt", 0, "10.5.0.2", 3445 },
                { "grpc://10.5.0.2:3445", 0, "10.5.0.2", 3445 },
                { "10.5.0.2:3445", 0, "10.5.0.2", 3445 },
                { "GRPC://kms:1/", 0, "kms", 1 },
                { "kms.example", 0, "kms.example", 443 },          /* plaintext on gRPC's default port */
                { "grpc://kms.example", 0, "kms.example", 443 },
                { "http://kms:80", 1, "kms", 80 },                 /* every scheme but grpc is TLS */
                { "dns://kms:80", 1, "kms", 80 },
                { "HTTPS://kms.example", 1, "kms.example", 443 },
                { "https://kms.example:8443/v1/x", 1, "kms.example", 8443 },
                { "https://user:pw@kms:1", 1, "kms", 1 },
                { "grpcs://[::1]:4050", 1, "::1", 4050 },
                { "[::1]:4050", 0, "::1", 4050 },
                { "[::1]", 0, "::1", 443 },
                { "https://[fd00::1]", 1, "fd00::1", 443 },
                { "::1", 0, "::1", 443 },                          /* an unbracketed IPv6 literal: gRPC's default port */
                { "grpc://:4050", 0, "localhost", 4050 },          /* gRPC: an empty host is the local system */
                { "https://kms#frag", 1, "kms", 443 },
        };
        static const char *const bad[] = { "", "unix:///run/kms.sock", "grpc://", "https://kms:4a", "grpc://kms:",
                                           "grpc://kms:0", "grpc://kms:65536", "kms:x1", "a:b:1", "[::1:4050", "grpc://kms :1",
                                           "grpc://k\tms:1", "https://[fd00::1]x", "https://[zz]:1" };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct vs_kms_endpoint e;
                const char *why = NULL;
                if (vs_kms_endpoint_parse(good[i].endpoint, &e, &why) != 0)
                        fail_msg("%s: refused: %s", good[i].endpoint, why);
                if (e.tls != good[i].tls || strcmp(e.host, good[i].host) != 0 || e.port != good[i].port)
                        fail_msg("%s: tls %d host %s port %u", good[i].endpoint, e.tls, e.host, e.port);
                struct vs_kms *k = NULL;
                assert_int_equal(vs_kms_open(good[i].endpoint, NULL, &k), 0);
                assert_string_equal(vs_kms_endpoint(k), good[i].endpoint);
                vs_kms_close(k);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *why = NULL;
                if (vs_kms_endpoint_parse(bad[i], NULL, &why) != -EINVAL)
                        fail_msg("%s: accepted", bad[i]);
                assert_non_null(why);
                struct vs_kms *k = NULL;
                assert_int_equal(vs_kms_open(bad[i], NULL, &k), -EINVAL);
                assert_null(k);
        }
        struct vs_kms *k = NULL;
        struct vs_kms_options o = { .ca_file = "/nonexistent/ca.pem" };
        assert_int_equal(vs_kms_open("https://kms:1", &o, &k), -ENOENT);
        assert_null(k);
}

struct proxy_case { const char *https_proxy, *no_proxy, *ip; unsigned port; int r; const char *url; };

/* golang.org/x/net/http/httpproxy's rules for the address Talos's gRPC dialer dials. */
static void test_proxy(void **state) {
        static const struct proxy_case cases[] = {
                { NULL, NULL, "192.0.2.9", 4050, 0, NULL },
                { "", "", "192.0.2.9", 4050, 0, NULL },
                { "http://proxy:3128", NULL, "192.0.2.9", 4050, 1, "http://proxy:3128" },
                { "proxy:3128", NULL, "192.0.2.9", 4050, 1, "http://proxy:3128" },
                { "10.0.0.1:3128", NULL, "192.0.2.9", 4050, 1, "http://10.0.0.1:3128" },
                { "https://u:p@proxy:443", NULL, "192.0.2.9", 4050, 1, "https://u:p@proxy:443" },
                { "socks5://proxy:1080", NULL, "192.0.2.9", 4050, 1, "socks5://proxy:1080" },
                { "foo://proxy:3128", NULL, "192.0.2.9", 4050, 1, "http://proxy:3128" },
                { "http://proxy", NULL, "192.0.2.9", 4050, -EINVAL, NULL },
                { "http://proxy:3128", NULL, "127.0.0.1", 4050, 0, NULL },          /* loopback: never */
                { "http://proxy:3128", NULL, "::1", 4050, 0, NULL },
                { "http://proxy:3128", NULL, "localhost", 4050, 0, NULL },
                { "http://proxy:3128", "*", "192.0.2.9", 4050, 0, NULL },
                { "http://proxy:3128", "192.0.2.9", "192.0.2.9", 4050, 0, NULL },
                { "http://proxy:3128", " 10.0.0.0/8 , 192.0.2.0/24", "192.0.2.9", 4050, 0, NULL },
                { "http://proxy:3128", "192.0.3.0/24", "192.0.2.9", 4050, 1, "http://proxy:3128" },
                { "http://proxy:3128", "192.0.2.9:4050", "192.0.2.9", 4050, 0, NULL },
                { "http://proxy:3128", "192.0.2.9:443", "192.0.2.9", 4050, 1, "http://proxy:3128" },
                { "http://proxy:3128", "[fd00::2]:4050", "fd00::2", 4050, 0, NULL },
                { "http://proxy:3128", "fd00::/8", "fd00::2", 4050, 0, NULL },
                /* Domains match the dialled address's text: a host name in NO_PROXY does not match its IP. */
                { "http://proxy:3128", "kms.example", "192.0.2.9", 4050, 1, "http://proxy:3128" },
                { "http://proxy:3128", ".0.2.9", "192.0.2.9", 4050, 0, NULL },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char url[256] = "";
                const char *why = NULL;
                const struct proxy_case *c = &cases[i];
                int r = vs_kms_proxy_select(c->https_proxy, c->no_proxy, c->ip, c->port, url, sizeof(url), &why);
                if (r != c->r || (r == 1 && strcmp(url, c->url) != 0))
                        fail_msg("case %zu (%s, %s, %s): r=%d url=%s", i, c->https_proxy, c->no_proxy, c->ip, r, url);
        }
}

static void test_error_kinds(void **state) {
        assert_string_equal(vs_kms_error_kind(-ECONNREFUSED), "down");
        assert_string_equal(vs_kms_error_kind(-ECONNRESET), "down");
        assert_string_equal(vs_kms_error_kind(-EHOSTUNREACH), "down");
        assert_string_equal(vs_kms_error_kind(-ETIMEDOUT), "slow");
        assert_string_equal(vs_kms_error_kind(-EKEYREJECTED), "tls");
        assert_string_equal(vs_kms_error_kind(-EPROTO), "tls");
        assert_string_equal(vs_kms_error_kind(-EBADMSG), "garbage");
        assert_string_equal(vs_kms_error_kind(-EREMOTEIO), "grpc-error");
        assert_string_equal(vs_kms_error_kind(-EMSGSIZE), "wrong-size");
        assert_string_equal(vs_kms_error_kind(-EIO), "error");
}

static void test_seal_refuses_bad_input(void **state) {
        struct vs_kms *k = NULL;
        assert_int_equal(vs_kms_open("127.0.0.1:1", NULL, &k), 0);
        struct vs_secret *plain = NULL, *out = NULL;
        assert_int_equal(vs_secret_from("0123456789abcdef0123456789abcdef", 32, &plain), 0);
        uint8_t *sealed = NULL;
        size_t len = 0;
        assert_string_equal(vs_kms_last_error(k), "");
        /* Talos sends the node UUID it has, even an empty one: the call is made (and here finds nothing). */
        assert_int_equal(vs_kms_seal(k, "", plain, &sealed, &len), -ECONNREFUSED);
        assert_non_null(strstr(vs_kms_last_error(k), "KMS 127.0.0.1:1 is down"));
        plain->len = 0;
        assert_int_equal(vs_kms_seal(k, "uuid", plain, &sealed, &len), -EINVAL);
        assert_int_equal(vs_kms_unseal(k, "uuid", (const uint8_t *) "x", 0, &out), -EINVAL);
        assert_null(sealed);
        assert_null(out);
        vs_secret_free(plain);
        vs_kms_close(k);
}

int main(void) {
        vs_log_set_sink(quiet, NULL);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode_ok),
                cmocka_unit_test(test_decode_empty_and_unknown_fields),
                cmocka_unit_test(test_decode_garbage),
                cmocka_unit_test(test_endpoints),
                cmocka_unit_test(test_proxy),
                cmocka_unit_test(test_error_kinds),
                cmocka_unit_test(test_seal_refuses_bad_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
