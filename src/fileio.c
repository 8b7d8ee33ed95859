/* fileio.c: see fileio.h. */
#include "fileio.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>

/* The buffer's first size: the file's size when fstat knows it, else a page (pipes; sysfs, securityfs and
 * efivarfs files say 0); never above max + 1. */
static size_t first_size(int fd, size_t max) {
        struct stat st;
        size_t want = 4096;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
                want = (size_t) st.st_size + 1;
        return want < max + 1 ? want : max + 1;
}

/* Reads into buf until size bytes are there or the file ends; *ret_n < size means it ended. */
static int read_up_to(int fd, void *buf, size_t size, size_t *ret_n) {
        size_t n = 0;
        while (n < size) {
                ssize_t k = read(fd, (uint8_t *) buf + n, size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        *ret_n = n;
        return 0;
}

int vs_read_fd(int fd, size_t max, char **ret, size_t *ret_len) {
        if (max > SIZE_MAX / 4)
                return -EINVAL;
        size_t cap = first_size(fd, max), len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                size_t n;
                int r = read_up_to(fd, buf + len, cap - len, &n);
                if (r < 0)
                        return r;
                len += n;
                if (len < cap)
                        break; /* the end of the file */
                if (cap > max)
                        return -EFBIG;
                size_t next = cap > max / 2 ? max + 1 : 2 * cap;
                char *b = realloc(buf, next + 1);
                if (!b)
                        return -ENOMEM;
                buf = b;
                cap = next;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int vs_read_file(const char *path, int open_flags, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | open_flags);
        if (fd < 0)
                return -errno;
        return vs_read_fd(fd, max, ret, ret_len);
}

int vs_read_file_secret(const char *path, int open_flags, size_t max, struct vs_secret **ret) {
        if (max > SIZE_MAX / 4)
                return -EINVAL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | open_flags);
        if (fd < 0)
                return -errno;
        _cleanup_secret_ struct vs_secret *s = NULL;
        int r = vs_secret_new(max + 1, &s);
        if (r < 0)
                return r;
        r = read_up_to(fd, s->data, max + 1, &s->len);
        if (r < 0)
                return r;
        if (s->len > max)
                return -EFBIG;
        s->data[s->len] = 0;
        *ret = TAKE_PTR(s);
        return 0;
}

static int write_all(int fd, const void *data, size_t len) {
        const uint8_t *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int vs_sync_folder_of(const char *path) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0 && errno != EINVAL)
                return -errno;
        return 0;
}

/* The temporary file's contents, mode and fsync; closed on every path. */
static int fill_tmp(int fd, const void *data, size_t len, mode_t mode) {
        _cleanup_close_ int f = fd;
        int r = write_all(f, data, len);
        if (r < 0)
                return r;
        if (fchmod(f, mode) < 0 || fsync(f) < 0)
                return -errno;
        if (close(TAKE_FD(f)) < 0)
                return -errno;
        return 0;
}

int vs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
                return -ENOMEM;
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fill_tmp(fd, data, len, mode);
        if (r >= 0 && (flags & VS_WRITE_NO_REPLACE ? link(tmp, path) : rename(tmp, path)) < 0)
                r = -errno;
        bool placed = r >= 0 && !(flags & VS_WRITE_NO_REPLACE);
        if (!placed)
                (void) unlink(tmp);
        if (r < 0)
                return r;
        r = vs_sync_folder_of(path);
        /* A new name whose folder did not reach the disk may vanish in a power cut: nothing may rely on it
         * (a keyslot made with a lockToSTATE salt), so the new file goes, and a later call writes it again. */
        if (r < 0 && (flags & VS_WRITE_NO_REPLACE))
                (void) unlink(path);
        return r;
}

int vs_write_file(const char *path, const void *data, size_t len, mode_t mode) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode) < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r < 0)
                return r;
        if (close(TAKE_FD(fd)) < 0)
                return -errno;
        return 0;
}
