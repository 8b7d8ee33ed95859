/* salt.h: the lockToSTATE salt kept on STATE as `encryption-salt.yaml` (Talos's file):
 *   diskSalt:
 *       - 12
 *       - 200
 *       ... (32 decimal byte values)
 * Promise: the salt is created once (32 random bytes, mode 0600, written to a temporary file, fsynced,
 * linked into place, the folder fsynced: a failed fsync fails the creation, so no keyslot is made with a
 * salt a power cut could take) and never rewritten; it is held in struct vs_secret only. */
#pragma once
#include <stdbool.h>

#include "secret.h"

#define VS_SALT_FILE "encryption-salt.yaml"
#define VS_SALT_SIZE 32

/* Loads DIR/encryption-salt.yaml; when absent and `create`, creates it. -ENOENT when absent and !create,
 * -EINVAL (logged) when the file is not a list of 32 byte values. */
int vs_salt_load(const char *state_dir, bool create, struct vs_secret **ret);
