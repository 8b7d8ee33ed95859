/* recovery-key.h: the recovery key, in systemd's recovery-key format (systemd-cryptenroll --recovery-key):
 * 32 random bytes as 64 modhex characters (alphabet "cbdefghijklnrtuv": each byte high nibble first) in 8
 * groups of 8 joined by '-', 71 characters in all. That text is the keyslot's passphrase, so `cryptsetup
 * open` accepts the key as printed.
 * Promise: the key only ever lives in struct vs_secret (generated, formatted, parsed); what a human types is
 * normalised the way systemd does (either case; with a dash after every 8 characters or without dashes),
 * and additionally leading and trailing whitespace (a file's newline) is dropped; anything else is refused
 * with a message that names the position but never echoes the key. No I/O besides getrandom(). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "secret.h"

#define VS_RECOVERY_KEY_BYTES 32
#define VS_RECOVERY_KEY_LENGTH 71     /* 64 modhex characters and 7 dashes */

/* The formatted key (VS_RECOVERY_KEY_LENGTH characters, NUL-terminated) of 32 raw bytes. */
int vs_recovery_key_format(const uint8_t raw[VS_RECOVERY_KEY_BYTES], struct vs_secret **ret);
/* A new key from 32 bytes of getrandom(); with `extra` (e.g. TPM2_GetRandom bytes) the raw key is
 * SHA-256(getrandom(32) || extra), so it is never weaker than the better of the two sources. */
int vs_recovery_key_generate(const uint8_t *extra, size_t extra_len, struct vs_secret **ret);
/* What was typed or read from a file, as the formatted key; -EINVAL (logged, without the key) if it is not
 * one. */
int vs_recovery_key_normalize(const char *typed, size_t len, struct vs_secret **ret);
/* The 32 raw bytes of a formatted key (as vs_recovery_key_format() gives it). */
int vs_recovery_key_decode(const struct vs_secret *formatted, struct vs_secret **ret_raw);
