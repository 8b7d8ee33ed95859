/* cli-file.h: the CLI's whole-file reads (src/fileio.c), each failure logged once with the file's name.
 * Promise: a file is read whole or not at all, up to a size fitting what it holds; nothing is written. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The largest event log, signature list, quote or attestation key file the CLI reads. */
#define CLI_FILE_MAX (256u << 20)
/* The largest PEM key or JSON file (a signed PCR policy) the CLI reads. */
#define CLI_TEXT_MAX (16u << 20)

/* Reads a whole file with read() (securityfs and efivarfs files cannot be seeked); `what` describes it
 * in the log ("event log"). 0 or -errno, logged. */
int cli_read_file(const char *path, const char *what, uint8_t **ret, size_t *ret_size);
/* A PEM key or JSON file into a NUL-terminated buffer. 0 or -errno, logged. */
int cli_read_text(const char *path, char **ret, size_t *ret_len);
