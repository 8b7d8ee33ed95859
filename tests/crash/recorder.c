/* recorder.c: the write recorder of the crash-consistency test (tests/lib/crash.sh), loaded with LD_PRELOAD.
 * It sits between volseal (and the libraries it loads: libcryptsetup, libblkid) and libc, and logs in
 * order every call that changes or flushes a watched object, once the call returned:
 *   VS_REC_OBJECTS=NAME=PATH;...  the watched objects: a PATH that is a file or block device is an image
 *                                 (matched by device and inode, so any path or fd to it counts); a PATH that
 *                                 is a directory is watched at file level: the files in it (by inode) and
 *                                 its entries (create, link, rename, unlink) and its own fsync
 *   VS_REC_LOG=FILE               one line per call (format below), appended
 *   VS_REC_DATA=FILE              the bytes each write put on an object, appended; the log gives offsets
 * Log lines (OBJ is img:NAME, file:NAME:INODE for a file in watched directory NAME, or dir:NAME):
 *   open OBJ FLAGS                       an image or watched file opened for writing (FLAGS: direct, sync,
 *                                        dsync, trunc, creat joined by commas, or -)
 *   write OBJ OFFSET LEN DATAOFF FLAGS   LEN bytes at OFFSET, kept at DATAOFF in the data file (-1: all
 *                                        zero, not kept); FLAGS: direct (an O_DIRECT fd), sync (O_SYNC,
 *                                        O_DSYNC or RWF_*SYNC: durable when the call returned), or -
 *   fsync OBJ | fdatasync OBJ            flushes (of an image, a file or a directory)
 *   fsync-failed OBJ                     an fsync/fdatasync made to fail (VS_REC_FAIL_FSYNC=OBJ, e.g.
 *                                        dir:STATEDIR): EIO, nothing flushed
 *   sync_file_range OBJ OFFSET LEN FLAGS logged; not a flush (it starts writeback, it flushes no cache)
 *   sync                                 sync() or syncfs(): everything durable
 *   truncate OBJ LEN [open] | zero OBJ OFFSET LEN    ftruncate (or O_TRUNC: "open"); fallocate punch/zero
 *                                        range, BLKZEROOUT, BLKDISCARD
 *   allocate OBJ OFFSET LEN              fallocate/posix_fallocate: the size may grow (zeros)
 *   creat DIR NAME INODE | link DIR NAME INODE | unlink DIR NAME INODE | rename DIR FROM TO INODE
 *   unsupported WHAT DIR                 a rename across directories, or an rmdir, in a watched directory:
 *                                        the generator refuses the log
 * What it cannot see, said plainly: a raw syscall(SYS_write, ...), libc's internal calls (stdio's buffered
 * writes go to libc's __write, not to write()), writes through a shared mapping, copy_file_range,
 * sendfile, splice, and mkdir (not interposed: the ASan runtime calls mkdir before any library can ask
 * dlsym for the next one). tests/lib/crash.sh therefore runs each recorded operation once more under
 * strace and requires the same sequence of write, flush and directory calls on the watched objects, and
 * none of those: a write that bypasses this layer fails the test. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_OBJECTS 16
#define MAX_INODES 256

struct object {
        char name[64];
        dev_t dev;
        ino_t ino;
        bool dir;
        ino_t files[MAX_INODES]; /* a directory: the inodes of its regular files */
        size_t n_files;
};

static struct object objects[MAX_OBJECTS];
static size_t n_objects;
static int log_fd = -1, data_fd = -1;
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

#define NEXT(fn) ((__typeof__(&fn)) dlsym(RTLD_NEXT, #fn))

static ssize_t raw_write(int fd, const void *buf, size_t len) {
        static ssize_t (*real)(int, const void *, size_t);
        if (!real)
                real = NEXT(write);
        return real(fd, buf, len);
}

static void dir_add_file(struct object *o, ino_t ino) {
        for (size_t i = 0; i < o->n_files; i++)
                if (o->files[i] == ino)
                        return;
        if (o->n_files < MAX_INODES)
                o->files[o->n_files++] = ino;
}

static void scan_dir(struct object *o, const char *path) {
        DIR *d = opendir(path);
        if (!d)
                return;
        struct dirent *e;
        struct stat st;
        while ((e = readdir(d)))
                if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                        dir_add_file(o, st.st_ino);
        closedir(d);
}

__attribute__((constructor)) static void recorder_init(void) {
        const char *list = getenv("VS_REC_OBJECTS"), *log = getenv("VS_REC_LOG"), *data = getenv("VS_REC_DATA");
        if (!list || !log || !data)
                return;
        char *copy = strdup(list), *save = NULL;
        for (char *p = copy ? strtok_r(copy, ";", &save) : NULL; p && n_objects < MAX_OBJECTS; p = strtok_r(NULL, ";", &save)) {
                char *eq = strchr(p, '=');
                struct stat st;
                if (!eq || stat(eq + 1, &st) < 0)
                        continue;
                *eq = 0;
                struct object *o = &objects[n_objects++];
                snprintf(o->name, sizeof(o->name), "%s", p);
                o->dev = st.st_dev;
                o->ino = st.st_ino;
                o->dir = S_ISDIR(st.st_mode);
                if (o->dir)
                        scan_dir(o, eq + 1);
        }
        free(copy);
        log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        data_fd = open(data, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* ---- which object an fd or a path is ---- */

enum kind { NONE, IMAGE, FILE_IN_DIR, DIRECTORY };

struct target {
        enum kind kind;
        struct object *o;
        ino_t ino;
};

static struct target classify_stat(const struct stat *st) {
        for (size_t i = 0; i < n_objects; i++) {
                struct object *o = &objects[i];
                if (o->dev == st->st_dev && o->ino == st->st_ino)
                        return (struct target) { o->dir ? DIRECTORY : IMAGE, o, st->st_ino };
                if (!o->dir || o->dev != st->st_dev || !S_ISREG(st->st_mode))
                        continue;
                for (size_t f = 0; f < o->n_files; f++)
                        if (o->files[f] == st->st_ino)
                                return (struct target) { FILE_IN_DIR, o, st->st_ino };
        }
        return (struct target) { NONE, NULL, 0 };
}

static struct target classify_fd(int fd) {
        struct stat st;
        if (n_objects == 0 || fd < 0 || fd == log_fd || fd == data_fd || fstat(fd, &st) < 0)
                return (struct target) { NONE, NULL, 0 };
        return classify_stat(&st);
}

static void obj_name(const struct target *t, char *buf, size_t len) {
        if (t->kind == IMAGE)
                snprintf(buf, len, "img:%s", t->o->name);
        else if (t->kind == DIRECTORY)
                snprintf(buf, len, "dir:%s", t->o->name);
        else
                snprintf(buf, len, "file:%s:%llu", t->o->name, (unsigned long long) t->ino);
}

/* The watched directory a path's entry lives in, and the entry's name (points into path). */
static struct object *parent_dir(int dirfd, const char *path, const char **name) {
        if (n_objects == 0 || !path)
                return NULL;
        const char *slash = strrchr(path, '/');
        struct stat st;
        int r;
        if (!slash) {
                *name = path;
                r = dirfd == AT_FDCWD ? stat(".", &st) : fstat(dirfd, &st);
        } else {
                char parent[4096];
                size_t n = slash == path ? 1 : (size_t) (slash - path);
                if (n >= sizeof(parent))
                        return NULL;
                memcpy(parent, path, n);
                parent[n] = 0;
                *name = slash + 1;
                r = fstatat(dirfd, parent, &st, 0);
        }
        if (r < 0)
                return NULL;
        for (size_t i = 0; i < n_objects; i++)
                if (objects[i].dir && objects[i].dev == st.st_dev && objects[i].ino == st.st_ino)
                        return &objects[i];
        return NULL;
}

/* ---- the log ---- */

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...) {
        if (log_fd < 0)
                return;
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof(line) - 2)
                n = sizeof(line) - 2;
        line[n++] = '\n';
        (void) !raw_write(log_fd, line, (size_t) n);
}

static bool all_zero(const struct iovec *iov, int n, size_t len) {
        for (int i = 0; i < n && len > 0; i++) {
                const uint8_t *p = iov[i].iov_base;
                size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;
                for (size_t j = 0; j < k; j++)
                        if (p[j])
                                return false;
                len -= k;
        }
        return true;
}

/* Appends the bytes to the data file; returns their offset there, or -1 for bytes that are all zero (the
 * wipe of a keyslot area or a header area: not kept). */
static long long keep_data(const struct iovec *iov, int n, size_t len) {
        struct stat st;
        if (data_fd < 0 || all_zero(iov, n, len) || fstat(data_fd, &st) < 0)
                return -1;
        for (int i = 0; i < n && len > 0; i++) {
                size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;
                (void) !raw_write(data_fd, iov[i].iov_base, k);
                len -= k;
        }
        return (long long) st.st_size;
}

static const char *fd_flags(int fd, int rwf) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
                return "-";
        bool sync = (fl & O_DSYNC) || (rwf & (RWF_DSYNC | RWF_SYNC));
        if ((fl & O_DIRECT) && sync)
                return "direct,sync";
        if (fl & O_DIRECT)
                return "direct";
        return sync ? "sync" : "-";
}

static void note_write(const struct target *t, int fd, long long off, const struct iovec *iov, int n, ssize_t done, int rwf) {
        if (done <= 0)
                return;
        char obj[128];
        obj_name(t, obj, sizeof(obj));
        long long at = keep_data(iov, n, (size_t) done);
        note("write %s %lld %zd %lld %s", obj, off, done, at, fd_flags(fd, rwf));
}

static void note_simple(const char *what, const struct target *t) {
        char obj[128];
        obj_name(t, obj, sizeof(obj));
        note("%s %s", what, obj);
}

/* Where a write() without an offset lands. */
static long long current_offset(int fd) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_APPEND)) {
                struct stat st;
                return fstat(fd, &st) == 0 ? (long long) st.st_size : -1;
        }
        return (long long) lseek(fd, 0, SEEK_CUR);
}

/* ---- writes ---- */

static ssize_t vwrite(int fd, const struct iovec *iov, int n, long long off, int rwf, ssize_t (*call)(void *), void *ctx) {
        struct target t = classify_fd(fd);
        if (t.kind != IMAGE && t.kind != FILE_IN_DIR)
                return call(ctx);
        pthread_mutex_lock(&lock);
        if (off < 0)
                off = current_offset(fd);
        ssize_t done = call(ctx);
        int saved = errno;
        note_write(&t, fd, off, iov, n, done, rwf);
        pthread_mutex_unlock(&lock);
        errno = saved;
        return done;
}

struct wctx {
        int fd;
        const void *buf;
        size_t len;
        const struct iovec *iov;
        int n;
        off_t off;
        int flags;
        int which;
};

static ssize_t do_write(void *p) {
        struct wctx *c = p;
        switch (c->which) {
        case 0: return raw_write(c->fd, c->buf, c->len);
        case 1: return NEXT(pwrite)(c->fd, c->buf, c->len, c->off);
        case 2: return NEXT(pwrite64)(c->fd, c->buf, c->len, c->off);
        case 3: return NEXT(writev)(c->fd, c->iov, c->n);
        case 4: return NEXT(pwritev)(c->fd, c->iov, c->n, c->off);
        case 5: return NEXT(pwritev64)(c->fd, c->iov, c->n, c->off);
        case 6: return NEXT(pwritev2)(c->fd, c->iov, c->n, c->off, c->flags);
        default: return NEXT(pwritev64v2)(c->fd, c->iov, c->n, c->off, c->flags);
        }
}

ssize_t write(int fd, const void *buf, size_t len) {
        struct iovec v = { (void *) buf, len };
        struct wctx c = { .fd = fd, .buf = buf, .len = len, .which = 0 };
        return vwrite(fd, &v, 1, -1, 0, do_write, &c);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) {
        struct iovec v = { (void *) buf, len };
        struct wctx c = { .fd = fd, .buf = buf, .len = len, .off = off, .which = 1 };
        return vwrite(fd, &v, 1, off, 0, do_write, &c);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off) {
        struct iovec v = { (void *) buf, len };
        struct wctx c = { .fd = fd, .buf = buf, .len = len, .off = off, .which = 2 };
        return vwrite(fd, &v, 1, off, 0, do_write, &c);
}

ssize_t writev(int fd, const struct iovec *iov, int n) {
        struct wctx c = { .fd = fd, .iov = iov, .n = n, .which = 3 };
        return vwrite(fd, iov, n, -1, 0, do_write, &c);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off) {
        struct wctx c = { .fd = fd, .iov = iov, .n = n, .off = off, .which = 4 };
        return vwrite(fd, iov, n, off, 0, do_write, &c);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off) {
        struct wctx c = { .fd = fd, .iov = iov, .n = n, .off = off, .which = 5 };
        return vwrite(fd, iov, n, off, 0, do_write, &c);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags) {
        struct wctx c = { .fd = fd, .iov = iov, .n = n, .off = off, .flags = flags, .which = 6 };
        return vwrite(fd, iov, n, off, flags, do_write, &c);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags) {
        struct wctx c = { .fd = fd, .iov = iov, .n = n, .off = off, .flags = flags, .which = 7 };
        return vwrite(fd, iov, n, off, flags, do_write, &c);
}

/* ---- flushes ---- */

/* VS_REC_FAIL_FSYNC=OBJ: fsync/fdatasync of that object fail with EIO without flushing (a disk that
 * reported a write error), logged as "fsync-failed OBJ": the generator does not count it as a flush. */
static bool fail_flush(const struct target *t) {
        const char *want = getenv("VS_REC_FAIL_FSYNC");
        char obj[128];
        obj_name(t, obj, sizeof(obj));
        return want && strcmp(want, obj) == 0;
}

static int flush(int fd, const char *what, int (*call)(int)) {
        struct target t = classify_fd(fd);
        if (t.kind == NONE)
                return call(fd);
        pthread_mutex_lock(&lock);
        if (fail_flush(&t)) {
                note_simple("fsync-failed", &t);
                pthread_mutex_unlock(&lock);
                errno = EIO;
                return -1;
        }
        int r = call(fd), saved = errno;
        if (r == 0)
                note_simple(what, &t);
        pthread_mutex_unlock(&lock);
        errno = saved;
        return r;
}

int fsync(int fd) { return flush(fd, "fsync", NEXT(fsync)); }
int fdatasync(int fd) { return flush(fd, "fdatasync", NEXT(fdatasync)); }

int sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags) {
        struct target t = classify_fd(fd);
        int r = NEXT(sync_file_range)(fd, off, len, flags), saved = errno;
        if (t.kind != NONE && r == 0) {
                char obj[128];
                obj_name(&t, obj, sizeof(obj));
                note("sync_file_range %s %lld %lld %u", obj, (long long) off, (long long) len, flags);
        }
        errno = saved;
        return r;
}

void sync(void) {
        NEXT(sync)();
        if (n_objects)
                note("sync");
}

int syncfs(int fd) {
        int r = NEXT(syncfs)(fd), saved = errno;
        if (r == 0 && n_objects)
                note("sync");
        errno = saved;
        return r;
}

/* ---- size and zeroing ---- */

/* "WHAT OBJ A" (truncate: B < 0) or "WHAT OBJ A B" (zero, allocate: offset, length) */
static void note_size_change(int fd, int r, const char *what, long long a, long long b) {
        struct target t = classify_fd(fd);
        if (t.kind == NONE || r != 0)
                return;
        char obj[128];
        obj_name(&t, obj, sizeof(obj));
        if (b < 0)
                note("%s %s %lld", what, obj, a);
        else
                note("%s %s %lld %lld", what, obj, a, b);
}

int ftruncate(int fd, off_t len) {
        int r = NEXT(ftruncate)(fd, len), saved = errno;
        note_size_change(fd, r, "truncate", (long long) len, -1);
        errno = saved;
        return r;
}

int ftruncate64(int fd, off64_t len) {
        int r = NEXT(ftruncate64)(fd, len), saved = errno;
        note_size_change(fd, r, "truncate", (long long) len, -1);
        errno = saved;
        return r;
}

static int falloc(int fd, int mode, long long off, long long len, int r) {
        int saved = errno;
        if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
                note_size_change(fd, r, "zero", off, len);
        else
                note_size_change(fd, r, "allocate", off, len);
        errno = saved;
        return r;
}

int fallocate(int fd, int mode, off_t off, off_t len) { return falloc(fd, mode, off, len, NEXT(fallocate)(fd, mode, off, len)); }
int fallocate64(int fd, int mode, off64_t off, off64_t len) {
        return falloc(fd, mode, off, len, NEXT(fallocate64)(fd, mode, off, len));
}
int posix_fallocate(int fd, off_t off, off_t len) { return falloc(fd, 0, off, len, NEXT(posix_fallocate)(fd, off, len)); }
int posix_fallocate64(int fd, off64_t off, off64_t len) {
        return falloc(fd, 0, off, len, NEXT(posix_fallocate64)(fd, off, len));
}

int ioctl(int fd, unsigned long req, ...) {
        va_list ap;
        va_start(ap, req);
        void *arg = va_arg(ap, void *);
        va_end(ap);
        int r = NEXT(ioctl)(fd, req, arg), saved = errno;
        if (r == 0 && (req == BLKZEROOUT || req == BLKDISCARD || req == BLKSECDISCARD)) {
                const uint64_t *range = arg;
                note_size_change(fd, r, "zero", (long long) range[0], (long long) range[1]);
        }
        errno = saved;
        return r;
}

/* ---- opens ---- */

static void open_flags_text(int flags, char *buf, size_t len) {
        buf[0] = 0;
        static const struct { int bit; const char *name; } names[] = {
                { O_DIRECT, "direct" }, { O_SYNC, "sync" }, { O_DSYNC, "dsync" }, { O_TRUNC, "trunc" }, { O_CREAT, "creat" },
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if ((flags & names[i].bit) == names[i].bit) {
                        if (buf[0])
                                strncat(buf, ",", len - strlen(buf) - 1);
                        strncat(buf, names[i].name, len - strlen(buf) - 1);
                }
        if (!buf[0])
                snprintf(buf, len, "-");
}

/* After an open of (dirfd, path) with flags returned fd: a new file in a watched directory is created there,
 * an existing one truncated; an image or watched file opened for writing is noted with its flags. */
static void after_open(int dirfd, const char *path, int flags, bool existed, int fd) {
        if (fd < 0 || n_objects == 0)
                return;
        const char *name = NULL;
        struct object *dir = (flags & O_CREAT) && !existed ? parent_dir(dirfd, path, &name) : NULL;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return;
        pthread_mutex_lock(&lock);
        if (dir && S_ISREG(st.st_mode)) {
                dir_add_file(dir, st.st_ino);
                note("creat %s %s %llu", dir->name, name, (unsigned long long) st.st_ino);
        }
        struct target t = classify_stat(&st);
        if ((t.kind == IMAGE || t.kind == FILE_IN_DIR) && (flags & O_ACCMODE) != O_RDONLY) {
                char obj[128], fl[64];
                obj_name(&t, obj, sizeof(obj));
                open_flags_text(flags, fl, sizeof(fl));
                note("open %s %s", obj, fl);
                if ((flags & O_TRUNC) && existed)
                        note("truncate %s 0 open", obj);
        }
        pthread_mutex_unlock(&lock);
}

static bool exists_at(int dirfd, const char *path) {
        struct stat st;
        return n_objects && path && fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int mode_arg(int flags, va_list ap) {
        return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? va_arg(ap, int) : 0;
}

#define OPEN_AT(dirfd, path, flags, call)                                \
        ({                                                               \
                bool _existed = exists_at(dirfd, path);                  \
                int _fd = (call);                                        \
                int _saved = errno;                                      \
                after_open(dirfd, path, flags, _existed, _fd);           \
                errno = _saved;                                          \
                _fd;                                                     \
        })

/* the mode argument of a variadic open: only there with O_CREAT or O_TMPFILE (mode_arg decides) */
#define MODE_ARG(flags)                                                  \
        ({                                                               \
                va_list _ap;                                             \
                va_start(_ap, flags);                                    \
                int _mode = mode_arg(flags, _ap);                        \
                va_end(_ap);                                             \
                _mode;                                                   \
        })

int open(const char *path, int flags, ...) {
        int mode = MODE_ARG(flags);
        return OPEN_AT(AT_FDCWD, path, flags, NEXT(open)(path, flags, mode));
}

int open64(const char *path, int flags, ...) {
        int mode = MODE_ARG(flags);
        return OPEN_AT(AT_FDCWD, path, flags, NEXT(open64)(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...) {
        int mode = MODE_ARG(flags);
        return OPEN_AT(dirfd, path, flags, NEXT(openat)(dirfd, path, flags, mode));
}

int openat64(int dirfd, const char *path, int flags, ...) {
        int mode = MODE_ARG(flags);
        return OPEN_AT(dirfd, path, flags, NEXT(openat64)(dirfd, path, flags, mode));
}

/* the _FORTIFY_SOURCE entry points (libcryptsetup calls __open_2) */
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags) { return OPEN_AT(AT_FDCWD, path, flags, NEXT(__open_2)(path, flags)); }
int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags) { return OPEN_AT(AT_FDCWD, path, flags, NEXT(__open64_2)(path, flags)); }
int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags) {
        return OPEN_AT(dirfd, path, flags, NEXT(__openat_2)(dirfd, path, flags));
}
int __openat64_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags) {
        return OPEN_AT(dirfd, path, flags, NEXT(__openat64_2)(dirfd, path, flags));
}
int creat(const char *path, mode_t mode) {
        int flags = O_WRONLY | O_CREAT | O_TRUNC;
        return OPEN_AT(AT_FDCWD, path, flags, NEXT(open)(path, flags, mode));
}
int creat64(const char *path, mode_t mode) {
        int flags = O_WRONLY | O_CREAT | O_TRUNC;
        return OPEN_AT(AT_FDCWD, path, flags, NEXT(open64)(path, flags, mode));
}

/* mkstemp and friends open through libc's internal open, not open(): the file they create is noted here
 * (the template holds its name once the call returned). */
#define MKTEMP(name, call, extra)                                                       \
        int name(char *tmpl extra) {                                                   \
                int _fd = call, _saved = errno;                                        \
                after_open(AT_FDCWD, tmpl, O_CREAT | O_RDWR, false, _fd);              \
                errno = _saved;                                                        \
                return _fd;                                                            \
        }
#define COMMA ,
MKTEMP(mkstemp, NEXT(mkstemp)(tmpl), )
MKTEMP(mkstemp64, NEXT(mkstemp64)(tmpl), )
MKTEMP(mkostemp, NEXT(mkostemp)(tmpl, flags), COMMA int flags)
MKTEMP(mkostemp64, NEXT(mkostemp64)(tmpl, flags), COMMA int flags)
MKTEMP(mkstemps, NEXT(mkstemps)(tmpl, suffixlen), COMMA int suffixlen)
MKTEMP(mkstemps64, NEXT(mkstemps64)(tmpl, suffixlen), COMMA int suffixlen)
MKTEMP(mkostemps, NEXT(mkostemps)(tmpl, suffixlen, flags), COMMA int suffixlen COMMA int flags)
MKTEMP(mkostemps64, NEXT(mkostemps64)(tmpl, suffixlen, flags), COMMA int suffixlen COMMA int flags)

/* ---- directory entries ---- */

static ino_t entry_ino(int dirfd, const char *path) {
        struct stat st;
        return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
        const char *name = NULL;
        struct object *dir = parent_dir(newdirfd, newpath, &name);
        int r = NEXT(linkat)(olddirfd, oldpath, newdirfd, newpath, flags), saved = errno;
        if (dir && r == 0)
                note("link %s %s %llu", dir->name, name, (unsigned long long) entry_ino(newdirfd, newpath));
        errno = saved;
        return r;
}

int link(const char *oldpath, const char *newpath) {
        const char *name = NULL;
        struct object *dir = parent_dir(AT_FDCWD, newpath, &name);
        int r = NEXT(link)(oldpath, newpath), saved = errno;
        if (dir && r == 0)
                note("link %s %s %llu", dir->name, name, (unsigned long long) entry_ino(AT_FDCWD, newpath));
        errno = saved;
        return r;
}

static int unlink_common(int dirfd, const char *path, int flags, int r_call(int, const char *, int)) {
        const char *name = NULL;
        struct object *dir = parent_dir(dirfd, path, &name);
        ino_t ino = dir ? entry_ino(dirfd, path) : 0;
        int r = r_call(dirfd, path, flags), saved = errno;
        if (dir && r == 0 && (flags & AT_REMOVEDIR))
                note("unsupported rmdir %s", dir->name);
        else if (dir && r == 0)
                note("unlink %s %s %llu", dir->name, name, (unsigned long long) ino);
        errno = saved;
        return r;
}

static int call_unlinkat(int dirfd, const char *path, int flags) { return NEXT(unlinkat)(dirfd, path, flags); }
static int call_unlink(int dirfd, const char *path, int flags) { (void) dirfd; (void) flags; return NEXT(unlink)(path); }
int unlinkat(int dirfd, const char *path, int flags) { return unlink_common(dirfd, path, flags, call_unlinkat); }
int unlink(const char *path) { return unlink_common(AT_FDCWD, path, 0, call_unlink); }

static int rename_common(int odir, const char *oldpath, int ndir, const char *newpath, unsigned flags, int r_call(void *), void *ctx) {
        const char *oname = NULL, *nname = NULL;
        struct object *from = parent_dir(odir, oldpath, &oname), *to = parent_dir(ndir, newpath, &nname);
        ino_t ino = from || to ? entry_ino(odir, oldpath) : 0;
        int r = r_call(ctx), saved = errno;
        if (r == 0 && from && from == to && !(flags & RENAME_EXCHANGE))
                note("rename %s %s %s %llu", from->name, oname, nname, (unsigned long long) ino);
        else if (r == 0 && (from || to))
                note("unsupported rename-across-directories %s", (from ? from : to)->name);
        errno = saved;
        return r;
}

struct rctx {
        int odir, ndir;
        const char *o, *n;
        unsigned flags;
        int which;
};

static int do_rename(void *p) {
        struct rctx *c = p;
        if (c->which == 0)
                return NEXT(rename)(c->o, c->n);
        if (c->which == 1)
                return NEXT(renameat)(c->odir, c->o, c->ndir, c->n);
        return NEXT(renameat2)(c->odir, c->o, c->ndir, c->n, c->flags);
}

int rename(const char *o, const char *n) {
        struct rctx c = { AT_FDCWD, AT_FDCWD, o, n, 0, 0 };
        return rename_common(AT_FDCWD, o, AT_FDCWD, n, 0, do_rename, &c);
}
int renameat(int odir, const char *o, int ndir, const char *n) {
        struct rctx c = { odir, ndir, o, n, 0, 1 };
        return rename_common(odir, o, ndir, n, 0, do_rename, &c);
}
int renameat2(int odir, const char *o, int ndir, const char *n, unsigned flags) {
        struct rctx c = { odir, ndir, o, n, flags, 2 };
        return rename_common(odir, o, ndir, n, flags, do_rename, &c);
}
