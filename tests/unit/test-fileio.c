/* test-fileio.c: src/fileio.c on real files in a scratch folder: whole reads up to and over the limit,
 * reads of pipes (no size known up front), the secret variant, atomic writes (mode exactly as asked, the old
 * file kept when a write fails, no temporary file left behind), VS_WRITE_NO_REPLACE and in-place writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "secret.h"

static char dir[] = "/tmp/test-fileio-XXXXXX";

static char *path_in(const char *name) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void put(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

/* How many entries the scratch folder holds. */
static int entries(void) {
        DIR *d = opendir(dir);
        assert_non_null(d);
        int n = 0;
        for (struct dirent *e; (e = readdir(d));)
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static void test_read_limits(void **state) {
        char *p = path_in("r"), *buf = NULL;
        size_t n = 0;
        put(p, "0123456789");
        assert_int_equal(vs_read_file(p, 0, 10, &buf, &n), 0); /* exactly max */
        assert_int_equal(n, 10);
        assert_string_equal(buf, "0123456789");
        free(buf);
        buf = NULL;
        assert_int_equal(vs_read_file(p, 0, 9, &buf, &n), -EFBIG);
        assert_null(buf);
        put(p, "");
        assert_int_equal(vs_read_file(p, 0, 9, &buf, &n), 0);
        assert_int_equal(n, 0);
        assert_string_equal(buf, "");
        free(buf);
        buf = NULL;
        assert_int_equal(vs_read_file(p, 0, SIZE_MAX, &buf, &n), -EINVAL);
        unlink(p);
        assert_int_equal(vs_read_file(p, 0, 9, &buf, &n), -ENOENT);
        free(p);
}

static void test_read_nofollow(void **state) {
        char *p = path_in("target"), *l = path_in("link"), *buf = NULL;
        size_t n;
        put(p, "x");
        assert_int_equal(symlink(p, l), 0);
        assert_int_equal(vs_read_file(l, 0, 9, &buf, &n), 0);
        free(buf);
        buf = NULL;
        assert_int_equal(vs_read_file(l, O_NOFOLLOW, 9, &buf, &n), -ELOOP);
        unlink(l);
        unlink(p);
        free(l);
        free(p);
}

/* A pipe has no size: the buffer grows, up to max and not beyond. */
static void test_read_pipe(void **state) {
        for (size_t max = 8191; max <= 8193; max++) {
                int fds[2];
                assert_int_equal(pipe(fds), 0);
                char chunk[8192];
                memset(chunk, 'p', sizeof(chunk));
                assert_int_equal(write(fds[1], chunk, sizeof(chunk)), (ssize_t) sizeof(chunk));
                close(fds[1]);
                char *buf = NULL;
                size_t n = 0;
                int r = vs_read_fd(fds[0], max, &buf, &n);
                close(fds[0]);
                if (max < sizeof(chunk)) {
                        assert_int_equal(r, -EFBIG);
                        continue;
                }
                assert_int_equal(r, 0);
                assert_int_equal(n, sizeof(chunk));
                assert_memory_equal(buf, chunk, n);
                assert_int_equal(buf[n], 0);
                free(buf);
        }
}

static void test_read_secret(void **state) {
        char *p = path_in("s");
        put(p, "diskSalt: secret\n");
        struct vs_secret *s = NULL;
        assert_int_equal(vs_read_file_secret(p, O_NOFOLLOW, 17, &s), 0);
        assert_int_equal(s->len, 17);
        assert_string_equal((const char *) s->data, "diskSalt: secret\n");
        vs_secret_free(s);
        s = NULL;
        assert_int_equal(vs_read_file_secret(p, 0, 16, &s), -EFBIG);
        assert_null(s);
        unlink(p);
        assert_int_equal(vs_read_file_secret(p, 0, 16, &s), -ENOENT);
        free(p);
}

static void test_write_atomic(void **state) {
        char *p = path_in("w"), *buf = NULL;
        size_t n;
        mode_t old = umask(077);
        assert_int_equal(vs_write_file_atomic(p, "first", 5, 0644, 0), 0);
        umask(old);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644); /* not masked */
        assert_int_equal(vs_write_file_atomic(p, "second", 6, 0600, 0), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(vs_read_file(p, 0, 64, &buf, &n), 0);
        assert_string_equal(buf, "second");
        free(buf);
        assert_int_equal(entries(), 1); /* no temporary file left */
        /* Relative paths sync the current folder. */
        char cwd[4096];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(dir), 0);
        assert_int_equal(vs_write_file_atomic("w", "third", 5, 0600, 0), 0);
        assert_int_equal(chdir(cwd), 0);
        assert_int_equal(vs_read_file(p, 0, 64, &buf, &n), 0);
        assert_string_equal(buf, "third");
        free(buf);
        unlink(p);
        free(p);
}

static void test_write_no_replace(void **state) {
        char *p = path_in("salt"), *buf = NULL;
        size_t n;
        assert_int_equal(vs_write_file_atomic(p, "one", 3, 0600, VS_WRITE_NO_REPLACE), 0);
        assert_int_equal(vs_write_file_atomic(p, "two", 3, 0600, VS_WRITE_NO_REPLACE), -EEXIST);
        assert_int_equal(vs_read_file(p, 0, 64, &buf, &n), 0);
        assert_string_equal(buf, "one");
        free(buf);
        assert_int_equal(entries(), 1);
        unlink(p);
        free(p);
}

/* In place: through a symlink (the link stays), truncating, with exactly the mode asked for. */
static void test_write_in_place(void **state) {
        char *p = path_in("out"), *l = path_in("out-link"), *buf = NULL;
        size_t n;
        put(p, "a longer old text");
        assert_int_equal(symlink(p, l), 0);
        mode_t old = umask(077);
        assert_int_equal(vs_write_file(l, "new", 3, 0644), 0);
        umask(old);
        struct stat st;
        assert_int_equal(lstat(l, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(vs_read_file(p, 0, 64, &buf, &n), 0);
        assert_string_equal(buf, "new");
        free(buf);
        assert_int_equal(vs_write_file(dir, "x", 1, 0600), -EISDIR);
        unlink(l);
        unlink(p);
        free(l);
        free(p);
}

/* A failed write leaves the old file and nothing else: here the target is a folder rename cannot replace. */
static void test_write_fails_cleanly(void **state) {
        char *p = path_in("d"), *missing = path_in("no/such/file");
        assert_int_equal(mkdir(p, 0700), 0);
        char *inner = path_in("d/keep");
        put(inner, "kept");
        assert_int_equal(vs_write_file_atomic(p, "x", 1, 0600, 0), -EISDIR);
        assert_int_equal(entries(), 1);
        assert_int_equal(vs_write_file_atomic(missing, "x", 1, 0600, 0), -ENOENT);
        unlink(inner);
        rmdir(p);
        free(inner);
        free(missing);
        free(p);
}

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        return rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_limits),
                cmocka_unit_test(test_read_nofollow),
                cmocka_unit_test(test_read_pipe),
                cmocka_unit_test(test_read_secret),
                cmocka_unit_test(test_write_atomic),
                cmocka_unit_test(test_write_no_replace),
                cmocka_unit_test(test_write_fails_cleanly),
                cmocka_unit_test(test_write_in_place),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
