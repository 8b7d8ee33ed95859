/* cli.h: what every subcommand file shares: exit codes, usage errors, the command table.
 * Promise: exit codes are the contract of docs/operations.md and man/volseal.8.scd; every command answers --help. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

enum {
        EXIT_OK = 0,              /* all volumes open and in sync / command succeeded */
        EXIT_USAGE = 1,           /* usage or config error, nothing touched */
        EXIT_NOT_OPENED = 2,      /* a volume could not be opened by any key */
        EXIT_SYNC = 3,            /* opened, but some slots failed to sync (or the cap matched a signed phase) */
        EXIT_ENV = 4,             /* environment missing: no TPM, no device, no device-mapper */
};

struct cli_command {
        const char *name;
        int (*run)(int argc, char **argv); /* argv[0] is the command name */
        const char *summary;
        bool touches_secrets;              /* harden the process (no core dumps) before running */
};

/* Prints "volseal CMD: MESSAGE" and a pointer to --help on stderr; returns EXIT_USAGE. */
__attribute__((format(printf, 2, 3)))
int cli_usage_error(const char *cmd, const char *fmt, ...);
/* True when argv holds -h/--help before any "--"; prints `usage` to stdout when so. */
bool cli_wants_help(int argc, char **argv, const char *usage);
/* Parses a PCR list such as "7,11" (numbers 0-23, comma-separated, no empty items) into a bit mask;
 * -EINVAL for anything else or an empty list. The one parser of every --pcrs/--pcr option. */
int cli_parse_pcr_list(const char *s, uint32_t *ret);
/* Maps a negative errno from the library to an exit code (ENODEV/ENOENT/EOPNOTSUPP -> 4, else 1). */
int cli_exit_from_errno(int r);
/* The exit code of several steps (volumes, META, the cap): the most serious, 1 > 2 > 4 > 3 > 0. */
int cli_exit_merge(int a, int b);

int cmd_unlock(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_wipe(int argc, char **argv);
int cmd_meta(int argc, char **argv);
int cmd_uki(int argc, char **argv);
int cmd_pcr(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_tpm(int argc, char **argv);
int cmd_attest(int argc, char **argv);
int cmd_token(int argc, char **argv);
/* `volseal pcr read` and `volseal pcr extend-phase` talk to the TPM: they live in cmd-pcr-tpm.c (src/tpm's
 * side), while cmd-pcr.c (pcr/'s side) dispatches to them. argv[0] is "read" / "extend-phase". */
int cmd_pcr_read(int argc, char **argv);
int cmd_pcr_extend_phase(int argc, char **argv);
/* `volseal tpm prepare` (cmd-tpm-prepare.c); argv[0] is "prepare". */
int cmd_tpm_prepare(int argc, char **argv);
