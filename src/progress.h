/* progress.h: a one-line progress indicator on stderr for long steps (argon2id keyslots, hashing a large
 * UKI), for the operator watching a terminal.
 * Promise: prints nothing unless the CLI enabled it (main.c: stderr is a terminal and no --json); while a
 * step runs, a helper thread redraws "volseal: WHAT <spinner> N.N s" every 100 ms; the line is erased when
 * the step ends, so nothing of it stays between the command's own output lines. libcryptsetup has no
 * progress callback for adding a keyslot (only for crypt_benchmark_pbkdf), hence elapsed time, not a
 * percentage. Steps nest: only the outermost one is shown. Never pass secrets in WHAT. */
#pragma once
#include <stdbool.h>

void vs_progress_enable(bool on);
__attribute__((format(printf, 1, 2)))
void vs_progress_begin(const char *fmt, ...);
void vs_progress_end(void);
