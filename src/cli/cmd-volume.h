/* cmd-volume.h: the options `unlock` and `status` share (config files, --volume overrides, key sources),
 * parsed in one place (cmd-unlock.c). */
#pragma once
#include <stdbool.h>

#include "config.h"
#include "volume.h"

struct volume_cli {
        const char *files[64];
        size_t n_files;
        struct vs_volume_override overrides[64];
        size_t n_overrides;
        struct vs_key_run run;
        struct vs_volume_options opts;
        const char *meta;        /* --meta DEVICE (issue 4) */
        const char *cap_phase;   /* --cap-phase WORD (issue 7) */
        bool json;
        bool force;              /* tpm reseal --force */
};

/* Parses argv (argv[0] = command). `unlock` accepts every option, `status` the read-only ones. Returns
 * EXIT_OK or an exit code after printing a usage error. */
int volume_cli_parse(struct volume_cli *c, int argc, char **argv, bool unlock);
/* Loads the config and runs `fn` over every volume in order, printing reports (JSON lines with --json). */
/* `volseal tpm reseal --force -c ... --volume ...` (argv[0] = "reseal"). */
int cmd_reseal(int argc, char **argv);
int volume_cli_run(struct volume_cli *c, int (*fn)(const struct vs_volume_config *, const struct vs_volume_options *,
                                                   struct vs_volume_report *));
