/* secret.c: see secret.h. Each secret is its own page-rounded mapping so that mlock and MADV_DONTDUMP
 * apply to exactly the secret and nothing else shares its pages. */
#include "secret.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static size_t mapping_size(size_t cap) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        return (cap + 1 + page - 1) / page * page;
}

static int map_locked(size_t cap, uint8_t **ret, size_t *ret_size) {
        size_t size = mapping_size(cap);
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return -errno;
        if (madvise(p, size, MADV_DONTDUMP) < 0) {
                int r = -errno;
                munmap(p, size);
                return r;
        }
        /* mlock can fail under a small RLIMIT_MEMLOCK (unprivileged tests); the buffer is still never
         * dumped and always wiped, so say it once and go on rather than refuse to unlock a disk. */
        if (mlock(p, size) < 0) {
                static int warned;
                if (!warned++)
                        log_debug("mlock of a secret buffer failed (%s); it may be swapped", strerror(errno));
        }
        *ret = p;
        *ret_size = size;
        return 0;
}

static void unmap_wiped(uint8_t *p, size_t size) {
        explicit_bzero(p, size);
        munlock(p, size);
        munmap(p, size);
}

int vs_secret_new(size_t cap, struct vs_secret **ret) {
        struct vs_secret *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        size_t size;
        int r = map_locked(cap, &s->data, &size);
        if (r < 0) {
                free(s);
                return r;
        }
        s->cap = size - 1;
        *ret = s;
        return 0;
}

int vs_secret_from(const void *p, size_t len, struct vs_secret **ret) {
        struct vs_secret *s;
        int r = vs_secret_new(len, &s);
        if (r < 0)
                return r;
        memcpy(s->data, p, len);
        s->len = len;
        *ret = s;
        return 0;
}

int vs_secret_append(struct vs_secret *s, const void *p, size_t len) {
        if (len > SIZE_MAX / 2 - s->len)
                return -EOVERFLOW;
        if (s->len + len > s->cap) {
                uint8_t *n;
                size_t size;
                int r = map_locked(s->len + len, &n, &size);
                if (r < 0)
                        return r;
                memcpy(n, s->data, s->len);
                unmap_wiped(s->data, s->cap + 1);
                s->data = n;
                s->cap = size - 1;
        }
        memcpy(s->data + s->len, p, len);
        s->len += len;
        s->data[s->len] = 0;
        return 0;
}

void vs_secret_clear(struct vs_secret *s) {
        if (!s)
                return;
        explicit_bzero(s->data, s->cap + 1);
        s->len = 0;
}

void vs_secret_free(struct vs_secret *s) {
        if (!s)
                return;
        unmap_wiped(s->data, s->cap + 1);
        free(s);
}

int vs_secret_equal(const struct vs_secret *a, const struct vs_secret *b) {
        if (a->len != b->len)
                return 0;
        uint8_t d = 0;
        for (size_t i = 0; i < a->len; i++)
                d |= (uint8_t) (a->data[i] ^ b->data[i]);
        return d == 0;
}

int vs_process_harden(void) {
        struct rlimit rl = { 0, 0 };
        if (setrlimit(RLIMIT_CORE, &rl) < 0)
                return -errno;
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return -errno;
        return 0;
}
