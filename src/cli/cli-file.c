/* cli-file.c: see cli-file.h. */
#include "cli-file.h"
#include "fileio.h"
#include "log.h"

#include <errno.h>

int cli_read_file(const char *path, const char *what, uint8_t **ret, size_t *ret_size) {
        int r = vs_read_file(path, 0, CLI_FILE_MAX, (char **) ret, ret_size);
        if (r == -EFBIG)
                return log_error_errno(r, "%s %s is larger than %u MiB", what, path, CLI_FILE_MAX >> 20);
        if (r < 0)
                return log_error_errno(r, "cannot read %s %s: %m", what, path);
        return 0;
}

int cli_read_text(const char *path, char **ret, size_t *ret_len) {
        int r = vs_read_file(path, 0, CLI_TEXT_MAX, ret, ret_len);
        if (r == -EFBIG)
                return log_error_errno(r, "%s is too large for a key or JSON file", path);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", path);
        return 0;
}
