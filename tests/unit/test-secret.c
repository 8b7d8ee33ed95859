/* test-secret.c: secret buffers are wiped before their memory is returned, locked, never dumped. The
 * test links with -Wl,--wrap=munmap so it can look at the bytes at the moment they are unmapped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "secret.h"

int __real_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len);

static int unmapped_nonzero = -1;

int __wrap_munmap(void *addr, size_t len) {
        const uint8_t *p = addr;
        unmapped_nonzero = 0;
        for (size_t i = 0; i < len; i++)
                if (p[i])
                        unmapped_nonzero++;
        return __real_munmap(addr, len);
}

/* VmFlags of the mapping holding `p`, from /proc/self/smaps. */
static void vmflags_of(const void *p, char *out, size_t size) {
        FILE *f = fopen("/proc/self/smaps", "re");
        assert_non_null(f);
        char line[512];
        int in = 0;
        out[0] = 0;
        while (fgets(line, sizeof(line), f)) {
                unsigned long a, b;
                if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' '))
                        in = (uintptr_t) p >= a && (uintptr_t) p < b;
                else if (in && strncmp(line, "VmFlags:", 8) == 0) {
                        snprintf(out, size, "%s", line + 8);
                        break;
                }
        }
        fclose(f);
}

static void test_wiped_on_free(void **state) {
        struct vs_secret *s;
        assert_int_equal(vs_secret_from("correct horse battery staple", 28, &s), 0);
        assert_int_equal(s->len, 28);
        assert_memory_equal(s->data, "correct horse battery staple", 28);
        unmapped_nonzero = -1;
        vs_secret_free(s);
        assert_int_equal(unmapped_nonzero, 0);
}

static void test_wiped_on_grow(void **state) {
        struct vs_secret *s;
        assert_int_equal(vs_secret_new(4, &s), 0);
        assert_int_equal(vs_secret_append(s, "abcd", 4), 0);
        size_t cap = s->cap;
        char big[8192];
        memset(big, 'x', sizeof(big));
        unmapped_nonzero = -1;
        assert_int_equal(vs_secret_append(s, big, cap + 1), 0); /* forces a new mapping */
        assert_int_equal(unmapped_nonzero, 0);                  /* the old one was wiped */
        assert_int_equal(s->len, 4 + cap + 1);
        assert_memory_equal(s->data, "abcdxxxx", 8);
        assert_int_equal(s->data[s->len], 0);
        vs_secret_free(s);
}

static void test_clear_and_equal(void **state) {
        struct vs_secret *a, *b;
        assert_int_equal(vs_secret_from("same", 4, &a), 0);
        assert_int_equal(vs_secret_from("same", 4, &b), 0);
        assert_true(vs_secret_equal(a, b));
        b->data[3] = 'X';
        assert_false(vs_secret_equal(a, b));
        vs_secret_clear(a);
        assert_int_equal(a->len, 0);
        for (size_t i = 0; i <= a->cap; i++)
                assert_int_equal(a->data[i], 0);
        vs_secret_free(a);
        vs_secret_free(b);
        vs_secret_free(NULL);
}

static void test_locked_and_dontdump(void **state) {
        struct vs_secret *s;
        assert_int_equal(vs_secret_new(32, &s), 0);
        char flags[512];
        vmflags_of(s->data, flags, sizeof(flags));
        assert_non_null(strstr(flags, " dd")); /* MADV_DONTDUMP */
#ifndef __SANITIZE_ADDRESS__
        /* AddressSanitizer intercepts mlock() and makes it a no-op, so only the plain build can check it. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 65536))
                assert_non_null(strstr(flags, " lo")); /* mlock()ed */
#endif
        vs_secret_free(s);
}

static void test_process_harden(void **state) {
        assert_int_equal(vs_process_harden(), 0);
        struct rlimit rl;
        assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
        assert_int_equal(rl.rlim_cur, 0);
        assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wiped_on_free),
                cmocka_unit_test(test_wiped_on_grow),
                cmocka_unit_test(test_clear_and_equal),
                cmocka_unit_test(test_locked_and_dontdump),
                cmocka_unit_test(test_process_harden),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
