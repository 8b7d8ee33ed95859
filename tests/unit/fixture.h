/* fixture.h: what several cmocka unit tests share: a log sink keeping every message in fixture_log (for
 * cmocka_unit_test_setup_teardown) and assert_hex. Include after <cmocka.h>.
 * Promise: test support only (never linked into volseal); fixture_log keeps every message since
 * fixture_setup in order, one a line, up to its size (later ones are cut), so a test can assert on what
 * was logged. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The messages logged since fixture_setup (or since a test cleared it), one a line. */
extern char fixture_log[4096];

/* Clears fixture_log and routes vs_log into it. */
int fixture_setup(void **state);
/* Routes vs_log back to stderr. */
int fixture_teardown(void **state);

/* Fails the test unless the n bytes at p (n <= 64) are, in lowercase hex, want. */
void assert_hex(const uint8_t *p, size_t n, const char *want);
