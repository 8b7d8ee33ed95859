/* test-recovery-key.c: the recovery key in systemd's format (src/recovery-key.c): vectors of the formatting
 * (computed independently from systemd's definition: modhex "cbdefghijklnrtuv", high nibble first, a dash
 * after every 8 characters), what a typed key is normalised to, what is refused (and that the message never
 * carries the key), and generated keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "fixture.h"
#include "recovery-key.h"
#include "util.h"

static const char key_0_31[] = "cccbcdce-cfcgchci-cjckclcn-crctcucv-bcbbbdbe-bfbgbhbi-bjbkblbn-brbtbubv";

static void test_format(void **state) {
        uint8_t raw[32];
        for (int i = 0; i < 32; i++)
                raw[i] = (uint8_t) i;
        _cleanup_secret_ struct vs_secret *k = NULL, *back = NULL;
        assert_int_equal(vs_recovery_key_format(raw, &k), 0);
        assert_int_equal(k->len, VS_RECOVERY_KEY_LENGTH);
        assert_string_equal((const char *) k->data, key_0_31);
        assert_int_equal(vs_recovery_key_decode(k, &back), 0);
        assert_int_equal(back->len, 32);
        assert_memory_equal(back->data, raw, 32);

        vs_secret_free(TAKE_PTR(k));
        memset(raw, 0xff, 16);
        memset(raw + 16, 0x5a, 16);
        assert_int_equal(vs_recovery_key_format(raw, &k), 0);
        assert_string_equal((const char *) k->data,
                            "vvvvvvvv-vvvvvvvv-vvvvvvvv-vvvvvvvv-glglglgl-glglglgl-glglglgl-glglglgl");
}

static void expect_normal(const char *typed) {
        _cleanup_secret_ struct vs_secret *k = NULL;
        assert_int_equal(vs_recovery_key_normalize(typed, strlen(typed), &k), 0);
        assert_string_equal((const char *) k->data, key_0_31);
}

static void test_normalize(void **state) {
        char upper[sizeof(key_0_31)], bare[65] = "";
        size_t n = 0;
        for (size_t i = 0; i < sizeof(key_0_31); i++)
                upper[i] = (char) toupper((unsigned char) key_0_31[i]);
        for (const char *p = key_0_31; *p; p++)
                if (*p != '-')
                        bare[n++] = *p;
        expect_normal(key_0_31);
        expect_normal(upper);
        expect_normal(bare);
        expect_normal("  cccbcdce-cfcgchci-cjckclcn-crctcucv-bcbbbdbe-bfbgbhbi-bjbkblbn-brbtbubv\n");
        expect_normal("CCCBCDCE-cfcgchci-CJCKclcn-crctcucv-bcbbbdbe-bfbgbhbi-bjbkblbn-brbtbubv");
}

static void expect_refused(const char *typed, const char *message) {
        _cleanup_secret_ struct vs_secret *k = NULL;
        fixture_log[0] = 0;
        assert_int_equal(vs_recovery_key_normalize(typed, strlen(typed), &k), -EINVAL);
        assert_null(k);
        if (!strstr(fixture_log, message))
                fail_msg("'%s' not in '%s'", message, fixture_log);
        /* the message names positions, never the characters typed */
        assert_null(strstr(fixture_log, "cccbcdce"));
        assert_null(strstr(fixture_log, "crctcucv"));
}

static void test_refused(void **state) {
        expect_refused("", "has 0 characters");
        expect_refused("cccbcdce-cfcgchci-cjckclcn-crctcucv-bcbbbdbe-bfbgbhbi-bjbkblbn-brbtbub", "has 70 characters");
        /* a dash in the wrong place (the length is right) */
        expect_refused("cccbcdc-ecfcgchci-cjckclcn-crctcucv-bcbbbdbe-bfbgbhbi-bjbkblbn-brbtbubv", "no dash at position 9");
        /* hex is not modhex: 'a' is not in the alphabet */
        expect_refused("cccbcdce-cfcgchci-cjckclcn-crctcucv-bcbbbdbe-bfbgbhbi-bjbkblbn-brbtbuba",
                       "character at position 71 is not one of");
        expect_refused("cccbcdce cfcgchci cjckclcn crctcucv bcbbbdbe bfbgbhbi bjbkblbn brbtbubv", "no dash at position 9");
        expect_refused("cccbcdcecfcgchcicjckclcncrctcucvbcbbbdbebfbgbhbibjbkblbnbrbtbub0", "position 64 is not one of");
}

static void test_generate(void **state) {
        _cleanup_secret_ struct vs_secret *a = NULL, *b = NULL, *c = NULL, *n = NULL;
        const uint8_t extra[4] = { 1, 2, 3, 4 };
        assert_int_equal(vs_recovery_key_generate(NULL, 0, &a), 0);
        assert_int_equal(vs_recovery_key_generate(NULL, 0, &b), 0);
        assert_int_equal(vs_recovery_key_generate(extra, sizeof(extra), &c), 0);
        assert_int_equal(a->len, VS_RECOVERY_KEY_LENGTH);
        assert_int_equal(c->len, VS_RECOVERY_KEY_LENGTH);
        assert_int_not_equal(vs_secret_equal(a, b), 1);
        assert_int_equal(vs_recovery_key_normalize((const char *) a->data, a->len, &n), 0);
        assert_true(vs_secret_equal(a, n));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_format, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_normalize, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_refused, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_generate, fixture_setup, fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
