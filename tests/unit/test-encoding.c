/* test-encoding.c: src/encoding.c with vectors: RFC 4648 section 10 for base64, hex both ways in either
 * case, every kind of bad input, the caller's limits, and the variants that keep bytes in a vs_secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "secret.h"

static void test_hex_encode(void **state) {
        char out[VS_HEX_SIZE(4)];
        memset(out, 'x', sizeof(out));
        vs_hex_encode_to("\x00\x7f\xa5\xff", 4, out);
        assert_string_equal(out, "007fa5ff");
        vs_hex_encode_to("", 0, out);
        assert_string_equal(out, "");
        char *s = vs_hex_encode("\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
        assert_non_null(s);
        assert_string_equal(s, "0123456789abcdef");
        free(s);
}

static void test_hex_decode(void **state) {
        uint8_t out[8];
        size_t n = 99;
        assert_int_equal(vs_hex_decode("0123456789abcdef", out, sizeof(out), &n), 0);
        assert_int_equal(n, 8);
        assert_memory_equal(out, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
        assert_int_equal(vs_hex_decode("ABCDEF", out, sizeof(out), &n), 0); /* either case */
        assert_int_equal(n, 3);
        assert_memory_equal(out, "\xab\xcd\xef", 3);
        assert_int_equal(vs_hex_decode("", out, sizeof(out), &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(vs_hex_decode("aB", out, 1, NULL), 0); /* exactly max */
        assert_int_equal(out[0], 0xab);
}

static void test_hex_decode_refuses(void **state) {
        static const char *const bad[] = { "0", "abc", "0g", "g0", " 00", "00 ", "00\n", "0x00", "-1", "zz" };
        uint8_t out[4] = { 0x55, 0x55, 0x55, 0x55 };
        size_t n = 77;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(vs_hex_decode(bad[i], out, sizeof(out), &n), -EBADMSG);
        assert_int_equal(vs_hex_decode("0011223344", out, 4, &n), -E2BIG);
        assert_int_equal(vs_hex_decode("01", out, 0, &n), -E2BIG);
        assert_memory_equal(out, "\x55\x55\x55\x55", 4); /* untouched */
        assert_int_equal(n, 77);
}

static void test_hex_secret(void **state) {
        struct vs_secret *in = NULL, *hex = NULL, *back = NULL;
        assert_int_equal(vs_secret_from("\xde\xad\xbe\xef\x00", 5, &in), 0);
        assert_int_equal(vs_hex_encode_secret(in, &hex), 0);
        assert_int_equal(hex->len, 10);
        assert_string_equal((const char *) hex->data, "deadbeef00");
        assert_int_equal(vs_hex_decode_secret((const char *) hex->data, 5, &back), 0);
        assert_int_equal(vs_secret_equal(in, back), 1);
        assert_int_equal(back->len, 5);
        vs_secret_free(back);
        back = NULL;
        assert_int_equal(vs_hex_decode_secret("deadbeef00", 4, &back), -E2BIG);
        assert_int_equal(vs_hex_decode_secret("deadbeef0", 8, &back), -EBADMSG);
        assert_int_equal(vs_hex_decode_secret("deadbeeg", 8, &back), -EBADMSG);
        assert_null(back);
        assert_int_equal(vs_hex_decode_secret("", 8, &back), 0);
        assert_int_equal(back->len, 0);
        vs_secret_free(back);
        vs_secret_free(hex);
        vs_secret_free(in);
}

/* RFC 4648 section 10. */
static const struct {
        const char *plain, *b64;
} rfc[] = {
        { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" },
};

static void test_base64_vectors(void **state) {
        for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
                char *e = vs_base64_encode(rfc[i].plain, strlen(rfc[i].plain));
                assert_non_null(e);
                assert_string_equal(e, rfc[i].b64);
                free(e);
                uint8_t *d = NULL;
                size_t n = 0;
                assert_int_equal(vs_base64_decode(rfc[i].b64, 64, &d, &n), 0);
                assert_int_equal(n, strlen(rfc[i].plain));
                assert_memory_equal(d, rfc[i].plain, n);
                assert_int_equal(d[n], 0);
                free(d);
        }
        char *e = vs_base64_encode("", 0);
        assert_string_equal(e, "");
        free(e);
        /* Every byte value, through both alphabets' ends ('+' and '/'). */
        uint8_t all[256];
        for (int i = 0; i < 256; i++)
                all[i] = (uint8_t) i;
        e = vs_base64_encode(all, sizeof(all));
        assert_non_null(e);
        assert_int_equal(strlen(e), 344);
        assert_string_equal(e + 332, "+fr7/P3+/w==");
        uint8_t *d = NULL;
        size_t n = 0;
        assert_int_equal(vs_base64_decode(e, 256, &d, &n), 0);
        assert_int_equal(n, 256);
        assert_memory_equal(d, all, 256);
        free(d);
        free(e);
}

static void test_base64_refuses(void **state) {
        static const char *const bad[] = {
                "",          /* nothing */
                "Zg",        /* no padding */
                "Zg=",       /* not a multiple of 4 */
                "Zm9vY",     /* ditto */
                "Z===",      /* three '=' */
                "====",      /* only padding */
                "Zg=a",      /* '=' before the end */
                "Zg==Zg==",  /* '=' in the middle (EVP_DecodeBlock took it as 'A') */
                "Zm9v\n",    /* whitespace */
                " Zm9vYmFy", /* leading whitespace */
                "Zm9v Zm9v", /* inner whitespace */
                "Zm9-",      /* URL alphabet */
                "Zm9_",
                "Zm9\x80",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint8_t *d = (uint8_t *) "untouched";
                size_t n = 5;
                assert_int_equal(vs_base64_decode(bad[i], 64, &d, &n), -EBADMSG);
                assert_string_equal((const char *) d, "untouched");
                assert_int_equal(n, 5);
        }
}

static void test_base64_limits(void **state) {
        uint8_t *d = NULL;
        size_t n = 0;
        assert_int_equal(vs_base64_decode("Zm9vYmFy", 6, &d, &n), 0); /* exactly max */
        free(d);
        d = NULL;
        assert_int_equal(vs_base64_decode("Zm9vYmFy", 5, &d, &n), -E2BIG);
        assert_int_equal(vs_base64_decode("Zm9vYg==", 4, &d, &n), 0); /* padding does not count */
        free(d);
        d = NULL;
        assert_int_equal(vs_base64_decode("Zm9vYg==", 3, &d, &n), -E2BIG);
        assert_null(d);
}

static void test_base64_secret(void **state) {
        struct vs_secret *in = NULL, *text = NULL, *back = NULL;
        assert_int_equal(vs_secret_from("fooba", 5, &in), 0);
        assert_int_equal(vs_base64_encode_secret(in, &text), 0);
        assert_int_equal(text->len, 8);
        assert_string_equal((const char *) text->data, "Zm9vYmE=");
        assert_int_equal(vs_base64_decode_secret((const char *) text->data, 5, &back), 0);
        assert_int_equal(back->len, 5);
        assert_int_equal(vs_secret_equal(in, back), 1);
        vs_secret_free(back);
        back = NULL;
        assert_int_equal(vs_base64_decode_secret("Zm9vYmE=", 4, &back), -E2BIG);
        assert_int_equal(vs_base64_decode_secret("Zm9vYmE", 5, &back), -EBADMSG);
        assert_int_equal(vs_base64_decode_secret("", 5, &back), -EBADMSG);
        assert_null(back);
        /* A 32-byte key's passphrase, as the kms kind makes it: 44 characters, one '='. */
        struct vs_secret *key = NULL;
        assert_int_equal(vs_secret_new(32, &key), 0);
        memset(key->data, 0xfb, 32);
        key->len = 32;
        vs_secret_free(text);
        assert_int_equal(vs_base64_encode_secret(key, &text), 0);
        assert_int_equal(text->len, 44);
        assert_int_equal(text->data[43], '=');
        assert_int_equal(text->data[44], 0);
        vs_secret_free(key);
        vs_secret_free(text);
        vs_secret_free(in);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hex_encode),
                cmocka_unit_test(test_hex_decode),
                cmocka_unit_test(test_hex_decode_refuses),
                cmocka_unit_test(test_hex_secret),
                cmocka_unit_test(test_base64_vectors),
                cmocka_unit_test(test_base64_refuses),
                cmocka_unit_test(test_base64_limits),
                cmocka_unit_test(test_base64_secret),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
