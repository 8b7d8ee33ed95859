/* fixture.c: the shared log capture and hex assertion of the cmocka unit tests (see fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "policy.h"
#include "src/log.h"

char fixture_log[4096];

static void capture(enum vs_log_level level, const char *msg, void *ud) {
        (void) ud;
        (void) level;
        size_t n = strlen(fixture_log);
        snprintf(fixture_log + n, sizeof(fixture_log) - n, "%s\n", msg);
}

int fixture_setup(void **state) {
        (void) state;
        fixture_log[0] = 0;
        vs_log_set_sink(capture, NULL);
        return 0;
}

int fixture_teardown(void **state) {
        (void) state;
        vs_log_set_sink(NULL, NULL);
        return 0;
}

void assert_hex(const uint8_t *p, size_t n, const char *want) {
        char got[2 * 64 + 1];
        assert_true(n <= 64);
        policy_hex(p, n, got);
        assert_string_equal(got, want);
}
