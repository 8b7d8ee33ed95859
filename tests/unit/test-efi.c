/* test-efi.c: src/efi.c through real libefivar on a directory of efivarfs-style files
 * (EFIVARFS_PATH=tests/unit/data/efivars/ is set by meson before the process starts): present, empty and
 * absent variables, SecureBoot/SetupMode as booleans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "efi.h"

static void test_read_vars(void **state) {
        (void) state;
        struct pcr_sb_vars v;
        assert_int_equal(vs_efi_read_secureboot_vars(&v), 0);
        assert_true(v.v[PCR_SB_SECUREBOOT].present);
        assert_int_equal(v.v[PCR_SB_SECUREBOOT].size, 1);
        assert_int_equal(v.v[PCR_SB_SECUREBOOT].data[0], 1);
        assert_true(v.v[PCR_SB_PK].present);
        assert_int_equal(v.v[PCR_SB_PK].size, 6);
        assert_memory_equal(v.v[PCR_SB_PK].data, "PKDATA", 6); /* the 4 attribute bytes are not data */
        assert_true(v.v[PCR_SB_KEK].present);
        assert_int_equal(v.v[PCR_SB_KEK].size, 0);
        assert_false(v.v[PCR_SB_DB].present);   /* absent is not an error */
        assert_false(v.v[PCR_SB_DBX].present);
        pcr_sb_vars_free(&v);
}

static void test_modes(void **state) {
        (void) state;
        bool sb = false, setup = true;
        assert_int_equal(vs_efi_read_modes(&sb, &setup), 0);
        assert_true(sb);
        assert_false(setup);
}

int main(void) {
        const char *p = getenv("EFIVARFS_PATH");
        if (!p || p[strlen(p) - 1] != '/')
                return 1; /* the test must run with the fixture directory */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_vars),
                cmocka_unit_test(test_modes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
