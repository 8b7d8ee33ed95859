/* cli-tpm.h: the options every TPM-talking command shares (--tcti T, --json, --debug-tpm) and the one way
 * they open the TPM. Used by `tpm info|setup`, `pcr read|extend-phase` and the TPM steps of `attest`.
 * Promise: the same option spelling, the same log lines and the same exit codes in every command. */
#pragma once
#include "tpm/tpm.h"

#include <getopt.h>
#include <stdbool.h>

struct cli_tpm_options {
        const char *tcti; /* NULL: $VOLSEAL_TCTI, then the device nodes (vs_tpm_open) */
        bool json;        /* JSON output: logs go quiet once the TPM is opened */
        unsigned flags;   /* VS_TPM_* open flags (--debug-tpm sets VS_TPM_DEBUG_LOG) */
};

/* getopt_long codes of the shared options; out of the range of any short option. */
enum {
        CLI_OPT_TCTI = 0x200,
        CLI_OPT_JSON,
        CLI_OPT_DEBUG_TPM,
};

/* Entries for a command's `struct option` table: --tcti and --debug-tpm; --json only where it has one. */
#define CLI_TPM_LONG_OPTIONS                                            \
        { "tcti", required_argument, NULL, CLI_OPT_TCTI },              \
        { "debug-tpm", no_argument, NULL, CLI_OPT_DEBUG_TPM }
#define CLI_JSON_LONG_OPTION { "json", no_argument, NULL, CLI_OPT_JSON }

/* getopt_long() that stores the shared options in o itself: returns the next option of the command's own
 * (or '?', or -1 at the end), exactly as getopt_long would. The caller resets optind first. */
int cli_tpm_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                   struct cli_tpm_options *o);

/* Opens the TPM o names (quieting the log first when o->json). Returns EXIT_OK with *ret set, or the exit
 * code for the failure vs_tpm_open() has already logged (no TPM: EXIT_ENV). */
int cli_open_tpm(const struct cli_tpm_options *o, struct vs_tpm **ret);
