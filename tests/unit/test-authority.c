/* test-authority.c: the write authority file on STATE (src/authority.c): written atomically with mode 0600,
 * created once (never overwriting), replaced only on purpose, read back to the same key; every malformed
 * file is refused with PATH:LINE:COL and its cause, and nothing is written then. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authority.h"
#include "fixture.h"
#include "util.h"

/* PKCS#8 of the ECC test key of test-authnv.c, and of an RSA key (refused: not P-256). */
#define EC_KEY_B64 "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgteEzU6xzf12MI62ihnjM7DkTH+Ysfez4kUCFS+3elmShRANCAATp" \
                   "XrxAHGWNrjICn7Wc1ExjBJisz2ALhWbiy6VPGw8LQExQyUwZrSragzYspUN6rvIkfpmV+M7GHEUbX3yQvyGv"
static const char ec_key_name[] = "000b6bc6b62b40f376bde900d202c071740c0c49b0e6af568f13f239b02c18a9a76a";

static char dir[64];

static int setup(void **state) {
        snprintf(dir, sizeof(dir), "/tmp/test-authority.XXXXXX");
        assert_non_null(mkdtemp(dir));
        return fixture_setup(state);
}

static int teardown(void **state) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        return fixture_teardown(state);
}

static char *file_path(void) {
        static char p[128];
        snprintf(p, sizeof(p), "%s/%s", dir, VS_AUTHORITY_FILE);
        return p;
}

static void test_parse_known(void **state) {
        static const char text[] = "# comment\nversion: 1\nnv_index: 0x01805600\n\nwrite_key: " EC_KEY_B64 "\n";
        struct vs_authority a;
        assert_int_equal(vs_authority_parse("F", (const uint8_t *) text, strlen(text), &a), 0);
        assert_int_equal(a.nv_index, 0x01805600);
        TPM2B_NAME n;
        assert_int_equal(vs_authority_key_name(&a, &n), 0);
        assert_hex(n.name, 34, ec_key_name);
        /* formatted and parsed again: the same key and handle */
        _cleanup_secret_ struct vs_secret *out = NULL;
        struct vs_authority b;
        assert_int_equal(vs_authority_format(&a, &out), 0);
        assert_non_null(strstr((const char *) out->data, "\nversion: 1\nnv_index: 0x01805600\nwrite_key: "));
        assert_int_equal(vs_authority_parse("F", out->data, out->len, &b), 0);
        assert_int_equal(b.nv_index, 0x01805600);
        assert_int_equal(EVP_PKEY_eq(a.write_key, b.write_key), 1);
        vs_authority_done(&a);
        vs_authority_done(&b);
}

static void test_parse_refuses(void **state) {
        static const struct {
                const char *text, *message;
        } cases[] = {
                { "", "F: the file is empty" },
                { "version: 1\nnv_index: 0x01805600\nwrite_key: " EC_KEY_B64, "F: the last line has no newline" },
                { "version: 1\nnv_index: 0x01805600\n", "F: write_key is missing" },
                { "nv_index: 0x01805600\nwrite_key: " EC_KEY_B64 "\n", "F: version is missing" },
                { "version: 2\n", "F:1:10: version is not 1" },
                { "version: 1\nversion: 1\n", "F:2:1: version given twice" },
                { "version: 1\nhandle: 1\n", "F:2:1: unknown field" },
                { "version:1\n", "F:1:1: not a 'name: value' line" },
                { "version: 1\nnv_index: 0x81000001\n", "F:2:11: nv_index is not 0x followed by 8 hex digits" },
                { "version: 1\nnv_index: 0x0180560\n", "F:2:11: nv_index is not" },
                { "version: 1\nnv_index: 0x01805600 \n", "F:2:11: nv_index is not" },
                { "version: 1\nnv_index: 0x01805600\nwrite_key: abc\n", "F:3:12: write_key is not the base64 PKCS#8" },
                { "version: 1\nnv_index: 0x01805600\nwrite_key: " EC_KEY_B64 "=\n", "F:3:12: write_key is not" },
                /* valid base64 of a valid key, cut short */
                { "version: 1\nnv_index: 0x01805600\nwrite_key: MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEH\n",
                  "F:3:12: write_key is not" },
                /* a P-384 key (from openssl genpkey) is refused: the TPM is asked for P-256 */
                { "version: 1\nnv_index: 0x01805600\nwrite_key: MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDAgxxF+CKx"
                  "HU6R97scv8G5vBruRNfYRhgp+Yr11QPJT3kr485oLYAFACDvtenhyvDKhZANiAARVfC5/9ingkAbKF4xGwFEvgxajRVFOd"
                  "icXyQqo0qtGLo7A7rqITVVKiJ7x/tEtR0RL46ofcbQ3Mc204M+Z8RZF05QKms9eOt7w4P8QPEZv/gjSlVimFy09C+ONYkSj"
                  "kdU=\n", "F:3:12: write_key is not" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct vs_authority a;
                fixture_log[0] = 0;
                assert_int_equal(vs_authority_parse("F", (const uint8_t *) cases[i].text, strlen(cases[i].text), &a),
                                 -EBADMSG);
                if (!strstr(fixture_log, cases[i].message))
                        fail_msg("case %zu: '%s' not in '%s'", i, cases[i].message, fixture_log);
        }
}

static void test_files(void **state) {
        struct vs_authority a, b, c;
        struct stat st;
        assert_int_equal(vs_authority_load(dir, &a), -ENOENT);
        assert_int_equal(vs_authority_create(dir, 0x01805601, &a), 0);
        assert_int_equal(stat(file_path(), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(vs_authority_load(dir, &b), 0);
        assert_int_equal(b.nv_index, 0x01805601);
        assert_int_equal(EVP_PKEY_eq(a.write_key, b.write_key), 1);
        vs_authority_done(&b);

        /* created once: a second create neither overwrites nor leaves its temporary file */
        assert_int_equal(vs_authority_create(dir, 0x01805602, &c), -EEXIST);
        assert_int_equal(vs_authority_load(dir, &b), 0);
        assert_int_equal(b.nv_index, 0x01805601);
        assert_int_equal(EVP_PKEY_eq(a.write_key, b.write_key), 1);
        vs_authority_done(&b);
        char pattern[160];
        glob_t g;
        snprintf(pattern, sizeof(pattern), "%s/*%s*", dir, VS_AUTHORITY_FILE);
        assert_int_equal(glob(pattern, 0, NULL, &g), 0);
        assert_int_equal(g.gl_pathc, 1); /* the file itself, no temporary file */
        globfree(&g);

        /* replaced on purpose: the same key at another handle */
        a.nv_index = 0x01805603;
        assert_int_equal(vs_authority_save(dir, &a), 0);
        assert_int_equal(vs_authority_load(dir, &b), 0);
        assert_int_equal(b.nv_index, 0x01805603);
        assert_int_equal(stat(file_path(), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        vs_authority_done(&b);

        /* a malformed file is refused, naming it, and stays as it is */
        FILE *f = fopen(file_path(), "w");
        fputs("version: 1\nnv_index: 0x01805600\n", f);
        fclose(f);
        fixture_log[0] = 0;
        assert_int_equal(vs_authority_load(dir, &b), -EBADMSG);
        assert_non_null(strstr(fixture_log, VS_AUTHORITY_FILE ": write_key is missing"));

        /* never through a symlink */
        assert_int_equal(vs_authority_remove(dir), 0);
        assert_int_equal(vs_authority_remove(dir), 0);
        assert_int_equal(symlink("/etc/hostname", file_path()), 0);
        assert_true(vs_authority_load(dir, &b) < 0);
        assert_int_equal(vs_authority_create(dir, 0x01805600, &c), -EEXIST);
        vs_authority_done(&a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_parse_known, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_refuses, setup, teardown),
                cmocka_unit_test_setup_teardown(test_files, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
