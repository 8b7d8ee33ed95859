/* helper-files.c: see helper-files.h. */
#include "helper-files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int helper_read_file(const char *path, char **ret, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        char tmp[4096];
        size_t n;
        while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
                fwrite(tmp, 1, n, m);
        fclose(f);
        fclose(m);
        *ret = buf;
        *ret_len = len;
        return 0;
}

int helper_write_file(const char *dir, const char *name, const void *p, size_t len) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        ssize_t w = write(fd, p, len);
        close(fd);
        return w == (ssize_t) len ? 0 : -EIO;
}
