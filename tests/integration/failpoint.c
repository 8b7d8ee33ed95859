/* failpoint.c: the power-loss failpoint layer of tests/lib/powerloss.sh (docs/security.md), loaded with LD_PRELOAD.
 * It sits between volseal (and the libraries it uses: libcryptsetup writes its headers and keyslots with
 * write/fsync/fdatasync/posix_fallocate) and libc, and counts every write-class call on the files named in
 * VS_FAILPOINT_FILES (colon-separated; matched by device and inode, so any path or fd to them counts).
 *   VS_FAILPOINT_LOG=FILE   each counted call is appended as "<syscall name>" before it runs
 *   VS_FAILPOINT_KILL=N     the Nth counted call is not made: the process kills itself with SIGKILL first
 *                           (its log line is "<name> ?"), which is what a power cut right before it leaves.
 * Same model as `strace -e inject=SYSCALL:signal=KILL:when=N`, which powerloss.sh uses to cross-check the
 * recorded sequence, at a fraction of strace's cost (strace stops at every one of volseal's ~9000 reads).
 * The names logged are the syscalls strace would show, so the two sequences compare line by line. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FILES 8

static struct {
        dev_t dev;
        ino_t ino;
} files[MAX_FILES];
static size_t n_files;
static int log_fd = -1;
static unsigned long kill_at;
static atomic_ulong counted;

static ssize_t (*real_write)(int, const void *, size_t);

__attribute__((constructor)) static void failpoint_init(void) {
        real_write = (ssize_t (*)(int, const void *, size_t)) dlsym(RTLD_NEXT, "write");
        const char *list = getenv("VS_FAILPOINT_FILES");
        if (list) {
                char *copy = strdup(list), *save = NULL;
                for (char *p = copy ? strtok_r(copy, ":", &save) : NULL; p && n_files < MAX_FILES; p = strtok_r(NULL, ":", &save)) {
                        struct stat st;
                        if (stat(p, &st) == 0) {
                                files[n_files].dev = st.st_dev;
                                files[n_files].ino = st.st_ino;
                                n_files++;
                        }
                }
                free(copy);
        }
        const char *log = getenv("VS_FAILPOINT_LOG");
        if (log)
                log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        const char *k = getenv("VS_FAILPOINT_KILL");
        if (k)
                kill_at = strtoul(k, NULL, 10);
}

static void note(const char *name, const char *suffix) {
        if (log_fd < 0 || !real_write)
                return;
        char line[64];
        int n = snprintf(line, sizeof(line), "%s%s\n", name, suffix);
        if (n > 0)
                (void) !real_write(log_fd, line, (size_t) n);
}

/* Before a write-class call on fd: counts it when fd is one of the files; dies at the chosen one. */
static void failpoint(int fd, const char *name) {
        if (n_files == 0 || fd < 0 || fd == log_fd)
                return;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return;
        size_t i = 0;
        while (i < n_files && !(files[i].dev == st.st_dev && files[i].ino == st.st_ino))
                i++;
        if (i == n_files)
                return;
        unsigned long n = atomic_fetch_add(&counted, 1) + 1;
        if (kill_at && n == kill_at) {
                note(name, " ?");
                raise(SIGKILL);
        }
        note(name, "");
}

#define NEXT(fn) ((__typeof__(&fn)) dlsym(RTLD_NEXT, #fn))

ssize_t write(int fd, const void *buf, size_t len) {
        failpoint(fd, "write");
        return real_write ? real_write(fd, buf, len) : NEXT(write)(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) {
        failpoint(fd, "pwrite64");
        return NEXT(pwrite)(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off) {
        failpoint(fd, "pwrite64");
        return NEXT(pwrite64)(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n) {
        failpoint(fd, "writev");
        return NEXT(writev)(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off) {
        failpoint(fd, "pwritev");
        return NEXT(pwritev)(fd, iov, n, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off) {
        failpoint(fd, "pwritev");
        return NEXT(pwritev64)(fd, iov, n, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags) {
        failpoint(fd, "pwritev2");
        return NEXT(pwritev2)(fd, iov, n, off, flags);
}

int fsync(int fd) {
        failpoint(fd, "fsync");
        return NEXT(fsync)(fd);
}

int fdatasync(int fd) {
        failpoint(fd, "fdatasync");
        return NEXT(fdatasync)(fd);
}

int sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags) {
        failpoint(fd, "sync_file_range");
        return NEXT(sync_file_range)(fd, off, len, flags);
}

int fallocate(int fd, int mode, off_t off, off_t len) {
        failpoint(fd, "fallocate");
        return NEXT(fallocate)(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len) {
        failpoint(fd, "fallocate");
        return NEXT(fallocate64)(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len) {
        failpoint(fd, "fallocate");
        return NEXT(posix_fallocate)(fd, off, len);
}

int posix_fallocate64(int fd, off64_t off, off64_t len) {
        failpoint(fd, "fallocate");
        return NEXT(posix_fallocate64)(fd, off, len);
}

int ftruncate(int fd, off_t len) {
        failpoint(fd, "ftruncate");
        return NEXT(ftruncate)(fd, len);
}

int ftruncate64(int fd, off64_t len) {
        failpoint(fd, "ftruncate");
        return NEXT(ftruncate64)(fd, len);
}

ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off, size_t len, unsigned int flags) {
        failpoint(out, "copy_file_range");
        return NEXT(copy_file_range)(in, in_off, out, out_off, len, flags);
}
