/* cmd-volume.h: the options `unlock` and `status` share (config files, --volume overrides, key sources),
 * parsed in one place (cmd-unlock.c).
 * Promise: both commands accept the same options with the same meaning and defaults, and reach META the
 * same way (cmd-volume-meta.c); a bad option is a usage error before any volume is touched. */
#pragma once
#include <stdbool.h>
#include <json-c/json.h>

#include "config.h"
#include "meta.h"
#include "volume.h"

struct volume_cli {
        const char *files[64];
        size_t n_files;
        struct vs_volume_override overrides[64];
        size_t n_overrides;
        struct vs_key_run run;
        struct vs_volume_options opts;
        const char *meta;        /* --meta DEVICE (docs/meta.md) */
        const char *disk;        /* --disk DISK (docs/rescue.md) */
        const char *cap_phase;   /* --cap-phase WORD (docs/tpm.md, "The cap") */
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

/* cmd-volume-report.c: the exit code a volume's report makes (0, 2, 3 or 4), and its output. */
int volume_report_exit(const struct vs_volume_report *rep);
struct json_object *volume_report_to_json(const struct vs_volume_report *rep);
void volume_report_print(const struct vs_volume_report *rep); /* human-readable lines on stdout */

/* META in unlock/status (cmd-volume-meta.c, docs/meta.md). */
struct volume_meta {
        struct vs_meta meta;
        bool loaded;
        bool read_only;                    /* rescue (--disk): META read from the image, never written */
        char *path;                        /* --meta, else the partition labelled META */
        struct vs_encryption_config state; /* tag 9, when the machine config has no STATE document */
        bool have_state;
        char *uuid;                        /* tag 15 */
        char warning[384];                 /* a static STATE passphrase is in tag 9 */
};
/* Before the volumes: loads META (absent partition = none), sets run->uuid_override from tag 15 and
 * opts->state_from_meta from tag 9 when `cfg` has no STATE. Returns EXIT_OK or the exit code to stop with. */
int volume_meta_begin(struct volume_meta *vm, const char *meta_arg, const struct vs_config *cfg, struct vs_key_run *run,
                      struct vs_volume_options *opts);
/* unlock, before the volumes: a META whose copies differ (power lost between the writes of copy 1 and
 * copy 2, or one torn) gets both rewritten from the valid one, so the old value in a stale copy can never
 * come back when the other is torn later. EXIT_OK, or EXIT_SYNC when that write failed (logged). */
int volume_meta_repair(struct volume_meta *vm);
/* After each volume: unlock saves the machine config's STATE in tag 9 once STATE is open. Returns an exit
 * code to merge (EXIT_SYNC when META could not be written). */
int volume_meta_after(struct volume_meta *vm, const struct vs_config *cfg, const struct vs_volume_config *v,
                      const struct vs_volume_report *rep, bool unlock);
/* --json: adds "warnings" to STATE's object when tag 9 holds a static passphrase. */
void volume_meta_annotate(const struct volume_meta *vm, const struct vs_volume_config *v, struct json_object *o);
void volume_meta_done(struct volume_meta *vm);
