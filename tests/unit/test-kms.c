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

#include "kms/kms.h"
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

static void test_endpoints(void **state) {
        const char *good[] = { "127.0.0.1:4050", "grpc://kms.example:4050", "GRPC://kms:1/", "https://kms.example",
                               "https://kms.example:8443", "grpcs://[::1]:4050", "[::1]:4050", "https://[::1]" };
        const char *bad[] = { "", "http://kms:80", "unix:///run/kms.sock", "kms.example", "[::1]", "grpc://",
                              "https://kms/path", "https://kms:1?x", "https://user@kms:1", "grpc://kms :1",
                              "grpc://kms:0", "grpc://kms:65536", "kms:x1", "a:b:1", "[::1:4050" };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct vs_kms *k = NULL;
                assert_int_equal(vs_kms_open(good[i], NULL, &k), 0);
                assert_string_equal(vs_kms_endpoint(k), good[i]);
                vs_kms_close(k);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vs_kms *k = NULL;
                assert_int_equal(vs_kms_open(bad[i], NULL, &k), -EINVAL);
                assert_null(k);
        }
        struct vs_kms *k = NULL;
        struct vs_kms_options o = { .ca_file = "/nonexistent/ca.pem" };
        assert_int_equal(vs_kms_open("https://kms:1", &o, &k), -ENOENT);
        assert_null(k);
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
        assert_int_equal(vs_kms_seal(k, "", plain, &sealed, &len), -EINVAL);
        assert_non_null(strstr(vs_kms_last_error(k), "KMS 127.0.0.1:1: no node UUID to send"));
        assert_int_equal(vs_kms_seal(k, NULL, plain, &sealed, &len), -EINVAL);
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
                cmocka_unit_test(test_error_kinds),
                cmocka_unit_test(test_seal_refuses_bad_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
