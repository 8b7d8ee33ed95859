/* test-blk-partlabel.c: the PARTLABEL lookup's sysfs half (vs_blk_partname_lookup, src/blk.c) on a
 * /sys/class/block tree made here: a partition is found by the PARTNAME its uevent carries, whole disks and
 * names that merely start with the label are not, two partitions with one label give the first by name with
 * a warning, and an absent tree is -ENOENT (the caller then asks libblkid). The real kernel's files are read
 * in the VM suite, where STATE, EPHEMERAL and u-adi are found this way at boot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "fixture.h"

static char root[64];

static void uevent(const char *name, const char *text) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", root, name);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/%s/uevent", root, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int tree_setup(void **state) {
        snprintf(root, sizeof(root), "/tmp/vs-blk-XXXXXX");
        assert_non_null(mkdtemp(root));
        uevent("vda", "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\nDISKSEQ=9\n");
        uevent("vda1", "MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE=partition\nDISKSEQ=9\nPARTN=1\nPARTNAME=EFI\n");
        uevent("vda4", "MAJOR=254\nMINOR=4\nDEVNAME=vda4\nDEVTYPE=partition\nPARTN=4\nPARTNAME=META\n");
        uevent("vda5", "MAJOR=254\nMINOR=5\nDEVNAME=vda5\nDEVTYPE=partition\nPARTN=5\nPARTNAME=STATE-old\n");
        uevent("vdb", "MAJOR=254\nMINOR=16\nDEVNAME=vdb\nDEVTYPE=disk\nPARTNAME=STATE\n"); /* not a partition */
        uevent("vdc2", "MAJOR=254\nMINOR=34\nDEVNAME=vdc2\nDEVTYPE=partition\nPARTN=2\nPARTNAME=EPHEMERAL\n");
        uevent("vdc1", "MAJOR=254\nMINOR=33\nDEVNAME=vdc1\nDEVTYPE=partition\nPARTN=1\nPARTNAME=EPHEMERAL\n");
        uevent("loop0", "MAJOR=7\nMINOR=0\nDEVNAME=loop0\nDEVTYPE=disk\n");
        return fixture_setup(state);
}

static int tree_teardown(void **state) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
        return fixture_teardown(state);
}

static void test_found(void **state) {
        (void) state;
        char *dev = NULL;
        assert_int_equal(vs_blk_partname_lookup(root, "/dev", "META", &dev), 0);
        assert_string_equal(dev, "/dev/vda4");
        free(dev);
        assert_int_equal(vs_blk_partname_lookup(root, "/dev", "EFI", &dev), 0);
        assert_string_equal(dev, "/dev/vda1");
        free(dev);
}

static void test_not_found(void **state) {
        (void) state;
        char *dev = NULL;
        /* vdb is a whole disk; STATE-old is another label; "MET" is a prefix of one */
        assert_int_equal(vs_blk_partname_lookup(root, "/dev", "STATE", &dev), -ENODEV);
        assert_int_equal(vs_blk_partname_lookup(root, "/dev", "MET", &dev), -ENODEV);
        assert_null(dev);
}

static void test_two_with_one_label(void **state) {
        (void) state;
        char *dev = NULL;
        assert_int_equal(vs_blk_partname_lookup(root, "/dev", "EPHEMERAL", &dev), 0);
        assert_string_equal(dev, "/dev/vdc1");
        assert_non_null(strstr(fixture_log, "two partitions are labelled EPHEMERAL (/dev/vdc1 and /dev/vdc2)"));
        free(dev);
}

static void test_no_tree(void **state) {
        (void) state;
        char *dev = NULL;
        assert_int_equal(vs_blk_partname_lookup("/nonexistent/sys/class/block", "/dev", "META", &dev), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_found, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_not_found, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_two_with_one_label, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_no_tree, tree_setup, tree_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
