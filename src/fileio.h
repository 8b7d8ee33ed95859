/* fileio.h: whole files in, whole files out.
 * Promise: a read gives the whole file or an error, never a part: a file of more than the caller's `max`
 * bytes is refused with -EFBIG. An atomic write replaces the file durably: readers see the old contents
 * or the new, also after a power loss (a temporary file in the same folder, fsync, rename, fsync of the
 * folder). Every path closes what it opened and removes its temporary file. Nothing is logged:
 * callers name the file and the cause in their own message. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vs_secret;

/* All of fd (read to its end) into a malloc'ed buffer with a NUL after the ret_len bytes. 0 or -errno
 * (-EFBIG above max bytes; -EINVAL for a max above SIZE_MAX / 4). */
int vs_read_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* The file at path the same way; open_flags are added to O_RDONLY | O_CLOEXEC (O_NOFOLLOW, say). */
int vs_read_file(const char *path, int open_flags, size_t max, char **ret, size_t *ret_len);
/* The file into a new secret (its data NUL-terminated), for small files: max + 1 bytes are reserved
 * up front. */
int vs_read_file_secret(const char *path, int open_flags, size_t max, struct vs_secret **ret);

enum {
        VS_WRITE_NO_REPLACE = 1 << 0, /* keep a file that already exists at path: -EEXIST (link, not rename) */
};

/* Writes len bytes to path with exactly `mode` (not masked by the umask), atomically as promised above.
 * 0 or -errno; on failure before the rename the old file is untouched. With VS_WRITE_NO_REPLACE a failed
 * fsync of the folder removes the new file again: it was never durable. */
int vs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags);
/* fsync of the folder holding path, so a new, renamed or removed name there survives a power loss.
 * Filesystems that cannot sync a folder (EINVAL) have nothing more to write. 0 or -errno. */
int vs_sync_folder_of(const char *path);
/* Writes in place instead (created or truncated, symlinks followed, so /dev/stdout works), with exactly
 * `mode`: for outputs a user names on the command line, which are not replaced. 0 or -errno. */
int vs_write_file(const char *path, const void *data, size_t len, mode_t mode);
